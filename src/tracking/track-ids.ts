/**
 * Track ids that stay unique per camera across restarts and crashes. Ids are handed out from blocks reserved in
 * LMDB before use (hi/lo): the reserved ceiling is committed synchronously, once per `blockSize` tracks, so after a
 * crash the next process starts above every id the previous one could have given out. The cost of a crash is at
 * most one block of unused ids.
 */
import type { Database } from 'lmdb';
import { expected } from '../errors.js';

const MAX_ID = 0x7fffffff; // track ids are int32 on the wire

export class TrackIdAllocator {
  readonly #db: Database<number, string>;
  readonly #blockSize: number;
  readonly #cameras = new Map<string, { next: number; limit: number }>();

  /** `db`: a sub-database of string keys (camera ids) and number values (the reserved ceiling). */
  constructor(db: Database<number, string>, options: { blockSize?: number } = {}) {
    const blockSize = options.blockSize ?? 1024;
    if (!(Number.isInteger(blockSize) && blockSize >= 1 && blockSize <= 1 << 20)) throw expected('an integer from 1 to 1048576', 'options.blockSize', blockSize);
    this.#db = db;
    this.#blockSize = blockSize;
  }

  /** The next id for `cameraId` (1, 2, ... on a fresh store; above every earlier process's ids after that). */
  next(cameraId: string): number {
    let c = this.#cameras.get(cameraId);
    if (!c) {
      const reserved = this.#db.get(cameraId) ?? 1;
      c = { next: reserved, limit: reserved };
      this.#cameras.set(cameraId, c);
    }
    if (c.next >= c.limit) {
      // Ids wrap only after 2^31 tracks on one camera; starting again at 1 then is the int32 wire format's limit.
      const limit = c.next + this.#blockSize > MAX_ID ? this.#blockSize + 1 : c.next + this.#blockSize;
      if (limit <= c.next) c.next = 1;
      this.#db.putSync(cameraId, limit);
      c.limit = limit;
    }
    return c.next++;
  }
}
