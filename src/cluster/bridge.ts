/**
 * Events between nodes, through the JetStream events stream (`<prefix>-events`, bounded by age and size).
 *
 * Out: what this node's cameras produce (detections, tracks, alerts, camera status) is published once, by the
 * node that owns the camera, to `<prefix>.events.<kind>.<camera>` with headers naming the node and the camera's
 * fencing token (`Vigil-Node`, `Vigil-Camera`, `Vigil-Fence`) and the production time (`Vigil-Time`, ms). An event
 * of a camera this node no longer holds has no token and is not published (counted in `unfenced`): a stopped
 * owner's late results cannot reach the cluster. Publishing is asynchronous with a bound on publishes in flight;
 * past it, or when JetStream does not acknowledge, events are counted as dropped (the local store still has them).
 *
 * In: each node has a durable consumer on the stream and writes every *other* node's events into its own
 * detection store (detections with `store.append`, the rest into the store's event log), acknowledging a message
 * only once its commit is durable. So the local WebSocket stream, `GET /detections` and resume by sequence all
 * see the whole cluster through the code paths a single server uses, and a node that was down catches up from
 * its consumer's position (within the stream's bounds). Sequence numbers stay per node (each node numbers its
 * store's commits); the stream's own sequence orders the cluster. Why not one cluster-wide WebSocket sequence:
 * it would put a broker round trip into every local commit and stop a node's clients when its broker link is
 * down, where per-node numbering keeps a node serving what it has.
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

export interface BridgeStats {
  published: number;
  publishFailed: number;
  /** Publishes refused because too many were in flight. */
  dropped: number;
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
  readonly stats: BridgeStats = { published: 0, publishFailed: 0, dropped: 0, unfenced: 0, applied: 0, fencedOff: 0, applyFailed: 0 };
  readonly #b: ClusterBackend;
  readonly #o: BridgeOptions;
  readonly #maxInFlight: number;
  #inFlight = 0;
  #counter = 0;
  #messages: ConsumerMessages | null = null;
  readonly #maxFence = new Map<string, number>();
  #closed = false;

  constructor(backend: ClusterBackend, options: BridgeOptions) {
    this.#b = backend;
    this.#o = options;
    this.#maxInFlight = options.maxInFlight ?? 2000;
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
    if (this.#inFlight >= this.#maxInFlight) {
      this.stats.dropped++;
      return;
    }
    const h = headers();
    h.set('Vigil-Node', this.#o.nodeId);
    h.set('Vigil-Camera', cameraId);
    h.set('Vigil-Fence', String(fence));
    h.set('Vigil-Time', String(Date.now()));
    this.#inFlight++;
    const msgID = `${this.#o.nodeId}-${this.#o.incarnation}-${++this.#counter}`;
    this.#b.js
      .publish(this.#b.names.eventSubject(event.kind, cameraId), encodeJson(event), { headers: h, msgID, timeout: 5000 })
      .then(
        () => void this.stats.published++,
        () => void this.stats.publishFailed++,
      )
      .finally(() => this.#inFlight--);
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
    if (node === this.#o.nodeId) {
      m.ack();
      return;
    }
    const cameraId = m.headers?.get('Vigil-Camera') ?? '';
    const fence = Number(m.headers?.get('Vigil-Fence') ?? '0');
    const max = this.#maxFence.get(cameraId) ?? 0;
    if (fence < max) {
      this.stats.fencedOff++;
      m.ack();
      return;
    }
    this.#maxFence.set(cameraId, fence);
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
    await this.#messages?.close().catch(() => {});
  }
}
