/**
 * The NATS side of a node: one connection, the KV buckets and the events stream, named from the cluster prefix.
 *
 * Client: the modular `@nats-io/transport-node` + `@nats-io/jetstream` + `@nats-io/kv` (v3) rather than the
 * monolithic `nats` v2 package: v3 is where the NATS maintainers develop (v2 takes fixes only), it is ESM with
 * its own typings, the KV API is the same compare-and-set one (`create`, `update(key, value, revision)`,
 * `delete(key, { previousSeq })`), and a process that is not a cluster node never loads any of it (the
 * service imports this module dynamically). It works against Debian's nats-server 2.9.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { VigilError } from '../errors.js';
import type { ClusterOptions } from './options.js';

export interface ClusterNames {
  members: string;
  leases: string;
  control: string;
  config: string;
  stream: string;
  /** Subject of one event: `<prefix>.events.<kind>.<camera>`. */
  eventSubject(kind: string, cameraId: string): string;
  eventsWildcard: string;
  /** Scatter-gather request subjects: `<prefix>.q.<what>`. */
  query(what: string): string;
  consumer(nodeId: string): string;
}

export function clusterNames(prefix: string): ClusterNames {
  return {
    members: `${prefix}-members`,
    leases: `${prefix}-leases`,
    control: `${prefix}-control`,
    config: `${prefix}-config`,
    stream: `${prefix}-events`,
    eventSubject: (kind, cameraId) => `${prefix}.events.${kind}.${cameraId}`,
    eventsWildcard: `${prefix}.events.>`,
    query: (what) => `${prefix}.q.${what}`,
    consumer: (nodeId) => `${prefix}-node-${nodeId}`,
  };
}

/** The cluster's NATS resources could not be reached or made. */
export class ClusterUnavailableError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super('E_CLUSTER_UNAVAILABLE', message, { cause });
  }
}

export interface ClusterBackend {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: ClusterNames;
  members: KV;
  leases: KV;
  control: KV;
  config: KV;
}

export interface ConnectOptions {
  /** Connection name shown by the server's monitoring. */
  name: string;
  /** Ms between client pings; a broker that stops answering is noticed after 2 of them. */
  pingIntervalMs?: number;
}

export async function connectCluster(
  opts: Pick<ClusterOptions, 'servers' | 'prefix' | 'replicas' | 'heartbeatMs' | 'events'> & Partial<Pick<ClusterOptions, 'leaseTtlMs' | 'safetyMs'>>,
  c: ConnectOptions,
): Promise<ClusterBackend> {
  let nc: NatsConnection;
  // A node cut off for a moment must be back well inside its lease budget (leaseTtlMs - safetyMs): the coordinator
  // renews every lease as soon as the client reports `reconnect`. So each try waits little (250 ms plus at most
  // 100 ms of jitter, per server), and a try that hangs (a peer that accepts but never answers) gives up after a
  // third of the budget (2 to 5 s) instead of holding the next try back for the whole connect timeout.
  const budgetMs = (opts.leaseTtlMs ?? 10_000) - (opts.safetyMs ?? 2000);
  try {
    nc = await connect({
      servers: opts.servers,
      name: c.name,
      // Never give up: a node keeps trying the brokers for as long as it runs (its leases lapse meanwhile).
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: c.pingIntervalMs ?? Math.max(2000, Math.round(opts.heartbeatMs * 2)),
      maxPingOut: 2,
      timeout: Math.round(Math.min(5000, Math.max(2000, budgetMs / 3))),
    });
  } catch (err) {
    throw new ClusterUnavailableError(`No NATS server reachable at ${opts.servers.join(', ')}: ${(err as Error).message}`, err);
  }
  // Creating replicated buckets takes a Raft round per resource; nodes starting together race for the same ones
  // and a loaded broker may answer late: retry for a while before giving up.
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await makeResources(nc, opts);
    } catch (err) {
      if (Date.now() > deadline) {
        await nc.close().catch(() => {});
        throw new ClusterUnavailableError(`JetStream is not usable at ${opts.servers.join(', ')}: ${(err as Error).message}`, err);
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 250 * attempt)));
    }
  }
}

async function makeResources(nc: NatsConnection, opts: Pick<ClusterOptions, 'prefix' | 'replicas' | 'heartbeatMs' | 'events'>): Promise<ClusterBackend> {
  const names = clusterNames(opts.prefix);
  const js = jetstream(nc, { timeout: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const kvm = new Kvm(js);
  const replicas = opts.replicas;
  const [members, leases, control, config] = await Promise.all([
    // Members: a heartbeat per node; entries of nodes gone for good age out of the bucket.
    kvm.create(names.members, { history: 1, replicas, ttl: Math.max(60_000, Math.round(opts.heartbeatMs * 30)) }),
    kvm.create(names.leases, { history: 1, replicas }),
    kvm.create(names.control, { history: 1, replicas }),
    kvm.create(names.config, { history: 1, replicas }),
  ]);
  await ensureStream(jsm, {
    name: names.stream,
    subjects: [names.eventsWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: opts.events.maxAgeMs * 1_000_000,
    max_bytes: opts.events.maxBytes,
    duplicate_window: 120 * 1_000_000_000,
  });
  return { nc, js, jsm, names, members, leases, control, config };
}

/** An operator's connection (`vigil cluster ...`): binds to the buckets a node made, creates nothing. */
export async function connectAdmin(servers: string[], prefix: string): Promise<ClusterBackend> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, name: 'vigil-admin', maxReconnectAttempts: 2, timeout: 5000 });
  } catch (err) {
    throw new ClusterUnavailableError(`No NATS server reachable at ${servers.join(', ')}: ${(err as Error).message}`, err);
  }
  try {
    const names = clusterNames(prefix);
    const js = jetstream(nc, { timeout: 5000 });
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const kvm = new Kvm(js);
    const [members, leases, control, config] = await Promise.all([names.members, names.leases, names.control, names.config].map((n) => kvm.open(n)));
    // open() binds lazily: a cluster that never ran has no buckets, which status() would find out late.
    await members!.status();
    return { nc, js, jsm, names, members: members!, leases: leases!, control: control!, config: config! };
  } catch (err) {
    await nc.close().catch(() => {});
    throw new ClusterUnavailableError(`No Vigil cluster "${prefix}" at ${servers.join(', ')} (${(err as Error).message})`, err);
  }
}

async function ensureStream(jsm: JetStreamManager, cfg: Parameters<JetStreamManager['streams']['add']>[0]): Promise<void> {
  try {
    await jsm.streams.info(cfg.name!);
    // Bounds may have changed in the config: the last node started sets them.
    await jsm.streams.update(cfg.name!, { max_age: cfg.max_age, max_bytes: cfg.max_bytes });
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(cfg);
  }
}
