/**
 * The WebSocket stream's EventLog on a cluster node: the sequence a client sees IS the JetStream sequence of the
 * event in the cluster's events stream (`<prefix>-events`), so one number means the same event on every node and
 * a client that resumes on another node (`resume_after`) gets exactly what follows, no gap, no duplicate.
 *
 * - Live: an ordered consumer on the stream hands every event to the hub in stream order — the other nodes' and
 *   this node's own (which come back from the broker once it stored them): all clients of all nodes see one
 *   order. The price is a broker round trip before a node's own events reach its clients, and none of them while
 *   its broker link is down (they wait in the bridge's outbox and arrive, in order, when it returns).
 * - Replay (`since`): read back from the stream itself (an ordered consumer from `after + 1`), not from the local
 *   store, whose numbering is per node. Retention is the stream's (`events.maxAgeH`, `events.maxMb`):
 *   `oldestSeq()` is the stream's first sequence.
 * - Writes: `append` goes to the node's own store log (tracks and camera status for REST queries, as on a single
 *   server); the event reaches the stream through the bridge (src/cluster/bridge.ts), and the clients from there.
 * - Fencing: an event whose token is lower than one already seen for its camera *earlier in the stream* is not
 *   delivered (a fenced-out owner's late events, e.g. flushed from its outbox after a partition): a rule on the
 *   stream's prefix, so live delivery and a replay on any node decide alike. The node reads the stream's headers
 *   once at start (headers only) to learn where each camera's token rose, and keeps those points.
 * - Until that first read is done `ready` is false and the hub refuses a resume with E_RESUME_NOT_READY (retry),
 *   rather than answer from a position it has not reached.
 *
 * No NATS module is loaded here (types only): a single server never loads the client.
 */
