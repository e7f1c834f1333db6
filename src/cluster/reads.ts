/**
 * Cluster-wide answers for `GET /cameras`, `GET /alerts` (+ `/alerts/{id}`, acknowledge) and `POST /search`:
 * scatter-gather over NATS request-reply (src/cluster/gather.ts) to every node, merged here.
 *
 * Why these go to the nodes while `GET /detections` stays a local read: detections, tracks and camera status are
 * replicated into every node's store by the events stream (src/cluster/bridge.ts). What is not replicated lives
 * only on one node: a camera's live state (on its owner), an alert's record and its state machine (in the rules
 * store of the node whose rule engine raised it; other nodes only have its stream events), and track embeddings
 * (in the vector index of the node that ran the camera).
 *
 * Which nodes are asked: every node with a member record in the members bucket, live or not, so a node that stopped
 * answering (killed, SIGSTOPped, cut off) is named in `missing` (`partial: true`) until its record ages out of the
 * bucket; a node that stopped cleanly deletes its record (its cameras moved; its alerts are then not reachable
 * until it comes back). Each node's reply waits at most `cluster.queryTimeoutMs`.
 *
 * Merges: cameras by id (the lease names the owner, whose reply gives the live state); alerts by alert id, which
 * starts with the raise time (20 digits), the order a single node's store lists them in, so a page of the cluster
 * is the first `limit` of the union of every node's page after the same cursor; search hits by score (each node's
 * top k, then the top k of the union, which is the top k of one index holding every vector).
 *
 * Acknowledge is forwarded to the node holding the alert (one writer per alert: its rule engine may still update
 * or clear it, and its transition then reaches the stream from that node like every other transition), instead of
 * a write through a shared path that would race the engine.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { CameraManager } from '../camera/manager.js';
import type { Logger } from '../log.js';
import { RuleNotFoundError, type RuleService } from '../rules/service.js';
import type { AlertFilter, AlertPage } from '../rules/store.js';
import type { SearchHit, SearchRequest, VectorIndex } from '../store/vector-index.js';
import type { Alert, CameraInfo } from '../types.js';
import { VigilError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { pathToFileURL } from 'node:url';
import { decodeJson } from './codec.js';
import type { LeaseValue, MemberValue } from './coordinator.js';
import { gather, respond } from './gather.js';
import type { ClusterBackend } from './nats.js';
import type { SharedConfig } from './shared-config.js';

/** Some node that must answer did not: the answer cannot be given (E_CLUSTER_PARTIAL, HTTP 503). */
export class ClusterPartialError extends VigilError {
  readonly status = 503;
  constructor(
    message: string,
    readonly missing: string[],
  ) {
    super('E_CLUSTER_PARTIAL', message);
  }
}

export interface PartialInfo {
  /** true when some node did not answer in time (`missing` names them): the answer may lack their data. */
  partial: boolean;
  missing: string[];
}

export interface ClusterCamera extends CameraInfo {
  /** Node holding the camera's lease; null: no node runs it now. */
  node: string | null;
  fence: number | null;
  /** ms since the owner last wrote the lease (claim or renewal), by its clock vs this one; null without a lease. */
  leaseAgeMs: number | null;
  /** false: the owner did not answer, `status` is what the cluster configuration says, not the live state. */
  live: boolean;
}

/** The cluster reads the REST routes use when the server is a cluster node. */
export interface ClusterReads {
  readonly nodeId: string;
  cameras(): Promise<{ cameras: ClusterCamera[] } & PartialInfo>;
  alerts(filter: AlertFilter): Promise<AlertPage & PartialInfo>;
  /** The alert wherever it is stored; throws RuleNotFoundError (or ClusterPartialError when a node did not answer). */
  alert(id: string): Promise<{ alert: Alert; node: string }>;
  acknowledge(id: string, user: string): Promise<Alert>;
  /** Throws VigilError E_NOT_FOUND for an unknown example track (ClusterPartialError when a node did not answer). */
  search(req: SearchRequest): Promise<{ hits: SearchHit[] } & PartialInfo>;
}

export interface ClusterReadsDeps {
  nodeId: string;
  backend: ClusterBackend;
  shared: SharedConfig;
  cameras: CameraManager;
  rules: () => RuleService | null;
  vectors: () => Pick<VectorIndex, 'search' | 'getTrack'> | null;
  /** The fencing token a camera runs under here (coordinator). */
  fenceOf: (cameraId: string) => number | undefined;
  timeoutMs: number;
  log: Logger;
}

type WireFilter = Omit<AlertFilter, 'since' | 'until'> & { since?: string; until?: string };
interface WireSearch {
  req: Omit<SearchRequest, 'vector' | 'track'> & { vector: number[] };
  /** The example track, left out of the results (search by track). */
  exclude: { cameraId: string; trackId: number } | null;
}

