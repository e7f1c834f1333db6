/**
 * Reading the server-wide log back: detections by sequence (`replay`, WebSocket resume of detections) and every
 * entry, frames and events, in sequence order (`readLog`, the stream's resume through src/stream/store-log.ts).
 */
import { expected } from '../errors.js';
import type { StoredDetection } from '../types.js';
import { decodeRow, decodeSeqLog, detKey, seqKey, toStored } from './codec.js';
import { isNonNegInt, type StoreLayout } from './layout.js';
import type { LogReadResult, ReplayResult } from './types.js';

/** What a range read of one of the layout's sub-databases yields. */
type RangeEntry<D> = D extends { getRange(...args: never[]): Iterable<infer E> } ? E : never;

export class LogReader {
  constructor(private readonly layout: StoreLayout) {}

  /** Detections with seq >= fromSeq in sequence order (for WebSocket resume). Rows removed by retention are skipped. */
  replay(fromSeq: bigint, limit = 1000): ReplayResult {
        if (typeof fromSeq !== 'bigint' || fromSeq < 0n) throw expected('a non-negative bigint sequence', 'fromSeq', fromSeq);
    if (!isNonNegInt(limit, 100_000) || limit < 1) throw expected('an integer from 1 to 100000', 'limit', limit);
    const detections: StoredDetection[] = [];
    let oldestSeq = this.layout.nextSeq;
    for (const key of this.layout.seqlog.getKeys({ limit: 1 })) oldestSeq = Buffer.from(key).readBigUInt64BE(0);
    let startKey = seqKey(fromSeq);
    for (const { key } of this.layout.seqlog.getRange({ start: seqKey(fromSeq), reverse: true, limit: 1 })) startKey = Buffer.from(key);
    let nextSeq = fromSeq;
    for (const { key, value } of this.layout.seqlog.getRange({ start: startKey })) {
      const e = decodeSeqLog(key, value);
      const camera = this.layout.camerasByNo.get(e.cameraNo);
      const entryEnd = e.firstSeq + BigInt(e.count);
      if (entryEnd <= fromSeq) continue;
      if (camera) {
        const from = e.firstSeq > fromSeq ? e.firstSeq : fromSeq;
        for (const row of camera.db.getRange({ start: detKey(e.timestampNs, from), end: detKey(e.timestampNs, entryEnd) })) {
          if (detections.length === limit) return { detections, nextSeq, lastSeq: (this.layout.nextSeq - 1n), oldestSeq };
          const d = toStored(camera.id, row.key, row.value);
          detections.push(d);
          nextSeq = d.seq + 1n;
        }
      }
      if (detections.length === limit) return { detections, nextSeq: entryEnd > nextSeq ? nextSeq : entryEnd, lastSeq: (this.layout.nextSeq - 1n), oldestSeq };
      nextSeq = entryEnd;
    }
    return { detections, nextSeq: nextSeq > this.layout.nextSeq ? nextSeq : this.layout.nextSeq, lastSeq: (this.layout.nextSeq - 1n), oldestSeq };
  }

  /** The detection with this sequence number, if stored. */
  getBySeq(seq: bigint): StoredDetection | undefined {
    const r = this.replay(seq, 1);
    const d = r.detections[0];
    return d && d.seq === seq ? d : undefined;
  }

  /**
   * Reads the server-wide log (frames of detections and events) in sequence order: every entry whose last
   * sequence is > afterSeq, at most `maxEntries` (for WebSocket resume). A frame is one entry with its detections
   * rebuilt from the camera's rows (a frame whose rows are gone is skipped).
   */
  readLog(afterSeq: bigint, maxEntries = 256): LogReadResult {
        if (typeof afterSeq !== 'bigint' || afterSeq < 0n) throw expected('a non-negative bigint sequence', 'afterSeq', afterSeq);
    if (!isNonNegInt(maxEntries, 100_000) || maxEntries < 1) throw expected('an integer from 1 to 100000', 'maxEntries', maxEntries);
    const lastSeq = (this.layout.nextSeq - 1n);
    const result: LogReadResult = { entries: [], after: afterSeq, lastSeq, oldestSeq: this.layout.logTrimmedTo + 1n };
    if (afterSeq >= lastSeq) {
      result.after = afterSeq > lastSeq ? afterSeq : lastSeq;
      return result;
    }
    const from = afterSeq + 1n;
    // the frame that may cover `from` starts at or before it
    let frameStart = seqKey(from);
    for (const key of this.layout.seqlog.getKeys({ start: seqKey(from), reverse: true, limit: 1 })) frameStart = Buffer.from(key);
    const frames = this.layout.seqlog.getRange({ start: frameStart })[Symbol.iterator]();
    const events = this.layout.evlog.getRange({ start: seqKey(from) })[Symbol.iterator]();
    // An LMDB range iterator holds its read transaction until it is finished or returned; one left open when the
    // page fills pins that snapshot until the garbage collector finds the iterator, and all the while no page
    // freed after it can be reused: the file grew ~0.9 MB/s in a soak. So both are returned, however this ends.
    try {
      this.readEntries(result, afterSeq, maxEntries, frames, events);
    } finally {
      frames.return?.();
      events.return?.();
    }
    return result;
  }

  private readEntries(
    result: LogReadResult,
    afterSeq: bigint,
    maxEntries: number,
    frames: Iterator<RangeEntry<StoreLayout['seqlog']>>,
    events: Iterator<RangeEntry<StoreLayout['evlog']>>,
  ): void {
    const lastSeq = result.lastSeq;
    let f = frames.next();
    let e = events.next();
    let after = afterSeq;
    while (result.entries.length < maxEntries && (!f.done || !e.done)) {
      const frame = f.done ? null : decodeSeqLog(f.value.key, f.value.value);
      const evSeq = e.done ? null : Buffer.from(e.value.key).readBigUInt64BE(0);
      if (frame && (evSeq === null || frame.firstSeq < evSeq)) {
        f = frames.next();
        const end = frame.firstSeq + BigInt(frame.count) - 1n;
        if (end <= afterSeq) continue;
        after = end;
        const camera = this.layout.camerasByNo.get(frame.cameraNo);
        if (!camera) continue;
        const detections: StoredDetection[] = [];
        let frameSequence = 0;
        for (const row of camera.db.getRange({ start: detKey(frame.timestampNs, frame.firstSeq), end: detKey(frame.timestampNs, end + 1n) })) {
          if (detections.length === 0) frameSequence = decodeRow(row.value).frameSequence;
          detections.push(toStored(camera.id, row.key, row.value));
        }
        if (detections.length === 0) continue;
        const first = detections[0]!;
        result.entries.push({
          type: 'detections',
          batch: {
            cameraId: camera.id,
            frameSequence,
            timestampNs: frame.timestampNs,
            frameWidth: first.frameWidth,
            frameHeight: first.frameHeight,
            firstSeq: frame.firstSeq,
            count: frame.count,
            detections,
          },
        });
      } else if (evSeq !== null && !e.done) {
        const v = e.value.value;
        e = events.next();
        after = evSeq;
        result.entries.push({ type: 'event', event: { kind: v.k, cameraId: v.c, timestampNs: v.t, data: v.d, seq: evSeq } });
      }
    }
    result.after = f.done && e.done ? lastSeq : after;
  }
}
