/**
 * LMDB detection store.
 *
 * Layout (one LMDB environment in `<path>/`, see codec.ts for the byte layouts):
 * - `det:<cameraId>`: one sub-database per camera keyed by (timestampNs, seq): "camera X between t1 and t2" is one
 *   ordered range scan; rows are written with LMDB's append flag whenever they sort after the camera's last key
 *   (the common case), which keeps pages full.
 * - `seqlog`: one entry per committed frame (first seq, camera, timestamp, count) for replay by global sequence.
 * - `evlog`: the stream's other events (tracks, alerts, camera status) keyed by sequence, MessagePack values. They
 *   take their sequence numbers from the same counter as detections, inside the same group commits, so the store
 *   holds one server-wide sequence space that the WebSocket stream replays from (src/stream/store-log.ts).
 * - `counts`: per camera, per time bucket (60 s by default), per class: counts by confidence bin (0.01 steps).
 *   Totals and page skipping read these instead of scanning rows; only the two partial buckets at the edges of a
 *   range are scanned.
 * - `cams`, `classes`, `meta`: registries (camera number, class number, format version).
 * - `c:<name>`: generic collections (tracks, alerts, cameras, users, ...), MessagePack values.
 *
 * Writes: `append(batch)` puts a frame's detections on a bounded queue and returns a promise. The writer takes
 * everything queued (up to `maxBatchDetections`) into one asynchronous LMDB transaction (group commit), assigns
 * the server-wide sequence numbers inside it, and resolves the promises only after the commit returned.
 * `appendEvent(event)` queues a non-detection event on the same queue: it gets the next sequence number in queue
 * order and is acknowledged the same way. With the
 * default `sync: 'durable'` a commit returns after fsync, so an acknowledged detection survives kill -9 and power
 * loss. When the queue is full, `append` rejects with E_STORE_BACKPRESSURE and the drop is counted.
 */
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { expected, VigilClosedError, VigilError } from '../errors.js';
import type { Alert, CameraInfo, DetectionBatch, StoredDetection, TrackSummary } from '../types.js';
import {
  confidenceBin, counterKey, decodeBins, decodeCounterKey, decodeRow, decodeSeqLog, detKey, detKeySeq, detKeyTs,
  encodeBins, encodeRow, encodeSeqLog, gridBin, keyAfter, keyBefore, rowClassAndConfidence, seqKey, sumBins, toStored, U64_MAX,
} from './codec.js';

/** Errors raised by the store, with stable codes. */
export class VigilStoreError extends VigilError {}

/**
 * How commits reach the disk.
 * - 'durable' (default): every commit is fsynced before it is acknowledged. Survives process kill and power loss.
 * - 'overlapping': LMDB's overlapping sync; acknowledged at commit, flushed right after in the background. Survives
 *   a process kill (the data is in the OS page cache); a power loss or kernel crash can lose the last acknowledged
 *   commits (the database stays consistent: it reopens at the last flushed transaction).
 * - 'none': no fsync at all (LMDB noSync). Only for throw-away data: a power loss can lose any amount of recent
 *   data and, with an unlucky write order, corrupt the file.
 */
export type SyncMode = 'durable' | 'overlapping' | 'none';

export interface DetectionStoreOptions {
  /** Directory holding the LMDB environment (created if missing). */
  path: string;
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
  /** Most sub-databases (cameras + collections + internal). Default 2048. */
  maxDatabases?: number;
  /** Snapshot URL path for search results. */
  snapshotPath?: (cameraId: string, trackId: number) => string;
}

export interface CommittedBatch {
  cameraId: string;
  frameSequence: number;
  timestampNs: bigint;
  frameWidth: number;
  frameHeight: number;
  /** Sequence of the first detection; the batch's detections hold firstSeq .. firstSeq + count - 1. */
  firstSeq: bigint;
  count: number;
  detections: StoredDetection[];
}

/**
 * A non-detection event in the store's event log (the stream's tracks, alerts and camera status changes). The
 * store does not interpret `data`; it keeps it as MessagePack (bigint fields round-trip).
 */
export interface LogEvent {
  /** The stream's kind name, e.g. 'alerts'. */
  kind: string;
  cameraId: string;
  /** When it happened, ns since the Unix epoch: event-log retention compares it. */
  timestampNs: bigint;
  data: unknown;
}

export interface CommittedEvent extends LogEvent {
  seq: bigint;
}

/** One entry of the server-wide log: a committed frame of detections or a committed event. */
export type LogEntry = { type: 'detections'; batch: CommittedBatch } | { type: 'event'; event: CommittedEvent };

export interface LogReadResult {
  /** Entries whose last sequence is > afterSeq, in sequence order. A frame keeps its first sequence as its key. */
  entries: LogEntry[];
  /** Pass as `afterSeq` to continue; equals lastSeq when everything was read. */
  after: bigint;
  /** Last committed sequence (0n when nothing was ever committed). */
  lastSeq: bigint;
  /**
   * Oldest sequence from which the log is complete: everything before it was trimmed by retention (frames whose
   * rows a camera's shorter retention removed later in the log are skipped silently). 1n when nothing was trimmed.
   */
  oldestSeq: bigint;
}

export interface DetectionQuery {
  /** Cameras to read; omitted or empty: every camera. */
  cameraIds?: readonly string[];
  /** Inclusive bounds, ns since the Unix epoch. */
  startNs?: bigint;
  endNs?: bigint;
  className?: string;
  /** Any of these class names (combined with className when both are given: either matches). */
  classNames?: readonly string[];
  minConfidence?: number;
  trackId?: number;
}

export interface PageRequest {
  pageSize: number;
  /** 1-based page; used when no cursor is given. Pages are found through the counters, not by scanning. */
  page?: number;
  /** Opaque cursor from a previous page's `nextCursor` (same query): continues right after that page. */
  cursor?: string | null;
  /** Compute `total` (default true). */
  withTotal?: boolean;
  /** 'asc' (default): oldest first; 'desc': newest first. A cursor continues in the order it was made with. */
  order?: 'asc' | 'desc';
}

export interface DetectionPage {
  detections: StoredDetection[];
  total: number | null;
  page: number;
  pageSize: number;
  nextCursor: string | null;
}

export interface ReplayResult {
  detections: StoredDetection[];
  /** Where to resume the next replay call. */
  nextSeq: bigint;
  /** Last committed sequence in the store (0n when empty). */
  lastSeq: bigint;
  /**
   * First sequence of the oldest frame still in the sequence log (retention trims the log from its head); a resume
   * from before it has missed detections. Rows a camera's shorter retention removed later in the log are skipped
   * silently. lastSeq + 1n when the log is empty.
   */
  oldestSeq: bigint;
}

export interface StoreStats {
  queuedDetections: number;
  droppedDetections: number;
  droppedBatches: number;
  committedDetections: number;
  commits: number;
  lastSeq: bigint;
  writeErrors: number;
}

