/**
 * The `cluster:` config section. Absent (or `cluster: false`): the server runs alone, as always, and never loads a
 * NATS client. Present: this process is one node of a cluster coordinated through NATS JetStream (src/cluster/).
 *
 * Timing: a node renews its leases every `leaseTtlS / 3`; it stops a camera whose lease it could not renew for
 * `leaseTtlS - safetyS` (measured from when the last successful renewal was *sent*), and another node claims a
 * camera only after seeing its lease unchanged for `leaseTtlS + graceS` (measured from when it *observed* it). So
 * the old owner has stopped before anyone else may start, with `safetyS + graceS` to spare, without comparing
 * clocks across machines. Failover bound: `leaseTtlS + graceS + scanIntervalS` plus the camera's start time.
 */
import { fail, int, isObject, num, onlyKeys, optObject, str } from '../validate.js';

export interface ClusterOptions {
  /** NATS URLs of the brokers this node may connect to (any of them; the client fails over). */
  servers: string[];
  /** This node's id: [A-Za-z0-9_-], unique in the cluster. */
  nodeId: string;
  /** Most cameras this node runs; cameras are spread in proportion to it. */
  capacity: number;
  /** KV bucket, stream and subject prefix: several Vigil clusters can share one NATS cluster. */
  prefix: string;
  /** JetStream replicas for the buckets and the events stream (1 on a single broker; 3 on a 3-broker cluster). */
  replicas: number;
  leaseTtlMs: number;
  graceMs: number;
  safetyMs: number;
  heartbeatMs: number;
  scanIntervalMs: number;
  /** A camera stays where it is for at least this long before it can be handed to a less loaded node. */
  minHoldMs: number;
  /** At most one camera handed off per this interval and node (with a 2-camera imbalance threshold: no flapping). */
  rebalanceIntervalMs: number;
  /** Events stream bounds. */
  events: { maxAgeMs: number; maxBytes: number };
  /** Per-node reply timeout of scatter-gather queries. */
  queryTimeoutMs: number;
  /** URL other nodes and `vigil cluster status` show for this node's API (informational). */
  apiUrl: string | null;
}

const KNOWN = [
  'servers', 'nodeId', 'capacity', 'prefix', 'replicas', 'leaseTtlS', 'graceS', 'safetyS', 'heartbeatS', 'scanIntervalS',
  'minHoldS', 'rebalanceIntervalS', 'events', 'queryTimeoutMs', 'apiUrl',
] as const;

const NATS_URL = /^(nats|tls|ws|wss):\/\/[^\s/]+$|^[^\s:/]+:\d+$/;

/** null: no cluster. Errors: "Expected X for cluster.key but received V" (E_ARGUMENT; the loader makes it E_CONFIG). */
export function parseClusterOptions(raw: unknown, path = 'cluster'): ClusterOptions | null {
  if (raw === undefined || raw === false || raw === null) return null;
  if (!isObject(raw)) throw fail('a mapping or false', path, raw);
  onlyKeys(raw, path, KNOWN);
  const serversRaw = typeof raw.servers === 'string' ? [raw.servers] : raw.servers;
  if (!Array.isArray(serversRaw) || serversRaw.length === 0) throw fail('a NATS URL or a non-empty list of them', `${path}.servers`, raw.servers);
  const servers = serversRaw.map((s, i) => str(s, `${path}.servers[${i}]`, { re: NATS_URL, what: 'a NATS URL such as "nats://127.0.0.1:4222"' }));
  const nodeId = str(raw.nodeId, `${path}.nodeId`, { re: /^[A-Za-z0-9_-]{1,64}$/, what: 'a node id of letters, digits, "_" or "-"' });
  const leaseTtlMs = num(raw.leaseTtlS, `${path}.leaseTtlS`, 1, 600, 10) * 1000;
  const safetyMs = num(raw.safetyS, `${path}.safetyS`, 0.1, 60, Math.min(2, leaseTtlMs / 4000)) * 1000;
  if (safetyMs >= leaseTtlMs / 2) throw fail(`a number below half of leaseTtlS (${leaseTtlMs / 2000})`, `${path}.safetyS`, raw.safetyS);
  const events = optObject(raw.events, `${path}.events`);
  onlyKeys(events, `${path}.events`, ['maxAgeH', 'maxMb']);
  const apiUrl = raw.apiUrl === undefined ? null : str(raw.apiUrl, `${path}.apiUrl`, { re: /^https?:\/\/\S+$/, what: 'an http(s) URL' });
  return {
    servers,
    nodeId,
    capacity: int(raw.capacity, `${path}.capacity`, 1, 10_000, 16),
    prefix: str(raw.prefix, `${path}.prefix`, { re: /^[A-Za-z0-9_-]{1,32}$/, what: 'a prefix of letters, digits, "_" or "-"', dflt: 'vigil' }),
    replicas: int(raw.replicas, `${path}.replicas`, 1, 5, 1),
    leaseTtlMs,
    graceMs: num(raw.graceS, `${path}.graceS`, 0.1, 60, 1) * 1000,
    safetyMs,
    heartbeatMs: num(raw.heartbeatS, `${path}.heartbeatS`, 0.1, 60, Math.min(2, leaseTtlMs / 3000)) * 1000,
    scanIntervalMs: num(raw.scanIntervalS, `${path}.scanIntervalS`, 0.05, 60, 0.5) * 1000,
    minHoldMs: num(raw.minHoldS, `${path}.minHoldS`, 0, 3600, 10) * 1000,
    rebalanceIntervalMs: num(raw.rebalanceIntervalS, `${path}.rebalanceIntervalS`, 0.5, 3600, 5) * 1000,
    events: {
      maxAgeMs: num(events.maxAgeH, `${path}.events.maxAgeH`, 0.01, 24 * 365, 24) * 3_600_000,
      maxBytes: Math.round(num(events.maxMb, `${path}.events.maxMb`, 1, 1e7, 1024) * 2 ** 20),
    },
    queryTimeoutMs: int(raw.queryTimeoutMs, `${path}.queryTimeoutMs`, 10, 60_000, 1000),
    apiUrl,
  };
}
