/**
 * Vigil's front door: one uWebSockets.js app (`@trufflesuite/uws-js-unofficial`) serving the REST API
 * (src/api/routes.ts) and the WebSocket event stream `/ws` (src/stream/hub.ts), port 8001 by default.
 *
 * Limits: request body (413), total header bytes (431), login rate limits (429, in AuthService), CORS only for
 * configured origins (preflight from other origins: 403; WebSocket upgrades with a foreign Origin: 403).
 * Tokens are never logged: nothing here logs request headers or URLs.
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VigilError } from '../errors.js';
import { AuthError } from '../auth/errors.js';
import type { AuthService } from '../auth/service.js';
import { authorize, type Principal } from '../auth/policy.js';
import { HealthRegistry } from '../services/health.js';
import { HttpError, STATUS_TEXT, type Reply, type RequestCtx } from '../api/http-types.js';
import { bearerToken, buildRoutes, type Route, type RouteModule } from '../api/routes.js';
import type { CameraDirectory, DetectionQuery } from '../api/sources.js';
import { MAX_CONTROL_BYTES } from '../stream/control.js';
import type { EventLog, StreamEvent } from '../stream/events.js';
import { StreamHub, type SlowClientPolicy, type StreamClient } from '../stream/hub.js';
import { RingEventLog } from '../stream/ring.js';
import type { RuleService } from '../rules/service.js';
import type { Recorder } from '../recording/recorder.js';

export const WS_PROTOCOL = 'vigil.v1';
export const WS_BEARER_PREFIX = 'bearer.';

export interface HttpServerOptions {
  /** Default '0.0.0.0'. */
  host?: string;
  /** Default 8001; 0 picks a free port (see the returned `port`). */
  port?: number;
  /** Origins allowed by CORS and for WebSocket upgrades, e.g. ['https://dashboard.example.com']. Default none. */
  corsOrigins?: string[];
  /** Default 16 KiB. */
  maxBodyBytes?: number;
  /** Sum of header names and values; default 8 KiB. */
  maxHeaderBytes?: number;
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

export interface HttpServerDeps {
  auth: AuthService;
  cameras: CameraDirectory;
  detections: DetectionQuery;
  /**
   * Sequence numbers + resume source; default an in-memory RingEventLog. With a StoreEventLog (src/stream/
   * store-log.ts) events reach clients after their LMDB commit and resume reads the detection store.
   */
  eventLog?: EventLog;
  /** prom-client registry other modules add metrics to; default a new one with default metrics. */
  registry?: Registry;
  /** Health checks other modules register; default a new one. */
  health?: HealthRegistry;
  rules?: RuleService;
  recordings?: Recorder;
  trackSpan?: (cameraId: string, trackId: number) => { startNs: bigint; endNs: bigint } | null;
  /** Feature route modules (search, media, integrations). */
  routes?: RouteModule[];
}

export interface VigilHttpServer {
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
  /** Stops listening, closes every WebSocket. Idempotent. */
  close(): Promise<void>;
}

interface WsData {
  principal: Principal;
  client: StreamClient | null;
}

function ab2str(ab: ArrayBuffer): string {
  return Buffer.from(ab).toString('utf8');
}

/** Module error codes and their HTTP statuses. */
const VIGIL_STATUS: Record<string, number> = {
  E_RULE_INVALID: 400,
  E_RULE_NOT_FOUND: 404,
  E_ALERT_NOT_FOUND: 404,
  E_RULE_EXISTS: 409,
  E_RULE_READONLY: 409,
  E_RULE_ID_MISMATCH: 409,
  E_CLIP_NO_FOOTAGE: 404,
  E_CLIP_FAILED: 500,
};

function errorReply(err: unknown): Reply {
  if (err instanceof HttpError)
    return { status: err.status, json: { error: { code: err.code, message: err.message } }, headers: err.headers };
  if (err instanceof AuthError) {
    const headers: Record<string, string> = {};
    if (err.status === 401) headers['www-authenticate'] = 'Bearer';
    if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS);
    return { status: err.status, json: { error: { code: err.code, message: err.message } }, headers };
  }
  if (err instanceof VigilError && err.code === 'E_LDAP')
    return { status: 503, json: { error: { code: 'E_AUTH_UNAVAILABLE', message: 'Directory service unavailable' } } };
  if (err instanceof VigilError && err.code === 'E_ARGUMENT')
    return { status: 400, json: { error: { code: 'E_VALIDATION', message: err.message } } };
  if (err instanceof VigilError && VIGIL_STATUS[err.code] !== undefined)
    return { status: VIGIL_STATUS[err.code]!, json: { error: { code: err.code, message: err.message } } };
  return { status: 500, json: { error: { code: 'E_INTERNAL', message: 'Internal server error' } } };
}