type CollectionKey = string | number | (string | number)[];

/** A typed key/value collection in its own LMDB sub-database (MessagePack values; bigint fields round-trip). */
export class Collection<K extends CollectionKey, V> {
  constructor(private readonly owner: DetectionStore, private readonly db: Database<V, K>, readonly name: string) {}
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

interface CameraEntry {
  id: string;
  no: number;
  db: Database<Buffer, Buffer>;
  /** Largest key written so far (append is used for keys after it). */
  lastKey: Buffer | null;
}

interface Pending {
  batch: DetectionBatch;
  camera: CameraEntry;
  classNos: number[];
  resolve: (c: CommittedBatch) => void;
  reject: (e: Error) => void;
}

interface PendingEvent {
  event: LogEvent;
  resolve: (c: CommittedEvent) => void;
  reject: (e: Error) => void;
}

interface Segment {
  fromNs: bigint;
  toNs: bigint;
  count: number;
}

interface ScanRow {
  camera: CameraEntry;
  key: Buffer;
  value: Buffer;
}

const DEFAULT_SNAPSHOT = (cameraId: string, trackId: number): string =>
  `/snapshots/${encodeURIComponent(cameraId)}/${trackId}.jpg`;

function cmpBuf(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

/**
 * K-way merge of per-camera key-ordered ranges: ascending keys for `direction` 1, descending for -1. lmdb-js hands
 * out a fresh Buffer per key and value for binary encodings (no shared buffer), so rows are kept without copying.
 */
function* mergeRows(sources: { camera: CameraEntry; rows: Iterable<{ key: Buffer; value: Buffer }> }[], direction: 1 | -1): Generator<ScanRow> {
  const iters = sources.map(({ camera, rows }) => ({ camera, it: rows[Symbol.iterator]() }));
  if (iters.length === 1) {
    const { camera, it } = iters[0]!;
    for (let n = it.next(); !n.done; n = it.next()) yield { camera, key: n.value.key, value: n.value.value };
    return;
  }
  const heads: (ScanRow | null)[] = iters.map(({ camera, it }) => {
    const n = it.next();
    return n.done ? null : { camera, key: n.value.key, value: n.value.value };
  });
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && (best < 0 || cmpBuf(h.key, heads[best]!.key) * direction < 0)) best = i;
    }
    if (best < 0) return;
    const row = heads[best]!;
    const { camera, it } = iters[best]!;
    const n = it.next();
    heads[best] = n.done ? null : { camera, key: n.value.key, value: n.value.value };
    yield row;
  }
}

function isNonNegInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

export class DetectionStore {
  readonly path: string;
  readonly sync: SyncMode;
  readonly bucketNs: bigint;
  readonly snapshotPath: (cameraId: string, trackId: number) => string;
  /** Root environment: sibling modules (vector index) open their own sub-databases on it. */
  readonly env: RootDatabase;
  readonly tracks: Collection<[string, number], TrackSummary>;
  readonly alerts: Collection<string, Alert>;
  readonly cameras: Collection<string, CameraInfo>;
  readonly users: Collection<string, Record<string, unknown>>;

  private readonly meta: Database<unknown, string>;
  private readonly camsDb: Database<number, string>;
  private readonly classesDb: Database<number, string>;
  private readonly seqlog: Database<Buffer, Buffer>;
  private readonly counts: Database<Buffer, Buffer>;
  private readonly camerasById = new Map<string, CameraEntry>();
  private readonly camerasByNo = new Map<number, CameraEntry>();
  private readonly classNoByName = new Map<string, number>();
  private readonly classNamesById = new Map<number, Set<string>>();
  private readonly classIdsDb: Database<string[], number>;
  private readonly collections = new Map<string, Collection<CollectionKey, unknown>>();
  private readonly maxQueued: number;
  private readonly maxBatch: number;
  private readonly commitDelayMs: number;
  private readonly listeners = new Set<(batches: CommittedBatch[], events: CommittedEvent[]) => void>();
  private readonly evlog: Database<{ k: string; c: string; t: bigint; d: unknown }, Buffer>;
  private readonly maxQueuedEvents: number;
  /** Highest sequence removed from the head of seqlog/evlog by retention (0n: none). */
  private logTrimmedTo: bigint;
  private queue: Array<Pending | PendingEvent> = [];
  private queuedDetections = 0;
  private queuedEvents = 0;
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private nextSeq: bigint;
  private closed = false;
  private closing: Promise<void> | null = null;
  private stats_ = { droppedDetections: 0, droppedBatches: 0, committedDetections: 0, commits: 0, writeErrors: 0, droppedEvents: 0, committedEvents: 0 };

