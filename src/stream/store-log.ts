/**
 * The stream's EventLog over the LMDB detection store: one server-wide sequence space, durable before delivery.
 *
 * - Detections are numbered by the store when it commits them (one sequence per detection). They reach the stream
 *   only from `store.onCommitted`, after the commit: a client never sees a detection that a crash could lose. A
 *   batch message carries the sequence of its last detection, so "resume after the last sequence I saw" is exact:
 *   the batch's own detections hold seq - count + 1 .. seq.
 * - Tracks, alerts and camera status changes are appended to the store's event log (`store.appendEvent`), which
 *   numbers them from the same counter inside the same group commits; they too are delivered after the commit.
 * - Resume: the newest `recent` events are held in memory (a bounded cache of the objects the hub encodes); older
 *   ones are read back from the store page by page (`store.readLog`), yielding to the event loop between pages,
 *   then the cache takes over. After a restart the cache is empty and everything comes from the store.
 * - Retention: the store trims its logs from the head; `oldestSeq()` is the first sequence from which the log is
 *   complete, so a resume from before it gets a SubscribeAck with `gap` > 0 (sequence numbers that cannot be
 *   replayed) and the retained events from `oldestSeq()` on.
 *
 * Frames without detections are not stored and so not streamed.
 */
import { expected, VigilError } from '../errors.js';
import type { CommittedBatch, CommittedEvent, DetectionStore, LogEntry, LogEvent } from '../store/detection-store.js';
import { eventCamera, type EventLog, type SequencedEvent, type StreamEvent } from './events.js';

export interface StoreEventLogOptions {
  /** Newest events kept in memory for resume without reading the store. Default 1000. */
  recent?: number;
  /** Log entries read from the store per page during a replay. Default 256. */
  pageEntries?: number;
}

/** `publish` of a detection batch on a store-backed stream: detections must go through the store. */
export class DetectionsViaStoreError extends VigilError {
  constructor() {
    super(
      'E_STREAM_DETECTIONS_VIA_STORE',
      'Detections reach the stream from the detection store after their commit: pass them to store.offer() or store.append(), not to publish()',
    );
  }
}

function toLogEvent(event: Exclude<StreamEvent, { kind: 'detections' }>): LogEvent {
  switch (event.kind) {
    case 'tracks':
      return { kind: event.kind, cameraId: eventCamera(event), timestampNs: event.track.timestampNs, data: event.track };
    case 'alerts':
      return { kind: event.kind, cameraId: eventCamera(event), timestampNs: event.alert.updatedNs, data: event.alert };
    case 'camera_status':
      return { kind: event.kind, cameraId: eventCamera(event), timestampNs: event.status.timestampNs, data: event.status };
  }
}

function fromBatch(b: CommittedBatch): SequencedEvent {
  return {
    seq: Number(b.firstSeq + BigInt(b.count) - 1n),
    event: {
      kind: 'detections',
      batch: {
        cameraId: b.cameraId,
        frameSequence: b.frameSequence,
        timestampNs: b.timestampNs,
        frameWidth: b.frameWidth,
        frameHeight: b.frameHeight,
        // StoredDetection is a Detection with more fields: the codec and the filters read only Detection's
        detections: b.detections,
      },
    },
  };
}

/** null for a kind this version does not know (written by a newer one). */
function fromEvent(e: CommittedEvent): SequencedEvent | null {
  const seq = Number(e.seq);
  switch (e.kind) {
    case 'tracks':
      return { seq, event: { kind: 'tracks', track: e.data as never } };
    case 'alerts':
      return { seq, event: { kind: 'alerts', alert: e.data as never } };
    case 'camera_status':
      return { seq, event: { kind: 'camera_status', status: e.data as never } };
    default:
      return null;
  }
}

function fromEntry(entry: LogEntry): SequencedEvent | null {
  return entry.type === 'detections' ? fromBatch(entry.batch) : fromEvent(entry.event);
}

export class StoreEventLog implements EventLog {
  private readonly capacity: number;
  private readonly pageEntries: number;
  /** Circular cache of the newest committed events, oldest at `head`. */
  private readonly cache: (SequencedEvent | undefined)[];
  private head = 0;
  private size = 0;
  /** The cache holds every event with seq >= coveredFrom. */
  private coveredFrom: number;
  private last: number;
  private readonly listeners = new Set<(items: SequencedEvent[]) => void>();
  private readonly off: () => void;
  private closed = false;
  /** Replay reads: pages read from the store and the entries they held (the rest came from the cache). */
  readonly stats = { storePages: 0, storeEntries: 0 };

