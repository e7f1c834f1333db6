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
 *
 * Replay cost is bounded (a resume from 0 is the cheapest way to make a server work): at most `maxReplays`
 * replays run at once, at most `maxReplaysPerUser` of one user (the others wait in order, their live events held
 * as while replaying); a running replay hands the event loop back every `replayChunk` events, so live delivery and
 * the REST API (/health) keep their turns; and each user may replay `replayBudget.max` events per
 * `replayBudget.windowS` before its replays are paced down to that rate.
 *
 * Sessions (`useSessions`): a socket lives as long as the session that opened it. It is closed with 4001 when its
 * access token expires (unless an `auth` control message brought a fresh one), when the session is logged out or
 * revoked (told by the auth module), and when a control message finds the session gone. Oversized client frames
 * close the socket with 1009. Both are logged and counted.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { silentLogger, type Logger } from '../log.js';
import type { Detection, DetectionBatch } from '../types.js';
import { authorize, canSeeCamera, scopeCameras, type Principal } from '../auth/policy.js';
import { AuthError } from '../auth/errors.js';
import { RateLimiter, type RateLimit } from '../auth/ratelimit.js';
import { WireEncoder } from './codec.js';
import { ControlError, MAX_CONTROL_BYTES, parseControl, type AuthRequest, type SubscribeRequest } from './control.js';
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
  /** Clock (ms) for the control-message rate limit, token expiry and replay pacing. */
  nowMs?: () => number;
  /** Replays running at once, all users together. Default 4. */
  maxReplays?: number;
  /** Replays of one user running at once. Default 1. */
  maxReplaysPerUser?: number;
  /** Events a replay sends before handing the event loop back. Default 256. */
  replayChunk?: number;
  /** Events one user may replay: a burst of `max`, refilled over `windowS`. Default 200000 per 60 s. */
  replayBudget?: RateLimit;
  logger?: Logger;
}

/** Close code for a socket whose session ended (token expired, logged out, revoked). */
export const WS_SESSION_ENDED = 4001;
/** Close code for a client frame over the size limit (RFC 6455 "message too big"). */
export const WS_TOO_BIG = 1009;

/** What the hub needs of the auth module to keep sockets within their sessions. */
export interface SessionGuard {
  /** False once the principal's session (refresh-token family) was logged out or revoked. */
  live(p: Principal): boolean;
  /** Verifies a fresh access token (the `auth` control message); throws AuthError. */
  verify(token: string): Principal;
  /** Tells of revoked sessions (family ids) as they happen; returns the unsubscribe function. */
  onRevoked(listener: (families: readonly string[]) => void): () => void;
}