  private constructor(options: DetectionStoreOptions) {
    if (typeof options !== 'object' || options === null) throw expected('an options object', 'options', options);
    if (typeof options.path !== 'string' || options.path === '') throw expected('a directory path', 'options.path', options.path);
    const sync = options.sync ?? 'durable';
    if (sync !== 'durable' && sync !== 'overlapping' && sync !== 'none') {
      throw expected("'durable', 'overlapping' or 'none'", 'options.sync', options.sync);
    }
    this.maxQueued = options.maxQueuedDetections ?? 100_000;
    if (!isNonNegInt(this.maxQueued, 1e9) || this.maxQueued < 1) throw expected('a positive integer', 'options.maxQueuedDetections', options.maxQueuedDetections);
    this.maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
    if (!isNonNegInt(this.maxQueuedEvents, 1e9) || this.maxQueuedEvents < 1) throw expected('a positive integer', 'options.maxQueuedEvents', options.maxQueuedEvents);
    this.maxBatch = options.maxBatchDetections ?? 20_000;
    if (!isNonNegInt(this.maxBatch, 1e7) || this.maxBatch < 1) throw expected('a positive integer', 'options.maxBatchDetections', options.maxBatchDetections);
    this.commitDelayMs = options.commitDelayMs ?? 0;
    if (!isNonNegInt(this.commitDelayMs, 60_000)) throw expected('an integer number of milliseconds from 0 to 60000', 'options.commitDelayMs', options.commitDelayMs);
    const bucketSeconds = options.bucketSeconds ?? 60;
    if (!isNonNegInt(bucketSeconds, 86_400) || bucketSeconds < 1) throw expected('an integer number of seconds from 1 to 86400', 'options.bucketSeconds', options.bucketSeconds);
    const maxDbs = options.maxDatabases ?? 2048;
    if (!isNonNegInt(maxDbs, 32_000) || maxDbs < 16) throw expected('an integer from 16 to 32000', 'options.maxDatabases', options.maxDatabases);
    this.path = options.path;
    this.sync = sync;
    this.snapshotPath = options.snapshotPath ?? DEFAULT_SNAPSHOT;
    mkdirSync(this.path, { recursive: true });
    this.env = open({
      path: this.path,
      maxDbs,
      overlappingSync: sync === 'overlapping',
      noSync: sync === 'none',
      commitDelay: 0,
    });
    this.meta = this.env.openDB<unknown, string>('meta', {});
    const storedBucket = this.meta.get('bucketSeconds');
    if (storedBucket === undefined) this.meta.putSync('bucketSeconds', bucketSeconds);
    this.bucketNs = BigInt(typeof storedBucket === 'number' ? storedBucket : bucketSeconds) * 1_000_000_000n;
    this.camsDb = this.env.openDB<number, string>('cams', {});
    this.classesDb = this.env.openDB<number, string>('classes', {});
    this.classIdsDb = this.env.openDB<string[], number>('classids', {});
    this.seqlog = this.env.openDB<Buffer, Buffer>('seqlog', { keyEncoding: 'binary', encoding: 'binary' });
    this.counts = this.env.openDB<Buffer, Buffer>('counts', { keyEncoding: 'binary', encoding: 'binary' });
    for (const { key, value } of this.camsDb.getRange({})) this.loadCamera(key, value);
    for (const { key, value } of this.classesDb.getRange({})) this.classNoByName.set(key, value);
    for (const { key, value } of this.classIdsDb.getRange({})) this.classNamesById.set(key, new Set(value));
    this.evlog = this.env.openDB<{ k: string; c: string; t: bigint; d: unknown }, Buffer>('evlog', { keyEncoding: 'binary' });
    this.nextSeq = 1n;
    for (const { key, value } of this.seqlog.getRange({ reverse: true, limit: 1 })) {
      const e = decodeSeqLog(key, value);
      this.nextSeq = e.firstSeq + BigInt(e.count);
    }
    for (const key of this.evlog.getKeys({ reverse: true, limit: 1 })) {
      const seq = Buffer.from(key).readBigUInt64BE(0);
      if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    }
    const trimmed = this.meta.get('logTrimmedTo');
    this.logTrimmedTo = typeof trimmed === 'bigint' ? trimmed : 0n;
    this.tracks = this.collection<[string, number], TrackSummary>('tracks');
    this.alerts = this.collection<string, Alert>('alerts');
    this.cameras = this.collection<string, CameraInfo>('cameras');
    this.users = this.collection<string, Record<string, unknown>>('users');
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
      c = new Collection(this, this.env.openDB<unknown, CollectionKey>(`c:${name}`, {}), name);
      this.collections.set(name, c);
    }
    return c as unknown as Collection<K, V>;
  }

  /**
   * Called with every committed group of frames and events, after the commit (for publishing durable detections).
   * Together the two lists hold consecutive sequence ranges of one commit; each list is in sequence order.
   */
  onCommitted(listener: (batches: CommittedBatch[], events: CommittedEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get lastSeq(): bigint {
    return this.nextSeq - 1n;
  }

  /** First sequence from which the server-wide log (readLog) is complete: retention trimmed everything before it. */
  get logOldestSeq(): bigint {
    return this.logTrimmedTo + 1n;
  }

  stats(): StoreStats {
    const { droppedEvents: _d, committedEvents: _c, ...rest } = this.stats_;
    return { ...rest, queuedDetections: this.queuedDetections, lastSeq: this.lastSeq };
  }

  /** The event log's queue (appendEvent): waiting, dropped because the queue was full, committed. */
  eventStats(): { queued: number; dropped: number; committed: number } {
    return { queued: this.queuedEvents, dropped: this.stats_.droppedEvents, committed: this.stats_.committedEvents };
  }

  cameraIds(): string[] {
    return [...this.camerasById.keys()].sort();
  }

  /** Class names stored under a numeric class id (a detector may rename a class; usually one name). */
  classNamesForId(classId: number): string[] {
    return [...(this.classNamesById.get(classId) ?? [])].sort();
  }

  // ------------------------------------------------------------------------------------------------ writing

  /**
   * Queues one frame's detections. Resolves after the commit that made them durable, with their sequence numbers.
   * Rejects with E_STORE_BACKPRESSURE (counted as dropped) when the queue is full, E_STORE_WRITE when the commit
   * failed. A frame without detections resolves at once with count 0.
   */
  append(batch: DetectionBatch): Promise<CommittedBatch> {
    this.assertOpen();
    if (this.closing) return Promise.reject(new VigilClosedError('DetectionStore'));
    this.validateBatch(batch);
    const n = batch.detections.length;
    if (n === 0) {
      return Promise.resolve({ cameraId: batch.cameraId, frameSequence: batch.frameSequence, timestampNs: batch.timestampNs, frameWidth: batch.frameWidth, frameHeight: batch.frameHeight, firstSeq: this.nextSeq, count: 0, detections: [] });
    }
    if (this.queuedDetections + n > this.maxQueued) {
      this.stats_.droppedDetections += n;
      this.stats_.droppedBatches += 1;
      return Promise.reject(new VigilStoreError('E_STORE_BACKPRESSURE', `Detection queue full (${this.queuedDetections} queued): frame ${batch.frameSequence} of camera ${batch.cameraId} dropped`));
    }
    const camera = this.ensureCamera(batch.cameraId);
    const classNos = batch.detections.map((d) => this.ensureClass(d.className, d.classId));
    return new Promise<CommittedBatch>((resolve, reject) => {
      this.queue.push({ batch, camera, classNos, resolve, reject });
      this.queuedDetections += n;
      this.schedule();
    });
  }

  /**
   * Fire-and-forget form of `append` for the hot path: false when the frame was dropped (queue full, counted),
   * true when queued. Never rejects (a failed commit is counted in stats().writeErrors); committed frames reach
   * `onCommitted` listeners with their sequence numbers.
   */
  offer(batch: DetectionBatch): boolean {
    const before = this.stats_.droppedBatches;
    this.append(batch).catch(() => undefined);
    return this.stats_.droppedBatches === before;
  }

  /**
   * Queues a non-detection event for the event log. It takes the next sequence number in queue order (the same
   * counter as detections) and resolves after the commit that made it durable. Rejects with E_STORE_BACKPRESSURE
   * (counted in eventStats().dropped) when `maxQueuedEvents` are waiting.
   */
  appendEvent(event: LogEvent): Promise<CommittedEvent> {
    this.assertOpen();
    if (this.closing) return Promise.reject(new VigilClosedError('DetectionStore'));
    if (typeof event !== 'object' || event === null) throw expected('a LogEvent', 'event', event);
    if (typeof event.kind !== 'string' || !/^[a-z_]{1,32}$/.test(event.kind)) throw expected('an event kind of 1-32 lowercase letters or _', 'event.kind', event.kind);
    if (typeof event.cameraId !== 'string' || event.cameraId === '' || event.cameraId.length > 200) throw expected('a camera id of 1-200 characters', 'event.cameraId', event.cameraId);
    if (typeof event.timestampNs !== 'bigint' || event.timestampNs < 0n || event.timestampNs > U64_MAX) throw expected('a bigint timestamp in ns since the Unix epoch', 'event.timestampNs', event.timestampNs);
    if (this.queuedEvents >= this.maxQueuedEvents) {
      this.stats_.droppedEvents += 1;
      return Promise.reject(new VigilStoreError('E_STORE_BACKPRESSURE', `Event queue full (${this.queuedEvents} queued): ${event.kind} event of camera ${event.cameraId} dropped`));
    }
    return new Promise<CommittedEvent>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.queuedEvents += 1;
      this.schedule();
    });
  }

  /** Resolves when everything queued so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (this.flushing) await this.flushing;
      else this.pump();
    }
  }

  private validateBatch(batch: DetectionBatch): void {
    if (typeof batch !== 'object' || batch === null) throw expected('a DetectionBatch', 'batch', batch);
    if (typeof batch.cameraId !== 'string' || batch.cameraId === '' || batch.cameraId.length > 200) throw expected('a camera id of 1-200 characters', 'batch.cameraId', batch.cameraId);
    if (typeof batch.timestampNs !== 'bigint' || batch.timestampNs < 0n || batch.timestampNs > U64_MAX) throw expected('a bigint timestamp in ns since the Unix epoch', 'batch.timestampNs', batch.timestampNs);
    if (!isNonNegInt(batch.frameSequence, 0xffffffff)) throw expected('an unsigned 32-bit integer', 'batch.frameSequence', batch.frameSequence);
    if (!isNonNegInt(batch.frameWidth, 65535)) throw expected('an integer from 0 to 65535', 'batch.frameWidth', batch.frameWidth);
    if (!isNonNegInt(batch.frameHeight, 65535)) throw expected('an integer from 0 to 65535', 'batch.frameHeight', batch.frameHeight);
    if (!Array.isArray(batch.detections)) throw expected('an array', 'batch.detections', batch.detections);
    batch.detections.forEach((d, i) => {
      if (typeof d !== 'object' || d === null) throw expected('a Detection', `batch.detections[${i}]`, d);
      if (!isNonNegInt(d.classId, 65535)) throw expected('an integer from 0 to 65535', `batch.detections[${i}].classId`, d.classId);
      if (typeof d.className !== 'string' || d.className === '' || Buffer.byteLength(d.className) > 255) throw expected('a class name of 1-255 bytes', `batch.detections[${i}].className`, d.className);
      if (typeof d.confidence !== 'number' || !(d.confidence >= 0 && d.confidence <= 1)) throw expected('a number from 0 to 1', `batch.detections[${i}].confidence`, d.confidence);
      if (typeof d.box !== 'object' || d.box === null || ![d.box.x1, d.box.y1, d.box.x2, d.box.y2].every((v) => typeof v === 'number' && Number.isFinite(v))) throw expected('a box of four finite numbers', `batch.detections[${i}].box`, d.box);
      if (d.trackId !== undefined && !(Number.isInteger(d.trackId) && d.trackId >= -0x80000000 && d.trackId <= 0x7fffffff)) throw expected('a 32-bit integer track id', `batch.detections[${i}].trackId`, d.trackId);
    });
  }

  private loadCamera(id: string, no: number): CameraEntry {
    const db = this.env.openDB<Buffer, Buffer>(`det:${id}`, { keyEncoding: 'binary', encoding: 'binary' });
    let lastKey: Buffer | null = null;
    for (const k of db.getKeys({ reverse: true, limit: 1 })) lastKey = Buffer.from(k);
    const entry: CameraEntry = { id, no, db, lastKey };
    this.camerasById.set(id, entry);
    this.camerasByNo.set(no, entry);
    return entry;
  }

  private ensureCamera(id: string): CameraEntry {
    const have = this.camerasById.get(id);
    if (have) return have;
    const no = this.camerasByNo.size + 1;
    this.camsDb.putSync(id, no);
    return this.loadCamera(id, no);
  }

  private ensureClass(name: string, classId: number): number {
    const names = this.classNamesById.get(classId);
    if (!names || !names.has(name)) {
      const next = new Set(names ?? []).add(name);
      this.classIdsDb.putSync(classId, [...next]);
      this.classNamesById.set(classId, next);
    }
    const have = this.classNoByName.get(name);
    if (have !== undefined) return have;
    const no = this.classNoByName.size + 1;
    if (no > 65535) throw new VigilStoreError('E_STORE_CLASSES', 'More than 65535 distinct class names');
    this.classesDb.putSync(name, no);
    this.classNoByName.set(name, no);
    return no;
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.pump();
    };
    if (this.commitDelayMs > 0) setTimeout(run, this.commitDelayMs);
    else setImmediate(run);
  }

  private pump(): void {
    if (this.flushing || this.queue.length === 0) return;
    let rows = 0;
    let events = 0;
    let n = 0;
    while (n < this.queue.length) {
      const p = this.queue[n]!;
      const size = 'event' in p ? 1 : p.batch.detections.length;
      if (n > 0 && rows + events + size > this.maxBatch) break;
      if ('event' in p) events++;
      else rows += size;
      n++;
    }
    // one splice, not a shift per frame (shift is O(queue length))
    const take = this.queue.splice(0, n);
    this.queuedDetections -= rows;
    this.queuedEvents -= events;
    const firstSeq = this.nextSeq;
    const lastKeys = new Map<CameraEntry, Buffer | null>();
    const committed: CommittedBatch[] = [];
    const committedEvents: CommittedEvent[] = [];
    /** What each queued item resolves to, in queue order. */
    const results: Array<CommittedBatch | CommittedEvent> = [];
    const txn = this.env.transaction(() => {
      let seq = firstSeq;
      const counterDelta = new Map<string, { key: Buffer; bins: Map<number, number> }>();
      for (const p of take) {
        if ('event' in p) {
          const ev = p.event;
          const ok = this.evlog.putSync(seqKey(seq), { k: ev.kind, c: ev.cameraId, t: ev.timestampNs, d: ev.data }, { append: true }) as unknown as boolean;
          if (ok === false) throw new VigilStoreError('E_STORE_WRITE', `Sequence ${seq} is not after the last logged event`);
          const ce: CommittedEvent = { kind: ev.kind, cameraId: ev.cameraId, timestampNs: ev.timestampNs, data: ev.data, seq };
          committedEvents.push(ce);
          results.push(ce);
          seq += 1n;
          continue;
        }
        const { batch, camera } = p;
        if (!lastKeys.has(camera)) lastKeys.set(camera, camera.lastKey);
        const cb: CommittedBatch = { cameraId: batch.cameraId, frameSequence: batch.frameSequence, timestampNs: batch.timestampNs, frameWidth: batch.frameWidth, frameHeight: batch.frameHeight, firstSeq: seq, count: batch.detections.length, detections: [] };
        const logged = this.seqlog.putSync(seqKey(seq), encodeSeqLog(camera.no, batch.timestampNs, batch.detections.length), { append: true }) as unknown as boolean;
        if (logged === false) throw new VigilStoreError('E_STORE_WRITE', `Sequence ${seq} is not after the last logged sequence`);
        const bucket = batch.timestampNs / this.bucketNs;
        batch.detections.forEach((d, i) => {
          const key = detKey(batch.timestampNs, seq);
          const value = encodeRow(d, batch.frameWidth, batch.frameHeight, batch.frameSequence);
          const last = camera.lastKey;
          // putSync returns false (it does not throw) when an append would break key order.
          const ok = (last === null || cmpBuf(key, last) > 0
            ? camera.db.putSync(key, value, { append: true })
            : camera.db.putSync(key, value)) as unknown as boolean;
          if (ok === false) throw new VigilStoreError('E_STORE_WRITE', `Could not write detection ${seq} of camera ${camera.id}`);
          if (last === null || cmpBuf(key, last) > 0) camera.lastKey = key;
          const ck = counterKey(camera.no, bucket, p.classNos[i]!);
          const hex = ck.toString('latin1');
          let delta = counterDelta.get(hex);
          if (!delta) counterDelta.set(hex, (delta = { key: ck, bins: new Map() }));
          const bin = confidenceBin(d.confidence);
          delta.bins.set(bin, (delta.bins.get(bin) ?? 0) + 1);
          const stored: StoredDetection = {
            seq, cameraId: batch.cameraId, timestampNs: batch.timestampNs, frameWidth: batch.frameWidth, frameHeight: batch.frameHeight,
            classId: d.classId, className: d.className, confidence: d.confidence,
            box: { x1: Math.fround(d.box.x1), y1: Math.fround(d.box.y1), x2: Math.fround(d.box.x2), y2: Math.fround(d.box.y2) },
          };
          if (d.trackId !== undefined) stored.trackId = d.trackId;
          cb.detections.push(stored);
          seq += 1n;
        });
        committed.push(cb);
        results.push(cb);
      }
      this.applyCounterDeltas(counterDelta, 1);
      return seq;
    });
    this.flushing = (async () => {
      try {
        const seqAfter = (await txn) as bigint;
        this.nextSeq = seqAfter;
        this.stats_.commits += 1;
        this.stats_.committedDetections += rows;
        this.stats_.committedEvents += events;
        take.forEach((p, i) => (p.resolve as (r: CommittedBatch | CommittedEvent) => void)(results[i]!));
        for (const l of this.listeners) {
          try {
            l(committed, committedEvents);
          } catch {
            // a listener's failure must not break the writer
          }
        }
      } catch (cause) {
        this.stats_.writeErrors += 1;
        for (const [camera, key] of lastKeys) camera.lastKey = key;
        const err = new VigilStoreError('E_STORE_WRITE', `Commit of ${rows} detections${events ? ` and ${events} events` : ''} failed: ${(cause as Error).message}`, { cause });
        for (const p of take) p.reject(err);
      } finally {
        this.flushing = null;
        if (this.queue.length > 0) this.schedule();
      }
    })();
  }

  /** Adds (sign 1) or subtracts (sign -1) bin counts; must run inside a write transaction. */
  private applyCounterDeltas(deltas: Map<string, { key: Buffer; bins: Map<number, number> }>, sign: 1 | -1): void {
    for (const { key, bins } of deltas.values()) {
      const current = decodeBins(this.counts.get(key));
      for (const [bin, n] of bins) current.set(bin, (current.get(bin) ?? 0) + sign * n);
      const enc = encodeBins(current);
      if (enc) this.counts.putSync(key, enc);
      else this.counts.removeSync(key);
    }
  }

  // ------------------------------------------------------------------------------------------------ reading

  private selectCameras(q: DetectionQuery): CameraEntry[] {
    if (!q.cameraIds || q.cameraIds.length === 0) return [...this.camerasById.values()];
    const out: CameraEntry[] = [];
    for (const id of new Set(q.cameraIds)) {
      const c = this.camerasById.get(id);
      if (c) out.push(c);
    }
    return out;
  }

  private validateQuery(q: DetectionQuery): void {
    if (typeof q !== 'object' || q === null) throw expected('a DetectionQuery', 'query', q);
    if (q.cameraIds !== undefined && !(Array.isArray(q.cameraIds) && q.cameraIds.every((c) => typeof c === 'string'))) throw expected('an array of camera ids', 'query.cameraIds', q.cameraIds);
    if (q.startNs !== undefined && (typeof q.startNs !== 'bigint' || q.startNs < 0n)) throw expected('a non-negative bigint (ns)', 'query.startNs', q.startNs);
    if (q.endNs !== undefined && (typeof q.endNs !== 'bigint' || q.endNs < 0n)) throw expected('a non-negative bigint (ns)', 'query.endNs', q.endNs);
    if (q.minConfidence !== undefined && (typeof q.minConfidence !== 'number' || !(q.minConfidence >= 0 && q.minConfidence <= 1))) throw expected('a number from 0 to 1', 'query.minConfidence', q.minConfidence);
    if (q.className !== undefined && typeof q.className !== 'string') throw expected('a class name', 'query.className', q.className);
    if (q.classNames !== undefined && !(Array.isArray(q.classNames) && q.classNames.every((c) => typeof c === 'string'))) throw expected('an array of class names', 'query.classNames', q.classNames);
    if (q.trackId !== undefined && !Number.isInteger(q.trackId)) throw expected('an integer track id', 'query.trackId', q.trackId);
  }

  private bounds(q: DetectionQuery): { startNs: bigint; endNs: bigint } {
    const startNs = q.startNs ?? 0n;
    const endNs = q.endNs === undefined || q.endNs > U64_MAX ? U64_MAX : q.endNs;
    return { startNs, endNs };
  }

  /** The class filter as one set of names, or null for "any class". */
  private classSet(q: DetectionQuery): Set<string> | null {
    if (q.className === undefined && q.classNames === undefined) return null;
    const set = new Set(q.classNames ?? []);
    if (q.className !== undefined) set.add(q.className);
    return set;
  }

  private matcher(q: DetectionQuery): (value: Buffer) => boolean {
    const classes = this.classSet(q);
    const minConf = q.minConfidence;
    const trackId = q.trackId;
    if (classes === null && minConf === undefined && trackId === undefined) return () => true;
    if (trackId !== undefined) {
      return (value) => {
        const r = decodeRow(value);
        return r.trackId === trackId && (classes === null || classes.has(r.className)) && (minConf === undefined || r.confidence >= minConf);
      };
    }
    return (value) => {
      const r = rowClassAndConfidence(value);
      return (classes === null || classes.has(r.className)) && (minConf === undefined || r.confidence >= minConf);
    };
  }

  /** Rows of the selected cameras with startKey <= key <= (endNs, max), merged in (timestamp, seq) order. */
  private scan(cameras: CameraEntry[], startKey: Buffer, endNs: bigint): Generator<ScanRow> {
    const endExclusive = endNs < U64_MAX ? detKey(endNs + 1n, 0n) : undefined;
    return mergeRows(cameras.map((camera) => ({ camera, rows: camera.db.getRange({ start: startKey, end: endExclusive }) })), 1);
  }

  private countByScan(q: DetectionQuery, cameras: CameraEntry[], fromNs: bigint, toNs: bigint): number {
    const match = this.matcher(q);
    let n = 0;
    for (const row of this.scan(cameras, detKey(fromNs, 0n), toNs)) if (match(row.value)) n++;
    return n;
  }

  /** Rows of the selected cameras with detKey(startNs, 0) <= key <= highKey, merged newest first. */
  private scanDesc(cameras: CameraEntry[], highKey: Buffer, startNs: bigint): Generator<ScanRow> {
    const low = keyBefore(detKey(startNs, 0n));
    return mergeRows(cameras.map((camera) => ({ camera, rows: camera.db.getRange(low ? { start: highKey, end: low, reverse: true } : { start: highKey, reverse: true }) })), -1);
  }

  /**
   * Time-ordered segments whose counts add up to the total: every whole bucket from the counters; the partial
   * buckets at both ends by scanning the part in range, or, when that is more than half the bucket, the counter
   * minus a scan of the part outside. Null when the filters cannot be answered from counters
   * (a track id filter, or a confidence threshold that is not a multiple of 0.01).
   */
  private segments(q: DetectionQuery, cameras: CameraEntry[]): Segment[] | null {
    if (q.trackId !== undefined) return null;
    const minBin = gridBin(q.minConfidence ?? 0);
    if (minBin === null) return null;
    const classes = this.classSet(q);
    let classNos: Set<number> | null = null;
    if (classes) {
      classNos = new Set([...classes].map((c) => this.classNoByName.get(c)).filter((n): n is number => n !== undefined));
      if (classNos.size === 0) return [];
    }
    const { startNs, endNs } = this.bounds(q);
    if (startNs > endNs || cameras.length === 0) return [];
    const B = this.bucketNs;
    /** Counter totals per bucket in [fromBucket, toBucket], summed over the cameras. */
    const fromCounters = (fromBucket: bigint, toBucket: bigint): Map<bigint, number> => {
      const perBucket = new Map<bigint, number>();
      for (const camera of cameras) {
        const range = { start: counterKey(camera.no, fromBucket, 0), end: counterKey(camera.no, toBucket + 1n, 0) };
        for (const { key, value } of this.counts.getRange(range)) {
          const k = decodeCounterKey(key);
          if (classNos !== null && !classNos.has(k.classNo)) continue;
          const n = sumBins(value, minBin);
          if (n > 0) perBucket.set(k.bucket, (perBucket.get(k.bucket) ?? 0) + n);
        }
      }
      return perBucket;
    };
    /** Count in [from, to] inside one bucket: scan it, or scan the smaller complement and subtract from the counter. */
    const partial = (from: bigint, to: bigint): number => {
      const b = from / B;
      const bs = b * B;
      const be = bs + B - 1n > U64_MAX ? U64_MAX : bs + B - 1n;
      if ((to - from + 1n) * 2n <= B) return this.countByScan(q, cameras, from, to);
      let n = fromCounters(b, b).get(b) ?? 0;
      if (from > bs) n -= this.countByScan(q, cameras, bs, from - 1n);
      if (to < be) n -= this.countByScan(q, cameras, to + 1n, be);
      return n;
    };
    const bStart = startNs / B;
    const bEnd = endNs / B;
    if (bStart === bEnd) return [{ fromNs: startNs, toNs: endNs, count: partial(startNs, endNs) }];
    const out: Segment[] = [];
    let firstFull = bStart;
    let lastFull = bEnd;
    if (startNs !== bStart * B) {
      const toNs = (bStart + 1n) * B - 1n;
      out.push({ fromNs: startNs, toNs, count: partial(startNs, toNs) });
      firstFull = bStart + 1n;
    }
    let tail: Segment | null = null;
    if (endNs !== (bEnd + 1n) * B - 1n) {
      const fromNs = bEnd * B;
      tail = { fromNs, toNs: endNs, count: partial(fromNs, endNs) };
      lastFull = bEnd - 1n;
    }
    if (firstFull <= lastFull) {
      const perBucket = fromCounters(firstFull, lastFull);
      for (const b of [...perBucket.keys()].sort((a, c) => (a < c ? -1 : a > c ? 1 : 0))) {
        out.push({ fromNs: b * B, toNs: (b + 1n) * B - 1n, count: perBucket.get(b)! });
      }
    }
    if (tail) out.push(tail);
    return out.filter((x) => x.count > 0);
  }

  /** Exact number of detections matching the query; from the counters where possible. */
  count(q: DetectionQuery): number {
    this.assertOpen();
    this.validateQuery(q);
    const cameras = this.selectCameras(q);
    const segs = this.segments(q, cameras);
    if (segs) return segs.reduce((s, x) => s + x.count, 0);
    const { startNs, endNs } = this.bounds(q);
    return startNs > endNs ? 0 : this.countByScan(q, cameras, startNs, endNs);
  }

  /**
   * One page of detections in (timestamp, seq) order, oldest first, or newest first with `order: 'desc'`. With a
   * cursor the page continues right after the previous one; with `page` the start is found through the counters
   * (whole buckets are skipped; at most one bucket's rows are stepped over), except for filters the counters cannot
   * answer (track id, a confidence threshold off the 0.01 grid), where the rows before the page are scanned.
   */
  queryPage(q: DetectionQuery, req: PageRequest): DetectionPage {
    this.assertOpen();
    this.validateQuery(q);
    if (!isNonNegInt(req.pageSize, 10_000) || req.pageSize < 1) throw expected('an integer from 1 to 10000', 'pageSize', req.pageSize);
    const order = req.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw expected("'asc' or 'desc'", 'order', req.order);
    const desc = order === 'desc';
    const cameras = this.selectCameras(q);
    const { startNs, endNs } = this.bounds(q);
    const withTotal = req.withTotal ?? true;
    const segs = withTotal || (!req.cursor && (req.page ?? 1) > 1) ? this.segments(q, cameras) : null;
    let page = 1;
    // asc: scan upwards from lowKey; desc: downwards from highKey (both inclusive)
    let lowKey = detKey(startNs, 0n);
    let highKey = detKey(endNs, U64_MAX);
    let skip = 0;
    const empty = (total: number | null): DetectionPage => ({ detections: [], total, page, pageSize: req.pageSize, nextCursor: null });
    if (req.cursor) {
      const c = decodeCursor(req.cursor);
      page = c.page + 1;
      if (c.desc !== desc) throw expected(`a cursor made with order '${order}'`, 'cursor', req.cursor);
      const next = desc ? keyBefore(c.key) : keyAfter(c.key);
      if (!next) return empty(withTotal ? this.totalOf(q, segs, cameras) : null);
      if (desc && cmpBuf(next, highKey) < 0) highKey = next;
      if (!desc && cmpBuf(next, lowKey) > 0) lowKey = next;
    } else {
      page = req.page ?? 1;
      if (!isNonNegInt(page, Number.MAX_SAFE_INTEGER) || page < 1) throw expected('a positive integer', 'page', req.page);
      let offset = (page - 1) * req.pageSize;
      if (offset > 0 && segs) {
        let before = 0;
        let found = false;
        for (const s of desc ? [...segs].reverse() : segs) {
          if (before + s.count > offset) {
            if (desc) highKey = detKey(s.toNs, U64_MAX);
            else lowKey = detKey(s.fromNs, 0n);
            skip = offset - before;
            found = true;
            break;
          }
          before += s.count;
        }
        if (!found) return empty(before);
        offset = 0;
      }
      if (offset > 0) skip = offset;
    }
    const detections: StoredDetection[] = [];
    let lastKey: Buffer | null = null;
    let more = false;
    if (startNs <= endNs && cameras.length > 0) {
      const match = this.matcher(q);
      const rows = desc ? this.scanDesc(cameras, highKey, startNs) : this.scan(cameras, lowKey, endNs);
      for (const row of rows) {
        if (!match(row.value)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        if (detections.length === req.pageSize) {
          more = true;
          break;
        }
        detections.push(toStored(row.camera.id, row.key, row.value));
        lastKey = row.key;
      }
    }
    return {
      detections,
      total: withTotal ? this.totalOf(q, segs, cameras) : null,
      page,
      pageSize: req.pageSize,
      nextCursor: more && lastKey ? encodeCursor(lastKey, page, desc) : null,
    };
  }

  private totalOf(q: DetectionQuery, segs: Segment[] | null, cameras: CameraEntry[]): number {
    if (segs) return segs.reduce((s, x) => s + x.count, 0);
    const { startNs, endNs } = this.bounds(q);
    return startNs > endNs ? 0 : this.countByScan(q, cameras, startNs, endNs);
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
    if (typeof fromSeq !== 'bigint' || fromSeq < 0n) throw expected('a non-negative bigint sequence', 'fromSeq', fromSeq);
    if (!isNonNegInt(limit, 100_000) || limit < 1) throw expected('an integer from 1 to 100000', 'limit', limit);
    const detections: StoredDetection[] = [];
    let oldestSeq = this.nextSeq;
    for (const key of this.seqlog.getKeys({ limit: 1 })) oldestSeq = Buffer.from(key).readBigUInt64BE(0);
    let startKey = seqKey(fromSeq);
    for (const { key } of this.seqlog.getRange({ start: seqKey(fromSeq), reverse: true, limit: 1 })) startKey = Buffer.from(key);
    let nextSeq = fromSeq;
    for (const { key, value } of this.seqlog.getRange({ start: startKey })) {
      const e = decodeSeqLog(key, value);
      const camera = this.camerasByNo.get(e.cameraNo);
      const entryEnd = e.firstSeq + BigInt(e.count);
      if (entryEnd <= fromSeq) continue;
      if (camera) {
        const from = e.firstSeq > fromSeq ? e.firstSeq : fromSeq;
        for (const row of camera.db.getRange({ start: detKey(e.timestampNs, from), end: detKey(e.timestampNs, entryEnd) })) {
          if (detections.length === limit) return { detections, nextSeq, lastSeq: this.lastSeq, oldestSeq };
          const d = toStored(camera.id, row.key, row.value);
          detections.push(d);
          nextSeq = d.seq + 1n;
        }
      }
      if (detections.length === limit) return { detections, nextSeq: entryEnd > nextSeq ? nextSeq : entryEnd, lastSeq: this.lastSeq, oldestSeq };
      nextSeq = entryEnd;
    }
    return { detections, nextSeq: nextSeq > this.nextSeq ? nextSeq : this.nextSeq, lastSeq: this.lastSeq, oldestSeq };
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
    this.assertOpen();
    if (typeof afterSeq !== 'bigint' || afterSeq < 0n) throw expected('a non-negative bigint sequence', 'afterSeq', afterSeq);
    if (!isNonNegInt(maxEntries, 100_000) || maxEntries < 1) throw expected('an integer from 1 to 100000', 'maxEntries', maxEntries);
    const lastSeq = this.lastSeq;
    const result: LogReadResult = { entries: [], after: afterSeq, lastSeq, oldestSeq: this.logTrimmedTo + 1n };
    if (afterSeq >= lastSeq) {
      result.after = afterSeq > lastSeq ? afterSeq : lastSeq;
      return result;
    }
    const from = afterSeq + 1n;
    // the frame that may cover `from` starts at or before it
    let frameStart = seqKey(from);
    for (const key of this.seqlog.getKeys({ start: seqKey(from), reverse: true, limit: 1 })) frameStart = Buffer.from(key);
    const frames = this.seqlog.getRange({ start: frameStart })[Symbol.iterator]();
    const events = this.evlog.getRange({ start: seqKey(from) })[Symbol.iterator]();
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
        const camera = this.camerasByNo.get(frame.cameraNo);
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
    return result;
  }

  /**
   * Removes event-log entries at the head older than `cutoffNs` (timestamp < cutoffNs), at most `maxEntries`; stops
   * at the first newer one so the log stays a complete suffix. Resolves to the number removed.
   */
  async trimEventLog(cutoffNs: bigint, maxEntries: number): Promise<number> {
    this.assertOpen();
    if (typeof cutoffNs !== 'bigint' || cutoffNs < 0n) throw expected('a non-negative bigint (ns)', 'cutoffNs', cutoffNs);
    if (!isNonNegInt(maxEntries, 1e7) || maxEntries < 1) throw expected('a positive integer', 'maxEntries', maxEntries);
    return (await this.env.transaction(() => {
      let n = 0;
      let upTo = 0n;
      for (const { key, value } of this.evlog.getRange({ limit: maxEntries })) {
        const seq = Buffer.from(key).readBigUInt64BE(0);
        if (value.t >= cutoffNs) break;
        // The newest entry stays: it may carry the sequence counter across restarts.
        if (seq + 1n >= this.nextSeq) break;
        this.evlog.removeSync(Buffer.from(key));
        upTo = seq;
        n++;
      }
      this.noteTrimmed(upTo);
      return n;
    })) as number;
  }

  /** Records (inside a write transaction) that the log is incomplete up to `seq`. */
  private noteTrimmed(seq: bigint): void {
    if (seq > this.logTrimmedTo) {
      this.meta.putSync('logTrimmedTo', seq);
      this.logTrimmedTo = seq;
    }
  }

  // ------------------------------------------------------------------------------------------------ deleting

  /**
   * Deletes up to `maxRows` detections of one camera older than `cutoffNs` (strictly: timestamp < cutoffNs),
   * oldest first, in one write transaction, counters adjusted. Resolves to the number deleted.
   */
  async deleteOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
    this.assertOpen();
    const camera = this.camerasById.get(cameraId);
    if (!camera || cutoffNs <= 0n) return 0;
    return this.deleteRows(() => {
      const rows: ScanRow[] = [];
      for (const { key, value } of camera.db.getRange({ end: detKey(cutoffNs, 0n), limit: maxRows })) rows.push({ camera, key: Buffer.from(key), value: Buffer.from(value) });
      return rows;
    });
  }

  /** Deletes up to `maxRows` of the oldest detections across all cameras. Resolves to the number deleted. */
  async deleteOldest(maxRows: number): Promise<number> {
    this.assertOpen();
    const cameras = [...this.camerasById.values()];
    return this.deleteRows(() => {
      const rows: ScanRow[] = [];
      for (const row of this.scan(cameras, detKey(0n, 0n), U64_MAX)) {
        rows.push(row);
        if (rows.length >= maxRows) break;
      }
      return rows;
    });
  }

  private async deleteRows(select: () => ScanRow[]): Promise<number> {
    const n = (await this.env.transaction(() => {
      const rows = select();
      const deltas = new Map<string, { key: Buffer; bins: Map<number, number> }>();
      for (const row of rows) {
        row.camera.db.removeSync(row.key);
        const { className, confidence } = rowClassAndConfidence(row.value);
        const classNo = this.classNoByName.get(className) ?? 0;
        const ck = counterKey(row.camera.no, detKeyTs(row.key) / this.bucketNs, classNo);
        const hex = ck.toString('latin1');
        let d = deltas.get(hex);
        if (!d) deltas.set(hex, (d = { key: ck, bins: new Map() }));
        const bin = confidenceBin(confidence);
        d.bins.set(bin, (d.bins.get(bin) ?? 0) + 1);
      }
      this.applyCounterDeltas(deltas, -1);
      return rows.length;
    })) as number;
    return n;
  }

  /**
   * Deletes up to `maxRows` tracks of one camera that ended (or, never ended, started) before `cutoffNs`.
   * Resolves to the number deleted.
   */
  async deleteTracksOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
    this.assertOpen();
    const db = (this.tracks as unknown as { db: Database<TrackSummary, [string, number] | [string, string]> }).db;
    return (await this.env.transaction(() => {
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
    this.assertOpen();
    return (await this.env.transaction(() => {
      let n = 0;
      let upTo = 0n;
      for (const { key, value } of this.seqlog.getRange({ limit: maxEntries })) {
        const e = decodeSeqLog(key, value);
        const camera = this.camerasByNo.get(e.cameraNo);
        if (camera) {
          let present = false;
          for (const _ of camera.db.getKeys({ start: detKey(e.timestampNs, e.firstSeq), end: detKey(e.timestampNs, e.firstSeq + BigInt(e.count)), limit: 1 })) present = true;
          if (present) break;
        }
        // The newest entry stays: it carries the sequence counter across restarts.
        if (e.firstSeq + BigInt(e.count) >= this.nextSeq) break;
        this.seqlog.removeSync(Buffer.from(key));
        upTo = e.firstSeq + BigInt(e.count) - 1n;
        n++;
      }
      if (upTo > 0n) {
        // Events older than the oldest frame still logged go with it: the stream's replay window is the store's.
        for (const key of this.evlog.getKeys({ end: seqKey(upTo + 1n), limit: maxEntries })) {
          if (Buffer.from(key).readBigUInt64BE(0) + 1n >= this.nextSeq) break;
          this.evlog.removeSync(Buffer.from(key));
        }
        this.noteTrimmed(upTo);
      }
      return n;
    })) as number;
  }

  /** Oldest stored timestamp per camera (undefined for an empty camera). */
  oldestTimestamp(cameraId: string): bigint | undefined {
    const camera = this.camerasById.get(cameraId);
    if (!camera) return undefined;
    for (const k of camera.db.getKeys({ limit: 1 })) return detKeyTs(k);
    return undefined;
  }

  /** Bytes in use inside the LMDB file and bytes the file occupies (free pages inside it can be reused). */
  spaceUsage(): { fileBytes: number; usedBytes: number; reusableBytes: number } {
    const stats = this.env.getStats() as { pageSize: number; lastPageNumber: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; free?: { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number } };
    const pages = (s: { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }): number => s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    let used = pages(stats) + (stats.free ? pages(stats.free) : 0);
    const dbs: Database<unknown, any>[] = [this.meta, this.camsDb, this.classesDb, this.seqlog, this.counts, ...[...this.camerasById.values()].map((c) => c.db)];
    for (const c of this.collections.values()) dbs.push((c as unknown as { db: Database<unknown, any> }).db);
    for (const db of this.extraDbs) dbs.push(db);
    for (const db of dbs) used += pages(db.getStats() as { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number });
    const filePages = stats.lastPageNumber + 1;
    return { fileBytes: filePages * stats.pageSize, usedBytes: used * stats.pageSize, reusableBytes: Math.max(0, filePages - used) * stats.pageSize };
  }

  private readonly extraDbs: Database<unknown, any>[] = [];
  /** Opens a sub-database for a sibling module (counted in spaceUsage). */
  openDatabase<V, K extends CollectionKey | Buffer>(name: string, options: { keyEncoding?: 'binary' | 'uint32' | 'ordered-binary'; encoding?: 'binary' | 'msgpack' }): Database<V, K> {
    this.assertOpen();
    const db = this.env.openDB<V, K>(name, options as never);
    this.extraDbs.push(db as unknown as Database<unknown, any>);
    return db;
  }

  /** Commits what is queued, then closes the environment. Idempotent; use after close throws E_CLOSED. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      await this.flush();
      this.closed = true;
      await this.env.close();
    })();
    return this.closing;
  }
}

function encodeCursor(key: Buffer, page: number, desc: boolean): string {
  const b = Buffer.allocUnsafe(21);
  key.copy(b, 0, 0, 16);
  b.writeUInt32BE(page, 16);
  b.writeUInt8(desc ? 1 : 0, 20);
  return b.toString('base64url');
}

function decodeCursor(cursor: string): { key: Buffer; page: number; desc: boolean } {
  const b = typeof cursor === 'string' && /^[A-Za-z0-9_-]{28}$/.test(cursor) ? Buffer.from(cursor, 'base64url') : null;
  if (!b || b.length !== 21 || b[20]! > 1) throw expected('a cursor returned by a previous page', 'cursor', cursor);
  return { key: b.subarray(0, 16), page: b.readUInt32BE(16), desc: b[20] === 1 };
}

