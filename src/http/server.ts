/**
 * The transport: one uWebSockets.js app (`@trufflesuite/uws-js-unofficial`) serving the route modules and
 * WebSocket endpoints it is given. It knows no domain module: what a route does, who may call it and what a
 * socket carries is decided by the modules (src/api/).
 *
 * Limits: request body (413), total header bytes (431), CORS only for configured origins (preflight from other
 * origins: 403), allowed methods taken from the mounted routes. Files are streamed in chunks with Range support.
 * close() stops listening, then waits for the requests in flight. Nothing here logs headers or URLs.
 */
import { createReadStream, statSync } from 'node:fs';
import uWS from '@trufflesuite/uws-js-unofficial';
import { Counter, Histogram, type Registry } from 'prom-client';
import { VigilError } from '../errors.js';
import { HttpError, STATUS_TEXT, errorReply } from './errors.js';
import { parseRange } from './range.js';
import type { Method, Reply, RequestCtx, Route, RouteModule, WsEndpoint, WsSocket } from './types.js';

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
  /** Longest close() waits for requests in flight (default 10 s). */
  drainTimeoutMs?: number;
  /**
   * Where refusals and failures are logged: every 4xx (401, 403 and 429 as warnings, others as info) and every 5xx
   * (error, with the cause the client is not told). Lines name the method, the route pattern (never the URL or
   * headers), the status, the error code and the client address. Default: not logged.
   */
  log?: HttpLog;
}

