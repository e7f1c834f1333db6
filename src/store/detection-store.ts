/**
 * LMDB detection store: the facade its callers use. The work is split by concern:
 * - layout.ts: the sub-databases (one per camera keyed by (timestamp, seq), the sequence log, the event log,
 *   per-bucket counters, registries) and the registries read from them;
 * - writer.ts: the bounded queue, group commits, server-wide sequence numbers (detections and events share them);
 * - query.ts: camera/time range scans, merge across cameras, paging, exact totals (row-reader.ts reads rows in place);
 * - log-reader.ts: replay by sequence and the server-wide log for the stream's resume;
 * - pruner.ts: the deletes retention.ts asks for.
 * - `c:<name>`: generic collections (tracks, alerts, cameras, users, ...), MessagePack values.
 *
 * The store lives in the `store` scope of the server's one Database (src/db/): other modules' writes can commit in
 * the same transaction as an event-log entry (`appendEvent(event, write)`). `DetectionStore.open({ path })` opens a
 * Database of its own there (tests, tools, benchmarks), with the store's sub-databases under bare names.
 */
import type { Database as LmdbDatabase, RootDatabase } from 'lmdb';
import { Database, DatabaseScope, type SyncMode } from '../db/database.js';
import { expected, VigilClosedError } from '../errors.js';
import type { Alert, CameraInfo, DetectionBatch, StoredDetection, TrackSummary } from '../types.js';
import { LogReader } from './log-reader.js';
import { checkPositiveInt, isNonNegInt, StoreLayout, VigilStoreError } from './layout.js';
import { StorePruner } from './pruner.js';
import { QueryPlanner } from './query.js';
import type {
  CommittedBatch, CommittedEvent, DetectionPage, DetectionQuery, LogEvent, LogReadResult, PageRequest, ReplayResult, StoreStats,
} from './types.js';
import { StoreWriter } from './writer.js';

export { VigilStoreError, type SyncMode };
export type * from './types.js';

export interface DetectionStoreOptions {
  /** The `store` scope of the server's Database; or omit it and give `path`. */
  database?: DatabaseScope;
  /** Directory of a Database of the store's own (created if missing). Ignored when `database` is given. */
  path?: string;
  /** Sync mode of the store's own Database (with `database`, the Database's applies). */
  sync?: SyncMode;
  /** Detections waiting for a commit before `append` starts dropping. Default 100000. */
  maxQueuedDetections?: number;
  /** Events (appendEvent) waiting for a commit before `appendEvent` starts dropping. Default 10000. */
  maxQueuedEvents?: number;
  /** Most detections per write transaction. Default 20000. */
  maxBatchDetections?: number;
  /** Wait this long to gather writes before a commit (0 = next event-loop turn). Default 0. */
  commitDelayMs?: number;
  /** Counter bucket width in seconds (fixed when the store is created). Default 60. */
  bucketSeconds?: number;
  /** Most sub-databases of the store's own Database (cameras + collections + internal). Default 8192. */
  maxDatabases?: number;
  /** Snapshot URL path for search results. */
  snapshotPath?: (cameraId: string, trackId: number) => string;
}

type CollectionKey = string | number | (string | number)[];

/** A typed key/value collection in its own LMDB sub-database (MessagePack values; bigint fields round-trip). */
export class Collection<K extends CollectionKey, V> {
  constructor(private readonly owner: DetectionStore, private readonly db: LmdbDatabase<V, K>, readonly name: string) {}
  get(key: K): V | undefined {
    this.owner.assertOpen();
    return this.db.get(key);
  }
  /** Resolves once the value is committed (durably, with the default sync mode). */
  async put(key: K, value: V): Promise<void> {
    this.owner.assertOpen();
    await this.db.put(key, value);
  }
  /** Resolves to whether the key existed. */
  async remove(key: K): Promise<boolean> {
    this.owner.assertOpen();
    return await this.db.remove(key);
  }
  /** Entries in key order; `start` inclusive, `end` exclusive. */
  *entries(range: { start?: K; end?: K; limit?: number; reverse?: boolean } = {}): IterableIterator<{ key: K; value: V }> {
    this.owner.assertOpen();
    for (const { key, value } of this.db.getRange(range)) yield { key, value };
  }
  count(): number {
    this.owner.assertOpen();
    return this.db.getCount();
  }
}

