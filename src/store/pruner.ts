/**
 * Deleting for retention (src/store/retention.ts decides what and when): rows by age or oldest first with their
 * counters, tracks by age, and the heads of the sequence and event logs once nothing refers to them. Every call is
 * one write transaction of a bounded number of rows.
 */
import type { Database as LmdbDatabase } from 'lmdb';
import { expected } from '../errors.js';
import type { TrackSummary } from '../types.js';
import { confidenceBin, counterKey, decodeSeqLog, detKey, detKeyTs, rowClassAndConfidence, seqKey, U64_MAX } from './codec.js';
import { isNonNegInt, type CameraEntry, type CounterDeltas, type StoreLayout } from './layout.js';

interface ScanRow {
  camera: CameraEntry;
  key: Buffer;
  value: Buffer;
}

export class StorePruner {
  constructor(
    private readonly layout: StoreLayout,
    private readonly tracksDb: LmdbDatabase<TrackSummary, [string, number] | [string, string]>,
  ) {}

  /**
   * Removes event-log entries at the head older than `cutoffNs` (timestamp < cutoffNs), at most `maxEntries`; stops
   * at the first newer one so the log stays a complete suffix. Resolves to the number removed.
   */
  async trimEventLog(cutoffNs: bigint, maxEntries: number): Promise<number> {
        if (typeof cutoffNs !== 'bigint' || cutoffNs < 0n) throw expected('a non-negative bigint (ns)', 'cutoffNs', cutoffNs);
    if (!isNonNegInt(maxEntries, 1e7) || maxEntries < 1) throw expected('a positive integer', 'maxEntries', maxEntries);
    return (await this.layout.scope.transaction(() => {
      let n = 0;
      let upTo = 0n;
      for (const { key, value } of this.layout.evlog.getRange({ limit: maxEntries })) {
        const seq = Buffer.from(key).readBigUInt64BE(0);
        if (value.t >= cutoffNs) break;
        // The newest entry stays: it may carry the sequence counter across restarts.
        if (seq + 1n >= this.layout.nextSeq) break;
        this.layout.evlog.removeSync(Buffer.from(key));
        upTo = seq;
        n++;
      }
      this.layout.noteTrimmed(upTo);
      return n;
    })) as number;
  }

