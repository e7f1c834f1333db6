/**
 * The event stream's fan-out: server-wide sequence numbers (from the EventLog), per-client subscriptions limited to
 * the principal's camera scope (src/auth/policy.ts), resume from a sequence, and backpressure.
 *
 * Backpressure: before every send the client's buffered amount is checked against `maxBufferedBytes`. Past it the
 * message is not queued: with policy 'drop' it is counted (the client gets a DropNotice with the count and seq range
 * just before the next message it does receive, or when its buffer drains), with 'disconnect' the socket is closed
 * with 1013. So the server holds at most `maxBufferedBytes` per client (plus at most `maxPendingReplay` events
 * while a resume is replaying); one slow client never delays another, because nothing waits on any socket.
 *
 * Delivery is coalesced per event-loop turn: publish() assigns the sequence number and queues the event; at the
 * end of the turn (setImmediate) each client gets everything queued in one corked write — one syscall per client
 * per turn instead of one per event. `flush()` delivers immediately.
 *
 * Filtering (class, min confidence) of a detection batch sends the same seq with only the matching detections; the
 * filtered encoding is shared by all clients with the same filter within one publish.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Detection, DetectionBatch } from '../types.js';
import { authorize, canSeeCamera, scopeCameras, type Principal } from '../auth/policy.js';
import { AuthError } from '../auth/errors.js';
import { RateLimiter, type RateLimit } from '../auth/ratelimit.js';
import { WireEncoder } from './codec.js';
import { ControlError, parseControl, type SubscribeRequest } from './control.js';
import { EVENT_KINDS, eventCamera, type EventKind, type EventLog, type SequencedEvent, type StreamEvent } from './events.js';

/** What the hub needs from a WebSocket (uWS's WebSocket satisfies it). */
export interface StreamSocket {
  /** Returns 1 sent, 0 queued (backpressure), 2 dropped by the transport. */
  send(message: Uint8Array, isBinary: boolean): number;
  getBufferedAmount(): number;
  end(code: number, reason: string): void;
  /** Runs `cb` with the socket corked: its sends leave in one write when `cb` returns. */
  cork(cb: () => void): unknown;
}

export type SlowClientPolicy = 'drop' | 'disconnect';

export interface HubOptions {
  log: EventLog;
  /** Per-client cap on bytes buffered in the server for sending. Default 1 MiB. */
  maxBufferedBytes?: number;
  slowClientPolicy?: SlowClientPolicy;
  /** Live events held for a client while its resume replays; past it they count as dropped. Default 10000. */
  maxPendingReplay?: number;
  registry?: Registry;
  /** Clock for the hello's server time (ns since the epoch). */
  nowNs?: () => bigint;
  /**
   * Control messages a client may send: a burst of `max`, refilled over `windowS` (default 20 per 10 s). A resume
   * replays up to the whole retention window, so an unthrottled client could make the server replay it in a loop.
   */
  controlRate?: RateLimit;
  /** Clock (ms) for the control-message rate limit. */
  nowMs?: () => number;
}

interface Subscription {
  cameras: ReadonlySet<string> | '*';
  kinds: ReadonlySet<EventKind>;
  classIds: ReadonlySet<number> | null;
  classNames: ReadonlySet<string> | null;
  minConfidence: number;
  /** Identifies the detection filter (classes + confidence) for sharing filtered encodings; '' = no filter. */
  filterKey: string;
}

export class StreamClient {
  sub: Subscription | null = null;
  replaying = false;
  pending: SequencedEvent[] = [];
  dropped = 0;
  dropFirst = 0;
  dropLast = 0;
  totalDropped = 0;
  delivered = 0;
  closed = false;
  /** Bumped on every subscribe/unsubscribe so an older replay stops. */
  generation = 0;
  /** Bytes sent inside the current cork (not yet visible in getBufferedAmount). */
  corkedBytes = 0;
  /**
   * The socket's buffered amount read when the current cork began: it does not change until the cork is released,
   * so one native call per cork instead of one per message (20 stalled clients cost the others 13% without it).
   */
  bufferedAtCork = 0;
  /**
   * Over its cap at the last send: until the socket reports a drain, its messages are counted as dropped without
   * touching the socket at all (no cork, no buffered-amount call), so stalled clients cost the others nothing.
   */
  stalled = false;
  /**
   * Newest sequence that existed when the current subscription started (replayed when resuming): queued events up
   * to it are not delivered again by the end-of-turn flush.
   */
  startSeq = 0;
  constructor(
    readonly id: number,
    readonly socket: StreamSocket,
    readonly principal: Principal,
  ) {}
}

