/**
 * A server's part in a cluster (`cluster:` in the config): the last service, so cameras it starts find the whole
 * frame path ready. Without a `cluster:` section it does nothing and the NATS client is never loaded.
 *
 * It connects to NATS, follows the shared configuration (cameras and rules), seeds it from this node's YAML when
 * the cluster has none, runs the coordinator (membership, leases, placement) which starts and stops cameras
 * through the CameraManager, bridges events both ways through JetStream, and answers scatter-gather queries.
 * Stopping gives every camera back at once (leases deleted) so the others take over without waiting for expiry.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CameraManager } from '../camera/manager.js';
import type { AnalyticsService } from '../services/analytics.js';
import type { RulesService } from '../services/alerts.js';
import type { Service, ServiceContext } from '../services/service.js';
import type { Logger } from '../log.js';
import type { NodeLiveStatus } from './admin.js';
import type { EventBridge } from './bridge.js';
import type { Coordinator } from './coordinator.js';
import type { ClusterBackend } from './nats.js';
import type { ClusterOptions } from './options.js';
import type { SharedConfig } from './shared-config.js';

export interface ClusterServiceDeps {
  cameras: CameraManager;
  analytics: AnalyticsService;
  rules: RulesService;
  /** Share of the inference thread's time busy (0..1), null without a detector. */
  inferenceBusy?: () => number | null;
  /** The WebSocket stream's event log (a ClusterEventLog on a cluster node, attached here); null: not listening. */
  streamLog?: () => import('../stream/events.js').EventLog | null;
  /** The stored track vectors (POST /search across the cluster); absent: this node answers with none. */
  search?: { vectors: import('../store/vector-index.js').VectorIndex };
  /** The API's auth service once it started (users shared through the cluster); null: not listening. */
  auth?: () => import('../auth/service.js').AuthService | null;
  /** VMS imports: synced into the cluster's camera configuration once this node joined. */
  integrations?: { integrations: import('../integrations/runtime.js').Integrations };
}

export interface ClusterParts {
  options: ClusterOptions;
  backend: ClusterBackend;
  coordinator: Coordinator;
  bridge: EventBridge;
  shared: SharedConfig;
  /** Cluster-wide answers of the REST routes (src/cluster/reads.ts). */
  reads: import('./reads.js').ClusterReads;
  /** Where API camera writes go on a cluster node (src/cluster/camera-writer.ts). */
  cameraWriter: import('./camera-writer.js').ClusterCameraWriter;
}

export class ClusterService implements Service {
  readonly name = 'cluster';
  #parts: ClusterParts | null = null;
  readonly #off: Array<() => void> = [];

  constructor(private readonly deps: ClusterServiceDeps) {}

