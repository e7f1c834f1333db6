/**
 * Membership and camera ownership on one node.
 *
 * - Membership: every `heartbeatMs` the node puts its member record (capacity, draining, the cameras it runs with
 *   their fencing tokens, load) into the members bucket under its id. A member is live while its record keeps
 *   changing: another node judges that by when *it* saw the last change (monotonic clock), not by timestamps, so
 *   clocks need not agree.
 * - Ownership: a camera belongs to the node named by its key in the leases bucket. Every write is a
 *   compare-and-set on the key's revision (`create`, `update(key, value, revision)`, `delete(key, {previousSeq})`),
 *   so of two nodes racing for a camera exactly one wins. The revision of the winning claim is the camera's
 *   **fencing token**: revisions only grow in the bucket, so a later owner always has a larger token; renewals
 *   carry the token in the value. Every event the camera produces carries it (src/cluster/bridge.ts), and readers
 *   drop events with a token lower than one already seen for that camera.
 * - Expiry without clocks: a lease is free when its key was deleted (a clean hand-off) or when this node has seen
 *   the same revision for `leaseTtlMs + graceMs`. The owner renews every `leaseTtlMs / 3`; it stops a camera when
 *   `leaseTtlMs - safetyMs` have passed since it *sent* its last successful renewal (so before anyone else may
 *   claim), and drops it at once when a renewal finds the revision moved to someone else's write.
 * - Renewal survives short blips: each request has a short timeout (a third of `leaseTtlMs - safetyMs`, 250 ms to
 *   2 s) and a failed one is retried 250 ms later while the deadline is ahead, so one lost request does not use up the
 *   budget; when the connection comes back (the client's `reconnect` status) every lease is renewed at once, not at
 *   the next period, superseding a request that was sent into the dead connection (the client drops what it
 *   buffered while disconnected). A request that timed out here may still have been written: the next one then
 *   finds the revision moved, reads the key, and when the newer revision is this incarnation's own write under the
 *   same token it adopts it, with the deadline counted from the *first* request sent against the previous revision
 *   (the earliest that write can have been made, so the bound above still holds).
 * - A node that loses NATS stops claiming (claims need a connection and a heartbeat acknowledged within two
 *   intervals) and keeps running its cameras until their deadlines, then stops them: no double ownership in a
 *   partition, at the price of the cameras being dark for about `graceMs + safetyMs` on a failover.
 * - A node's incarnation (random per start) is part of its leases: after a restart the node does not mistake the
 *   leases of its previous life for its own; they expire like any dead node's.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { KvEntry } from '@nats-io/kv';
import type { Logger } from '../log.js';
import { decodeJson, encodeJson } from './codec.js';
import type { ClusterBackend } from './nats.js';
import type { ClusterOptions } from './options.js';
import { place, type LeaseView, type MemberView } from './placement.js';

export interface LeaseValue {
  node: string;
  incarnation: string;
  /** null in the claim write itself: its revision is the token. */
  fence: number | null;
  /** Wall-clock ms of the write (informational: `vigil cluster status` shows lease ages from it). */
  at: number;
}

export interface MemberValue {
  node: string;
  incarnation: string;
  capacity: number;
  draining: boolean;
  apiUrl: string | null;
  cameras: Array<{ id: string; fence: number }>;
  load: NodeLoad;
  startedAt: number;
  at: number;
}

export interface NodeLoad {
  /** Cameras running here. */
  cameras: number;
  /** Share of the inference thread's time spent busy (0..1); null without a detector. */
  inferenceBusy: number | null;
  /** Process CPU in % of one core over the last heartbeat interval. */
  cpuPct: number;
  rssMb: number;
}

/** What the coordinator asks of the node: start and stop its cameras (src/cluster/service.ts does it). */
export interface CameraRunner {
  /** The camera ids of the cluster (shared config). */
  cameraIds(): string[];
  /** Start it here under `fence`; false: it cannot run here (unknown settings), the lease is given back. */
  start(cameraId: string, fence: number): boolean;
  stop(cameraId: string, reason: string): void;
  load(): Omit<NodeLoad, 'cameras'>;
}

interface Observed<T> {
  revision: number;
  /** null: deleted or purged. */
  value: T | null;
  /** performance.now() when this revision was first seen here. */
  seenAt: number;
}

