/**
 * Track and alert snapshots: JPEG files under <dataDir>/snapshots (scaled, one image shared by the tracks of a
 * frame), indexed in a sub-database of the one Database, expired with the detections' retention ages.
 */
import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { sourceFrameStats } from '../camera/source-frame.js';
import { SnapshotService } from '../media/snapshots.js';
import type { IntegrationsService } from './integrations.js';
import type { SearchService } from './store.js';
import { detectionAges } from './store.js';
import type { Service, ServiceContext } from './service.js';

/** Where notifications and the API link to: server.publicUrl, else this host's API port. */
export function publicUrlOf(ctx: ServiceContext): string {
  return ctx.config.server.publicUrl ?? `http://localhost:${ctx.config.server.port}`;
}

export class SnapshotsService implements Service {
  readonly name = 'snapshots';
  #snapshots: SnapshotService | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly integrations: IntegrationsService,
    private readonly search: SearchService,
  ) {}

  /** null: snapshots are off. */
  get snapshots(): SnapshotService | null {
    return this.#snapshots;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config, log } = ctx;
    if (!config.snapshots.enabled) return;
    const snaps = new SnapshotService(
      { index: ctx.db.sub('snapshot-index'), dir: join(config.dataDir, 'snapshots') },
      {
        quality: config.snapshots.quality,
        maxWidth: config.snapshots.maxWidth,
        fsync: config.snapshots.fsync,
        uploader: this.integrations.integrations.alertSnapshotUploader(publicUrlOf(ctx)),
        embeddings: this.search.trackEmbeddings,
      },
    );
    this.#snapshots = snaps;
    registerSnapshotMetrics(ctx.metrics, snaps);
    const ages = detectionAges(config);
    const cutoff = (cameraId: string): number | null => {
      const age = cameraId in ages ? ages[cameraId]! : config.detectionsMaxAgeMs;
      return age === null ? null : Date.now() - age;
    };
    const store = ctx.db.detections;
    // Each minute, as the detections' retention: every reference past its camera's age (up to 50,000 a pass).
    let expiring: Promise<unknown> | null = null;
    const expire = (): void => {
      if (expiring) return;
      expiring = snaps
        .expireAll(store.cameraIds(), cutoff)
        .catch((err: unknown) => log.warn(`snapshot retention: ${(err as Error).message}`))
        .finally(() => (expiring = null));
    };
    this.#timer = setInterval(expire, 60_000);
    this.#timer.unref();
    expire();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#snapshots?.close();
  }
}

function registerSnapshotMetrics(registry: Registry, snapshots: SnapshotService): void {
  new Gauge({
    name: 'vigil_snapshots',
    help: 'Track and alert snapshots by counter: captured, capture_refused (native memory budget), live_tracks, encoded, encode_failed, dropped (work queue full), stored (references), shared (references to an image already stored), images, bytes_written, write_failed, uploaded, upload_failed, expired, images_deleted, missing, orphans_swept, dangling_dropped',
    labelNames: ['counter'],
    registers: [registry],
    collect() {
      const s = snapshots.stats();
      const rows: [string, number][] = [
        ['captured', s.captured], ['capture_refused', s.captureRefused], ['live_tracks', s.liveTracks], ['encoded', s.encoded],
        ['encode_failed', s.encodeFailed], ['dropped', s.dropped], ['stored', s.stored], ['shared', s.shared], ['images', s.images],
        ['bytes_written', s.bytesWritten], ['write_failed', s.writeFailed], ['uploaded', s.uploaded], ['upload_failed', s.uploadFailed],
        ['expired', s.expired], ['images_deleted', s.imagesDeleted], ['missing', s.missing], ['orphans_swept', s.orphansSwept],
        ['dangling_dropped', s.danglingDropped],
      ];
      for (const [counter, v] of rows) this.set({ counter }, v);
    },
  });
  new Gauge({
    name: 'vigil_source_frames',
    help: 'Decoded frames kept natively for snapshots and embeddings: frames, bytes, budget_bytes, refused (over budget), stale, cached_bytes',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      const s = sourceFrameStats();
      const rows: [string, number][] = [['frames', s.frames], ['bytes', s.bytes], ['budget_bytes', s.budgetBytes], ['refused', s.refused], ['stale', s.stale], ['cached_bytes', s.cachedBytes]];
      for (const [stat, v] of rows) this.set({ stat }, v);
    },
  });
}