export async function createHttpServer(options: HttpServerOptions, deps: HttpServerDeps): Promise<VigilHttpServer> {
  const host = options.host ?? '0.0.0.0';
  const maxBody = options.maxBodyBytes ?? 16 * 1024;
  const maxHeader = options.maxHeaderBytes ?? 8 * 1024;
  const origins = new Set(options.corsOrigins ?? []);
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
  const log = deps.eventLog ?? new RingEventLog(options.stream?.ringCapacity ?? 10_000);
  const hub = new StreamHub({
    log,
    registry,
    ...(options.stream?.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.stream.maxBufferedBytes } : {}),
    ...(options.stream?.slowClientPolicy !== undefined ? { slowClientPolicy: options.stream.slowClientPolicy } : {}),
  });
  const requests = new Counter({
    name: 'vigil_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'vigil_http_request_seconds',
    help: 'HTTP request handling time by route',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const app = uWS.App();
  const routes = buildRoutes({
    auth: deps.auth,
    cameras: deps.cameras,
    detections: deps.detections,
    health,
    registry,
    ...(deps.rules ? { rules: deps.rules } : {}),
    ...(deps.recordings ? { recordings: deps.recordings } : {}),
    ...(deps.trackSpan ? { trackSpan: deps.trackSpan } : {}),
    ...(deps.routes ? { modules: deps.routes } : {}),
  });

  function corsHeaders(origin: string | undefined): Record<string, string> {
    if (!origin || !origins.has(origin)) return {};
    return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': 'Retry-After' };
  }

  function send(res: uWS.HttpResponse, reply: Reply, extra: Record<string, string>, closeConnection = false): void {
    res.cork(() => {
      res.writeStatus(`${reply.status} ${STATUS_TEXT[reply.status] ?? ''}`.trim());
      const headers = { ...extra, ...(reply.headers ?? {}) };
      for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
      res.writeHeader('x-content-type-options', 'nosniff');
      res.writeHeader('cache-control', 'no-store');
      if (reply.status === 204) {
        res.endWithoutBody();
        return;
      }
      if (reply.body !== undefined) {
        res.writeHeader('content-type', reply.contentType ?? 'application/octet-stream');
        res.end(reply.body, closeConnection);
      } else if (reply.text !== undefined) {
        res.writeHeader('content-type', reply.contentType ?? 'text/plain; charset=utf-8');
        res.end(reply.text, closeConnection);
      } else {
        res.writeHeader('content-type', 'application/json');
        res.end(JSON.stringify(reply.json ?? null), closeConnection);
      }
    });
  }

  /** Reads what a handler needs from the uWS request synchronously (req is invalid after return/await). */
  function readRequest(res: uWS.HttpResponse, req: uWS.HttpRequest, paramNames: string[]): { ctx: RequestCtx; headerBytes: number } {
    const headers: Record<string, string> = {};
    let headerBytes = 0;
    req.forEach((k, v) => {
      headerBytes += k.length + v.length + 4;
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    });
    const params: Record<string, string> = {};
    paramNames.forEach((name, i) => {
      params[name] = decodeURIComponent(req.getParameter(i));
    });
    return {
      ctx: {
        method: req.getMethod().toUpperCase(),
        path: req.getUrl(),
        query: new URLSearchParams(req.getQuery() ?? ''),
        headers,
        ip: ab2str(res.getRemoteAddressAsText()),
        params,
        body: null,
      },
      headerBytes,
    };
  }

  function readBody(res: uWS.HttpResponse, limit: number, state: { aborted: boolean }): Promise<Buffer | 'too_large'> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      res.onData((chunk, isLast) => {
        if (done) return;
        size += chunk.byteLength;
        if (size > limit) {
          done = true;
          resolve('too_large');
          return;
        }
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) {
          done = true;
          resolve(Buffer.concat(chunks));
        }
      });
      if (state.aborted) resolve('too_large');
    });
  }

  function mount(route: Route): void {
    const register = {
      get: app.get.bind(app),
      post: app.post.bind(app),
      put: app.put.bind(app),
      patch: app.patch.bind(app),
      del: app.del.bind(app),
    }[route.method];
    register(route.pattern, (res, req) => {
      const t0 = performance.now();
      const state = { aborted: false };
      res.onAborted(() => {
        state.aborted = true;
      });
      let ctx: RequestCtx;
      let headerBytes: number;
      try {
        ({ ctx, headerBytes } = readRequest(res, req, route.params ?? []));
      } catch {
        send(res, { status: 400, json: { error: { code: 'E_VALIDATION', message: 'Malformed request path' } } }, {});
        return;
      }
      const cors = corsHeaders(ctx.headers['origin']);
      const finish = (reply: Reply, close = false): void => {
        requests.inc({ route: route.pattern, status: String(reply.status) });
        latency.observe({ route: route.pattern }, (performance.now() - t0) / 1000);
        if (state.aborted) return;
        state.aborted = true; // the response is finished: res must not be touched again
        send(res, reply, cors, close);
      };
      if (headerBytes > maxHeader) {
        finish(errorReply(new HttpError(431, 'E_HEADERS_TOO_LARGE', `Request headers exceed ${maxHeader} bytes`)), true);
        return;
      }
      const declared = Number(ctx.headers['content-length'] ?? '0');
      const limit = route.maxBodyBytes ?? maxBody;
      if (route.body && declared > limit) {
        finish(errorReply(new HttpError(413, 'E_BODY_TOO_LARGE', `Request body exceeds ${limit} bytes`)), true);
        return;
      }
      void (async () => {
        try {
          if (route.body) {
            const body = await readBody(res, limit, state);
            if (state.aborted) return;
            if (body === 'too_large') {
              finish(errorReply(new HttpError(413, 'E_BODY_TOO_LARGE', `Request body exceeds ${limit} bytes`)), true);
              return;
            }
            ctx.body = body;
          }
          finish(await route.handler(ctx));
        } catch (err) {
          finish(errorReply(err));
        }
      })();
    });
  }

  for (const r of routes) mount(r);

  // CORS preflight for every path
  app.options('/*', (res, req) => {
    const origin = req.getHeader('origin');
    if (origin && origins.has(origin)) {
      send(res, { status: 204 }, {
        ...corsHeaders(origin),
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
    } else {
      send(res, { status: 403, json: { error: { code: 'E_CORS_ORIGIN', message: 'Origin not allowed' } } }, {});
    }
  });

  const maxBuffered = hub.maxBufferedBytes;
  app.ws<WsData>('/ws', {
    maxPayloadLength: MAX_CONTROL_BYTES,
    // uWS's own cap sits above the hub's, so the hub decides (and counts) every drop.
    maxBackpressure: maxBuffered * 2 + 64 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: options.stream?.idleTimeoutS ?? 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const headers: Record<string, string> = {};
      let headerBytes = 0;
      req.forEach((k, v) => {
        headerBytes += k.length + v.length + 4;
        headers[k] = v;
      });
      const key = headers['sec-websocket-key'] ?? '';
      const extensions = headers['sec-websocket-extensions'] ?? '';
      const offered = (headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const fromProtocol = offered.find((p) => p.startsWith(WS_BEARER_PREFIX))?.slice(WS_BEARER_PREFIX.length);
      const token = bearerToken(headers) ?? fromProtocol;
      const origin = headers['origin'];
      const reject = (reply: Reply): void => {
        requests.inc({ route: '/ws', status: String(reply.status) });
        send(res, reply, {});
      };
      if (headerBytes > maxHeader) {
        reject(errorReply(new HttpError(431, 'E_HEADERS_TOO_LARGE', `Request headers exceed ${maxHeader} bytes`)));
        return;
      }
      if (origin !== undefined && !origins.has(origin)) {
        reject({ status: 403, json: { error: { code: 'E_CORS_ORIGIN', message: 'Origin not allowed' } } });
        return;
      }
      // Synchronous on purpose: see TokenService.verifyAccessSync (async upgrades lost connections in uWS 20.30).
      let principal: Principal;
      try {
        principal = deps.auth.verifyAccessSync(token);
        authorize(principal, 'stream:subscribe');
      } catch (err) {
        reject(errorReply(err));
        return;
      }
      const maxPerUser = options.stream?.maxConnectionsPerUser ?? 64;
      if (hub.connectionsOf(principal.sub) >= maxPerUser) {
        reject({
          status: 429,
          json: { error: { code: 'E_TOO_MANY_CONNECTIONS', message: `At most ${maxPerUser} stream connections per user` } },
        });
        return;
      }
      requests.inc({ route: '/ws', status: '101' });
      res.upgrade<WsData>(
        { principal, client: null },
        key,
        offered.includes(WS_PROTOCOL) ? WS_PROTOCOL : '',
        extensions,
        context,
      );
    },
    open: (ws) => {
      const data = ws.getUserData();
      data.client = hub.attach(ws as unknown as import('../stream/hub.js').StreamSocket, data.principal);
    },
    message: (ws, message, isBinary) => {
      const c = ws.getUserData().client;
      if (c) hub.handleMessage(c, message, isBinary);
    },
    drain: (ws) => {
      const c = ws.getUserData().client;
      if (c) hub.drain(c);
    },
    close: (ws) => {
      const c = ws.getUserData().client;
      if (c) hub.detach(c);
    },
  });

  app.any('/*', (res, req) => {
    const path = req.getUrl();
    const known = routes.some((r) => r.pattern === path || (r.params && path.startsWith(r.pattern.split('/:')[0]! + '/')));
    const origin = req.getHeader('origin');
    const reply = known
      ? { status: 405, json: { error: { code: 'E_METHOD_NOT_ALLOWED', message: `${req.getMethod().toUpperCase()} not allowed on ${path}` } } }
      : { status: 404, json: { error: { code: 'E_NOT_FOUND', message: 'No such route' } } };
    send(res, reply, corsHeaders(origin || undefined));
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(host, options.port ?? 8001, (ls) => {
      if (ls) resolve(ls);
      else reject(new VigilError('E_LISTEN', `Could not listen on ${host}:${options.port ?? 8001}`));
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  let closed = false;

  return {
    port,
    hub,
    registry,
    health,
    publish: (event) => hub.publish(event),
    async close() {
      if (closed) return;
      closed = true;
      unregisterAuthCheck();
      uWS.us_listen_socket_close(listenSocket);
      hub.close();
      (app as unknown as { close?: () => void }).close?.();
    },
  };
}
