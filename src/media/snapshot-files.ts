/**
 * Snapshot JPEGs as files (issue 16 item 7): `<dir>/<camera>/<yyyy-mm-dd>/<frame ns>.jpg`, the date in UTC, out of
 * every LMDB environment so that large blobs never become overflow pages of the detection database.
 *
 * Writes are atomic: a temporary name in the same folder, then rename. fsync policy ('always', the default): the
 * file's data is fsynced before the rename and the folder after it (and a new folder's parent after mkdir), so by
 * the time the caller commits an index entry (LMDB's own durable commit) the file it names survives a power cut.
 * 'never' leaves both to the kernel's writeback: a crash can then lose files the index still names, which reads
 * report as missing (counted) and the start-up sweep drops. Deletes are not fsynced: a file that comes back after a
 * crash has no index entry and is swept.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

export type FsyncPolicy = 'always' | 'never';

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TMP = '.tmp-';

/** A camera id as a folder name: itself when it is a plain id, else `~` and the hex of its UTF-8 bytes. */
export function cameraFolder(cameraId: string): string {
  return SAFE_ID.test(cameraId) ? cameraId : `~${Buffer.from(cameraId, 'utf8').toString('hex')}`;
}

/** The file of a frame image, relative to the snapshot folder, always with '/' separators. */
export function imageFile(cameraId: string, frameNs: bigint): string {
  const day = new Date(Number(frameNs / 1_000_000n)).toISOString().slice(0, 10);
  return `${cameraFolder(cameraId)}/${day}/${frameNs}.jpg`;
}

export class SnapshotFiles {
  readonly dir: string;
  readonly #fsync: boolean;
  /** Folders known to exist (and fsynced into their parent): mkdir and its fsync once per folder. */
  readonly #made = new Set<string>();

  constructor(dir: string, fsync: FsyncPolicy = 'always') {
    this.dir = dir;
    this.#fsync = fsync === 'always';
  }

  #abs(rel: string): string {
    return join(this.dir, ...rel.split('/'));
  }

  /** Writes `data` as `rel` (temporary file, fsync per policy, rename, folder fsync); returns the bytes written. */
  async write(rel: string, data: Uint8Array): Promise<number> {
    const target = this.#abs(rel);
    const folder = dirname(target);
    await this.#mkdir(folder);
    const tmp = join(folder, `${TMP}${randomBytes(6).toString('hex')}`);
    let fh;
    try {
      fh = await open(tmp, 'wx', 0o640);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Retention emptied and removed the folder after it was made: make it again.
      this.#made.delete(folder);
      await this.#mkdir(folder);
      fh = await open(tmp, 'wx', 0o640);
    }
    try {
      await fh.writeFile(data);
      if (this.#fsync) await fh.datasync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    try {
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    if (this.#fsync) await this.#syncDir(folder);
    return data.byteLength;
  }

  /** The file's bytes, or null when it is not there. */
  async read(rel: string): Promise<Buffer | null> {
    try {
      return await readFile(this.#abs(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Deletes the files (missing ones are fine), then any of their day folders left empty. Returns how many went. */
  async remove(rels: Iterable<string>): Promise<number> {
    let n = 0;
    const folders = new Set<string>();
    for (const rel of rels) {
      const abs = this.#abs(rel);
      folders.add(dirname(abs));
      try {
        await unlink(abs);
        n++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    for (const f of folders) await this.#rmdirIfEmpty(f);
    return n;
  }

  /**
   * Start-up sweep: deletes temporary files (a write cut short) and every image `isIndexed` does not know (a crash
   * between the rename and the index commit, or after an index delete and before the unlink). Returns the counts.
   */
  async sweep(isIndexed: (rel: string) => boolean): Promise<{ files: number; orphans: number; temporary: number }> {
    const out = { files: 0, orphans: 0, temporary: 0 };
    const cameras = await this.#list(this.dir);
    for (const cam of cameras) {
      if (!cam.isDirectory()) continue;
      const camDir = join(this.dir, cam.name);
      for (const day of await this.#list(camDir)) {
        if (!day.isDirectory()) continue;
        const dayDir = join(camDir, day.name);
        for (const f of await this.#list(dayDir)) {
          if (!f.isFile()) continue;
          const rel = `${cam.name}/${day.name}/${f.name}`;
          if (f.name.startsWith(TMP)) {
            await unlink(join(dayDir, f.name)).catch(() => {});
            out.temporary++;
          } else if (!isIndexed(rel)) {
            await unlink(join(dayDir, f.name)).catch(() => {});
            out.orphans++;
          } else {
            out.files++;
          }
        }
        await this.#rmdirIfEmpty(dayDir);
      }
    }
    return out;
  }

  async #list(path: string): Promise<import('node:fs').Dirent[]> {
    try {
      return await readdir(path, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async #mkdir(folder: string): Promise<void> {
    if (this.#made.has(folder)) return;
    const first = await mkdir(folder, { recursive: true, mode: 0o750 });
    if (this.#fsync && first !== undefined) {
      // Every folder mkdir made, and the one above the first of them, gets its new entry fsynced.
      let f = folder;
      const stop = dirname(first);
      while (f.length >= stop.length && f.startsWith(stop)) {
        await this.#syncDir(f);
        if (f === stop) break;
        f = dirname(f);
      }
    }
    this.#made.add(folder);
  }

  async #syncDir(folder: string): Promise<void> {
    const fh = await open(folder, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async #rmdirIfEmpty(folder: string): Promise<void> {
    if (!folder.startsWith(this.dir + sep)) return;
    try {
      await rmdir(folder);
      this.#made.delete(folder);
    } catch {
      // Not empty (or already gone): left as it is.
    }
  }
}