  constructor(
    readonly store: DetectionStore,
    options: StoreEventLogOptions = {},
  ) {
    this.capacity = options.recent ?? 1000;
    if (!Number.isSafeInteger(this.capacity) || this.capacity < 1) throw expected('a positive integer', 'options.recent', options.recent);
    this.pageEntries = options.pageEntries ?? 256;
    if (!Number.isSafeInteger(this.pageEntries) || this.pageEntries < 1 || this.pageEntries > 100_000)
      throw expected('an integer from 1 to 100000', 'options.pageEntries', options.pageEntries);
    this.cache = new Array<SequencedEvent | undefined>(this.capacity);
    this.last = Number(store.lastSeq);
    this.coveredFrom = this.last + 1;
    this.off = store.onCommitted((batches, events) => this.committed(batches, events));
  }

  /** Queues a track, alert or camera-status event for the store's event log; it is delivered after the commit. */
  append(event: StreamEvent): null {
    if (event.kind === 'detections') throw new DetectionsViaStoreError();
    // a full queue or a failed commit is counted by the store (eventStats().dropped, stats().writeErrors)
    this.store.appendEvent(toLogEvent(event)).catch(() => undefined);
    return null;
  }

  /**
   * Like `append`, but `write` (another module's write to the same Database, e.g. RuleStore.alertWrite) commits in
   * the same transaction as the event's log entry: both or neither. Resolves with the event's sequence number after
   * the commit; rejects (E_STORE_WRITE) when `write` threw, with nothing of either written.
   */
  async appendWith(event: StreamEvent, write: () => void): Promise<number> {
    if (event.kind === 'detections') throw new DetectionsViaStoreError();
    return Number((await this.store.appendEvent(toLogEvent(event), write)).seq);
  }

  onDurable(listener: (items: SequencedEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lastSeq(): number {
    return this.last;
  }

  oldestSeq(): number {
    if (this.last === 0 || this.closed) return 0;
    return Number(this.store.logOldestSeq);
  }

  async *since(afterSeq: number, untilSeq: number): AsyncIterable<SequencedEvent> {
    let after = afterSeq;
    if (after >= untilSeq) return;
    while (after + 1 < this.coveredFrom) {
      if (this.closed) return;
      const page = this.store.readLog(BigInt(after), this.pageEntries);
      this.stats.storePages++;
      this.stats.storeEntries += page.entries.length;
      for (const entry of page.entries) {
        const item = fromEntry(entry);
        if (item === null) continue;
        if (item.seq > untilSeq) return;
        yield item;
      }
      const next = Number(page.after);
      if (next >= untilSeq || page.entries.length === 0) return;
      after = next;
      // one page per event-loop turn: a long replay never holds the loop
      await new Promise<void>((r) => setImmediate(r));
    }
    for (const item of this.cached(after, untilSeq)) yield item;
  }

  /** Stops listening to the store. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.off();
    this.listeners.clear();
  }

  /** Cached events with after < seq <= until, as an array (a snapshot: commits may evict meanwhile). */
  private cached(after: number, until: number): SequencedEvent[] {
    // binary search for the first cached seq > after
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).seq > after) hi = mid;
      else lo = mid + 1;
    }
    const out: SequencedEvent[] = [];
    for (let i = lo; i < this.size; i++) {
      const item = this.at(i);
      if (item.seq > until) break;
      out.push(item);
    }
    return out;
  }

  private at(i: number): SequencedEvent {
    return this.cache[(this.head + i) % this.capacity]!;
  }

  private committed(batches: CommittedBatch[], events: CommittedEvent[]): void {
    if (this.closed) return;
    const items: SequencedEvent[] = [];
    let i = 0;
    let j = 0;
    // both lists are in sequence order: merge them
    while (i < batches.length || j < events.length) {
      const b = batches[i];
      const e = events[j];
      if (b && (!e || b.firstSeq < e.seq)) {
        i++;
        if (b.count > 0) items.push(fromBatch(b));
      } else if (e) {
        j++;
        const item = fromEvent(e);
        if (item) items.push(item);
      }
    }
    for (const item of items) this.remember(item);
    this.last = Number(this.store.lastSeq);
    if (items.length === 0) return;
    for (const l of this.listeners) l(items);
  }

  private remember(item: SequencedEvent): void {
    if (this.size === this.capacity) {
      const evicted = this.cache[this.head]!;
      this.coveredFrom = evicted.seq + 1;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
    }
    this.cache[(this.head + this.size) % this.capacity] = item;
    this.size++;
  }
}
