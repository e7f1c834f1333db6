/**
 * Outbound message-queue sinks (Redis Streams, RabbitMQ, MQTT, Kafka) share one shape:
 *  - publish*() is synchronous: the message is encoded (a snapshot of the caller's object) and appended to a
 *    bounded in-memory buffer, or dropped and counted when the buffer is full. It never waits on the network.
 *  - a drain loop sends the buffer in order, in batches, while connected; a message leaves the buffer only when
 *    the broker has acknowledged it (at-least-once: a batch cut short by a connection loss is sent again).
 *  - a lost connection is re-established with capped exponential backoff and jitter; messages published meanwhile
 *    wait in the buffer up to its capacity.
 *  - counters: published (acknowledged), dropped (buffer full, or still buffered at close), rejected (refused by
 *    the broker for good: never retried), buffered, reconnects (connections re-established after a loss),
 *    connectFailures. published + dropped + rejected + buffered = accepted + refused, always.
 */
import { VigilClosedError, VigilError, expected } from '../../errors.js';
import type { Alert, CameraStatus, DetectionBatch } from '../../types.js';
import { redactText } from '../../redact.js';
import { silentLogger, type Logger } from '../../log.js';

export type QueueKind = 'detections' | 'alert' | 'event' | 'status';

/** What a sink carries. `label` is the object class, "alert", the event's label or "status". */
export interface QueueMessage {
  kind: QueueKind;
  cameraId: string;
  label: string;
  /** ns since the Unix epoch */
  timestampNs: bigint;
  data: unknown;
}

/**
 * Payload encoder (e.g. the FlatBuffers one from src/stream/); JSON when absent. Called synchronously in publish();
 * a returned Buffer is kept as is, any other Uint8Array is copied. A throw counts as an encode error.
 */
export type QueueEncoder = (msg: QueueMessage) => Uint8Array;

export interface SinkStats {
  name: string;
  connected: boolean;
  published: number;
  dropped: number;
  rejected: number;
  buffered: number;
  reconnects: number;
  connectFailures: number;
  encodeErrors: number;
  lastError: string | null;
}

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0..1: each delay is multiplied by a random factor in [1 - jitter, 1]. */
  jitter?: number;
}

export interface SinkOptions {
  /** Name for stats and logs, e.g. "redis-main". */
  name: string;
  /** Buffer capacity in messages (default 10 000). */
  capacity?: number;
  /** Messages per send round (default 100). */
  batchSize?: number;
  /** Time to wait for the broker to acknowledge a batch before treating the connection as lost (default 10 s). */
  ackTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Binary payload encoder; JSON (UTF-8) when absent. */
  encode?: QueueEncoder;
  /** Content type announced where the protocol carries one (default per encoder). */
  contentType?: string;
  /** The sink logs to a child named after it. */
  log?: Logger;
}

export interface SinkItem {
  msg: QueueMessage;
  payload: Buffer;
  /** Topic / routing key / stream key, decided at enqueue time. */
  route: string;
  retain: boolean;
}

export type Outcome = 'ok' | 'rejected' | 'retry';

const bigintReplacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

/** JSON payload: bigint as a decimal string (exact); `v` is the envelope version. */
export function jsonEncode(msg: QueueMessage): Uint8Array {
  // Fast path: the domain types carry bigints only at their top level (timestampNs, raisedNs...), so convert
  // those and stringify without a replacer (a replacer is a JS call per key: ~2x slower on a detection batch).
  // A bigint deeper down makes JSON.stringify throw; then the replacer handles every level.
  let data = msg.data;
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    let copy: Record<string, unknown> | null = null;
    for (const [k, v] of Object.entries(data)) {
      if (typeof v === 'bigint') {
        copy ??= { ...(data as Record<string, unknown>) };
        copy[k] = v.toString();
      }
    }
    if (copy) data = copy;
  }
  const envelope = { v: 1, kind: msg.kind, cameraId: msg.cameraId, label: msg.label, timestampNs: msg.timestampNs.toString(), data };
  let text: string;
  try {
    text = JSON.stringify(envelope);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    text = JSON.stringify(envelope, bigintReplacer);
  }
  return Buffer.from(text);
}

