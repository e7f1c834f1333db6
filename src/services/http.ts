/**
 * The front door: auth, the event stream's log, and the REST/WebSocket listener with the route modules of the
 * services before it. Without `listen` nothing is opened and publish() goes nowhere.
 */
import { join } from 'node:path';
import { integrationRoutes } from '../api/routes-integrations.js';
import { mediaRoutes } from '../api/routes-media.js';
import { searchRoutes } from '../api/routes-search.js';
import { createApiServer, type ApiServer } from '../api/server.js';
import { StoreDetectionSource, cameraListingFrom } from '../api/sources.js';
import { cameraWriteRoutes, type CameraWriter } from '../api/routes.js';
import type { CameraListing } from '../api/sources.js';
import type { CameraCatalogService } from './camera-catalog.js';
import { AuthService } from '../auth/service.js';
import { createConsole, type WebConsole } from '../console/index.js';
import { ClusterEventLog } from '../cluster/stream-log.js';
import type { CameraManager } from '../camera/manager.js';
import type { StreamEvent } from '../stream/events.js';
import type { RulesService } from './alerts.js';
import type { IntegrationsService } from './integrations.js';
import type { RecorderService } from './recorder.js';
import type { Service, ServiceContext } from './service.js';
import type { SnapshotsService } from './snapshots.js';
import type { SearchService } from './store.js';

export interface HttpServiceDeps {
  cameras: CameraManager;
  search: SearchService;
  recorder: RecorderService;
  integrations: IntegrationsService;
  snapshots: SnapshotsService;
  rules: RulesService;
  /** Cameras added, changed and removed over the API; absent: the camera list is read-only. */
  catalog?: CameraCatalogService;
  /** A cluster node's parts once it joined (null before, and on a single server): cluster-wide REST answers. */
  cluster?: () => import('../cluster/service.js').ClusterParts | null;
}

export class HttpService implements Service {
  readonly name = 'http';
  #auth: AuthService | null = null;
  #http: ApiServer | null = null;
  #console: WebConsole | null = null;

  constructor(private readonly deps: HttpServiceDeps) {}

  /** null: not listening. */
  get http(): ApiServer | null {
    return this.#http;
  }

  /** null: not started (or not listening). */
  get auth(): AuthService | null {
    return this.#auth;
  }

  /**
   * Publishes to the WebSocket stream (nothing when not listening). Alerts are skipped: each one is logged in the
   * transaction that stores it (RulesService) and reaches the stream from that commit, so publishing it here would
   * log it twice.
   */
  publish(event: StreamEvent): void {
    if (event.kind === 'alerts') return;
    this.#http?.publish(event);
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config } = ctx;
    const d = this.deps;
    const store = ctx.db.detections;
    this.#auth = await AuthService.open({ dataDir: join(config.dataDir, 'auth'), database: ctx.db.scope('auth'), ...config.auth });
    // One sequence space for the stream: detections are published once committed (the store numbers them) and
    // the other events go through the store's event log (made by the rules, which log alerts with their commits),
    // so a reconnecting client resumes from LMDB.
    const rules = d.rules.rules;
    const snapshots = d.snapshots.snapshots;
    const recorder = d.recorder.recorder;
    const cameras = d.cameras;
    // On a cluster node (once joined) cameras, alerts and search answer for the cluster, and API camera writes go
    // into the cluster's config bucket (src/cluster/).
    const clusterReads = () => d.cluster?.()?.reads ?? null;
    const cameraWriter = (local: CameraWriter): CameraWriter => ({
      add: (raw) => (d.cluster?.()?.cameraWriter ?? local).add(raw),
      replace: (id, raw) => (d.cluster?.()?.cameraWriter ?? local).replace(id, raw),
      remove: (id) => (d.cluster?.()?.cameraWriter ?? local).remove(id),
    });
    const localView = cameraListingFrom(cameras);
    const cameraView: CameraListing = {
      list: async () => (await clusterReads()?.cameras())?.cameras ?? localView.list(),
      get: async (id) => {
        const c = clusterReads();
        return c ? (await c.cameras()).cameras.find((x) => x.id === id) : localView.get(id);
      },
    };
    // The web console (web/dist, live video, latest.jpg, cookie session): src/console/.
    this.#console = createConsole({ auth: this.#auth, cameras, registry: ctx.metrics, detections: store, timezone: config.rulesTimezone });
    this.#http = await createApiServer(
      { host: config.server.host, port: config.server.port, corsOrigins: config.server.corsOrigins, log: ctx.log.child('http'), http10: config.server.http10 },
      {
        auth: this.#auth,
        // A cluster node numbers its stream by the cluster's JetStream sequence (resume on any node): ClusterService attaches it.
        eventLog: config.cluster ? new ClusterEventLog(d.rules.eventLog) : d.rules.eventLog,
        registry: ctx.metrics,
        health: ctx.health,
        cameras: cameraListingFrom(cameras),
        detections: new StoreDetectionSource(store),
        rules,
        cluster: clusterReads,
        ...(recorder ? { recordings: recorder } : {}),
        websockets: [this.#console.live],
        routes: {
          console: this.#console.routes,
          ...(snapshots ? { media: mediaRoutes({ snapshots, rules }) } : {}),
          integrations: integrationRoutes(d.integrations.integrations),
          ...(d.catalog ? { cameras: cameraWriteRoutes({ writer: cameraWriter(d.catalog.catalog), cameras: cameraView }) } : {}),
          search: searchRoutes({ cluster: clusterReads, index: d.search.vectors, embedder: d.search.embedder, snapshotUrl: (c, t) => `/tracks/${encodeURIComponent(c)}:${t}/snapshot.jpg` }),
        },
        trackSpan: (cameraId, trackId) => {
          const q = { cameraIds: [cameraId], trackId };
          const first = store.queryPage(q, { pageSize: 1, order: 'asc', withTotal: false }).detections[0];
          const last = store.queryPage(q, { pageSize: 1, order: 'desc', withTotal: false }).detections[0];
          return first && last ? { startNs: first.timestampNs, endNs: last.timestampNs } : null;
        },
      },
    );
    ctx.log.info('listening', { port: this.#http.port });
    // stream sockets closed for ended sessions and oversized frames are logged here
    this.#http.hub.setLogger(ctx.log.child('stream'));
  }

  async stop(): Promise<void> {
    await this.#http?.close();
    this.#console?.close();
    await this.#auth?.close();
  }
}