/** Follows a bucket's current values (PUT / DEL) in a map. */
async function follow<T>(kv: KV, into: Map<string, T>, log: Logger): Promise<{ stop(): void }> {
  const it = await kv.watch({});
  void (async () => {
    for await (const e of it as AsyncIterable<KvEntry>) {
      try {
        if (e.operation === 'PUT') into.set(e.key, decodeJson<T>(e.value));
        else into.delete(e.key);
      } catch (err) {
        log.warn(`cluster: bad entry ${e.key} in ${e.bucket}: ${(err as Error).message}`);
      }
    }
  })();
  return it;
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class NodeReads implements ClusterReads {
  readonly #d: ClusterReadsDeps;
  readonly #members = new Map<string, MemberValue>();
  readonly #leases = new Map<string, LeaseValue & { revision?: number }>();
  readonly #off: Array<() => void> = [];

  constructor(deps: ClusterReadsDeps) {
    this.#d = deps;
  }

  get nodeId(): string {
    return this.#d.nodeId;
  }

  async start(): Promise<void> {
    const d = this.#d;
    const b = d.backend;
    for (const [kv, map] of [[b.members, this.#members], [b.leases, this.#leases]] as const) {
      const w = await follow(kv, map as Map<string, unknown>, d.log);
      this.#off.push(() => w.stop());
    }
    const on = (what: string, fn: (req: unknown) => unknown): void =>
      void this.#off.push(respond(b, d.nodeId, what, fn, (err) => d.log.warn(`cluster: ${what} query not answered: ${(err as Error).message}`)));
    on('cameras', () => d.cameras.list().map((c) => ({ ...d.cameras.info(c), fence: d.fenceOf(c.id) ?? null })));
    on('alerts', (req) => {
      const rules = d.rules();
      if (!rules) return { alerts: [], nextCursor: null };
      const { since, until, ...w } = req as WireFilter;
      const f: AlertFilter = { ...w, ...(since !== undefined ? { since: BigInt(since) } : {}), ...(until !== undefined ? { until: BigInt(until) } : {}) };
      return rules.listAlerts(f);
    });
    on('alert', (req) => {
      try {
        return d.rules()?.getAlert((req as { id: string }).id) ?? null;
      } catch (err) {
        if (err instanceof RuleNotFoundError) return null;
        throw err;
      }
    });
    on(`ack.${d.nodeId}`, async (req) => {
      const r = req as { id: string; user: string };
      const rules = d.rules();
      if (!rules) return null;
      try {
        return await rules.acknowledge(r.id, r.user);
      } catch (err) {
        if (err instanceof RuleNotFoundError) return null;
        throw err;
      }
    });
    on('track', (req) => {
      const r = req as { cameraId: string; trackId: number };
      const t = d.vectors()?.getTrack(r.cameraId, r.trackId);
      return t ? Array.from(t.vector) : null;
    });
    on('search', (req) => {
      const r = req as WireSearch;
      const index = d.vectors();
      if (!index) return [];
      const k = r.req.k + (r.exclude ? 1 : 0);
      let hits: SearchHit[];
      try {
        hits = index.search({ ...r.req, k, vector: r.req.vector });
      } catch (err) {
        // A request every node refuses alike (a zero vector, a wrong length): the caller answers 400 with it.
        if (err instanceof VigilError && err.code === 'E_ARGUMENT') return { error: { code: err.code, message: err.message } };
        throw err;
      }
      return r.exclude ? hits.filter((h) => !(h.cameraId === r.exclude!.cameraId && h.trackId === r.exclude!.trackId)).slice(0, r.req.k) : hits;
    });
  }

  stop(): void {
    for (const off of this.#off.splice(0).reverse()) off();
  }

  /** Nodes with a member record (live or not yet aged out), this one included, sorted. */
  #expected(): string[] {
    const out = new Set(this.#members.keys());
    out.add(this.#d.nodeId);
    return [...out].sort();
  }

  #gather<T>(what: string, req: unknown, expected = this.#expected()) {
    return gather<T>(this.#d.backend, what, req, expected, this.#d.timeoutMs);
  }

  async cameras(): Promise<{ cameras: ClusterCamera[] } & PartialInfo> {
    const g = await this.#gather<Array<CameraInfo & { fence: number | null }>>('cameras', null);
    const now = Date.now();
    const live = new Map<string, { node: string; info: CameraInfo & { fence: number | null } }>();
    for (const r of g.replies) {
      for (const c of r.data) {
        // The lease names the owner; a node still stopping a camera it lost does not override it.
        const owner = this.#leases.get(c.id)?.node;
        if (!live.has(c.id) || owner === r.node) live.set(c.id, { node: r.node, info: c });
      }
    }
    const ids = new Set([...this.#d.shared.cameraIds(), ...live.keys()]);
    const out: ClusterCamera[] = [];
    for (const id of ids) {
      const lease = this.#leases.get(id);
      const l = live.get(id);
      const leaseAgeMs = lease ? Math.max(0, now - lease.at) : null;
      if (l && (!lease || lease.node === l.node)) {
        const { fence, ...info } = l.info;
        out.push({ ...info, node: l.node, fence: fence ?? lease?.fence ?? null, leaseAgeMs, live: true });
        continue;
      }
      const s = this.#d.shared.camera(id);
      if (!s) continue;
      const src = s.source;
      const shown = src.kind === 'rtsp' ? redactUrl(src.url) : src.kind === 'file' ? src.path : `test:${src.pattern}`;
      const streamUrl = src.kind === 'file' ? pathToFileURL(src.path).href : shown;
      out.push({
        id,
        name: s.name,
        // Not running anywhere (no lease), or its owner did not answer: the configuration's view only.
        status: 'stopped',
        source: shown,
        width: null,
        height: null,
        fps: 0,
        lastError: null,
        location: s.location ?? null,
        streamUrl,
        lastSeenMs: null,
        origin: s.origin ?? 'config',
        detection: true,
        node: lease?.node ?? null,
        fence: lease ? (lease.fence ?? null) : null,
        leaseAgeMs,
        live: false,
      });
    }
    return { cameras: out.sort(byId), partial: g.partial, missing: g.missing };
  }

  async alerts(filter: AlertFilter): Promise<AlertPage & PartialInfo> {
    const limit = filter.limit ?? 100;
    const { since, until, ...rest } = filter;
    const wire: WireFilter = { ...rest, ...(since !== undefined ? { since: since.toString() } : {}), ...(until !== undefined ? { until: until.toString() } : {}) };
    const g = await this.#gather<AlertPage>('alerts', wire);
    const desc = (filter.order ?? 'desc') === 'desc';
    const all = g.replies.flatMap((r) => r.data.alerts);
    all.sort((a, b) => (a.alertId < b.alertId ? -1 : a.alertId > b.alertId ? 1 : 0) * (desc ? -1 : 1));
    const page = all.slice(0, limit);
    const more = all.length > limit || g.replies.some((r) => r.data.nextCursor !== null);
    return { alerts: page, nextCursor: more && page.length > 0 ? page[page.length - 1]!.alertId : null, partial: g.partial, missing: g.missing };
  }

  async alert(id: string): Promise<{ alert: Alert; node: string }> {
    const g = await this.#gather<Alert | null>('alert', { id });
    const hit = g.replies.find((r) => r.data !== null);
    if (hit) return { alert: hit.data!, node: hit.node };
    if (g.partial) throw new ClusterPartialError(`Alert ${JSON.stringify(id)} is on none of the nodes that answered; no answer from ${g.missing.join(', ')}`, g.missing);
    throw new RuleNotFoundError('alert', id);
  }

  async acknowledge(id: string, user: string): Promise<Alert> {
    const { node } = await this.alert(id);
    const g = await this.#gather<Alert | null>(`ack.${node}`, { id, user }, [node]);
    const a = g.replies[0]?.data;
    if (a) return a;
    if (g.partial) throw new ClusterPartialError(`Alert ${JSON.stringify(id)} is held by node ${node}, which did not answer`, g.missing);
    throw new RuleNotFoundError('alert', id);
  }

  async search(req: SearchRequest): Promise<{ hits: SearchHit[] } & PartialInfo> {
    let vector: number[];
    let exclude: WireSearch['exclude'] = null;
    const missing = new Set<string>();
    if (req.track) {
      const g = await this.#gather<number[] | null>('track', req.track);
      for (const m of g.missing) missing.add(m);
      const hit = g.replies.find((r) => r.data !== null);
      if (!hit) {
        const msg = `No embedding stored for track ${req.track.trackId} of camera ${req.track.cameraId}`;
        if (g.partial) throw new ClusterPartialError(`${msg} on the nodes that answered; no answer from ${g.missing.join(', ')}`, g.missing);
        throw new VigilError('E_NOT_FOUND', msg);
      }
      vector = hit.data!;
      if (req.excludeExample ?? true) exclude = req.track;
    } else if (req.vector !== undefined) {
      vector = Array.from(req.vector);
    } else {
      throw new VigilError('E_ARGUMENT', 'Expected a vector or a track for example but received undefined');
    }
    const { vector: _v, track: _t, ...rest } = req;
    const g = await this.#gather<SearchHit[] | { error: { code: string; message: string } }>('search', { req: { ...rest, vector }, exclude } satisfies WireSearch);
    for (const m of g.missing) missing.add(m);
    const refused = g.replies.find((r) => !Array.isArray(r.data));
    if (refused) {
      const e = (refused.data as { error: { code: string; message: string } }).error;
      throw new VigilError(e.code, e.message);
    }
    // Stable sort: equal scores keep node order (sorted ids), then each node's own order.
    const hits = g.replies.flatMap((r) => r.data as SearchHit[]).sort((a, b) => b.score - a.score).slice(0, req.k);
    return { hits, partial: missing.size > 0, missing: [...missing].sort() };
  }
}
