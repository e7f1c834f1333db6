/**
 * Retention: per-camera maximum age, and a disk watermark.
 *
 * Age: every pass deletes, per camera, the detections with timestamp < now - maxAge (a row exactly at the cutoff
 * is kept), oldest first, in transactions of at most `batchRows` rows, yielding to the event loop between them.
 *
 * Watermark: LMDB never shrinks its file; deleted pages go on its free list and new writes reuse them. So when the
 * disk's free space falls below `minFreeBytes`, the pass deletes the oldest detections (across all cameras) until
 * at least `reserveBytes` of the file is reusable: from then on the store writes into its own free pages instead
 * of growing, and the floor holds as long as nothing else fills the disk. Health reports 'degraded' while the
 * free space is below the floor (the disk is nearly full), with the figures.
 */
import { statfs } from 'node:fs/promises';
import { expected } from '../errors.js';
import type { DetectionStore } from './detection-store.js';
import type { VectorIndex } from './vector-index.js';

export interface DiskStats {
  freeBytes: number;
  totalBytes: number;
}

export interface RetentionOptions {
  /** Default maximum age in ms for cameras without their own; null or omitted keeps forever. */
  defaultMaxAgeMs?: number | null;
  /** Per-camera maximum age in ms (null: keep forever). */
  perCameraMaxAgeMs?: Record<string, number | null>;
  /** Keep at least this much free space on the disk holding the store; 0 (default) disables the watermark. */
  minFreeBytes?: number;
  /** Reusable space to make inside the LMDB file when below the floor. Default 64 MiB. */
  reserveBytes?: number;
  /** Rows per delete transaction. Default 5000. */
  batchRows?: number;
  /** Most delete transactions per pass (age and watermark each). Default 50. */
  maxBatchesPerPass?: number;
  /** Background pass interval. Default 60000 ms. */
  intervalMs?: number;
  /** Wall clock in ns since the Unix epoch (injectable for tests). */
  nowNs?: () => bigint;
  /** Free/total bytes of the store's file system (default: statfs of the store path). */
  diskStats?: (path: string) => Promise<DiskStats>;
  /** When given, track embeddings past their camera's age are removed too. */
  vectors?: VectorIndex;
}

export interface RetentionReport {
  deletedByAge: Record<string, number>;
  deletedForSpace: number;
  /** Tracks (the tracks collection) and track vectors removed by age, per camera. */
  tracksDeleted: Record<string, number>;
  vectorsDeleted: Record<string, number>;
  seqLogTrimmed: number;
  /** Stream events (tracks, alerts, camera status) older than every camera's detections. */
  eventLogTrimmed: number;
  disk: DiskStats;
  /** True when the pass stopped at maxBatchesPerPass with more to delete. */
  incomplete: boolean;
}

export interface StoreHealth {
  status: 'ok' | 'degraded';
  message: string;
  freeBytes: number;
  totalBytes: number;
  minFreeBytes: number;
  fileBytes: number;
  reusableBytes: number;
  queuedDetections: number;
  droppedDetections: number;
  writeErrors: number;
  lastSeq: string;
}

export async function statfsDisk(path: string): Promise<DiskStats> {
  const s = await statfs(path);
  return { freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) };
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function checkAge(v: unknown, name: string): void {
  if (v !== null && v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v > 0)) throw expected('a positive integer number of milliseconds or null', name, v);
}

export class RetentionManager {
  private readonly opts: Required<Omit<RetentionOptions, 'perCameraMaxAgeMs' | 'defaultMaxAgeMs' | 'vectors'>> & Pick<RetentionOptions, 'perCameraMaxAgeMs' | 'defaultMaxAgeMs' | 'vectors'>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RetentionReport> | null = null;
  private lastReport: RetentionReport | null = null;