const DEFAULT_SNAPSHOT = (cameraId: string, trackId: number): string =>
  `/snapshots/${encodeURIComponent(cameraId)}/${trackId}.jpg`;

export class DetectionStore {
  readonly path: string;
  readonly sync: SyncMode;
  readonly bucketNs: bigint;
  readonly snapshotPath: (cameraId: string, trackId: number) => string;
  /** The Database the store lives in, and its scope. */
  readonly database: Database;
  readonly scope: DatabaseScope;
  /** Root environment (shared with every scope): for transactions spanning the store and sibling modules. */
  readonly env: RootDatabase;
  readonly tracks: Collection<[string, number], TrackSummary>;
  readonly alerts: Collection<string, Alert>;
  readonly cameras: Collection<string, CameraInfo>;
  readonly users: Collection<string, Record<string, unknown>>;

  private readonly layout: StoreLayout;
  private readonly writer: StoreWriter;
  private readonly planner: QueryPlanner;
  private readonly log: LogReader;
  private readonly pruner: StorePruner;
  private readonly ownsDatabase: boolean;
  private readonly collections = new Map<string, Collection<CollectionKey, unknown>>();
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(options: DetectionStoreOptions) {
    if (typeof options !== 'object' || options === null) throw expected('an options object', 'options', options);
    if (options.database !== undefined && !(options.database instanceof DatabaseScope)) throw expected('a DatabaseScope', 'options.database', options.database);
    if (options.database === undefined && (typeof options.path !== 'string' || options.path === '')) throw expected('a directory path', 'options.path', options.path);
    const sync = options.sync ?? 'durable';
    if (sync !== 'durable' && sync !== 'overlapping' && sync !== 'none') throw expected("'durable', 'overlapping' or 'none'", 'options.sync', options.sync);
    const maxQueuedDetections = options.maxQueuedDetections ?? 100_000;
    checkPositiveInt(maxQueuedDetections, 1e9, 'options.maxQueuedDetections');
    const maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
    checkPositiveInt(maxQueuedEvents, 1e9, 'options.maxQueuedEvents');
    const maxBatchDetections = options.maxBatchDetections ?? 20_000;
    checkPositiveInt(maxBatchDetections, 1e7, 'options.maxBatchDetections');
    const commitDelayMs = options.commitDelayMs ?? 0;
    if (!isNonNegInt(commitDelayMs, 60_000)) throw expected('an integer number of milliseconds from 0 to 60000', 'options.commitDelayMs', options.commitDelayMs);
    const bucketSeconds = options.bucketSeconds ?? 60;
    if (!isNonNegInt(bucketSeconds, 86_400) || bucketSeconds < 1) throw expected('an integer number of seconds from 1 to 86400', 'options.bucketSeconds', options.bucketSeconds);
    const maxDbs = options.maxDatabases ?? 8192;
    if (!isNonNegInt(maxDbs, 32_000) || maxDbs < 16) throw expected('an integer from 16 to 32000', 'options.maxDatabases', options.maxDatabases);
    this.snapshotPath = options.snapshotPath ?? DEFAULT_SNAPSHOT;
    this.ownsDatabase = options.database === undefined;
    this.scope = options.database ?? Database.open({ path: options.path!, sync, maxDbs }).scope('');
    this.database = this.scope.database;
    this.path = this.database.path;
    this.sync = this.database.sync;
    this.env = this.database.env;
    try {
      this.layout = new StoreLayout(this.scope, bucketSeconds);
    } catch (err) {
      if (this.ownsDatabase) void this.database.close();
      throw err;
    }
    this.bucketNs = this.layout.bucketNs;
    this.writer = new StoreWriter(this.layout, { maxQueuedDetections, maxQueuedEvents, maxBatchDetections, commitDelayMs });
    this.planner = new QueryPlanner(this.layout);
    this.log = new LogReader(this.layout);
    this.tracks = this.collection<[string, number], TrackSummary>('tracks');
    this.alerts = this.collection<string, Alert>('alerts');
    this.cameras = this.collection<string, CameraInfo>('cameras');
    this.users = this.collection<string, Record<string, unknown>>('users');
    this.pruner = new StorePruner(this.layout, (this.tracks as unknown as { db: LmdbDatabase<TrackSummary, [string, number] | [string, string]> }).db);
  }

