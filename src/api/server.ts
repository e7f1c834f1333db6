/**
 * The REST API and the event stream on one listener: the transport (src/http/) with the core, operations and
 * feature route modules and the `/ws` endpoint. What the server (src/services/http.ts) and the API tests start.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { AuthService } from '../auth/service.js';
import { createHttpServer, type HttpServerOptions, type RouteModule, type WsEndpoint } from '../http/index.js';
import { HealthRegistry } from '../services/health.js';
import type { EventLog, StreamEvent } from '../stream/events.js';
import { StreamHub, type SlowClientPolicy } from '../stream/hub.js';
import { RingEventLog } from '../stream/ring.js';
import { apiModule, withAuthOf, type ApiRoutes } from './auth.js';
import { opsRoutes, type OpsRouteDeps } from './routes-ops.js';
import { coreRoutes } from './routes.js';
import type { CameraListing, DetectionSource } from './sources.js';
import { streamEndpoint } from './stream.js';
import { samlRoutes } from '../auth/saml-routes.js';

export interface ApiServerOptions extends HttpServerOptions {
  stream?: {
    /** Per-client cap on server-side buffered bytes; default 1 MiB. */
    maxBufferedBytes?: number;
    slowClientPolicy?: SlowClientPolicy;
    /** In-memory resume window (events) when no EventLog is given; default 10000. */
    ringCapacity?: number;
    /** Seconds without traffic before a socket is closed (uWS pings automatically); default 120. */
    idleTimeoutS?: number;
    /** Open WebSockets per user; more are refused with 429. Default 64. */
    maxConnectionsPerUser?: number;
  };
}

export interface ApiServerDeps extends OpsRouteDeps {
  auth: AuthService;
  cameras: CameraListing;
  detections: DetectionSource;
  /**
   * Sequence numbers + resume source; default an in-memory RingEventLog. With a StoreEventLog (src/stream/
   * store-log.ts) events reach clients after their LMDB commit and resume reads the detection store.
   */
  eventLog?: EventLog;
  /** prom-client registry other modules add metrics to; default a new one with default metrics. */
  registry?: Registry;
  /** Health checks other modules register; default a new one. */
  health?: HealthRegistry;
  /** Feature route modules (search, media, integrations), by name. */
  routes?: Record<string, ApiRoutes>;
  /** Further WebSocket endpoints beside `/ws` (the console's `/live`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  websockets?: WsEndpoint<any>[];
}

export interface ApiServer {
  readonly port: number;
  readonly hub: StreamHub;
  readonly registry: Registry;
  readonly health: HealthRegistry;
  /**
   * Publishes an event to the stream and returns its server-wide sequence number. Delivery happens at the end of
   * the current event-loop turn (all events of a turn go to each client in one corked write); hub.flush() forces it.
   * With a durable event log (StoreEventLog) the sequence is assigned at the commit: 0 is returned, and detections
   * are not published here at all (they reach the stream from the store's commits).
   */
  publish(event: StreamEvent): number;
  /** Stops listening, waits for requests in flight, closes every WebSocket. Idempotent. */
  close(): Promise<void>;
}

export async function createApiServer(options: ApiServerOptions, deps: ApiServerDeps): Promise<ApiServer> {
  let registry = deps.registry;
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  const health = deps.health ?? new HealthRegistry();
  const unregisterAuthCheck = health.register('auth_store', {
    check: () => {
      deps.auth.store.userCount();
      return 'ok';
    },
  });
  const hub = new StreamHub({
    log: deps.eventLog ?? new RingEventLog(options.stream?.ringCapacity ?? 10_000),
    registry,
    ...(options.stream?.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.stream.maxBufferedBytes } : {}),
    ...(options.stream?.slowClientPolicy !== undefined ? { slowClientPolicy: options.stream.slowClientPolicy } : {}),
  });
  const withAuth = withAuthOf(deps.auth);
  const modules: RouteModule[] = [
    apiModule('core', coreRoutes({ auth: deps.auth, cameras: deps.cameras, detections: deps.detections, health, registry, ...(deps.cluster ? { cluster: deps.cluster } : {}) }), withAuth),
    apiModule('ops', opsRoutes(deps), withAuth),
    ...Object.entries(deps.routes ?? {}).map(([name, routes]) => apiModule(name, routes, withAuth)),
    // SAML 2.0 SSO (auth.saml): login, assertion consumer, metadata
    ...(deps.auth.saml ? [{ name: 'saml', routes: samlRoutes(deps.auth, registry) }] : []),
  ];
  let http;
  try {
    http = await createHttpServer(options, {
      modules,
      websockets: [streamEndpoint(hub, deps.auth, { ...(options.stream?.idleTimeoutS !== undefined ? { idleTimeoutS: options.stream.idleTimeoutS } : {}), ...(options.stream?.maxConnectionsPerUser !== undefined ? { maxConnectionsPerUser: options.stream.maxConnectionsPerUser } : {}) }), ...(deps.websockets ?? [])],
      metrics: registry,
    });
  } catch (err) {
    unregisterAuthCheck();
    hub.close();
    throw err;
  }
  const server = http;
  let closing: Promise<void> | null = null;
  return {
    port: server.port,
    hub,
    registry,
    health,
    publish: (event) => hub.publish(event),
    close() {
      closing ??= (async () => {
        unregisterAuthCheck();
        // Sockets first: a stream client is not a request in flight and would hold the drain.
        hub.close();
        await server.close();
      })();
      return closing;
    },
  };
}