/** Ring buffer (FIFO) with O(1) push, peek and shift. */
class Ring<T> {
  private items: (T | undefined)[];
  private head = 0;
  length = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  push(v: T): void {
    this.items[(this.head + this.length) % this.capacity] = v;
    this.length++;
  }
  peek(n: number): T[] {
    const out: T[] = [];
    for (let i = 0; i < Math.min(n, this.length); i++) out.push(this.items[(this.head + i) % this.capacity]!);
    return out;
  }
  shift(n: number): void {
    for (let i = 0; i < n && this.length > 0; i++) {
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.length--;
    }
  }
}

const CAMERA_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export abstract class QueueSink {
  readonly name: string;
  protected readonly encode: QueueEncoder;
  protected readonly contentType: string;
  protected readonly ackTimeoutMs: number;
  protected readonly log: Logger;
  private readonly buffer: Ring<SinkItem>;
  private readonly batchSize: number;
  private readonly backoff: Required<BackoffOptions>;
  private readonly secrets: string[] = [];
  private counters = { published: 0, dropped: 0, rejected: 0, reconnects: 0, connectFailures: 0, encodeErrors: 0 };
  private lastError: string | null = null;
  private connected = false;
  private everConnected = false;
  private connecting = false;
  private pumping = false;
  private started = false;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  /** Called once when the current connection is lost: pending sends stop waiting. */
  private readonly lostListeners = new Set<() => void>();
  private drainWaiters: (() => void)[] = [];

  constructor(options: SinkOptions) {
    // Checked by the subclass's constructor (parseSinkOptions in options.ts) before it calls this one.
    const capacity = options.capacity ?? 10_000;
    const batchSize = options.batchSize ?? 100;
    const ack = options.ackTimeoutMs ?? 10_000;
    const b = options.backoff ?? {};
    const backoff = { initialMs: b.initialMs ?? 500, maxMs: b.maxMs ?? 30_000, factor: b.factor ?? 2, jitter: b.jitter ?? 0.2 };
    this.name = options.name;
    this.buffer = new Ring(capacity);
    this.batchSize = batchSize;
    this.ackTimeoutMs = ack;
    this.backoff = backoff;
    this.encode = options.encode ?? jsonEncode;
    this.contentType = options.contentType ?? (options.encode ? 'application/octet-stream' : 'application/json');
    this.log = (options.log ?? silentLogger).child(options.name);
  }

  // ---- what each broker implements ----------------------------------------------------------------------------

  /** Opens the connection; resolves when messages can be sent. Must arrange for connectionLost() on a drop. */
  protected abstract openConnection(): Promise<void>;
  /** Sends items in order; resolves one outcome per item (settle early via waitAll on connection loss). */
  protected abstract sendBatch(items: SinkItem[]): Promise<Outcome[]>;
  /** Closes the connection (idempotent, never throws). */
  protected abstract closeConnection(): Promise<void>;
  /** The route (topic, routing key, stream) of a message. */
  protected abstract routeOf(msg: QueueMessage): string;

  /** How one message becomes sink items (MQTT splits detections per class); default one item. */
  protected expand(msg: QueueMessage): QueueMessage[] {
    return [msg];
  }

  protected retainOf(_msg: QueueMessage): boolean {
    return false;
  }

  // ---- public API -----------------------------------------------------------------------------------------------

  /** Starts connecting (in the background). Idempotent. */
  start(): void {
    this.assertOpen();
    if (this.started) return;
    this.started = true;
    void this.connectLoop();
  }

  publishDetections(batch: DetectionBatch): boolean {
    if (!batch || typeof batch !== 'object' || !Array.isArray(batch.detections)) throw expected('a DetectionBatch', 'batch', batch);
    return this.publish({ kind: 'detections', cameraId: batch.cameraId, label: 'detections', timestampNs: batch.timestampNs, data: batch });
  }

  publishAlert(alert: Alert): boolean {
    if (!alert || typeof alert !== 'object' || typeof alert.alertId !== 'string') throw expected('an Alert', 'alert', alert);
    return this.publish({ kind: 'alert', cameraId: alert.cameraId, label: 'alert', timestampNs: alert.updatedNs, data: alert });
  }

  publishEvent(cameraId: string, label: string, data: unknown, timestampNs: bigint = BigInt(Date.now()) * 1_000_000n): boolean {
    return this.publish({ kind: 'event', cameraId, label, timestampNs, data });
  }

  /** Camera status (retained where the protocol has retained messages, i.e. MQTT). */
  publishCameraStatus(cameraId: string, status: CameraStatus, timestampNs: bigint = BigInt(Date.now()) * 1_000_000n): boolean {
    return this.publish({ kind: 'status', cameraId, label: 'status', timestampNs, data: { cameraId, status } });
  }

  /**
   * Enqueues one message without waiting. Returns false when it was dropped (buffer full) or could not be encoded;
   * every such message is counted. Throws only on a malformed message or after close().
   */
  publish(msg: QueueMessage): boolean {
    this.assertOpen();
    if (!msg || typeof msg !== 'object') throw expected('a QueueMessage', 'msg', msg);
    if (typeof msg.cameraId !== 'string' || !CAMERA_RE.test(msg.cameraId)) throw expected('a camera id', 'msg.cameraId', msg.cameraId);
    if (typeof msg.label !== 'string' || msg.label.length === 0 || msg.label.length > 64) throw expected('a label of 1-64 characters', 'msg.label', msg.label);
    if (typeof msg.timestampNs !== 'bigint') throw expected('a bigint (ns)', 'msg.timestampNs', msg.timestampNs);
    let all = true;
    for (const m of this.expand(msg)) {
      if (this.buffer.length >= this.buffer.capacity) {
        this.counters.dropped++;
        all = false;
        continue;
      }
      let payload: Buffer;
      try {
        const bytes = this.encode(m);
        // A Buffer is kept as is (the encoder hands it over); any other Uint8Array is copied, in case the encoder
        // reuses its memory (e.g. a FlatBuffers builder's buffer) for the next message.
        payload = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
      } catch (err) {
        this.counters.encodeErrors++;
        this.lastError = `encode failed: ${(err as Error).message}`;
        all = false;
        continue;
      }
      this.buffer.push({ msg: m, payload, route: this.routeOf(m), retain: this.retainOf(m) });
    }
    this.schedulePump();
    return all;
  }

  stats(): SinkStats {
    return { name: this.name, connected: this.connected, ...this.counters, buffered: this.buffer.length, lastError: this.lastError };
  }

  /** Resolves when the buffer is empty or after timeoutMs; returns whether it emptied. */
  flush(timeoutMs = 5000): Promise<boolean> {
    if (this.buffer.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  /**
   * Stops the sink: waits up to flushTimeoutMs for the buffer to drain (when connected), then closes the
   * connection; what is still buffered is counted as dropped. Idempotent.
   */
  async close(flushTimeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.connected && this.buffer.length > 0) await this.flush(flushTimeoutMs);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connected = false;
    this.notifyLost();
    await this.closeConnection();
    this.counters.dropped += this.buffer.length;
    this.buffer.shift(this.buffer.length);
    for (const w of this.drainWaiters.splice(0)) w();
  }

  // ---- for subclasses -------------------------------------------------------------------------------------------

  /** Strings to scrub from error messages (passwords in broker URLs). */
  protected addSecret(s: string | undefined | null): void {
    if (s) this.secrets.push(s);
  }

  protected redact(text: string): string {
    return redactText(text, this.secrets);
  }

  /** Subclasses call this when the broker connection drops. Idempotent per connection. */
  protected connectionLost(err?: unknown): void {
    if (!this.connected || this.closed) return;
    this.connected = false;
    this.notifyLost();
    if (err) this.lastError = this.redact(err instanceof Error ? err.message : String(err));
    this.log.warn(`connection lost${this.lastError ? `: ${this.lastError}` : ''}`);
    void this.closeConnection().finally(() => this.scheduleReconnect());
  }

  /**
   * Helper for sendBatch: starts every item with `start(i, done)` and resolves when all are done, when the
   * connection is lost, or after ackTimeoutMs; items not done by then are 'retry'.
   */
  protected waitAll(items: SinkItem[], start: (item: SinkItem, i: number, done: (o: Outcome) => void) => void): Promise<Outcome[]> {
    const outcomes: Outcome[] = items.map(() => 'retry');
    let left = items.length;
    return new Promise((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.lostListeners.delete(finish);
        resolve(outcomes);
      };
      const timer = setTimeout(() => {
        this.connectionLost(new VigilError('E_QUEUE_TIMEOUT', `no acknowledgement within ${this.ackTimeoutMs} ms`));
        finish();
      }, this.ackTimeoutMs);
      if (!this.connected) {
        finish();
        return;
      }
      this.lostListeners.add(finish);
      items.forEach((item, i) => {
        let once = false;
        try {
          start(item, i, (o) => {
            if (once) return;
            once = true;
            outcomes[i] = o;
            if (--left === 0) finish();
          });
        } catch (err) {
          if (!once) {
            once = true;
            this.lastError = this.redact((err as Error).message);
            if (--left === 0) finish();
          }
        }
      });
      if (items.length === 0) finish();
    });
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private notifyLost(): void {
    const listeners = [...this.lostListeners];
    this.lostListeners.clear();
    for (const l of listeners) l();
  }

  private assertOpen(): void {
    if (this.closed) throw new VigilClosedError(`queue sink ${this.name}`);
  }

  private delay(attempt: number): number {
    const b = this.backoff;
    const base = Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, attempt - 1));
    return Math.round(base * (1 - b.jitter * Math.random()));
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer || this.connecting || this.connected) return;
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connectLoop();
    }, this.delay(this.attempt));
    this.retryTimer.unref();
  }

  private async connectLoop(): Promise<void> {
    if (this.closed || this.connecting || this.connected) return;
    this.connecting = true;
    try {
      await this.openConnection();
    } catch (err) {
      this.connecting = false;
      this.counters.connectFailures++;
      this.lastError = this.redact(err instanceof Error ? err.message : String(err));
      await this.closeConnection();
      this.scheduleReconnect();
      return;
    }
    this.connecting = false;
    if (this.closed) {
      await this.closeConnection();
      return;
    }
    this.connected = true;
    if (this.everConnected) this.counters.reconnects++;
    this.everConnected = true;
    this.attempt = 0;
    this.log.info('connected');
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.pumping || !this.connected) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.connected && this.buffer.length > 0) {
        const batch = this.buffer.peek(this.batchSize);
        let outcomes: Outcome[];
        try {
          outcomes = await this.sendBatch(batch);
        } catch (err) {
          this.connectionLost(err);
          break;
        }
        let done = 0;
        for (const o of outcomes) {
          if (o === 'ok') this.counters.published++;
          else if (o === 'rejected') this.counters.rejected++;
          else break;
          done++;
        }
        this.buffer.shift(done);
        if (done < batch.length) {
          this.connectionLost(new VigilError('E_QUEUE_SEND', 'batch not acknowledged'));
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.buffer.length === 0) for (const w of this.drainWaiters.splice(0)) w();
    else if (this.connected) this.schedulePump();
  }
}

/** MQTT topic level / routing-key word: no separators or wildcards. */
export function topicLevel(s: string): string {
  return s.replace(/[/#+.\s\u0000]/g, '_');
}