  /** Opens (or creates) the store. Synchronous: LMDB opens memory-mapped. */
  static open(options: DetectionStoreOptions): DetectionStore {
    return new DetectionStore(options);
  }

  assertOpen(): void {
    if (this.closed) throw new VigilClosedError('DetectionStore');
  }

  /** A named typed collection (`c:<name>` sub-database). */
  collection<K extends CollectionKey, V>(name: string): Collection<K, V> {
    this.assertOpen();
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw expected('a collection name of 1-64 letters, digits, _ . -', 'name', name);
    let c = this.collections.get(name);
    if (!c) {
      c = new Collection(this, this.scope.open<unknown, CollectionKey>(`c:${name}`), name);
      this.collections.set(name, c);
    }
    return c as unknown as Collection<K, V>;
  }

  /**
   * Called with every committed group of frames and events, after the commit (for publishing durable detections).
   * Together the two lists hold consecutive sequence ranges of one commit; each list is in sequence order.
   */
  onCommitted(listener: (batches: CommittedBatch[], events: CommittedEvent[]) => void): () => void {
    return this.writer.onCommitted(listener);
  }

  get lastSeq(): bigint {
    return this.layout.nextSeq - 1n;
  }

  /** First sequence from which the server-wide log (readLog) is complete: retention trimmed everything before it. */
  get logOldestSeq(): bigint {
    return this.layout.logTrimmedTo + 1n;
  }

  stats(): StoreStats {
    return this.writer.stats();
  }

  /** The event log's queue (appendEvent): waiting, dropped because the queue was full, committed. */
  eventStats(): { queued: number; dropped: number; committed: number } {
    return this.writer.eventStats();
  }

  cameraIds(): string[] {
    return [...this.layout.camerasById.keys()].sort();
  }

  /** Class names stored under a numeric class id (a detector may rename a class; usually one name). */
  classNamesForId(classId: number): string[] {
    return [...(this.layout.classNamesById.get(classId) ?? [])].sort();
  }

  // ------------------------------------------------------------------------------------------------ writing

  /**
   * Queues one frame's detections. Resolves after the commit that made them durable, with their sequence numbers.
   * Rejects with E_STORE_BACKPRESSURE (counted as dropped) when the queue is full, E_STORE_WRITE when the commit
   * failed. A frame without detections resolves at once with count 0.
   */
  append(batch: DetectionBatch): Promise<CommittedBatch> {
    this.assertOpen();
    return this.writer.append(batch);
  }

  /**
   * Fire-and-forget form of `append` for the hot path: false when the frame was dropped (queue full, counted),
   * true when queued. Never rejects (a failed commit is counted in stats().writeErrors); committed frames reach
   * `onCommitted` listeners with their sequence numbers.
   */
  offer(batch: DetectionBatch): boolean {
    this.assertOpen();
    return this.writer.offer(batch);
  }

  /**
   * Queues a non-detection event for the event log. It takes the next sequence number in queue order (the same
   * counter as detections) and resolves after the commit that made it durable. Rejects with E_STORE_BACKPRESSURE
   * (counted in eventStats().dropped) when `maxQueuedEvents` are waiting.
   * `write`, when given, runs inside the same transaction as the event's log entry (writes to other scopes of the
   * Database, e.g. RuleStore.alertWrite): both commit or neither; when it throws, the event is rejected with
   * E_STORE_WRITE, nothing of it is written, and the rest of the commit goes on.
   */
  appendEvent(event: LogEvent, write?: () => void): Promise<CommittedEvent> {
    this.assertOpen();
    return this.writer.appendEvent(event, write);
  }

  /** Resolves when everything queued so far is committed (or failed). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  // ------------------------------------------------------------------------------------------------ reading

  /** Exact number of detections matching the query; from the counters where possible. */
  count(q: DetectionQuery): number {
    this.assertOpen();
    return this.planner.count(q);
  }

  /** One page of detections (see QueryPlanner.queryPage in query.ts). */
  queryPage(q: DetectionQuery, req: PageRequest): DetectionPage {
    this.assertOpen();
    return this.planner.queryPage(q, req);
  }

