/**
 * Cut clips kept for a short while, so a browser playing a clip by URL (a <video> element asks for byte ranges as
 * it seeks) reads every range from the same file: each request would otherwise cut the span again, and a span
 * whose footage grew in between (a segment closed, an alert updated) would give a different file under the same
 * URL. One cut per key at a time (concurrent requests share it); a clip stays `ttlMs` after its last use and at
 * most `maxClips` are kept (the oldest goes first). Files are removed `graceMs` after they leave the cache, so a
 * response already streaming one is never cut short.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Every cache with files, so a process that exits leaves none of its cut clips behind. */
const open = new Set<ClipCache>();
let exitHook = false;

interface Entry {
  dir: string;
  path: Promise<string>;
  lastUse: number;
}

export class ClipCache {
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | null = null;
  #hits = 0;
  #cuts = 0;

  constructor(private readonly options: { ttlMs?: number; maxClips?: number; graceMs?: number } = {}) {}

  get stats(): { hits: number; cuts: number; size: number } {
    return { hits: this.#hits, cuts: this.#cuts, size: this.#entries.size };
  }

  /** The clip file for `key`, cut by `make(outPath)` when not cached. A failed cut is not kept. */
  async get(key: string, make: (outPath: string) => Promise<void>): Promise<string> {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit) {
      hit.lastUse = now;
      this.#hits++;
      return hit.path;
    }
    const dir = mkdtempSync(join(tmpdir(), 'vigil-clip-'));
    const out = join(dir, 'clip.mp4');
    this.#cuts++;
    const entry: Entry = { dir, lastUse: now, path: make(out).then(() => out) };
    this.#entries.set(key, entry);
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const c of open) c.close();
      });
    }
    this.#evictOver();
    this.#schedule();
    try {
      return await entry.path;
    } catch (err) {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  #evictOver(): void {
    const max = this.options.maxClips ?? 16;
    while (this.#entries.size > max) {
      const [oldestKey] = [...this.#entries.entries()].sort((a, b) => a[1].lastUse - b[1].lastUse)[0]!;
      this.#drop(oldestKey);
    }
  }

  #drop(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    const t = setTimeout(() => rmSync(e.dir, { recursive: true, force: true }), this.options.graceMs ?? 30_000);
    t.unref();
  }

  #schedule(): void {
    if (this.#timer) return;
    const ttl = this.options.ttlMs ?? 60_000;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const [k, e] of this.#entries) if (now - e.lastUse > ttl) this.#drop(k);
      if (this.#entries.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    }, Math.min(ttl, 10_000));
    this.#timer.unref();
  }

  /** Removes every cached file now (server close). */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const e of this.#entries.values()) rmSync(e.dir, { recursive: true, force: true });
    this.#entries.clear();
    open.delete(this);
  }
}
