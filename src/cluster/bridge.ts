/**
 * Events between nodes, through the JetStream events stream (`<prefix>-events`, bounded by age and size).
 *
 * Out: what this node's cameras produce (detections, tracks, alerts, camera status) is published once, by the
 * node that owns the camera, to `<prefix>.events.<kind>.<camera>` with headers naming the node and the camera's
 * fencing token (`Vigil-Node`, `Vigil-Camera`, `Vigil-Fence`) and the production time (`Vigil-Time`, ms). An event
 * of a camera this node no longer holds has no token and is not published (counted in `unfenced`): a stopped
 * owner's late results cannot reach the cluster. Publishing is asynchronous with a bound on publishes in flight
 * (past it, events are counted as dropped; the local store still has them).
 *
 * Partition outbox (src/cluster/outbox.ts): while the node is disconnected from NATS, and while anything waits in
 * the outbox, events go into the outbox instead (the message as it would have been sent, with the token the camera
 * ran under then); a publish JetStream did not acknowledge goes there too, in its production-order place. When the
 * link is back and no publish is in flight, the outbox is published oldest first, one at a time, and new events
 * queue behind it: per camera, the stream receives a node's events in the order they were produced. A node keeps
 * producing only until its leases could have expired (src/cluster/coordinator.ts stops its cameras then), so the
 * outbox holds at most that much; a late event of a lease that was taken over meanwhile carries its old token and
 * is refused by every consumer, and JetStream's duplicate window drops a retried message whose first attempt had
 * been stored.
 *
 * In: each node has a durable consumer on the stream and writes every *other* node's events into its own
 * detection store (detections with `store.append`, the rest into the store's event log), acknowledging a message
 * only once its commit is durable. So `GET /detections` and the other store queries see the whole cluster through
 * the code paths a single server uses, and a node that was down catches up from its consumer's position (within
 * the stream's bounds). The WebSocket stream is fed from the events stream itself, numbered by its JetStream
 * sequence (src/cluster/stream-log.ts), so that a client can resume on any node.
 *
 * Fencing on read: the consumer remembers the highest token seen per camera and drops events carrying a lower one
 * (counted in `fencedOff`), so even a node that kept producing past its lease could not write into others' views.
 *
 * Sinks (queues, notifications) stay where the event is produced: they are fed by the owning node's frame path,
 * never by replicated events, so each event reaches them once however many nodes there are.
 */
import { headers } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import type { DetectionStore } from '../store/index.js';
import { eventCamera, type StreamEvent } from '../stream/events.js';
import { decodeJson, encodeJson } from './codec.js';
import type { ClusterBackend } from './nats.js';
import type { EventOutbox, OutboxMessage } from './outbox.js';

export interface BridgeStats {
  published: number;
  /** Publishes JetStream did not acknowledge and that could not be kept in the outbox either. */
  publishFailed: number;
  /** Publishes refused because too many were in flight. */
  dropped: number;
  /** Events put into the outbox (disconnected, or a publish not acknowledged). */
  deferred: number;
  /** Events of cameras not held here (late results after a stop): never published. */
  unfenced: number;
  /** Other nodes' events written into the local store. */
  applied: number;
  /** Other nodes' events refused for a stale fencing token. */
  fencedOff: number;
  applyFailed: number;
}

export interface BridgeOptions {
  nodeId: string;
  incarnation: string;
  fenceOf: (cameraId: string) => number | undefined;
  store: DetectionStore;
  log: Logger;
  /** Most publishes awaiting their acknowledgement. Default 2000. */
  maxInFlight?: number;
  /** Where events wait while they cannot be published (absent: they are counted as failed). */
  outbox?: EventOutbox;
  /** Ms between flush attempts while the outbox holds events. Default 1000. */
  flushIntervalMs?: number;
}

type LoggedEvent = Exclude<StreamEvent, { kind: 'detections' }>;

function logTime(ev: LoggedEvent): bigint {
  switch (ev.kind) {
    case 'tracks':
      return ev.track.timestampNs;
    case 'alerts':
      return ev.alert.updatedNs;
    case 'camera_status':
      return ev.status.timestampNs;
  }
}

function logData(ev: LoggedEvent): unknown {
  switch (ev.kind) {
    case 'tracks':
      return ev.track;
    case 'alerts':
      return ev.alert;
    case 'camera_status':
      return ev.status;
  }
}

export class EventBridge {
  readonly stats: BridgeStats = { published: 0, publishFailed: 0, dropped: 0, deferred: 0, unfenced: 0, applied: 0, fencedOff: 0, applyFailed: 0 };
  readonly #b: ClusterBackend;
  readonly #o: BridgeOptions;
  readonly #maxInFlight: number;
  #inFlight = 0;
  #counter = 0;
  #messages: ConsumerMessages | null = null;
  readonly #maxFence = new Map<string, number>();
  #closed = false;
  #connected = true;
  #flushing = false;
  #flushTimer: NodeJS.Timeout | null = null;

