/**
 * What lives beside the detections: appearance search (an embedding of every ended track's best crop in an HNSW
 * index rebuilt from LMDB when its file is missing or damaged) and retention (detections kept as long as their
 * camera's recordings, with the same free-space floor, so neither store fills the disk the other needs).
 */
import { Gauge } from 'prom-client';
import type { VigilConfig } from '../config/index.js';
import { VigilClosedError } from '../errors.js';
import { Embedder } from '../inference/embedder.js';
import { RetentionManager, TrackEmbeddings, VectorIndex, registerTrackEmbeddingMetrics, storeHealthCheck } from '../store/index.js';
import type { Service, ServiceContext } from './service.js';
import { started } from './service.js';

/** Per camera: how long its detections (and snapshots) are kept, ms; null: until the disk floor needs room. */
export function detectionAges(config: VigilConfig): Record<string, number | null> {
  const ages: Record<string, number | null> = {};
  for (const c of config.cameras) {
    const policy = config.recordingPolicies.get(c.id);
    ages[c.id] = policy && policy.maxAgeS > 0 ? policy.maxAgeS * 1000 : config.detectionsMaxAgeMs;
  }
  return ages;
}

export class SearchService implements Service {
  readonly name = 'search';
  #embedder: Embedder | null = null;
  #vectors: VectorIndex | null = null;
  #trackEmbeddings: TrackEmbeddings | null = null;

  /** null: search runs on stored vectors only (no model, or search is off). */
  get embedder(): Embedder | null {
    return this.#embedder;
  }
  get vectors(): VectorIndex {
    return started(this.#vectors, 'search.vectors');
  }
  get trackEmbeddings(): TrackEmbeddings | null {
    return this.#trackEmbeddings;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config, log } = ctx;
    if (config.search.enabled) {
      try {
        this.#embedder = await Embedder.create({ ...(config.search.embedderModelPath ? { modelPath: config.search.embedderModelPath } : {}), log: (line) => log.warn(line) });
      } catch (err) {
        log.warn(`search: no embedder (${(err as Error).message}); run \`bash scripts/setup.sh\`. Search by example track still works on stored vectors`);
      }
    }
    let lastProgress = 0;
    this.#vectors = await VectorIndex.open(ctx.db.detections, {
      dims: this.#embedder?.dims ?? 480,
      onProgress: (p) => {
        if (p.done === p.total || Date.now() - lastProgress > 2000) {
          lastProgress = Date.now();
          log.info(`vector index ${p.phase}: ${p.done}/${p.total}`);
        }
      },
    });
    this.#vectors.startAutosave();
    if (this.#embedder) {
      this.#trackEmbeddings = new TrackEmbeddings({ embedder: this.#embedder, index: this.#vectors, onError: (err) => log.warn(`embedding: ${(err as Error).message}`) });
      registerTrackEmbeddingMetrics(ctx.metrics, this.#trackEmbeddings);
    }
  }

  async stop(): Promise<void> {
    await this.#trackEmbeddings?.close();
    await this.#vectors?.close();
    await this.#embedder?.close();
  }
}

export class RetentionService implements Service {
  readonly name = 'retention';
  #retention: RetentionManager | null = null;

  constructor(private readonly search: SearchService) {}

  async start(ctx: ServiceContext): Promise<void> {
    const { config } = ctx;
    this.#retention = new RetentionManager(ctx.db.detections, {
      vectors: this.search.vectors,
      defaultMaxAgeMs: config.detectionsMaxAgeMs,
      perCameraMaxAgeMs: detectionAges(config),
      minFreeBytes: config.recording.minFreeBytes,
    });
    this.#retention.start();
    ctx.health.register('detection_store', storeHealthCheck(this.#retention));
    const store = ctx.db.detections;
    new Gauge({
      name: 'vigil_store_bytes',
      help: 'The detection store\'s LMDB file: its size (file), pages in use (used) and free pages that writes reuse before the file grows (reusable), bytes',
      labelNames: ['kind'],
      registers: [ctx.metrics],
      collect() {
        let u: ReturnType<typeof store.spaceUsage>;
        try {
          u = store.spaceUsage();
        } catch (err) {
          if (err instanceof VigilClosedError) return; // scraped during shutdown
          throw err;
        }
        this.set({ kind: 'file' }, u.fileBytes);
        this.set({ kind: 'used' }, u.usedBytes);
        this.set({ kind: 'reusable' }, u.reusableBytes);
      },
    });
    new Gauge({
      name: 'vigil_store_read_txn_lag',
      help: 'Commits the oldest open LMDB read transaction is behind the newest (0 with none open): one that keeps growing pins freed pages and the file grows',
      registers: [ctx.metrics],
      collect() {
        try {
          this.set(store.readTransactions().oldestLagTxns ?? 0);
        } catch (err) {
          if (!(err instanceof VigilClosedError)) throw err;
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.#retention?.stop();
  }
}