interface Held {
  fence: number;
  revision: number;
  /** performance.now() past which the camera must not run (last successful renewal sent + ttl - safety). */
  deadline: number;
  since: number;
  renewing: boolean;
  /** Bumped by each renewal run; a run superseded by a newer one (on reconnect) stops retrying. */
  attempt: number;
  /** performance.now() of the first renewal sent against `revision` (null: none yet). */
  firstSentAt: number | null;
}

export interface CoordinatorEvents {
  /** A camera started here under a new fencing token. */
  acquired: [cameraId: string, fence: number];
  /** A camera stopped here (reason: released, lease lost, deadline passed, drained, shutdown). */
  lost: [cameraId: string, fence: number, reason: string];
}

export interface CoordinatorStats {
  claims: number;
  claimConflicts: number;
  renewals: number;
  renewFailures: number;
  /** Cameras stopped because their lease could not be renewed in time (partition, broker loss). */
  selfFenced: number;
  /** Cameras stopped because a renewal found another owner. */
  leasesLost: number;
  released: number;
}

const WRONG_LAST_SEQUENCE = /wrong last sequence|10071/i;

export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly incarnation = randomUUID().slice(0, 8);
  readonly #o: ClusterOptions;
  readonly #b: ClusterBackend;
  readonly #runner: CameraRunner;
  readonly #log: Logger;
  readonly #leases = new Map<string, Observed<LeaseValue>>();
  readonly #members = new Map<string, Observed<MemberValue>>();
  readonly #held = new Map<string, Held>();
  readonly #claiming = new Set<string>();
  readonly #startedAt = Date.now();
  #draining = false;
  #connected = true;
  #lastHeartbeatOk = -Infinity;
  #lastHandOff = -Infinity;
  #timers: NodeJS.Timeout[] = [];
  #watchers: Array<{ stop(): void }> = [];
  #closed = false;
  #ticking = false;
  readonly stats: CoordinatorStats = { claims: 0, claimConflicts: 0, renewals: 0, renewFailures: 0, selfFenced: 0, leasesLost: 0, released: 0 };

  constructor(options: ClusterOptions, backend: ClusterBackend, runner: CameraRunner, log: Logger) {
    super();
    this.#o = options;
    this.#b = backend;
    this.#runner = runner;
    this.#log = log;
  }

  get nodeId(): string {
    return this.#o.nodeId;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * The fencing token under which `cameraId` runs here; undefined when it does not run here, or when its lease could
   * have expired already (a starved event loop can run a frame callback before the timer that stops the camera):
   * nothing is published under a token past its deadline.
   */
  fenceOf(cameraId: string): number | undefined {
    const h = this.#held.get(cameraId);
    return h && performance.now() < h.deadline ? h.fence : undefined;
  }

  /** Cameras running here with their tokens. */
  held(): Array<{ id: string; fence: number; heldForMs: number }> {
    const now = performance.now();
    return [...this.#held].map(([id, h]) => ({ id, fence: h.fence, heldForMs: Math.round(now - h.since) }));
  }

  /** Live members as seen here. */
  liveMembers(): MemberValue[] {
    const now = performance.now();
    return [...this.#members.values()].filter((m) => m.value && now - m.seenAt < this.#memberTimeout()).map((m) => m.value!);
  }

  async start(): Promise<void> {
    const b = this.#b;
    void this.#watchStatus();
    await this.#watch(b.members, (e) => this.#observe(this.#members, e.key, e, (v) => decodeJson<MemberValue>(v)));
    await this.#watch(b.leases, (e) => this.#observe(this.#leases, e.key, e, (v) => decodeJson<LeaseValue>(v)));
    await this.#watch(b.control, (e) => {
      if (e.key === `drain.${this.#o.nodeId}`) this.#setDraining(e.operation === 'PUT');
    });
    await this.#heartbeat();
    this.#every(this.#o.heartbeatMs, () => this.#heartbeat());
    this.#every(this.#o.leaseTtlMs / 3, () => this.#renewAll());
    this.#every(this.#o.scanIntervalMs, () => this.#tick());
  }

  /** Gives every camera back (stopped here first, then the lease deleted so others take it at once). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    for (const id of [...this.#held.keys()]) await this.#release(id, 'shutdown');
    await this.#b.members.delete(this.#o.nodeId).catch(() => {});
    for (const w of this.#watchers) w.stop();
  }

  #every(ms: number, fn: () => Promise<void> | void): void {
    const t = setInterval(() => void Promise.resolve(fn()).catch((err: unknown) => this.#log.warn(`cluster: ${(err as Error).message}`)), ms);
    t.unref();
    this.#timers.push(t);
  }

  #memberTimeout(): number {
    return this.#o.heartbeatMs * 3 + this.#o.graceMs;
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#b.nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false;
        this.#log.warn('cluster: disconnected from NATS; no new claims, cameras stop when their leases could expire');
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        this.#log.info(`cluster: reconnected to NATS (${s.server})`);
        // Renew now, not at the next period: a request sent while disconnected was dropped by the client and would
        // only fail at its timeout, and the budget left after a blip may be shorter than one period.
        void this.#renewAll(true).catch((err: unknown) => this.#log.warn(`cluster: ${(err as Error).message}`));
        void this.#heartbeat();
      }
    }
  }

  async #watch(kv: ClusterBackend['members'], on: (e: KvEntry) => void): Promise<void> {
    const it = await kv.watch({});
    this.#watchers.push(it);
    void (async () => {
      for await (const e of it) {
        try {
          on(e);
        } catch (err) {
          this.#log.warn(`cluster: bad entry ${e.key} in ${e.bucket}: ${(err as Error).message}`);
        }
      }
    })();
  }

  #observe<T>(map: Map<string, Observed<T>>, key: string, e: KvEntry, decode: (v: Uint8Array) => T): void {
    const prev = map.get(key);
    if (prev && prev.revision >= e.revision) return;
    map.set(key, { revision: e.revision, value: e.operation === 'PUT' ? decode(e.value) : null, seenAt: performance.now() });
  }

  #setDraining(on: boolean): void {
    if (this.#draining === on) return;
    this.#draining = on;
    this.#log.info(on ? 'cluster: draining (handing every camera to other nodes)' : 'cluster: drain lifted');
    void this.#heartbeat();
  }

  #canClaim(): boolean {
    return !this.#closed && this.#connected && performance.now() - this.#lastHeartbeatOk < this.#o.heartbeatMs * 2 + 1000;
  }

  async #heartbeat(): Promise<void> {
    if (this.#closed) return;
    const value: MemberValue = {
      node: this.#o.nodeId,
      incarnation: this.incarnation,
      capacity: this.#o.capacity,
      draining: this.#draining,
      apiUrl: this.#o.apiUrl,
      cameras: [...this.#held].map(([id, h]) => ({ id, fence: h.fence })),
      load: { cameras: this.#held.size, ...this.#runner.load() },
      startedAt: this.#startedAt,
      at: Date.now(),
    };
    try {
      await this.#b.members.put(this.#o.nodeId, encodeJson(value));
      this.#lastHeartbeatOk = performance.now();
    } catch (err) {
      this.#log.debug?.(`cluster: heartbeat failed: ${(err as Error).message}`);
    }
  }

  /** The lease view placement works on: this incarnation's leases under the node id, others' as they are. */
  #leaseView(now: number): Map<string, LeaseView> {
    const out = new Map<string, LeaseView>();
    const ttl = this.#o.leaseTtlMs + this.#o.graceMs;
    for (const [id, l] of this.#leases) {
      if (this.#held.has(id)) {
        out.set(id, { node: this.#o.nodeId, expired: false });
        continue;
      }
      if (!l.value) continue;
      const node = l.value.node === this.#o.nodeId && l.value.incarnation !== this.incarnation ? `${l.value.node}~${l.value.incarnation}` : l.value.node;
      // A lease naming this incarnation that it does not hold is a claim whose answer was lost: it expires.
      out.set(id, { node: node === this.#o.nodeId ? `${node}~lost` : node, expired: now - l.seenAt >= ttl });
    }
    return out;
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      const now = performance.now();
      for (const [id, h] of this.#held) {
        if (now >= h.deadline) {
          this.stats.selfFenced++;
          this.#drop(id, 'lease not renewed before it could expire');
        }
      }
      const known = new Set(this.#runner.cameraIds());
      for (const id of [...this.#held.keys()]) if (!known.has(id)) await this.#release(id, 'removed from the configuration');
      if (!this.#canClaim()) return;
      const leases = this.#leaseView(now);
      const counts = new Map<string, number>();
      for (const l of leases.values()) if (!l.expired) counts.set(l.node, (counts.get(l.node) ?? 0) + 1);
      const members: MemberView[] = this.liveMembers().map((m) => ({ node: m.node, capacity: m.capacity, draining: m.draining, owned: counts.get(m.node) ?? 0 }));
      if (!members.some((m) => m.node === this.#o.nodeId)) {
        members.push({ node: this.#o.nodeId, capacity: this.#o.capacity, draining: this.#draining, owned: counts.get(this.#o.nodeId) ?? 0 });
      }
      const ttl = this.#o.leaseTtlMs + this.#o.graceMs;
      const decision = place({
        me: this.#o.nodeId,
        members,
        cameras: [...known].sort(),
        leases,
        freeForMs: (c) => {
          const l = this.#leases.get(c);
          if (!l) return Infinity;
          return l.value ? now - l.seenAt - ttl : now - l.seenAt;
        },
        heldForMs: (c) => now - (this.#held.get(c)?.since ?? now),
        fallbackMs: this.#o.graceMs + this.#o.scanIntervalMs * 2,
        minHoldMs: this.#o.minHoldMs,
        mayHandOff: now - this.#lastHandOff >= this.#o.rebalanceIntervalMs,
      });
      for (const id of decision.release) {
        this.#lastHandOff = now;
        await this.#release(id, this.#draining ? 'drained' : 'handed to a less loaded node');
      }
      for (const id of decision.claim) await this.#claim(id);
    } finally {
      this.#ticking = false;
    }
  }

  async #claim(id: string): Promise<void> {
    if (this.#claiming.has(id) || this.#held.has(id)) return;
    this.#claiming.add(id);
    const seen = this.#leases.get(id);
    const value = encodeJson({ node: this.#o.nodeId, incarnation: this.incarnation, fence: null, at: Date.now() } satisfies LeaseValue);
    const sent = performance.now();
    try {
      const revision = !seen || seen.value === null ? await this.#b.leases.create(id, value) : await this.#b.leases.update(id, value, seen.revision);
      this.stats.claims++;
      const held: Held = { fence: revision, revision, deadline: sent + this.#o.leaseTtlMs - this.#o.safetyMs, since: performance.now(), renewing: false, attempt: 0, firstSentAt: null };
      this.#held.set(id, held);
      this.#log.info(`cluster: ${id} acquired`, { fence: revision });
      if (!this.#runner.start(id, revision)) {
        await this.#release(id, 'cannot run here');
        return;
      }
      this.emit('acquired', id, revision);
      void this.#heartbeat();
    } catch (err) {
      // Someone else won the race (or the key moved since we looked): the watch will show who.
      this.stats.claimConflicts++;
      this.#log.debug?.(`cluster: claim of ${id} failed: ${(err as Error).message}`);
    } finally {
      this.#claiming.delete(id);
    }
  }

  async #renewAll(urgent = false): Promise<void> {
    await Promise.all([...this.#held.keys()].map((id) => this.#renew(id, urgent)));
  }

  /** Per-request timeout of a renewal: short, so that a lost request leaves time for retries within the budget. */
  #renewTimeoutMs(): number {
    return Math.round(Math.min(2000, Math.max(250, (this.#o.leaseTtlMs - this.#o.safetyMs) / 3)));
  }

  /**
   * Renews the lease of `id`, retrying a failed request 250 ms later until one succeeds, the
   * deadline passes, the connection is down (the reconnect renews), or a newer run supersedes this one. `urgent`
   * (on reconnect) starts a new run even while one is waiting on a request.
   */
  async #renew(id: string, urgent = false): Promise<void> {
    const h = this.#held.get(id);
    if (!h || this.#closed || (h.renewing && !urgent)) return;
    const attempt = ++h.attempt;
    h.renewing = true;
    const current = (): boolean => this.#held.get(id) === h && h.attempt === attempt && !this.#closed;
    try {
      while (current() && this.#connected && performance.now() < h.deadline) {
        const expected = h.revision;
        const sent = performance.now();
        h.firstSentAt ??= sent;
        try {
          const value = encodeJson({ node: this.#o.nodeId, incarnation: this.incarnation, fence: h.fence, at: Date.now() } satisfies LeaseValue);
          const revision = await this.#b.leases.update(id, value, expected, this.#renewTimeoutMs());
          // Recorded even when superseded: a success is a success (the deadline only moves forward).
          this.#renewed(id, h, revision, sent);
          this.stats.renewals++;
          return;
        } catch (err) {
          this.stats.renewFailures++;
          if (this.#held.get(id) !== h) return;
          if (WRONG_LAST_SEQUENCE.test((err as Error).message)) {
            const outcome = await this.#recheck(id, h, expected);
            if (outcome === 'lost') return;
            if (outcome === 'adopted') continue;
          } else {
            this.#log.debug?.(`cluster: renewal of ${id} failed: ${(err as Error).message}`);
          }
          if (current()) await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      if (h.attempt === attempt) h.renewing = false;
    }
  }

  /** A renewal sent at `sent` was written as `revision`. */
  #renewed(id: string, h: Held, revision: number, sent: number): void {
    if (this.#held.get(id) !== h) return;
    if (revision > h.revision) {
      h.revision = revision;
      h.firstSentAt = null;
    }
    h.deadline = Math.max(h.deadline, sent + this.#o.leaseTtlMs - this.#o.safetyMs);
  }

  /**
   * A renewal against `expected` found the key moved. Either an earlier renewal of ours that timed out here was
   * written after all (adopt it: its deadline counts from the first request sent against `expected`, the earliest
   * it can have been made), or someone else wrote it (drop the camera). 'unknown': the key could not be read.
   */
  async #recheck(id: string, h: Held, expected: number): Promise<'adopted' | 'lost' | 'unknown'> {
    const firstSentAt = h.revision === expected ? h.firstSentAt : null;
    let e: KvEntry | null;
    try {
      e = await this.#b.leases.get(id);
    } catch (err) {
      this.#log.debug?.(`cluster: reading the lease of ${id} failed: ${(err as Error).message}`);
      return 'unknown';
    }
    if (this.#held.get(id) !== h) return 'lost';
    if (h.revision !== expected) return 'adopted'; // another run moved it meanwhile: go on from there
    let v: LeaseValue | null = null;
    if (e && e.operation === 'PUT') {
      try {
        v = decodeJson<LeaseValue>(e.value);
      } catch {
        v = null;
      }
    }
    if (e && v && e.revision > expected && v.node === this.#o.nodeId && v.incarnation === this.incarnation && v.fence === h.fence && firstSentAt !== null) {
      this.#renewed(id, h, e.revision, firstSentAt);
      this.#log.debug?.(`cluster: ${id}: adopted renewal ${e.revision} that timed out here`);
      return 'adopted';
    }
    this.stats.leasesLost++;
    this.#drop(id, 'lease taken by another node');
    return 'lost';
  }

  /** Stops the camera here and forgets it (its lease is left to expire or already belongs to someone else). */
  #drop(id: string, reason: string): void {
    const h = this.#held.get(id);
    if (!h) return;
    // Stop first, while the camera's events still find their token, then forget the lease.
    this.#runner.stop(id, reason);
    this.#held.delete(id);
    this.#log.warn(`cluster: ${id} stopped: ${reason}`, { fence: h.fence });
    this.emit('lost', id, h.fence, reason);
  }

  /** Stops the camera here, then deletes its lease (compare-and-set) so another node may claim it at once. */
  async #release(id: string, reason: string): Promise<void> {
    const h = this.#held.get(id);
    if (!h) return;
    this.#runner.stop(id, reason);
    this.#held.delete(id);
    this.stats.released++;
    this.#log.info(`cluster: ${id} released: ${reason}`, { fence: h.fence });
    this.emit('lost', id, h.fence, reason);
    try {
      await this.#b.leases.delete(id, { previousSeq: h.revision });
    } catch {
      // Disconnected or already moved: the lease expires on its own.
    }
    void this.#heartbeat();
  }
}