  constructor(backend: ClusterBackend, options: BridgeOptions) {
    this.#b = backend;
    this.#o = options;
    this.#maxInFlight = options.maxInFlight ?? 2000;
    if (options.outbox) {
      void this.#watchStatus();
      this.#flushTimer = setInterval(() => this.#flush(), options.flushIntervalMs ?? 1000);
      this.#flushTimer.unref();
      // Left by an earlier run: published as soon as possible.
      if (options.outbox.size > 0) queueMicrotask(() => this.#flush());
    }
  }

  /** The outbox's counters (null without one). */
  get outboxStats(): import('./outbox.js').OutboxStats | null {
    return this.#o.outbox?.stats ?? null;
  }

  /** Events waiting in the outbox (0 without one). */
  get outboxSize(): number {
    return this.#o.outbox?.size ?? 0;
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#b.nc.status()) {
      if (this.#closed) return;
      if (s.type === 'disconnect') this.#connected = false;
      else if (s.type === 'reconnect') {
        this.#connected = true;
        this.#flush();
      }
    }
  }

  /** Publishes the outbox when connected and nothing else is in flight (an earlier event could still fail). */
  #flush(): void {
    const outbox = this.#o.outbox;
    if (!outbox || this.#flushing || this.#closed || !this.#connected || this.#inFlight > 0 || outbox.size === 0) return;
    this.#flushing = true;
    outbox
      .flush(
        async (m) => {
          const h = headers();
          for (const [k, v] of m.headers) h.set(k, v);
          await this.#b.js.publish(m.subject, m.data, { headers: h, msgID: m.msgID, timeout: 5000 });
          this.stats.published++;
        },
        () => this.#closed || !this.#connected,
      )
      .catch((err: unknown) => this.#o.log.warn(`cluster: outbox flush failed: ${(err as Error).message}`))
      .finally(() => {
        this.#flushing = false;
        // Events added meanwhile: go on at once rather than at the next tick.
        if (outbox.size > 0 && this.#connected && !this.#closed) setImmediate(() => this.#flush());
      });
  }

  #defer(counter: number, m: OutboxMessage): void {
    if (this.#o.outbox!.add(counter, m)) this.stats.deferred++;
  }

  /** Publishes one event of a camera held here (see the module comment for what is refused). */
  publish(event: StreamEvent): void {
    if (this.#closed) return;
    const cameraId = eventCamera(event);
    const fence = this.#o.fenceOf(cameraId);
    if (fence === undefined) {
      this.stats.unfenced++;
      return;
    }
    const counter = ++this.#counter;
    const pairs: Array<[string, string]> = [
      ['Vigil-Node', this.#o.nodeId],
      ['Vigil-Camera', cameraId],
      ['Vigil-Fence', String(fence)],
      ['Vigil-Time', String(Date.now())],
    ];
    const msgID = `${this.#o.nodeId}-${this.#o.incarnation}-${counter}`;
    const subject = this.#b.names.eventSubject(event.kind, cameraId);
    const data = encodeJson(event);
    const outbox = this.#o.outbox;
    if (outbox && (!this.#connected || this.#flushing || outbox.size > 0)) {
      // Behind what already waits: order per camera is production order.
      this.#defer(counter, { subject, msgID, headers: pairs, data });
      return;
    }
    if (this.#inFlight >= this.#maxInFlight) {
      this.stats.dropped++;
      return;
    }
    const h = headers();
    for (const [k, v] of pairs) h.set(k, v);
    this.#inFlight++;
    this.#b.js
      .publish(subject, data, { headers: h, msgID, timeout: 5000 })
      .then(
        () => void this.stats.published++,
        () => {
          if (outbox && !this.#closed) this.#defer(counter, { subject, msgID, headers: pairs, data });
          else this.stats.publishFailed++;
        },
      )
      .finally(() => {
        this.#inFlight--;
        if (this.#inFlight === 0 && outbox && outbox.size > 0) this.#flush();
      });
  }

  /** Starts applying other nodes' events from this node's durable consumer. */
  async startConsuming(): Promise<void> {
    const { jsm, js, names } = this.#b;
    const durable = names.consumer(this.#o.nodeId);
    try {
      await jsm.consumers.info(names.stream, durable);
    } catch {
      await jsm.consumers.add(names.stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: 30 * 1_000_000_000,
        max_ack_pending: 5000,
      });
    }
    const consumer = await js.consumers.get(names.stream, durable);
    const messages = await consumer.consume({ max_messages: 500 });
    this.#messages = messages;
    void (async () => {
      for await (const m of messages) this.#apply(m);
    })().catch((err: unknown) => this.#o.log.error(`cluster: event consumer stopped: ${(err as Error).message}`));
  }

  #apply(m: JsMsg): void {
    const node = m.headers?.get('Vigil-Node') ?? '';
    const cameraId = m.headers?.get('Vigil-Camera') ?? '';
    const fence = Number(m.headers?.get('Vigil-Fence') ?? '0');
    const max = this.#maxFence.get(cameraId) ?? 0;
    // This node's own events count too: a node that took a camera over refuses the old owner's late events.
    if (fence > max) this.#maxFence.set(cameraId, fence);
    if (node === this.#o.nodeId) {
      m.ack();
      return;
    }
    if (fence < max) {
      this.stats.fencedOff++;
      m.ack();
      return;
    }
    let ev: StreamEvent;
    try {
      ev = decodeJson<StreamEvent>(m.data);
    } catch (err) {
      this.stats.applyFailed++;
      this.#o.log.warn(`cluster: undecodable event ${m.seq}: ${(err as Error).message}`);
      m.term();
      return;
    }
    const store = this.#o.store;
    const done =
      ev.kind === 'detections'
        ? store.append(ev.batch)
        : store.appendEvent({ kind: ev.kind, cameraId, timestampNs: logTime(ev), data: logData(ev) });
    done.then(
      () => {
        this.stats.applied++;
        m.ack();
      },
      (err: unknown) => {
        this.stats.applyFailed++;
        this.#o.log.warn(`cluster: event ${m.seq} not stored: ${(err as Error).message}`);
        // Redelivered after a pause (the store was full or failing).
        m.nak(1000);
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    await this.#messages?.close().catch(() => {});
  }
}