  /**
   * Deletes up to `maxRows` detections of one camera older than `cutoffNs` (strictly: timestamp < cutoffNs),
   * oldest first, in one write transaction, counters adjusted. Resolves to the number deleted.
   */
  async deleteOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
        const camera = this.layout.camerasById.get(cameraId);
    if (!camera || cutoffNs <= 0n) return 0;
    return this.deleteRows(() => {
      const rows: ScanRow[] = [];
      for (const { key, value } of camera.db.getRange({ end: detKey(cutoffNs, 0n), limit: maxRows })) rows.push({ camera, key: Buffer.from(key), value: Buffer.from(value) });
      return rows;
    });
  }

  /** Deletes up to `maxRows` of the oldest detections across all cameras. Resolves to the number deleted. */
  async deleteOldest(maxRows: number): Promise<number> {
    return this.deleteRows(() => {
      const rows: ScanRow[] = [];
      for (const row of this.oldestRows()) {
        rows.push(row);
        if (rows.length >= maxRows) break;
      }
      return rows;
    });
  }

  private async deleteRows(select: () => ScanRow[]): Promise<number> {
    const n = (await this.layout.scope.transaction(() => {
      const rows = select();
      const deltas: CounterDeltas = new Map();
      for (const row of rows) {
        row.camera.db.removeSync(row.key);
        const { className, confidence } = rowClassAndConfidence(row.value);
        const classNo = this.layout.classNoByName.get(className) ?? 0;
        const ck = counterKey(row.camera.no, detKeyTs(row.key) / this.layout.bucketNs, classNo);
        const hex = ck.toString('latin1');
        let d = deltas.get(hex);
        if (!d) deltas.set(hex, (d = { key: ck, bins: new Map() }));
        const bin = confidenceBin(confidence);
        d.bins.set(bin, (d.bins.get(bin) ?? 0) + 1);
      }
      this.layout.applyCounterDeltas(deltas, -1);
      return rows.length;
    })) as number;
    return n;
  }

  /**
   * Deletes up to `maxRows` tracks of one camera that ended (or, never ended, started) before `cutoffNs`.
   * Resolves to the number deleted.
   */
  async deleteTracksOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
    const db = this.tracksDb;
    return (await this.layout.scope.transaction(() => {
      let n = 0;
      // keys [cameraId, trackId]: numbers sort before strings, so [cameraId, ''] ends the camera's range
      for (const { key, value } of db.getRange({ start: [cameraId, -Infinity], end: [cameraId, ''] })) {
        if (n >= maxRows) break;
        if ((value.endNs ?? value.startNs) < cutoffNs) {
          db.removeSync(key);
          n++;
        }
      }
      return n;
    })) as number;
  }

  /**
   * Removes sequence-log entries at the head whose rows are all gone (after retention), at most `maxEntries`.
   * Stops at the first entry that still has a row, so entries of cameras with longer retention keep later ones.
   */
  async trimSeqLog(maxEntries: number): Promise<number> {
        return (await this.layout.scope.transaction(() => {
      let n = 0;
      let upTo = 0n;
      for (const { key, value } of this.layout.seqlog.getRange({ limit: maxEntries })) {
        const e = decodeSeqLog(key, value);
        const camera = this.layout.camerasByNo.get(e.cameraNo);
        if (camera) {
          let present = false;
          for (const _ of camera.db.getKeys({ start: detKey(e.timestampNs, e.firstSeq), end: detKey(e.timestampNs, e.firstSeq + BigInt(e.count)), limit: 1 })) present = true;
          if (present) break;
        }
        // The newest entry stays: it carries the sequence counter across restarts.
        if (e.firstSeq + BigInt(e.count) >= this.layout.nextSeq) break;
        this.layout.seqlog.removeSync(Buffer.from(key));
        upTo = e.firstSeq + BigInt(e.count) - 1n;
        n++;
      }
      if (upTo > 0n) {
        // Events older than the oldest frame still logged go with it: the stream's replay window is the store's.
        for (const key of this.layout.evlog.getKeys({ end: seqKey(upTo + 1n), limit: maxEntries })) {
          if (Buffer.from(key).readBigUInt64BE(0) + 1n >= this.layout.nextSeq) break;
          this.layout.evlog.removeSync(Buffer.from(key));
        }
        this.layout.noteTrimmed(upTo);
      }
      return n;
    })) as number;
  }

  /** Oldest stored timestamp of a camera (undefined for an empty or unknown camera). */
  oldestTimestamp(cameraId: string): bigint | undefined {
    const camera = this.layout.camerasById.get(cameraId);
    if (!camera) return undefined;
    for (const k of camera.db.getKeys({ limit: 1 })) return detKeyTs(k);
    return undefined;
  }

  /** Rows of every camera, oldest first (binary: the delete needs the keys and the class/confidence bytes). */
  private *oldestRows(): Generator<ScanRow> {
    const iters = [...this.layout.camerasById.values()].map((camera) => ({ camera, it: camera.db.getRange({})[Symbol.iterator]() }));
    // Returned however the scan ends (the caller stops at its batch size): see LogReader.readLog.
    try {
      const heads = iters.map(({ camera, it }) => {
        const n = it.next();
        return n.done ? null : { camera, key: n.value.key, value: n.value.value };
      });
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h && (best < 0 || Buffer.compare(h.key, heads[best]!.key) < 0)) best = i;
        }
        if (best < 0) return;
        const row = heads[best]!;
        const { camera, it } = iters[best]!;
        const n = it.next();
        heads[best] = n.done ? null : { camera, key: n.value.key, value: n.value.value };
        yield row;
      }
    } finally {
      for (const { it } of iters) it.return?.();
    }
  }
}