export interface HttpLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface HttpMounts {
  modules: readonly RouteModule[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  websockets?: readonly WsEndpoint<any>[];
  /** Request counters and latencies go here. */
  metrics?: Registry;
}

export interface HttpServer {
  readonly port: number;
  /** Requests being handled or streamed now. */
  inFlight(): number;
  /** Stops listening, waits for the requests in flight (at most drainTimeoutMs), closes the sockets. Idempotent. */
  close(): Promise<void>;
}

const METHOD_NAME: Record<Method, string> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE' };

/** Does a uWS pattern (`/a/:id/b`, `/media/*`) match a path? */
export function patternMatches(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const s = path.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') return s.length > i;
    if (i >= s.length) return false;
    if (p[i]!.startsWith(':')) {
      if (s[i] === '') return false;
    } else if (p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Is `origin` (`http://host:port`) the server's own, as the request's Host header names it? */
export function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** The stable code of an error reply body ({error:{code}}), or ''. */
function replyCode(reply: Reply): string {
  const e = (reply.json as { error?: { code?: unknown } } | undefined)?.error;
  return typeof e?.code === 'string' ? e.code : '';
}

function ab2str(ab: ArrayBuffer): string {
  return Buffer.from(ab).toString('utf8');
}

export async function createHttpServer(options: HttpServerOptions, mounts: HttpMounts): Promise<HttpServer> {
  const host = options.host ?? '0.0.0.0';
  const maxBody = options.maxBodyBytes ?? 16 * 1024;
  const maxHeader = options.maxHeaderBytes ?? 8 * 1024;
  const origins = new Set(options.corsOrigins ?? []);
  const routes = mounts.modules.flatMap((m) => m.routes);
  const seen = new Set<string>();
  for (const r of routes) {
    const key = `${r.method} ${r.pattern}`;
    if (seen.has(key)) throw new VigilError('E_ROUTE_CONFLICT', `Two route modules mount ${METHOD_NAME[r.method]} ${r.pattern}`);
    seen.add(key);
  }
  const requests = mounts.metrics
    ? new Counter({ name: 'vigil_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [mounts.metrics] })
    : null;
  const latency = mounts.metrics
    ? new Histogram({
        name: 'vigil_http_request_seconds',
        help: 'HTTP request handling time by route',
        labelNames: ['route'],
        buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
        registers: [mounts.metrics],
      })
    : null;
  const app = uWS.App();
  const log = options.log ?? null;
  /** One line per refusal (4xx) or failure (5xx); `cause` is the error behind a 500 (logged, never sent). */
  function logAnswer(method: string, route: string, reply: Reply, ip: string, cause?: unknown): void {
    if (!log || reply.status < 400) return;
    const fields: Record<string, unknown> = { status: reply.status, code: replyCode(reply), ip };
    const line = `${method} ${route} ${reply.status}`;
    if (reply.status >= 500) {
      if (cause !== undefined) fields.cause = cause instanceof Error ? (cause instanceof VigilError ? `${cause.code}: ${cause.message}` : (cause.stack ?? cause.message)) : String(cause);
      log.error(line, fields);
    } else if (reply.status === 401 || reply.status === 403 || reply.status === 429) log.warn(line, fields);
    else log.info(line, fields);
  }
  let inFlight = 0;
  let drained: (() => void) | null = null;
  const begin = (): void => {
    inFlight++;
  };
  const end = (): void => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };

  /** Methods allowed on a path, from the mounted routes (CORS preflight, 405). */
  function methodsOf(path: string): string[] {
    const out = new Set<string>();
    for (const r of routes) if (patternMatches(r.pattern, path)) out.add(METHOD_NAME[r.method]);
    return [...out];
  }

  function corsHeaders(origin: string | undefined): Record<string, string> {
    if (!origin || !origins.has(origin)) return {};
    return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': 'Retry-After, Content-Range, Accept-Ranges' };
  }

  function writeHead(res: uWS.HttpResponse, status: number, headers: Record<string, string>): void {
    res.writeStatus(`${status} ${STATUS_TEXT[status] ?? ''}`.trim());
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.writeHeader('x-content-type-options', 'nosniff');
  }

  function send(res: uWS.HttpResponse, reply: Reply, extra: Record<string, string>, closeConnection = false): void {
    res.cork(() => {
      writeHead(res, reply.status, { 'cache-control': 'no-store', ...extra, ...(reply.headers ?? {}) });
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

  /**
   * Streams reply.file: the whole file (200) or one byte range (206 with Content-Range); an unsatisfiable range
   * answers 416. Chunks wait for the socket to drain (uWS backpressure), so a slow client holds one chunk, not the file.
   */
  function sendFile(res: uWS.HttpResponse, reply: Reply, extra: Record<string, string>, range: string | undefined, state: { aborted: boolean; onAbort: (() => void) | null }, done: () => void): void {
    const file = reply.file!;
    const finish = (): void => {
      file.done?.();
      done();
    };
    let size: number;
    try {
      size = statSync(file.path).size;
    } catch {
      if (!state.aborted) send(res, errorReply(new HttpError(404, 'E_NOT_FOUND', 'No such file')), extra);
      finish();
      return;
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...extra, ...(reply.headers ?? {}), 'accept-ranges': 'bytes', 'content-type': reply.contentType ?? 'application/octet-stream' };
    const r = range === undefined ? null : parseRange(range, size);
    if (r === 'unsatisfiable') {
      send(res, { status: 416, json: { error: { code: 'E_RANGE', message: `Range not satisfiable for ${size} bytes` } }, headers: { 'content-range': `bytes */${size}` } }, extra);
      finish();
      return;
    }
    const start = r ? r.start : 0;
    const last = r ? r.end : size - 1;
    const total = last - start + 1;
    const status = r ? 206 : 200;
    if (r) headers['content-range'] = `bytes ${start}-${last}/${size}`;
    if (total <= 0) {
      res.cork(() => {
        writeHead(res, status, headers);
        res.end();
      });
      finish();
      return;
    }
    const stream = createReadStream(file.path, { start, end: last, highWaterMark: 256 * 1024 });
    let ended = false;
    const stop = (): void => {
      if (ended) return;
      ended = true;
      stream.destroy();
      finish();
    };
    state.onAbort = stop;
    res.cork(() => writeHead(res, status, headers));
    stream.on('error', () => {
      if (!state.aborted) {
        state.aborted = true;
        res.close();
      }
      stop();
    });
    stream.on('data', (chunk) => {
      const buf = chunk as Buffer;
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      if (state.aborted) return stop();
      const base = res.getWriteOffset();
      let ok = false;
      let complete = false;
      res.cork(() => {
        [ok, complete] = res.tryEnd(ab, total);
      });
      if (complete) {
        state.aborted = true; // finished: res must not be touched again
        return stop();
      }
      if (ok) return;
      stream.pause();
      res.onWritable((offset) => {
        let ok2 = false;
        let complete2 = false;
        [ok2, complete2] = res.tryEnd(ab.slice(offset - base), total);
        if (complete2) {
          state.aborted = true;
          stop();
        } else if (ok2) stream.resume();
        return ok2;
      });
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
      const state: { aborted: boolean; onAbort: (() => void) | null } = { aborted: false, onAbort: null };
      begin();
      let counted = false;
      const done = (): void => {
        if (counted) return;
        counted = true;
        end();
      };
      res.onAborted(() => {
        state.aborted = true;
        state.onAbort?.();
        done();
      });
      let ctx: RequestCtx;
      let headerBytes: number;
      try {
        ({ ctx, headerBytes } = readRequest(res, req, route.params ?? []));
      } catch {
        const reply: Reply = { status: 400, json: { error: { code: 'E_VALIDATION', message: 'Malformed request path' } } };
        logAnswer(METHOD_NAME[route.method], route.pattern, reply, ab2str(res.getRemoteAddressAsText()));
        send(res, reply, {});
        done();
        return;
      }
      const range = ctx.headers['range'];
      const cors = corsHeaders(ctx.headers['origin']);
      const finish = (reply: Reply, close = false, cause?: unknown): void => {
        requests?.inc({ route: route.pattern, status: String(reply.status) });
        logAnswer(ctx.method, route.pattern, reply, ctx.ip, cause);
        latency?.observe({ route: route.pattern }, (performance.now() - t0) / 1000);
        if (state.aborted) {
          reply.file?.done?.();
          done();
          return;
        }
        if (reply.file) {
          sendFile(res, reply, cors, range, state, done);
          return;
        }
        state.aborted = true; // the response is finished: res must not be touched again
        send(res, reply, cors, close);
        done();
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
            if (state.aborted) return done();
            if (body === 'too_large') {
              finish(errorReply(new HttpError(413, 'E_BODY_TOO_LARGE', `Request body exceeds ${limit} bytes`)), true);
              return;
            }
            ctx.body = body;
          }
          finish(await route.handler(ctx));
        } catch (err) {
          finish(errorReply(err), false, err);
        }
      })();
    });
  }

  for (const r of routes) mount(r);

  // CORS preflight: the methods the mounted routes allow on that path.
  app.options('/*', (res, req) => {
    const origin = req.getHeader('origin');
    const methods = methodsOf(req.getUrl());
    if (origin && origins.has(origin)) {
      send(res, { status: 204 }, {
        ...corsHeaders(origin),
        'access-control-allow-methods': [...methods, 'OPTIONS'].join(', '),
        'access-control-allow-headers': 'authorization, content-type, range',
        'access-control-max-age': '600',
      });
    } else {
      const reply: Reply = { status: 403, json: { error: { code: 'E_CORS_ORIGIN', message: 'Origin not allowed' } } };
      logAnswer('OPTIONS', '/*', reply, ab2str(res.getRemoteAddressAsText()));
      send(res, reply, {});
    }
  });

  for (const ep of mounts.websockets ?? []) mountWs(ep);

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function mountWs(ep: WsEndpoint<any>): void {
    app.ws(ep.pattern, {
      maxPayloadLength: ep.maxPayloadLength,
      maxBackpressure: ep.maxBackpressure,
      closeOnBackpressureLimit: 0,
      idleTimeout: ep.idleTimeoutS,
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
        const offered = (headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        const ip = ab2str(res.getRemoteAddressAsText());
        const refuse = (reply: Reply, cause?: unknown): void => {
          ep.onAnswer?.(reply.status);
          requests?.inc({ route: ep.pattern, status: String(reply.status) });
          logAnswer('GET', ep.pattern, reply, ip, cause);
          send(res, reply, {});
        };
        if (headerBytes > maxHeader) return refuse(errorReply(new HttpError(431, 'E_HEADERS_TOO_LARGE', `Request headers exceed ${maxHeader} bytes`)));
        const origin = headers['origin'];
        // A page served by this server (the web console) sends its own origin: same host as the request.
        if (origin !== undefined && !origins.has(origin) && !sameOrigin(origin, headers['host'])) return refuse({ status: 403, json: { error: { code: 'E_CORS_ORIGIN', message: 'Origin not allowed' } } });
        let decision: ReturnType<typeof ep.upgrade>;
        try {
          decision = ep.upgrade(headers, offered);
        } catch (err) {
          return refuse(errorReply(err), err);
        }
        if ('refuse' in decision) return refuse(decision.refuse);
        ep.onAnswer?.(101);
        requests?.inc({ route: ep.pattern, status: '101' });
        res.upgrade(decision.data, key, offered.includes(ep.protocol) ? ep.protocol : '', extensions, context);
      },
      open: (ws) => ep.open(ws as unknown as WsSocket<unknown>),
      message: (ws, message, isBinary) => ep.message(ws as unknown as WsSocket<unknown>, message, isBinary),
      drain: (ws) => ep.drain(ws as unknown as WsSocket<unknown>),
      close: (ws) => ep.close(ws as unknown as WsSocket<unknown>),
    });
  }

  app.any('/*', (res, req) => {
    const path = req.getUrl();
    const known = methodsOf(path).length > 0;
    const origin = req.getHeader('origin');
    const reply = known
      ? { status: 405, json: { error: { code: 'E_METHOD_NOT_ALLOWED', message: `${req.getMethod().toUpperCase()} not allowed on ${path}` } }, headers: { allow: methodsOf(path).join(', ') } }
      : { status: 404, json: { error: { code: 'E_NOT_FOUND', message: 'No such route' } } };
    // The pattern, not the path: a URL may carry what does not belong in a log.
    logAnswer(req.getMethod().toUpperCase(), '/*', reply, ab2str(res.getRemoteAddressAsText()));
    send(res, reply, corsHeaders(origin || undefined));
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(host, options.port ?? 8001, (ls) => {
      if (ls) resolve(ls);
      else reject(new VigilError('E_LISTEN', `Could not listen on ${host}:${options.port ?? 8001}`));
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  let closing: Promise<void> | null = null;

  return {
    port,
    inFlight: () => inFlight,
    close() {
      closing ??= (async () => {
        uWS.us_listen_socket_close(listenSocket);
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, options.drainTimeoutMs ?? 10_000);
            timer.unref();
            drained = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        (app as unknown as { close?: () => void }).close?.();
      })();
      return closing;
    },
  };
}