  constructor(private readonly store: DetectionStore, options: RetentionOptions = {}) {
    checkAge(options.defaultMaxAgeMs, 'options.defaultMaxAgeMs');
    for (const [cam, v] of Object.entries(options.perCameraMaxAgeMs ?? {})) checkAge(v, `options.perCameraMaxAgeMs.${cam}`);
    const posInt = (v: unknown, name: string, dflt: number, min = 1): number => {
      if (v === undefined) return dflt;
      if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) throw expected(`an integer >= ${min}`, name, v);
      return v;
    };
    this.opts = {
      defaultMaxAgeMs: options.defaultMaxAgeMs ?? null,
      perCameraMaxAgeMs: options.perCameraMaxAgeMs ?? {},
      minFreeBytes: posInt(options.minFreeBytes, 'options.minFreeBytes', 0, 0),
      reserveBytes: posInt(options.reserveBytes, 'options.reserveBytes', 64 * 1024 * 1024),
      batchRows: posInt(options.batchRows, 'options.batchRows', 5000),
      maxBatchesPerPass: posInt(options.maxBatchesPerPass, 'options.maxBatchesPerPass', 50),
      intervalMs: posInt(options.intervalMs, 'options.intervalMs', 60_000),
      nowNs: options.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n),
      diskStats: options.diskStats ?? statfsDisk,
      vectors: options.vectors,
    };
  }

  maxAgeMs(cameraId: string): number | null {
    const per = this.opts.perCameraMaxAgeMs ?? {};
    return Object.prototype.hasOwnProperty.call(per, cameraId) ? (per[cameraId] ?? null) : (this.opts.defaultMaxAgeMs ?? null);
  }

  /** Starts background passes every intervalMs (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.runOnce().catch(() => undefined);
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.running) await this.running.catch(() => undefined);
  }

  /** One pass: age per camera, then the watermark, then the sequence log head. */
  runOnce(): Promise<RetentionReport> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<RetentionReport> {
    const { batchRows, maxBatchesPerPass } = this.opts;
    const report: RetentionReport = { deletedByAge: {}, deletedForSpace: 0, tracksDeleted: {}, vectorsDeleted: {}, seqLogTrimmed: 0, eventLogTrimmed: 0, disk: { freeBytes: 0, totalBytes: 0 }, incomplete: false };
    const now = this.opts.nowNs();
    let batches = 0;
    for (const cameraId of this.store.cameraIds()) {
      const age = this.maxAgeMs(cameraId);
      if (age === null) continue;
      const cutoff = now - BigInt(age) * 1_000_000n;
      let total = 0;
      for (;;) {
        if (batches >= maxBatchesPerPass) {
          report.incomplete = true;
          break;
        }
        const n = await this.store.deleteOlderThan(cameraId, cutoff, batchRows);
        batches++;
        total += n;
        await yieldTurn();
        if (n < batchRows) break;
      }
      if (total > 0) report.deletedByAge[cameraId] = total;
      const tracks = await this.store.deleteTracksOlderThan(cameraId, cutoff, batchRows);
      if (tracks > 0) report.tracksDeleted[cameraId] = tracks;
      if (this.opts.vectors) {
        const vectors = await this.opts.vectors.removeOlderThan(cameraId, cutoff, batchRows);
        if (vectors > 0) report.vectorsDeleted[cameraId] = vectors;
      }
    }
    report.disk = await this.opts.diskStats(this.store.path);
    if (this.opts.minFreeBytes > 0 && report.disk.freeBytes < this.opts.minFreeBytes) {
      let spaceBatches = 0;
      while (this.store.spaceUsage().reusableBytes < this.opts.reserveBytes) {
        if (spaceBatches >= maxBatchesPerPass) {
          report.incomplete = true;
          break;
        }
        const n = await this.store.deleteOldest(batchRows);
        spaceBatches++;
        report.deletedForSpace += n;
        await yieldTurn();
        if (n === 0) break;
      }
    }
    report.seqLogTrimmed = await this.store.trimSeqLog(batchRows * 4);
    // Stream events (tracks, alerts, camera status) live as long as the longest-kept camera's detections; with any
    // camera kept forever (age null) they are only trimmed with the detections' sequence log above.
    const ages = [this.opts.defaultMaxAgeMs ?? null, ...Object.values(this.opts.perCameraMaxAgeMs ?? {})];
    report.eventLogTrimmed = ages.every((a) => a !== null)
      ? await this.store.trimEventLog(now - BigInt(Math.max(...(ages as number[]))) * 1_000_000n, batchRows * 4)
      : 0;
    this.lastReport = report;
    return report;
  }

  lastPass(): RetentionReport | null {
    return this.lastReport;
  }

  /** For `/health`: degraded when the disk's free space is below the floor, or the store dropped or failed writes. */
  async health(): Promise<StoreHealth> {
    const disk = await this.opts.diskStats(this.store.path);
    const space = this.store.spaceUsage();
    const s = this.store.stats();
    const problems: string[] = [];
    if (this.opts.minFreeBytes > 0 && disk.freeBytes < this.opts.minFreeBytes) {
      problems.push(`disk nearly full: ${disk.freeBytes} bytes free, floor ${this.opts.minFreeBytes}`);
    }
    if (s.writeErrors > 0) problems.push(`${s.writeErrors} failed commits`);
    return {
      status: problems.length > 0 ? 'degraded' : 'ok',
      message: problems.length > 0 ? problems.join('; ') : 'ok',
      freeBytes: disk.freeBytes,
      totalBytes: disk.totalBytes,
      minFreeBytes: this.opts.minFreeBytes,
      fileBytes: space.fileBytes,
      reusableBytes: space.reusableBytes,
      queuedDetections: s.queuedDetections,
      droppedDetections: s.droppedDetections,
      writeErrors: s.writeErrors,
      lastSeq: s.lastSeq.toString(),
    };
  }
}

/**
 * A check for the API's HealthRegistry (src/api/health.ts, structurally): `registry.register('store',
 * storeHealthCheck(retention))`. 'degraded' when the disk is below the floor or commits failed; 'down' when the
 * store is closed or the check itself fails.
 */
export function storeHealthCheck(retention: RetentionManager): { check: () => Promise<{ status: 'ok' | 'degraded' | 'down'; detail?: string }>; critical: boolean } {
  return {
    critical: true,
    check: async () => {
      try {
        const h = await retention.health();
        return h.status === 'ok' ? { status: 'ok' } : { status: 'degraded', detail: h.message };
      } catch (e) {
        return { status: 'down', detail: (e as Error).message };
      }
    },
  };
}
