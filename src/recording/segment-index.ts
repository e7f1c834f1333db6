/**
 * The segment index, in LMDB: what was recorded, by camera and time, without directory scans. Two orderings of the
 * same records: by camera then start (range queries for one camera) and by start then camera (oldest first across
 * cameras, for the disk watermark). Keys use microseconds (exact in a double up to year 2255).
 */
import type { Database } from 'lmdb';
import { DatabaseScope, resolveSource } from '../db/database.js';

export interface Segment {
  cameraId: string;
  path: string;
  /** Unix-epoch ns. */
  startNs: bigint;
  /** Unix-epoch ns; null while the segment is open (being written). */
  endNs: bigint | null;
  sizeBytes: number;
}

interface StoredSegment {
  cameraId: string;
  path: string;
  startNs: string;
  endNs: string | null;
  sizeBytes: number;
}

const toStored = (s: Segment): StoredSegment => ({ ...s, startNs: s.startNs.toString(), endNs: s.endNs === null ? null : s.endNs.toString() });
const fromStored = (s: StoredSegment): Segment => ({ ...s, startNs: BigInt(s.startNs), endNs: s.endNs === null ? null : BigInt(s.endNs) });
const us = (ns: bigint) => Number(ns / 1000n);

export class SegmentIndex {
  #scope: DatabaseScope;
  #owned: boolean;
  #byCamera: Database<StoredSegment, [string, number]>;
  #byTime: Database<StoredSegment, [number, string]>;
  #closed = false;

  /** `source`: the `segments` scope of the server's Database, or a path (a Database of its own there). */
  constructor(source: DatabaseScope | string) {
    const { scope, owned } = resolveSource(source, 'indexPath');
    this.#scope = scope;
    this.#owned = owned;
    this.#byCamera = scope.open('segments-by-camera');
    this.#byTime = scope.open('segments-by-time');
  }

  /** Records a segment (open or closed); durable when the promise resolves. */
  async put(seg: Segment): Promise<void> {
    const stored = toStored(seg);
    await this.#scope.transaction(() => {
      this.#byCamera.put([seg.cameraId, us(seg.startNs)], stored);
      this.#byTime.put([us(seg.startNs), seg.cameraId], stored);
    });
  }

  async remove(seg: Segment): Promise<void> {
    await this.#scope.transaction(() => {
      this.#byCamera.remove([seg.cameraId, us(seg.startNs)]);
      this.#byTime.remove([us(seg.startNs), seg.cameraId]);
    });
  }

  /**
   * Segments of one camera overlapping [startNs, endNs), in time order. One ordered range scan: from the segment
   * that starts at or before startNs up to endNs.
   */
  range(cameraId: string, startNs: bigint, endNs: bigint): Segment[] {
    const out: Segment[] = [];
    let first: [string, number] = [cameraId, us(startNs)];
    for (const { key } of this.#byCamera.getRange({ start: [cameraId, us(startNs)], reverse: true, limit: 1 })) {
      if (key[0] === cameraId) first = key;
    }
    for (const { value } of this.#byCamera.getRange({ start: first, end: [cameraId, us(endNs)] })) {
      const s = fromStored(value);
      if (s.endNs === null || s.endNs > startNs) out.push(s);
    }
    return out;
  }

  /** Oldest segments across all cameras. */
  *oldest(): Generator<Segment> {
    for (const { value } of this.#byTime.getRange({})) yield fromStored(value);
  }

  /** Segments still marked open: left by a crash when found at start-up. */
  open(): Segment[] {
    const out: Segment[] = [];
    for (const { value } of this.#byTime.getRange({})) if (value.endNs === null) out.push(fromStored(value));
    return out;
  }

  all(cameraId?: string): Segment[] {
    const range = cameraId ? this.#byCamera.getRange({ start: [cameraId, 0], end: [cameraId, Number.MAX_SAFE_INTEGER] }) : this.#byCamera.getRange({});
    return [...range].map(({ value }) => fromStored(value));
  }

  totalBytes(): number {
    let n = 0;
    for (const { value } of this.#byTime.getRange({})) n += value.sizeBytes;
    return n;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) await this.#scope.database.close();
  }
}
