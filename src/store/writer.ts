/**
 * The store's writer: a bounded queue of frames and events, group commits, server-wide sequence numbers.
 *
 * `append(batch)` puts a frame's detections on the queue and returns a promise; `appendEvent(event)` queues a
 * non-detection event on the same queue. The writer takes everything queued (up to `maxBatchDetections`) into one
 * asynchronous LMDB transaction, assigns the sequence numbers inside it in queue order, and resolves the promises
 * only after the commit returned: with sync 'durable' an acknowledged write survives kill -9 and power loss. A full
 * queue rejects with E_STORE_BACKPRESSURE and the drop is counted.
 *
 * An event may carry a `write` callback (another module's write, e.g. RuleStore's alert record): it runs inside the
 * same transaction, in a nested transaction with the event's log entry, so the two commit together, and when it
 * throws neither is written (the rest of the group commit goes on).
 */
import { VigilClosedError, expected } from '../errors.js';
import type { DetectionBatch, StoredDetection } from '../types.js';
import { confidenceBin, counterKey, detKey, encodeRow, encodeSeqLog, seqKey, U64_MAX } from './codec.js';
import { isNonNegInt, VigilStoreError, type CameraEntry, type CounterDeltas, type StoreLayout } from './layout.js';
import type { CommittedBatch, CommittedEvent, LogEvent, StoreStats } from './types.js';

export interface WriterOptions {
  maxQueuedDetections: number;
  maxQueuedEvents: number;
  maxBatchDetections: number;
  commitDelayMs: number;
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
  write: (() => void) | undefined;
  resolve: (c: CommittedEvent) => void;
  reject: (e: Error) => void;
}

export type CommitListener = (batches: CommittedBatch[], events: CommittedEvent[]) => void;

export class StoreWriter {
  private readonly listeners = new Set<CommitListener>();
  private queue: Array<Pending | PendingEvent> = [];
  private queuedDetections = 0;
  private queuedEvents = 0;
  private flushing: Promise<void> | null = null;
  /** Queue items handed to commits so far, and of those, the ones whose commit has finished (in order). */
  private taken = 0;
  private settled = 0;
  private scheduled = false;
  private stopped = false;
  private counters = { droppedDetections: 0, droppedBatches: 0, committedDetections: 0, commits: 0, writeErrors: 0, droppedEvents: 0, committedEvents: 0 };

  constructor(
    private readonly layout: StoreLayout,
    private readonly o: WriterOptions,
  ) {}

  onCommitted(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): StoreStats {
    const { droppedEvents: _d, committedEvents: _c, ...rest } = this.counters;
    return { ...rest, queuedDetections: this.queuedDetections, lastSeq: this.layout.nextSeq - 1n };
  }

  eventStats(): { queued: number; dropped: number; committed: number } {
    return { queued: this.queuedEvents, dropped: this.counters.droppedEvents, committed: this.counters.committedEvents };
  }

  /** No more writes accepted (the store is closing); what is queued still commits. */
  stop(): void {
    this.stopped = true;
  }

  append(batch: DetectionBatch): Promise<CommittedBatch> {
    if (this.stopped) return Promise.reject(new VigilClosedError('DetectionStore'));
    validateBatch(batch);
    const n = batch.detections.length;
    if (n === 0) {
      return Promise.resolve({ cameraId: batch.cameraId, frameSequence: batch.frameSequence, timestampNs: batch.timestampNs, frameWidth: batch.frameWidth, frameHeight: batch.frameHeight, firstSeq: this.layout.nextSeq, count: 0, detections: [] });
    }
    if (this.queuedDetections + n > this.o.maxQueuedDetections) {
      this.counters.droppedDetections += n;
      this.counters.droppedBatches += 1;
      return Promise.reject(new VigilStoreError('E_STORE_BACKPRESSURE', `Detection queue full (${this.queuedDetections} queued): frame ${batch.frameSequence} of camera ${batch.cameraId} dropped`));
    }
    const camera = this.layout.ensureCamera(batch.cameraId);
    const classNos = batch.detections.map((d) => this.layout.ensureClass(d.className, d.classId));
    return new Promise<CommittedBatch>((resolve, reject) => {
      this.queue.push({ batch, camera, classNos, resolve, reject });
      this.queuedDetections += n;
      this.schedule();
    });
  }

  offer(batch: DetectionBatch): boolean {
    const before = this.counters.droppedBatches;
    this.append(batch).catch(() => undefined);
    return this.counters.droppedBatches === before;
  }

  appendEvent(event: LogEvent, write?: () => void): Promise<CommittedEvent> {
    if (this.stopped) return Promise.reject(new VigilClosedError('DetectionStore'));
    if (typeof event !== 'object' || event === null) throw expected('a LogEvent', 'event', event);
    if (typeof event.kind !== 'string' || !/^[a-z_]{1,32}$/.test(event.kind)) throw expected('an event kind of 1-32 lowercase letters or _', 'event.kind', event.kind);
    if (typeof event.cameraId !== 'string' || event.cameraId === '' || event.cameraId.length > 200) throw expected('a camera id of 1-200 characters', 'event.cameraId', event.cameraId);
    if (typeof event.timestampNs !== 'bigint' || event.timestampNs < 0n || event.timestampNs > U64_MAX) throw expected('a bigint timestamp in ns since the Unix epoch', 'event.timestampNs', event.timestampNs);
    if (write !== undefined && typeof write !== 'function') throw expected('a function', 'write', write);
    if (this.queuedEvents >= this.o.maxQueuedEvents) {
      this.counters.droppedEvents += 1;
      return Promise.reject(new VigilStoreError('E_STORE_BACKPRESSURE', `Event queue full (${this.queuedEvents} queued): ${event.kind} event of camera ${event.cameraId} dropped`));
    }
    return new Promise<CommittedEvent>((resolve, reject) => {
      this.queue.push({ event, write, resolve, reject });
      this.queuedEvents += 1;
      this.schedule();
    });
  }