type Cache = { shared?: Uint8Array; filtered?: Map<string, Uint8Array | null> };

/** Most bytes written to one socket under one cork (see deliverCorked); also at most a quarter of the cap. */
const CORK_CHUNK = 64 * 1024;

export class StreamHub {
  readonly log: EventLog;
  readonly maxBufferedBytes: number;
  readonly policy: SlowClientPolicy;
  private readonly maxPending: number;
  private readonly corkChunk: number;
  private readonly clients = new Set<StreamClient>();
  private readonly enc = new WireEncoder();
  private nextId = 1;
  private outbox: SequencedEvent[] = [];
  private flushScheduled = false;
  private readonly flushBound = () => this.flush();
  private readonly nowNs: () => bigint;
  private readonly controlLimiter: RateLimiter;
  private readonly offDurable: (() => void) | null;
  /** Totals, also exported as metrics. */
  readonly totals = { sent: 0, bytesSent: 0, dropped: 0, slowDisconnects: 0, published: 0 };

  constructor(opts: HubOptions) {
    this.log = opts.log;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 1024 * 1024;
    this.policy = opts.slowClientPolicy ?? 'drop';
    this.maxPending = opts.maxPendingReplay ?? 10_000;
    this.corkChunk = Math.max(1024, Math.min(CORK_CHUNK, Math.floor(this.maxBufferedBytes / 4)));
    this.nowNs = opts.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.controlLimiter = new RateLimiter(opts.controlRate ?? { max: 20, windowS: 10 }, opts.nowMs ?? Date.now);
    this.offDurable = this.log.onDurable ? this.log.onDurable((items) => this.enqueue(items)) : null;
    const registers = opts.registry ? [opts.registry] : [];
    // Read at scrape time from plain counters: no prom-client call on the per-message path.
    const totals = this.totals;
    const clients = this.clients;
    new Gauge({
      name: 'vigil_ws_clients',
      help: 'Connected WebSocket stream clients',
      registers,
      collect() {
        this.set(clients.size);
      },
    });
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter('vigil_ws_messages_sent_total', 'Stream messages handed to client sockets', () => totals.sent);
    counter('vigil_ws_bytes_sent_total', 'Stream payload bytes handed to client sockets', () => totals.bytesSent);
    counter(
      'vigil_ws_messages_dropped_total',
      'Stream messages not delivered because a client was over its buffered-bytes cap',
      () => totals.dropped,
    );
    counter(
      'vigil_ws_slow_disconnects_total',
      'Clients disconnected for exceeding their buffered-bytes cap',
      () => totals.slowDisconnects,
    );
    counter('vigil_stream_events_published_total', 'Events published to the stream', () => totals.published);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Open connections of one user (for the per-user connection limit at upgrade). */
  connectionsOf(sub: string): number {
    let n = 0;
    for (const c of this.clients) if (c.principal.sub === sub && !c.closed) n++;
    return n;
  }

  /** Sum of all clients' buffered bytes (server memory held for sending). */
  bufferedBytes(): number {
    let n = 0;
    for (const c of this.clients) if (!c.closed) n += c.socket.getBufferedAmount();
    return n;
  }

  /** Per-client figures (for /metrics-style introspection, admin views and tests). */
  clientStats(): Array<{
    id: number;
    user: string;
    subscribed: boolean;
    replaying: boolean;
    delivered: number;
    totalDropped: number;
    buffered: number;
  }> {
    return [...this.clients].map((c) => ({
      id: c.id,
      user: c.principal.sub,
      subscribed: c.sub !== null,
      replaying: c.replaying,
      delivered: c.delivered,
      totalDropped: c.totalDropped,
      buffered: c.closed ? 0 : c.socket.getBufferedAmount(),
    }));
  }

  /** Registers an authenticated socket and sends it the ServerHello. */
  attach(socket: StreamSocket, principal: Principal): StreamClient {
    const c = new StreamClient(this.nextId++, socket, principal);
    this.clients.add(c);
    this.rawSend(
      c,
      this.enc.encodeHello({
        serverTimeNs: this.nowNs(),
        lastSeq: this.log.lastSeq(),
        oldestSeq: this.log.oldestSeq(),
        user: principal.sub,
        role: principal.role,
      }),
    );
    return c;
  }

  detach(c: StreamClient): void {
    this.controlLimiter.reset(String(c.id));
    c.closed = true;
    c.pending = [];
    this.clients.delete(c);
  }

  /** The socket's buffer drained: tell the client about drops now rather than waiting for the next message. */
  drain(c: StreamClient): void {
    c.stalled = false;
    if (c.dropped > 0 && !c.closed && c.socket.getBufferedAmount() < this.maxBufferedBytes / 2) this.sendDropNotice(c);
  }

  /** Handles one client frame. Errors go back to the client as ErrorNotice; the connection stays open. */
  handleMessage(c: StreamClient, data: ArrayBuffer, isBinary: boolean): void {
    let id = '';
    try {
      const key = String(c.id);
      const wait = this.controlLimiter.retryAfterS(key);
      if (wait > 0) {
        this.rawSend(c, this.enc.encodeError({ code: 'E_RATE_LIMITED', message: `Too many control messages; retry in ${wait} s`, requestId: '' }));
        return;
      }
      this.controlLimiter.take(key);
      const req = parseControl(data, isBinary);
      id = req.id;
      if (req.type === 'unsubscribe') {
        c.generation++;
        c.sub = null;
        c.replaying = false;
        c.pending = [];
        this.rawSend(c, this.enc.encodeAck({ requestId: id, replayFrom: 0, replayTo: 0, gap: 0 }));
        return;
      }
      this.subscribe(c, req);
    } catch (err) {
      if (err instanceof ControlError || err instanceof AuthError) {
        this.rawSend(c, this.enc.encodeError({ code: err.code, message: err.message, requestId: err instanceof ControlError ? err.requestId || id : id }));
        return;
      }
      // never let an unexpected error escape into the transport's callback; the client learns only that it failed
      this.rawSend(c, this.enc.encodeError({ code: 'E_INTERNAL', message: 'Internal error', requestId: id }));
    }
  }

  private subscribe(c: StreamClient, req: SubscribeRequest): void {
    const p = c.principal;
    authorize(p, 'stream:subscribe');
    const cams = scopeCameras(p, req.cameras);
    const classIds = req.classes ? new Set(req.classes.filter((x): x is number => typeof x === 'number')) : null;
    const classNames = req.classes ? new Set(req.classes.filter((x): x is string => typeof x === 'string')) : null;
    const filterKey =
      req.classes || req.minConfidence > 0
        ? `${req.minConfidence}|${req.classes ? [...req.classes].map(String).sort().join(',') : '*'}`
        : '';
    c.generation++;
    const gen = c.generation;
    c.sub = {
      cameras: cams === '*' ? '*' : new Set(cams),
      kinds: new Set(req.kinds ?? EVENT_KINDS),
      classIds,
      classNames,
      minConfidence: req.minConfidence,
      filterKey,
    };
    c.pending = [];
    c.startSeq = this.log.lastSeq();
    if (req.resumeAfter === undefined) {
      c.replaying = false;
      this.rawSend(c, this.enc.encodeAck({ requestId: req.id, replayFrom: 0, replayTo: 0, gap: 0 }));
      return;
    }
    const after = req.resumeAfter;
    const until = this.log.lastSeq();
    const oldest = this.log.oldestSeq();
    if (after > until) {
      // The client saw numbers this server never gave out: its store was replaced or wiped. Say so, then go live.
      this.rawSend(c, this.enc.encodeError({
        code: 'E_RESUME_AHEAD',
        message: `Resume position ${after} is ahead of this server's last sequence ${until} (its event log was reset); live events follow from ${until + 1}`,
        requestId: req.id,
      }));
    }
    let from = after + 1;
    let gap = 0;
    if (until >= from) {
      if (oldest === 0) {
        gap = until - after;
        from = until + 1;
      } else if (oldest > from) {
        gap = oldest - from;
        from = oldest;
      }
    }
    const replayTo = until >= from ? until : 0;
    this.rawSend(
      c,
      this.enc.encodeAck({ requestId: req.id, replayFrom: replayTo ? from : 0, replayTo, gap }),
    );
    if (!replayTo) {
      c.replaying = false;
      return;
    }
    c.replaying = true;
    void this.replay(c, gen, after, until);
  }

  private async replay(c: StreamClient, gen: number, after: number, until: number): Promise<void> {
    try {
      for await (const item of this.log.since(after, until)) {
        if (c.closed || c.generation !== gen) return;
        c.corkedBytes = 0;
        c.bufferedAtCork = c.socket.getBufferedAmount();
        this.deliver(c, item, {});
        c.corkedBytes = 0;
        if (c.closed) {
          c.socket.end(1013, 'slow consumer: send buffer over limit');
          return;
        }
      }
    } finally {
      if (!c.closed && c.generation === gen) {
        c.replaying = false;
        const pending = c.pending;
        c.pending = [];
        const rest = pending.filter((item) => item.seq > until);
        this.deliverCorked(c, rest, rest.map(() => ({})));
        if (c.closed) c.socket.end(1013, 'slow consumer: send buffer over limit');
      }
    }
  }

  /**
   * Hands the event to the log. A synchronous log (the ring) numbers it now: it is queued for every matching client
   * (delivered at the end of this event-loop turn, or by flush()) and its sequence is returned. A durable log (the
   * store) numbers it at its commit and the hub delivers it then: 0 is returned.
   */
  publish(event: StreamEvent): number {
    const item = this.log.append(event);
    if (item === null) return 0;
    this.enqueue([item]);
    return item.seq;
  }

  private enqueue(items: SequencedEvent[]): void {
    this.totals.published += items.length;
    if (this.clients.size === 0) return;
    for (const item of items) this.outbox.push(item);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** Delivers every queued event now. */
  flush(): void {
    this.flushScheduled = false;
    const items = this.outbox;
    if (items.length === 0) return;
    this.outbox = [];
    const caches: Cache[] = items.map(() => ({}));
    const slow: StreamClient[] = [];
    for (const c of this.clients) {
      if (c.sub === null || c.closed) continue;
      if (c.replaying) {
        for (const item of items) {
          if (!this.matchesCamera(c, item.event)) continue;
          if (c.pending.length < this.maxPending) c.pending.push(item);
          else this.countDrop(c, item.seq);
        }
        continue;
      }
      this.deliverCorked(c, items, caches);
      if (c.closed) slow.push(c);
    }
    // end slow sockets outside their cork
    for (const c of slow) c.socket.end(1013, 'slow consumer: send buffer over limit');
  }

  /**
   * Sends `items` to one client in corked writes of up to CORK_CHUNK bytes. Corked bytes are not in the socket's
   * buffered amount until the cork is released, so the cap check adds them (corkedBytes), and releasing the cork
   * every CORK_CHUNK lets the kernel take its share before the next check — as it does between single sends.
   */
  private deliverCorked(c: StreamClient, items: SequencedEvent[], caches: Cache[]): void {
    if (c.stalled) {
      for (let k = 0; k < items.length; k++) if (items[k]!.seq > c.startSeq) this.deliver(c, items[k]!, caches[k]!);
      return;
    }
    let i = 0;
    while (i < items.length && !c.closed) {
      c.corkedBytes = 0;
      c.bufferedAtCork = c.socket.getBufferedAmount();
      c.socket.cork(() => {
        for (; i < items.length && !c.closed && c.corkedBytes < this.corkChunk; i++)
          if (items[i]!.seq > c.startSeq) this.deliver(c, items[i]!, caches[i]!);
      });
    }
    c.corkedBytes = 0;
  }

  private matchesCamera(c: StreamClient, ev: StreamEvent): boolean {
    const sub = c.sub!;
    if (!sub.kinds.has(ev.kind)) return false;
    const cam = eventCamera(ev);
    return sub.cameras === '*' ? canSeeCamera(c.principal, cam) : sub.cameras.has(cam);
  }

  private classMatch(sub: Subscription, classId: number, className: string): boolean {
    if (sub.classIds === null) return true;
    return sub.classIds.has(classId) || sub.classNames!.has(className);
  }

  private deliver(c: StreamClient, item: SequencedEvent, cache: Cache): void {
    if (!this.matchesCamera(c, item.event)) return;
    const sub = c.sub!;
    const ev = item.event;
    let bytes: Uint8Array | null;
    if (sub.filterKey === '' || ev.kind === 'alerts' || ev.kind === 'camera_status') {
      bytes = cache.shared ??= this.enc.encodeEvent(item);
    } else if (ev.kind === 'tracks') {
      const t = ev.track.track;
      if (!this.classMatch(sub, t.classId, t.className)) return;
      bytes = cache.shared ??= this.enc.encodeEvent(item);
    } else {
      cache.filtered ??= new Map();
      bytes = cache.filtered.get(sub.filterKey) ?? null;
      if (!cache.filtered.has(sub.filterKey)) {
        const kept: Detection[] = ev.batch.detections.filter(
          (d) => d.confidence >= sub.minConfidence && this.classMatch(sub, d.classId, d.className),
        );
        if (kept.length === 0) bytes = null;
        else if (kept.length === ev.batch.detections.length) bytes = cache.shared ??= this.enc.encodeEvent(item);
        else {
          const batch: DetectionBatch = { ...ev.batch, detections: kept };
          bytes = this.enc.encodeDetections(item.seq, batch);
        }
        cache.filtered.set(sub.filterKey, bytes);
      }
      if (bytes === null) return;
    }
    this.sendEvent(c, bytes, item.seq);
  }

  private countDrop(c: StreamClient, seq: number): void {
    if (c.dropped === 0) c.dropFirst = seq;
    c.dropped++;
    c.dropLast = seq;
    c.totalDropped++;
    this.totals.dropped++;
  }

  private sendEvent(c: StreamClient, bytes: Uint8Array, seq: number): void {
    if (c.stalled) {
      this.countDrop(c, seq);
      return;
    }
    const buffered = c.bufferedAtCork + c.corkedBytes;
    if (buffered + bytes.length > this.maxBufferedBytes) {
      if (this.policy === 'disconnect') {
        this.countDrop(c, seq);
        this.totals.slowDisconnects++;
        c.closed = true; // ended by the caller once out of the cork
        return;
      }
      this.countDrop(c, seq);
      c.stalled = true;
      return;
    }
    if (c.dropped > 0) this.sendDropNotice(c);
    this.rawSend(c, bytes);
    c.delivered++;
  }

  private sendDropNotice(c: StreamClient): void {
    const notice = this.enc.encodeDropNotice({
      dropped: c.dropped,
      firstSeq: c.dropFirst,
      lastSeq: c.dropLast,
      totalDropped: c.totalDropped,
    });
    c.dropped = 0;
    this.rawSend(c, notice);
  }

  private rawSend(c: StreamClient, bytes: Uint8Array): void {
    if (c.closed) return;
    const r = c.socket.send(bytes, true);
    c.corkedBytes += bytes.length;
    // 2 = the transport's own limit refused it (should not happen: its limit is set above ours)
    if (r !== 2) {
      this.totals.sent++;
      this.totals.bytesSent += bytes.length;
    }
  }

  /** Closes every client and stops taking events from the log. Idempotent. */
  close(): void {
    this.offDurable?.();
    this.closeAll();
  }

  /** Closes every client (server shutdown). */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    this.outbox = [];
    for (const c of [...this.clients]) {
      if (!c.closed) {
        c.closed = true;
        try {
          c.socket.end(code, reason);
        } catch {
          /* already closed by the peer */
        }
      }
      this.clients.delete(c);
    }
  }
}
