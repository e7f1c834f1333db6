/**
 * The snapshot index (issue 16 item 7): one LMDB sub-database, handed in by whoever owns the environment, that
 * names the frame images on disk and who refers to them. Several tracks (and alerts) of one frame share one image.
 *
 *   ['img', camera, frame ns]              -> ImageRow  (the file, its size, the source frame's size, refs)
 *   ['trk', camera, track id]              -> RefRow    (frame ns + the object's box in source pixels)
 *   ['alr', camera, alert id]              -> RefRow    (+ the media-store link)
 *   ['exp', camera, frame ms, kind, id]    -> null      (retention order of the references)
 *
 * Frame ns are 20-digit zero-padded decimals (exact, and they sort by time). A reference and its image's count
 * change in one transaction; an image whose count reaches zero leaves the index in that transaction and its file is
 * deleted after the commit (a crash in between leaves an orphan file, which the start-up sweep deletes: never an
 * index entry without its file).
 */
import type { Database } from 'lmdb';
import type { Box } from '../types.js';

export type RefKind = 'trk' | 'alr';

export interface ImageRow {
  /** Relative to the snapshot folder, '/' separators. */
  file: string;
  /** The stored JPEG's size in pixels. */
  width: number;
  height: number;
  /** The decoded source frame's size in pixels (boxes are in these). */
  sourceWidth: number;
  sourceHeight: number;
  bytes: number;
  /** References (tracks and alerts) to this image. */
  refs: number;
}

export interface RefRow {
  /** Frame time, 20-digit ns (the image's key). */
  frame: string;
  /** The object in source pixels. */
  box: Box;
  confidence: number;
  url: string | null;
}

type Key = (string | number)[];
export type SnapshotIndexDb = Database<ImageRow | RefRow | null, Key>;

export function frameKey(ns: bigint): string {
  return ns.toString().padStart(20, '0');
}

const msOf = (frame: string): number => Number(BigInt(frame) / 1_000_000n);

export class SnapshotIndex {
  readonly #db: SnapshotIndexDb;

  constructor(db: SnapshotIndexDb) {
    this.#db = db;
  }

  image(cameraId: string, frame: string): ImageRow | undefined {
    return this.#db.get(['img', cameraId, frame]) as ImageRow | undefined;
  }

  ref(kind: RefKind, cameraId: string, id: string | number): RefRow | undefined {
    return this.#db.get([kind, cameraId, id]) as RefRow | undefined;
  }

  /**
   * Points (kind, camera, id) at the image of `ref.frame`, creating that image's entry from `image` when it has
   * none. False (nothing written) when the image has no entry and none was given. A reference that pointed at
   * another image lets go of it (deleted when that was its last reference: its file is returned for deletion).
   */
  async link(
    kind: RefKind,
    cameraId: string,
    id: string | number,
    ref: RefRow,
    image?: Omit<ImageRow, 'refs'>,
  ): Promise<{ linked: boolean; created: boolean; unreferenced: string[] }> {
    const unreferenced: string[] = [];
    let created = false;
    const linked = await this.#db.transaction(() => {
      const imgKey = ['img', cameraId, ref.frame];
      let img = this.#db.get(imgKey) as ImageRow | undefined;
      if (!img) {
        if (!image) return false;
        img = { ...image, refs: 0 };
        created = true;
      }
      const refKey = [kind, cameraId, id];
      const old = this.#db.get(refKey) as RefRow | undefined;
      if (old) {
        this.#db.remove(['exp', cameraId, msOf(old.frame), kind, id]);
        if (old.frame === ref.frame) img.refs--;
        else this.#release(cameraId, old.frame, unreferenced);
      }
      img.refs++;
      this.#db.put(imgKey, img);
      this.#db.put(refKey, ref);
      this.#db.put(['exp', cameraId, msOf(ref.frame), kind, id], null);
      return true;
    });
    return { linked, created, unreferenced };
  }

  /**
   * Removes the references of `cameras` from before each camera's cutoff (Unix ms; null keeps everything), at most
   * `maxRefs` per call, and the images left without any. Returns the references removed and the files to delete.
   */
  async expire(cameras: Iterable<string>, cutoffMsFor: (cameraId: string) => number | null, maxRefs: number): Promise<{ refs: number; files: string[] }> {
    const doomed: Key[] = [];
    for (const camera of cameras) {
      const cutoff = cutoffMsFor(camera);
      if (cutoff === null) continue;
      for (const key of this.#db.getKeys({ start: ['exp', camera], end: ['exp', camera, cutoff] })) {
        doomed.push(key);
        if (doomed.length >= maxRefs) break;
      }
      if (doomed.length >= maxRefs) break;
    }
    const files: string[] = [];
    if (doomed.length === 0) return { refs: 0, files };
    let refs = 0;
    await this.#db.transaction(() => {
      for (const key of doomed) {
        const [, camera, , kind, id] = key as [string, string, number, RefKind, string | number];
        if (this.#db.get(key) === undefined) continue; // gone since the scan
        this.#db.remove(key);
        const ref = this.#db.get([kind, camera, id]) as RefRow | undefined;
        if (!ref) continue;
        this.#db.remove([kind, camera, id]);
        refs++;
        this.#release(camera, ref.frame, files);
      }
    });
    return { refs, files };
  }

  /** Every image's file (the start-up sweep's list of what may stay on disk). */
  files(): Set<string> {
    const out = new Set<string>();
    for (const { value } of this.#db.getRange({ start: ['img'], end: ['img', '\uffff'] })) out.add((value as ImageRow).file);
    return out;
  }

  /**
   * Drops the entries of images whose file is gone (deleted by hand, or lost with fsync 'never'); their references
   * stay until retention and read as "no snapshot". Returns how many were dropped.
   */
  async dropImages(missing: (file: string) => boolean): Promise<number> {
    const keys: Key[] = [];
    for (const { key, value } of this.#db.getRange({ start: ['img'], end: ['img', '\uffff'] })) {
      if (missing((value as ImageRow).file)) keys.push(key);
    }
    if (keys.length === 0) return 0;
    await this.#db.transaction(() => {
      for (const k of keys) this.#db.remove(k);
    });
    return keys.length;
  }

  /** In a write transaction: one reference less on the image; its file into `files` when it was the last. */
  #release(cameraId: string, frame: string, files: string[]): void {
    const key = ['img', cameraId, frame];
    const img = this.#db.get(key) as ImageRow | undefined;
    if (!img) return;
    if (img.refs <= 1) {
      this.#db.remove(key);
      files.push(img.file);
    } else {
      this.#db.put(key, { ...img, refs: img.refs - 1 });
    }
  }
}