  /** null: not a cluster node (or not started). */
  get parts(): ClusterParts | null {
    return this.#parts;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const options = ctx.config.cluster;
    if (!options) return;
    const log = ctx.log.child('cluster');
    // Loaded only here: a single server never loads the NATS client.
    const [{ connectCluster }, { Coordinator }, { EventBridge }, { SharedConfig }, { respond }] = await Promise.all([
      import('./nats.js'),
      import('./coordinator.js'),
      import('./bridge.js'),
      import('./shared-config.js'),
      import('./gather.js'),
    ]);
    const backend = await connectCluster(options, { name: `vigil-${options.nodeId}` });
    this.#off.push(() => void backend.nc.drain().catch(() => {}));
    const { cameras, analytics } = this.deps;
    const shared = new SharedConfig(backend.config, log);
    await shared.start();
    this.#off.push(() => shared.stop());
    if (await shared.seed(ctx.config.cameras, ctx.config.rules, options.nodeId)) {
      log.info('seeded the cluster configuration from this node', { cameras: ctx.config.cameras.length, rules: ctx.config.rules.length });
    }
    const applyRules = (list: unknown[]): void => {
      this.deps.rules.rules.syncConfigRules(list).then(
        () => log.info('rules applied from the cluster configuration', { rules: list.length }),
        (err: unknown) => log.error(`cluster rules not applied: ${(err as Error).message}`),
      );
    };
    shared.on('rules', applyRules);
    if (shared.rules().length > 0) applyRules(shared.rules());

    let cpu = process.cpuUsage();
    let cpuAt = performance.now();
    const coordinator: Coordinator = new Coordinator(
      options,
      backend,
      {
        cameraIds: () => shared.cameraIds(),
        start: (id) => {
          const settings = shared.camera(id);
          if (!settings) return false;
          cameras.remove(id);
          cameras.add(settings);
          return true;
        },
        stop: (id) => void cameras.remove(id),
        load: () => {
          const now = performance.now();
          const used = process.cpuUsage(cpu);
          const pct = ((used.user + used.system) / 1000 / Math.max(1, now - cpuAt)) * 100;
          cpu = process.cpuUsage();
          cpuAt = now;
          return { inferenceBusy: this.deps.inferenceBusy?.() ?? null, cpuPct: Math.round(pct * 10) / 10, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) };
        },
      },
      log,
    );
    // A held camera whose settings changed restarts with them (same token: it stays the owner).
    shared.on('cameras', (ids) => {
      for (const id of ids) {
        const s = shared.camera(id);
        if (s && coordinator.fenceOf(id) !== undefined && cameras.get(id)) {
          cameras.remove(id);
          cameras.add(s);
        }
      }
    });