import type { ConsumerMessages, DeliverPolicy, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import { EVENT_KINDS, type EventLog, type SequencedEvent, type StreamEvent } from '../stream/events.js';
import type { StoreEventLog } from '../stream/store-log.js';
import { decodeJson } from './codec.js';

export interface StreamSource {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  log: Logger;
}

/** Messages per fetch of a replay or of the start-up read. */
const PAGE = 256;
/** How often the stream's first sequence (retention) is re-read for `oldestSeq()`. */
const INFO_EVERY_MS = 10_000;
const START_SEQ = 'by_start_sequence' as DeliverPolicy;

/** Where one camera's token rose: from stream sequence `seq` on, tokens below `fence` are refused. */
type Raise = readonly [seq: number, fence: number];

export class ClusterEventLog implements EventLog {
  readonly sharedSequence = true;
  readonly #local: StoreEventLog;
  readonly #listeners = new Set<(items: SequencedEvent[]) => void>();
  readonly #raises = new Map<string, Raise[]>();
  readonly #max = new Map<string, number>();
  #src: StreamSource | null = null;
  #live: ConsumerMessages | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ready = false;
  #last = 0;
  #first = 0;
  #closed = false;
  /** Events not delivered for a stale token (live feed); replays read, events they yielded. */
  readonly stats = { delivered: 0, fencedOff: 0, undecodable: 0, replays: 0, replayed: 0 };

  constructor(local: StoreEventLog) {
    this.#local = local;
  }

  /** False until the node has read the stream's headers up to where its live feed starts. */
  get ready(): boolean {
    return this.#ready;
  }

  append(event: StreamEvent): null {
    return this.#local.append(event);
  }

  onDurable(listener: (items: SequencedEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  lastSeq(): number {
    return this.#last;
  }

  oldestSeq(): number {
    return this.#last === 0 ? 0 : Math.min(Math.max(this.#first, 1), this.#last);
  }

  /** Reads the stream's headers to its current end, then follows it (see the module comment). */
  async attach(src: StreamSource): Promise<void> {
    this.#src = src;
    const info = await src.jsm.streams.info(src.stream);
    const end = info.state.last_seq;
    this.#first = info.state.first_seq;
    if (info.state.messages > 0) {
      for await (const m of this.#range(info.state.first_seq, end, true)) this.#judge(this.#max, m, true);
    }
    this.#last = end;
    this.#ready = true;
    const c = await src.js.consumers.get(src.stream, { deliver_policy: START_SEQ, opt_start_seq: end + 1 });
    const messages = await c.consume({ max_messages: 500 });
    this.#live = messages;
    void (async () => {
      for await (const m of messages) this.#onLive(m);
    })().catch((err: unknown) => src.log.error(`cluster: stream feed stopped: ${(err as Error).message}`));
    this.#timer = setInterval(() => {
      src.jsm.streams.info(src.stream).then(
        (i) => void (this.#first = i.state.first_seq),
        () => undefined,
      );
    }, INFO_EVERY_MS);
    this.#timer.unref();
  }

  async *since(afterSeq: number, untilSeq: number): AsyncIterable<SequencedEvent> {
    if (afterSeq >= untilSeq || !this.#src) return;
    this.stats.replays++;
    // The tokens in force at `afterSeq`: the last rise of each camera at or before it.
    const max = new Map<string, number>();
    for (const [cam, list] of this.#raises) {
      let f = 0;
      for (const [seq, fence] of list) if (seq <= afterSeq) f = fence;
      if (f > 0) max.set(cam, f);
    }
    for await (const m of this.#range(afterSeq + 1, untilSeq, false)) {
      if (this.#closed) return;
      if (!this.#judge(max, m, false)) continue;
      const item = this.#decode(m);
      if (!item) continue;
      this.stats.replayed++;
      yield item;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    void this.#live?.close().catch(() => {});
    this.#listeners.clear();
  }

  /** Stream messages with from <= seq <= until, in order (ends early at the stream's end). */
  async *#range(from: number, until: number, headersOnly: boolean): AsyncIterable<JsMsg> {
    const src = this.#src!;
    if (from > until) return;
    const c = await src.js.consumers.get(src.stream, { deliver_policy: START_SEQ, opt_start_seq: from, headers_only: headersOnly });
    let next = from;
    for (;;) {
      // Never more than up to `until`: the fetch then ends by itself (closing one early can wait for its expiry).
      const batch = await c.fetch({ max_messages: Math.min(PAGE, until - next + 1), expires: 2000 });
      let n = 0;
      for await (const m of batch) {
        n++;
        next = m.seq + 1;
        yield m;
      }
      if (n === 0 || next > until || this.#closed) return;
    }
  }

  /** Applies the token rule to one message against `max` (updated); `record`: remember where tokens rose. */
  #judge(max: Map<string, number>, m: JsMsg, record: boolean): boolean {
    const cam = m.headers?.get('Vigil-Camera') ?? '';
    const fence = Number(m.headers?.get('Vigil-Fence') ?? '0');
    const cur = max.get(cam) ?? 0;
    if (fence < cur) return false;
    if (fence > cur) {
      max.set(cam, fence);
      if (record) {
        let list = this.#raises.get(cam);
        if (!list) this.#raises.set(cam, (list = []));
        list.push([m.seq, fence]);
      }
    }
    return true;
  }

  #decode(m: JsMsg): SequencedEvent | null {
    try {
      const event = decodeJson<StreamEvent>(m.data);
      // a kind this version does not know (written by a newer node) is skipped
      if (!EVENT_KINDS.includes(event.kind)) return null;
      return { seq: m.seq, event };
    } catch {
      this.stats.undecodable++;
      return null;
    }
  }

  #onLive(m: JsMsg): void {
    if (this.#closed) return;
    this.#last = m.seq;
    if (!this.#judge(this.#max, m, true)) {
      this.stats.fencedOff++;
      return;
    }
    const item = this.#decode(m);
    if (!item) return;
    this.stats.delivered++;
    for (const l of this.#listeners) l([item]);
  }
}