  /**
   * Resolves once everything queued at the call has been committed (or failed). Only what is queued now: with
   * cameras writing continuously the queue is never empty, and waiting for that would never end.
   */
  async flush(): Promise<void> {
    const target = this.taken + this.queue.length;
    while (this.settled < target) {
      if (this.flushing) await this.flushing;
      else this.pump();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.pump();
    };
    if (this.o.commitDelayMs > 0) setTimeout(run, this.o.commitDelayMs);
    else setImmediate(run);
  }

  private pump(): void {
    if (this.flushing || this.queue.length === 0) return;
    const layout = this.layout;
    let rows = 0;
    let events = 0;
    let n = 0;
    while (n < this.queue.length) {
      const p = this.queue[n]!;
      const size = 'event' in p ? 1 : p.batch.detections.length;
      if (n > 0 && rows + events + size > this.o.maxBatchDetections) break;
      if ('event' in p) events++;
      else rows += size;
      n++;
    }
    // one splice, not a shift per frame (shift is O(queue length))
    const take = this.queue.splice(0, n);
    this.taken += n;
    const takenAfter = this.taken;
    this.queuedDetections -= rows;
    this.queuedEvents -= events;
    const firstSeq = layout.nextSeq;
    const lastKeys = new Map<CameraEntry, Buffer | null>();
    const committed: CommittedBatch[] = [];
    const committedEvents: CommittedEvent[] = [];
    /** What each queued item resolves to (an Error: that item alone failed), in queue order. */
    const results: Array<CommittedBatch | CommittedEvent | Error> = [];
    const database = layout.scope.database;
    const txn = database.transaction(() => {
      let seq = firstSeq;
      const counterDelta: CounterDeltas = new Map();
      for (const p of take) {
        if ('event' in p) {
          const ev = p.event;
          const at = seq;
          const put = (): void => {
            const ok = layout.evlog.putSync(seqKey(at), { k: ev.kind, c: ev.cameraId, t: ev.timestampNs, d: ev.data }, { append: true }) as unknown as boolean;
            if (ok === false) throw new VigilStoreError('E_STORE_WRITE', `Sequence ${at} is not after the last logged event`);
          };
          if (p.write) {
            const write = p.write;
            try {
              database.nested(() => {
                put();
                write();
              });
            } catch (cause) {
              results.push(new VigilStoreError('E_STORE_WRITE', `Event ${ev.kind} of camera ${ev.cameraId} not written: ${(cause as Error).message}`, { cause }));
              continue;
            }
          } else put();
          const ce: CommittedEvent = { kind: ev.kind, cameraId: ev.cameraId, timestampNs: ev.timestampNs, data: ev.data, seq: at };
          committedEvents.push(ce);
          results.push(ce);
          seq += 1n;
          continue;
        }
        const { batch, camera } = p;
        if (!lastKeys.has(camera)) lastKeys.set(camera, camera.lastKey);
        const cb: CommittedBatch = { cameraId: batch.cameraId, frameSequence: batch.frameSequence, timestampNs: batch.timestampNs, frameWidth: batch.frameWidth, frameHeight: batch.frameHeight, firstSeq: seq, count: batch.detections.length, detections: [] };
        const logged = layout.seqlog.putSync(seqKey(seq), encodeSeqLog(camera.no, batch.timestampNs, batch.detections.length), { append: true }) as unknown as boolean;
        if (logged === false) throw new VigilStoreError('E_STORE_WRITE', `Sequence ${seq} is not after the last logged sequence`);
        const bucket = batch.timestampNs / layout.bucketNs;
        batch.detections.forEach((d, i) => {
          const key = detKey(batch.timestampNs, seq);
          const value = encodeRow(d, batch.frameWidth, batch.frameHeight, batch.frameSequence);
          const last = camera.lastKey;
          const after = last === null || Buffer.compare(key, last) > 0;
          // putSync returns false (it does not throw) when an append would break key order.
          const ok = (after ? camera.db.putSync(key, value, { append: true }) : camera.db.putSync(key, value)) as unknown as boolean;
          if (ok === false) throw new VigilStoreError('E_STORE_WRITE', `Could not write detection ${seq} of camera ${camera.id}`);
          if (after) camera.lastKey = key;
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
      layout.applyCounterDeltas(counterDelta, 1);
      return seq;
    });
    this.flushing = (async () => {
      try {
        const seqAfter = await txn;
        layout.nextSeq = seqAfter;
        this.counters.commits += 1;
        this.counters.committedDetections += rows;
        this.counters.committedEvents += committedEvents.length;
        take.forEach((p, i) => {
          const r = results[i]!;
          if (r instanceof Error) {
            this.counters.writeErrors += 1;
            p.reject(r);
          } else (p.resolve as (r: CommittedBatch | CommittedEvent) => void)(r);
        });
        for (const l of this.listeners) {
          try {
            l(committed, committedEvents);
          } catch {
            // a listener's failure must not break the writer
          }
        }
      } catch (cause) {
        this.counters.writeErrors += 1;
        for (const [camera, key] of lastKeys) camera.lastKey = key;
        const err = new VigilStoreError('E_STORE_WRITE', `Commit of ${rows} detections${events ? ` and ${events} events` : ''} failed: ${(cause as Error).message}`, { cause });
        for (const p of take) p.reject(err);
      } finally {
        this.settled = takenAfter;
        this.flushing = null;
        if (this.queue.length > 0) this.schedule();
      }
    })();
  }
}

function validateBatch(batch: DetectionBatch): void {
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