  /**
   * Streams every matching detection in (timestamp, seq) order, a page at a time (each page is a fresh read
   * snapshot, so a long export never pins old pages in LMDB and yields to the event loop between pages).
   */
  async *export(q: DetectionQuery, chunkSize = 1000): AsyncGenerator<StoredDetection> {
    let cursor: string | null = null;
    for (;;) {
      const p = this.queryPage(q, { pageSize: chunkSize, cursor, withTotal: false });
      for (const d of p.detections) yield d;
      if (!p.nextCursor) return;
      cursor = p.nextCursor;
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Detections with seq >= fromSeq in sequence order (for WebSocket resume). Rows removed by retention are skipped. */
  replay(fromSeq: bigint, limit = 1000): ReplayResult {
    this.assertOpen();
    return this.log.replay(fromSeq, limit);
  }

  /** The detection with this sequence number, if stored. */
  getBySeq(seq: bigint): StoredDetection | undefined {
    this.assertOpen();
    return this.log.getBySeq(seq);
  }

  /**
   * Reads the server-wide log (frames of detections and events) in sequence order: every entry whose last
   * sequence is > afterSeq, at most `maxEntries` (for WebSocket resume).
   */
  readLog(afterSeq: bigint, maxEntries = 256): LogReadResult {
    this.assertOpen();
    return this.log.readLog(afterSeq, maxEntries);
  }

  // ------------------------------------------------------------------------------------------------ retention

  /** Removes event-log entries at the head older than `cutoffNs`, at most `maxEntries`. Resolves to the number removed. */
  trimEventLog(cutoffNs: bigint, maxEntries: number): Promise<number> {
    this.assertOpen();
    return this.pruner.trimEventLog(cutoffNs, maxEntries);
  }

  /** Deletes up to `maxRows` detections of one camera older than `cutoffNs` (oldest first, counters adjusted). */
  deleteOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
    this.assertOpen();
    return this.pruner.deleteOlderThan(cameraId, cutoffNs, maxRows);
  }

  /** Deletes up to `maxRows` of the oldest detections across all cameras. Resolves to the number deleted. */
  deleteOldest(maxRows: number): Promise<number> {
    this.assertOpen();
    return this.pruner.deleteOldest(maxRows);
  }

  /** Deletes up to `maxRows` tracks of one camera that ended (or, never ended, started) before `cutoffNs`. */
  deleteTracksOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
    this.assertOpen();
    return this.pruner.deleteTracksOlderThan(cameraId, cutoffNs, maxRows);
  }

  /** Removes sequence-log entries at the head whose rows are all gone, at most `maxEntries`. */
  trimSeqLog(maxEntries: number): Promise<number> {
    this.assertOpen();
    return this.pruner.trimSeqLog(maxEntries);
  }

  /** Oldest stored timestamp per camera (undefined for an empty camera). */
  oldestTimestamp(cameraId: string): bigint | undefined {
    return this.pruner.oldestTimestamp(cameraId);
  }

  /**
   * Bytes in use inside the LMDB file and bytes the file occupies (free pages inside it can be reused). The file is
   * the whole Database's (every scope's pages count as used).
   */
  spaceUsage(): { fileBytes: number; usedBytes: number; reusableBytes: number } {
    return this.database.spaceUsage();
  }

  /** See Database.readTransactions: open read transactions and the oldest one's lag, in commits. */
  readTransactions(): { open: number; oldestLagTxns: number | null } {
    return this.database.readTransactions();
  }

  /** Opens a sub-database of the store's scope for a sibling module. */
  openDatabase<V, K extends CollectionKey | Buffer>(name: string, options: { keyEncoding?: 'binary' | 'uint32' | 'ordered-binary'; encoding?: 'binary' | 'msgpack' }): LmdbDatabase<V, K> {
    this.assertOpen();
    return this.scope.open<V, K>(name, options);
  }

  /** Commits what is queued, then closes the store (and its own Database). Idempotent; use after close throws E_CLOSED. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.writer.stop();
    this.closing = (async () => {
      await this.writer.flush();
      this.closed = true;
      if (this.ownsDatabase) await this.database.close();
    })();
    return this.closing;
  }
}