    // Events produced while NATS cannot be reached wait on disk (src/cluster/outbox.ts).
    const { EventOutbox } = await import('./outbox.js');
    const bridge: EventBridge = new EventBridge(backend, {
      nodeId: options.nodeId,
      incarnation: coordinator.incarnation,
      fenceOf: (id) => coordinator.fenceOf(id),
      store: ctx.db.detections,
      log,
      outbox: new EventOutbox(ctx.db.scope('cluster-outbox')),
    });
    const path = analytics.framePath;
    const onDetections = (batch: import('../types.js').DetectionBatch): void => bridge.publish({ kind: 'detections', batch });
    const onTrack = (track: import('../stream/events.js').TrackEventData): void => bridge.publish({ kind: 'tracks', track });
    const onAlert = (ev: import('../rules/index.js').AlertEvent): void => bridge.publish({ kind: 'alerts', alert: ev.alert });
    const onState = (id: string, status: import('../types.js').CameraStatus, previous: import('../types.js').CameraStatus): void => {
      const message = status === 'running' ? '' : (cameras.get(id)?.counters().lastError?.message ?? '');
      bridge.publish({ kind: 'camera_status', status: { cameraId: id, status, previous, timestampNs: BigInt(Date.now()) * 1_000_000n, message } });
    };
    path.on('detections', onDetections);
    path.on('track', onTrack);
    path.on('alert', onAlert);
    cameras.on('state', onState);
    this.#off.push(
      () => path.off('detections', onDetections),
      () => path.off('track', onTrack),
      () => path.off('alert', onAlert),
      () => cameras.off('state', onState),
    );
    await bridge.startConsuming();
    // The WebSocket stream numbered by the events stream's sequence: resume on any node (src/cluster/stream-log.ts).
    const { ClusterEventLog } = await import('./stream-log.js');
    const streamLog = this.deps.streamLog?.();
    if (streamLog instanceof ClusterEventLog) {
      await streamLog.attach({ js: backend.js, jsm: backend.jsm, stream: backend.names.stream, log });
      this.#off.push(() => streamLog.close());
    }

    this.#off.push(
      respond(backend, options.nodeId, 'status', (): NodeLiveStatus => {
        const fences = new Map(coordinator.held().map((h) => [h.id, h]));
        return {
          incarnation: coordinator.incarnation,
          draining: coordinator.draining,
          cameras: cameras.counters().map((c) => ({
            id: c.id,
            fence: fences.get(c.id)?.fence ?? 0,
            state: c.state,
            fps: Math.round(c.counters.fps * 10) / 10,
            heldForMs: fences.get(c.id)?.heldForMs ?? 0,
          })),
          load: { cameras: coordinator.held().length, inferenceBusy: this.deps.inferenceBusy?.() ?? null, cpuPct: 0, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) },
          stats: { ...coordinator.stats, ...bridge.stats },
        };
      }),
    );
    await coordinator.start();
    const { startNodeApi } = await import('./node-api.js');
    const { reads, cameraWriter } = await startNodeApi(ctx, { options, backend, coordinator, shared, cameras, log, search: this.deps.search, rules: this.deps.rules, auth: this.deps.auth, integrations: this.deps.integrations }, this.#off);
    this.#parts = { options, backend, coordinator, bridge, shared, reads, cameraWriter };
    registerClusterMetrics(ctx.metrics, this.#parts);
    ctx.health.register('cluster', {
      critical: false,
      check: () => (backend.nc.isClosed() ? { status: 'degraded', detail: 'NATS connection closed' } : 'ok'),
    });
    log.info('cluster node started', { node: options.nodeId, incarnation: coordinator.incarnation, servers: options.servers.join(',') });
  }

  async stop(): Promise<void> {
    const parts = this.#parts;
    this.#parts = null;
    if (parts) {
      await parts.coordinator.close();
      await parts.bridge.close();
    }
    for (const off of this.#off.splice(0).reverse()) off();
  }
}

export type { Logger };

function registerClusterMetrics(registry: Registry, p: ClusterParts): void {
  const node = p.options.nodeId;
  new Gauge({
    name: 'vigil_cluster_cameras_held',
    help: 'Cameras this node holds the lease of (and runs)',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.set({ node }, p.coordinator.held().length);
    },
  });
  new Gauge({
    name: 'vigil_cluster_outbox_events',
    help: 'Events waiting in the partition outbox',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.set({ node }, p.bridge.outboxSize);
    },
  });
  new Gauge({
    name: 'vigil_cluster_live_members',
    help: 'Cluster members this node sees as live',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.set({ node }, p.coordinator.liveMembers().length);
    },
  });
  const counters: ReadonlyArray<readonly [string, string, () => number]> = [
    ['vigil_cluster_claims_total', 'Camera leases claimed', () => p.coordinator.stats.claims],
    ['vigil_cluster_self_fenced_total', 'Cameras stopped because their lease could not be renewed in time', () => p.coordinator.stats.selfFenced],
    ['vigil_cluster_leases_lost_total', 'Cameras stopped because another node held their lease', () => p.coordinator.stats.leasesLost],
    ['vigil_cluster_released_total', 'Cameras handed off (rebalance, drain, shutdown)', () => p.coordinator.stats.released],
    ['vigil_cluster_events_published_total', 'Events published to the cluster stream', () => p.bridge.stats.published],
    ['vigil_cluster_events_publish_failed_total', 'Events JetStream did not acknowledge', () => p.bridge.stats.publishFailed + p.bridge.stats.dropped],
    ['vigil_cluster_events_unfenced_total', 'Events of cameras no longer held here (not published)', () => p.bridge.stats.unfenced],
    ['vigil_cluster_events_applied_total', "Other nodes' events written into this node's store", () => p.bridge.stats.applied],
    ['vigil_cluster_events_fenced_off_total', "Other nodes' events refused for a stale fencing token", () => p.bridge.stats.fencedOff],
    ['vigil_cluster_outbox_stored_total', 'Events kept in the partition outbox (NATS unreachable or not acknowledging)', () => p.bridge.stats.deferred],
    ['vigil_cluster_outbox_dropped_total', 'Events dropped because the partition outbox was full', () => p.bridge.outboxStats?.dropped ?? 0],
  ];
  for (const [name, help, read] of counters) {
    new Counter({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ node }, read());
      },
    });
  }
}