/** At most `max` replays at once, `maxPerUser` per user; waiters are served in order, skipping cancelled ones. */
class ReplayGate {
  running = 0;
  private readonly perUser = new Map<string, number>();
  private waiting: Array<{ user: string; cancelled: () => boolean; go: (run: boolean) => void }> = [];
  constructor(
    readonly max: number,
    readonly maxPerUser: number,
  ) {}
  get waitingCount(): number {
    return this.waiting.length;
  }
  runningOf(user: string): number {
    return this.perUser.get(user) ?? 0;
  }
  private free(user: string): boolean {
    return this.running < this.max && this.runningOf(user) < this.maxPerUser;
  }
  private take(user: string): void {
    this.running++;
    this.perUser.set(user, this.runningOf(user) + 1);
  }
  /** Resolves true when the replay may run, false when it was cancelled while waiting. */
  acquire(user: string, cancelled: () => boolean): Promise<boolean> {
    this.prune();
    if (this.waiting.length === 0 && this.free(user)) {
      this.take(user);
      return Promise.resolve(true);
    }
    return new Promise((go) => {
      this.waiting.push({ user, cancelled, go });
      this.pump();
    });
  }
  release(user: string): void {
    this.running--;
    const n = this.runningOf(user) - 1;
    if (n > 0) this.perUser.set(user, n);
    else this.perUser.delete(user);
    this.pump();
  }
  private prune(): void {
    if (!this.waiting.some((w) => w.cancelled())) return;
    const keep = [];
    for (const w of this.waiting) {
      if (w.cancelled()) w.go(false);
      else keep.push(w);
    }
    this.waiting = keep;
  }
  pump(): void {
    this.prune();
    for (let i = 0; i < this.waiting.length && this.running < this.max; ) {
      const w = this.waiting[i]!;
      if (this.free(w.user)) {
        this.waiting.splice(i, 1);
        this.take(w.user);
        w.go(true);
      } else i++;
    }
  }
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
  /** Closes the socket when the access token expires. */
  expiryTimer: NodeJS.Timeout | null = null;
  constructor(
    readonly id: number,
    readonly socket: StreamSocket,
    /** Replaced by an `auth` control message (a fresh token of the same user). */
    public principal: Principal,
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
  private readonly nowMs: () => number;
  private readonly gate: ReplayGate;
  private readonly replayChunk: number;
  private readonly replayBudget: RateLimit;
  /** Per user: replay events left and when they were counted (a token bucket taking many at once). */
  private readonly replayTokens = new Map<string, { tokens: number; atMs: number }>();
  private sessions: SessionGuard | null = null;
  private offSessions: (() => void) | null = null;
  private logger: Logger;
  /** Totals, also exported as metrics. */
  readonly totals = {
    sent: 0,
    bytesSent: 0,
    dropped: 0,
    slowDisconnects: 0,
    published: 0,
    replayedEvents: 0,
    sessionCloses: 0,
    oversizedCloses: 0,
  };

  constructor(opts: HubOptions) {
    this.log = opts.log;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 1024 * 1024;
    this.policy = opts.slowClientPolicy ?? 'drop';
    this.maxPending = opts.maxPendingReplay ?? 10_000;
    this.corkChunk = Math.max(1024, Math.min(CORK_CHUNK, Math.floor(this.maxBufferedBytes / 4)));
    this.nowNs = opts.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.nowMs = opts.nowMs ?? Date.now;
    this.controlLimiter = new RateLimiter(opts.controlRate ?? { max: 20, windowS: 10 }, this.nowMs);
    this.gate = new ReplayGate(opts.maxReplays ?? 4, opts.maxReplaysPerUser ?? 1);
    this.replayChunk = opts.replayChunk ?? 256;
    this.replayBudget = opts.replayBudget ?? { max: 200_000, windowS: 60 };
    this.logger = opts.logger ?? silentLogger;
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
    counter('vigil_ws_replayed_events_total', 'Events sent to clients by resume replays', () => totals.replayedEvents);
    counter('vigil_ws_session_closes_total', 'Sockets closed because their session ended (expired, logged out, revoked)', () => totals.sessionCloses);
    counter('vigil_ws_oversized_closes_total', 'Sockets closed with 1009 for a client frame over the size limit', () => totals.oversizedCloses);
    const gate = this.gate;
    new Gauge({
      name: 'vigil_ws_replays_running',
      help: 'Resume replays running now',
      registers,
      collect() {
        this.set(gate.running);
      },
    });
    new Gauge({
      name: 'vigil_ws_replays_waiting',
      help: 'Resume replays waiting for a replay slot (per-user or global limit)',
      registers,
      collect() {
        this.set(gate.waitingCount);
      },
    });
  }

  setLogger(logger: Logger): void {
    this.logger = logger;
  }

  /**
   * Ties every socket to its session (see the file comment): revoked sessions' sockets close at once, the others
   * are re-checked on every control message and closed when their token expires.
   */
  useSessions(guard: SessionGuard): void {
    this.offSessions?.();
    this.sessions = guard;
    this.offSessions = guard.onRevoked((families) => {
      const set = new Set(families);
      for (const c of [...this.clients]) if (!c.closed && set.has(c.principal.family)) this.endSession(c, 'session revoked');
    });
  }

  /** Replay slots and waiters (tests, benchmarks). */
  replayStats(): { running: number; waiting: number; runningOf: (user: string) => number } {
    return { running: this.gate.running, waiting: this.gate.waitingCount, runningOf: (u) => this.gate.runningOf(u) };
  }

  private endClient(c: StreamClient, code: number, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    c.pending = [];
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    c.expiryTimer = null;
    try {
      c.socket.end(code, reason);
    } catch {
      /* already closed by the peer */
    }
  }

  private endSession(c: StreamClient, reason: string): void {
    this.totals.sessionCloses++;
    this.logger.info('stream socket closed: session ended', { user: c.principal.sub, client: c.id, reason });
    this.endClient(c, WS_SESSION_ENDED, reason);
  }

  private scheduleExpiry(c: StreamClient): void {
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    c.expiryTimer = null;
    const exp = c.principal.expiresMs;
    if (exp === undefined || c.closed) return;
    // setTimeout holds at most 2^31-1 ms; a longer token is re-armed when that fires
    const wait = Math.min(2 ** 31 - 1, Math.max(0, exp - this.nowMs()));
    c.expiryTimer = setTimeout(() => {
      c.expiryTimer = null;
      if (this.nowMs() >= exp) this.endSession(c, 'token expired');
      else this.scheduleExpiry(c);
    }, wait);
    c.expiryTimer.unref();
  }

  /** False (and the socket closed) when the client's session is over. */
  private sessionOk(c: StreamClient): boolean {
    const exp = c.principal.expiresMs;
    if (exp !== undefined && this.nowMs() >= exp) {
      this.endSession(c, 'token expired');
      return false;
    }
    if (this.sessions && !this.sessions.live(c.principal)) {
      this.endSession(c, 'session revoked');
      return false;
    }
    return true;
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
    this.scheduleExpiry(c);
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
    if (c.expiryTimer) clearTimeout(c.expiryTimer);
    c.expiryTimer = null;
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
    if (c.closed) return;
    // every control message re-checks the session: a logged-out token must not subscribe or replay
    if (!this.sessionOk(c)) return;
    if (data.byteLength > MAX_CONTROL_BYTES) {
      this.totals.oversizedCloses++;
      this.logger.warn('stream socket closed: control message too big', { user: c.principal.sub, client: c.id, bytes: data.byteLength, limit: MAX_CONTROL_BYTES });
      this.endClient(c, WS_TOO_BIG, `control message over ${MAX_CONTROL_BYTES} bytes`);
      return;
    }
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
      if (req.type === 'auth') {
        this.reauth(c, req);
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

  /** A fresh access token of the same user: the socket lives on until that one expires. */
  private reauth(c: StreamClient, req: AuthRequest): void {
    if (!this.sessions) throw new ControlError('Re-authentication is not available on this server', req.id);
    const p = this.sessions.verify(req.token);
    if (p.sub !== c.principal.sub || p.source !== c.principal.source) throw new AuthError('E_AUTH_INVALID', 'The token is for another user');
    authorize(p, 'stream:subscribe');
    c.principal = p;
    // a narrower scope applies to the current subscription at once
    if (c.sub && c.sub.cameras !== '*') c.sub.cameras = new Set([...c.sub.cameras].filter((id) => canSeeCamera(p, id)));
    this.scheduleExpiry(c);
    this.rawSend(c, this.enc.encodeAck({ requestId: req.id, replayFrom: 0, replayTo: 0, gap: 0 }));
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
    if (this.log.ready === false) {
      c.sub = null;
      this.rawSend(c, this.enc.encodeError({
        code: 'E_RESUME_NOT_READY',
        message: 'This node is still reading the cluster event stream; send the subscribe again shortly',
        requestId: req.id,
      }));
      return;
    }
    const until = this.log.lastSeq();
    const oldest = this.log.oldestSeq();
    if (after > until && this.log.sharedSequence) {
      // Another node of the cluster numbered it: this one delivers from after it once it gets there.
      c.startSeq = after;
      c.replaying = false;
      this.rawSend(c, this.enc.encodeAck({ requestId: req.id, replayFrom: 0, replayTo: 0, gap: 0 }));
      return;
    }
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
    const user = c.principal.sub;
    const stale = (): boolean => c.closed || c.generation !== gen;
    const run = await this.gate.acquire(user, stale);
    try {
      if (!run) return;
      let n = 0;
      for await (const item of this.log.since(after, until)) {
        if (stale()) return;
        c.corkedBytes = 0;
        c.bufferedAtCork = c.socket.getBufferedAmount();
        this.deliver(c, item, {});
        c.corkedBytes = 0;
        if (c.closed) {
          c.socket.end(1013, 'slow consumer: send buffer over limit');
          return;
        }
        if (++n === this.replayChunk) {
          this.totals.replayedEvents += n;
          await this.pace(user, n);
          n = 0;
        }
      }
      this.totals.replayedEvents += n;
      this.charge(user, n);
    } finally {
      if (run) this.gate.release(user);
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

  /** Takes `n` events from the user's replay budget; returns the ms to wait before the next chunk (0: none). */
  private charge(user: string, n: number): number {
    const { max, windowS } = this.replayBudget;
    const rate = max / (windowS * 1000); // events per ms
    const t = this.nowMs();
    const b = this.replayTokens.get(user) ?? { tokens: max, atMs: t };
    b.tokens = Math.min(max, b.tokens + (t - b.atMs) * rate) - n;
    b.atMs = t;
    this.replayTokens.set(user, b);
    if (this.replayTokens.size > 10_000) {
      const oldest = this.replayTokens.keys().next();
      if (!oldest.done && oldest.value !== user) this.replayTokens.delete(oldest.value);
    }
    return b.tokens >= 0 ? 0 : Math.ceil(-b.tokens / rate);
  }

  /** Between two chunks: always one event-loop turn (live delivery, REST), longer when the user is over budget. */
  private async pace(user: string, n: number): Promise<void> {
    const wait = this.charge(user, n);
    if (wait === 0) await new Promise<void>((r) => setImmediate(r));
    else await new Promise<void>((r) => setTimeout(r, Math.min(wait, 60_000)).unref());
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
    this.offSessions?.();
    this.offSessions = null;
    this.closeAll();
  }

  /** Closes every client (server shutdown). */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    this.outbox = [];
    for (const c of [...this.clients]) {
      if (c.expiryTimer) clearTimeout(c.expiryTimer);
      c.expiryTimer = null;
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
