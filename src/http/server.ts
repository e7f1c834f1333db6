/**
 * The transport: one uWebSockets.js app (`@trufflesuite/uws-js-unofficial`) serving the route modules and
 * WebSocket endpoints it is given. It knows no domain module: what a route does, who may call it and what a
 * socket carries is decided by the modules (src/api/).
 *
 * Limits: request body (413), total header bytes (431), CORS only for configured origins (preflight from other
 * origins: 403), allowed methods taken from the mounted routes. Files are streamed in chunks with Range support.
 * close() stops listening, then waits for the requests in flight. Nothing here logs headers or URLs.
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer as createNodeHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect as netConnect, isIPv4, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /**
   * Answer HTTP/1.0 requests (default false). uWebSockets.js never answers them (the connection idles out), and
   * load-balancer health checks and some proxies still send them. With this on, a Node listener owns the port:
   * an HTTP/1.0 request is answered by Node's HTTP parser through the same routes, everything else (HTTP/1.1,
   * WebSocket upgrades) is relayed to uWS on a private Unix socket with a PROXY v2 header carrying the client's
   * address. The relay costs a local copy of every byte, which is why it is not the default.
   */
  http10?: boolean;
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

/** Path parameters of a pattern, percent-decoded, in the pattern's order (`/a/:id` on `/a/x%20y` -> { id: 'x y' }). */
function paramsOf(pattern: string, path: string, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const p = pattern.split('/');
  const s = path.split('/');
  let n = 0;
  p.forEach((seg, i) => {
    if (seg.startsWith(':') && n < names.length) out[names[n++]!] = decodeURIComponent(s[i] ?? '');
  });
  return out;
}

/** How specific a pattern is (static segments first, wildcards last), to pick one route as uWS would. */
function specificity(pattern: string): number {
  return pattern.split('/').reduce((sum, seg) => sum + (seg === '*' ? 0 : seg.startsWith(':') ? 1 : 3), 0);
}

/** A PROXY protocol v2 header (TCP over IPv4 or IPv6) naming the client of a relayed connection. */
function proxyV2Header(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  const v4 = (a: string): string | null => (isIPv4(a) ? a : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1] ?? null);
  const s4 = v4(src);
  const d4 = v4(dst);
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const ports = (b: Buffer, at: number): void => {
    b.writeUInt16BE(srcPort, at);
    b.writeUInt16BE(dstPort, at + 2);
  };
  if (s4 && d4) {
    const b = Buffer.alloc(16 + 12);
    sig.copy(b);
    b[12] = 0x21; // version 2, PROXY
    b[13] = 0x11; // TCP over IPv4
    b.writeUInt16BE(12, 14);
    s4.split('.').forEach((o, i) => (b[16 + i] = Number(o)));
    d4.split('.').forEach((o, i) => (b[20 + i] = Number(o)));
    ports(b, 24);
    return b;
  }
  const b = Buffer.alloc(16 + 36);
  sig.copy(b);
  b[12] = 0x21;
  b[13] = 0x21; // TCP over IPv6
  b.writeUInt16BE(36, 14);
  const v6 = (a: string, at: number): void => {
    const addr = s4 !== null && a === src ? `::ffff:${s4}` : d4 !== null && a === dst ? `::ffff:${d4}` : a;
    const [head, tail = ''] = addr.includes('::') ? addr.split('::') : [addr, undefined as unknown as string];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    // an embedded IPv4 tail counts as two groups
    const expand = (groups: string[]): number[] =>
      groups.flatMap((g) => (g.includes('.') ? ((o) => [(o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!])(g.split('.').map(Number)) : [parseInt(g, 16)]));
    const hh = expand(h);
    const tt = expand(t);
    const groups = [...hh, ...new Array(Math.max(0, 8 - hh.length - tt.length)).fill(0), ...tt];
    groups.forEach((g, i) => b.writeUInt16BE(g & 0xffff, at + i * 2));
  };
  v6(src, 16);
  v6(dst, 32);
  ports(b, 48);
  return b;
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
  const relayed = options.http10 === true;
  /** The client's address: behind the HTTP/1.0 front, the one its PROXY header names (uWS then only listens privately). */
  function remoteIp(res: uWS.HttpResponse): string {
    if (relayed) {
      const proxied = ab2str(res.getProxiedRemoteAddressAsText());
      if (proxied) return proxied;
    }
    return ab2str(res.getRemoteAddressAsText());
  }
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
   * The byte span of reply.file that a request with this Range header gets, with its headers; or the error reply
   * (404 when the file is gone, 416 when the range lies outside it). One place for both HTTP fronts.
   */
  function planFile(reply: Reply, range: string | undefined): { error: Reply } | { start: number; last: number; status: 200 | 206; headers: Record<string, string> } {
    let size: number;
    try {
      size = statSync(reply.file!.path).size;
    } catch {
      return { error: errorReply(new HttpError(404, 'E_NOT_FOUND', 'No such file')) };
    }
    const r = range === undefined ? null : parseRange(range, size);
    if (r === 'unsatisfiable') {
      return { error: { status: 416, json: { error: { code: 'E_RANGE', message: `Range not satisfiable for ${size} bytes` } }, headers: { 'content-range': `bytes */${size}` } } };
    }
    const headers: Record<string, string> = { 'accept-ranges': 'bytes', 'content-type': reply.contentType ?? 'application/octet-stream' };
    if (r) headers['content-range'] = `bytes ${r.start}-${r.end}/${size}`;
    return r ? { start: r.start, last: r.end, status: 206, headers } : { start: 0, last: size - 1, status: 200, headers };
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
    const plan = planFile(reply, range);
    if ('error' in plan) {
      if (!state.aborted) send(res, plan.error, extra);
      finish();
      return;
    }
    const { start, last, status } = plan;
    const total = last - start + 1;
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...extra, ...(reply.headers ?? {}), ...plan.headers };
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
        ip: remoteIp(res),
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
        logAnswer(METHOD_NAME[route.method], route.pattern, reply, remoteIp(res));
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
      logAnswer('OPTIONS', '/*', reply, remoteIp(res));
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
        const ip = remoteIp(res);
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
    logAnswer(req.getMethod().toUpperCase(), '/*', reply, remoteIp(res));
    send(res, reply, corsHeaders(origin || undefined));
  });

  // ---- HTTP/1.0 (options.http10): Node answers HTTP/1.0 requests through the same routes ----

  /** Writes a Reply on a Node response (HTTP/1.0: always with Content-Length, so keep-alive can hold). */
  function sendNode(res: ServerResponse, reply: Reply, extra: Record<string, string>, range: string | undefined, finished: () => void): void {
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...extra, ...(reply.headers ?? {}), 'x-content-type-options': 'nosniff' };
    if (reply.file) {
      const file = reply.file;
      const finish = (): void => {
        file.done?.();
        finished();
      };
      const plan = planFile(reply, range);
      if ('error' in plan) {
        finish();
        return sendNode(res, plan.error, extra, undefined, () => {});
      }
      const { start, last, status } = plan;
      Object.assign(headers, plan.headers);
      headers['content-length'] = String(Math.max(0, last - start + 1));
      res.writeHead(status, STATUS_TEXT[status], headers);
      if (last < start) {
        res.end();
        finish();
        return;
      }
      const stream = createReadStream(file.path, { start, end: last, highWaterMark: 256 * 1024 });
      stream.on('error', () => res.destroy());
      res.on('close', () => {
        stream.destroy();
        finish();
      });
      stream.pipe(res);
      return;
    }
    let body: Buffer = Buffer.alloc(0);
    if (reply.status !== 204) {
      if (reply.body !== undefined) {
        headers['content-type'] = reply.contentType ?? 'application/octet-stream';
        body = Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength);
      } else if (reply.text !== undefined) {
        headers['content-type'] = reply.contentType ?? 'text/plain; charset=utf-8';
        body = Buffer.from(reply.text, 'utf8');
      } else {
        headers['content-type'] = 'application/json';
        body = Buffer.from(JSON.stringify(reply.json ?? null), 'utf8');
      }
      headers['content-length'] = String(body.length);
    }
    res.writeHead(reply.status, STATUS_TEXT[reply.status] ?? '', headers);
    res.end(body);
    finished();
  }

  /** One HTTP/1.0 request: the route uWS would pick, the same limits, handler, error mapping, metrics and log. */
  function handleNode(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const headers: Record<string, string> = {};
    let headerBytes = 0;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!.toLowerCase();
      const v = req.rawHeaders[i + 1]!;
      headerBytes += k.length + v.length + 4;
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const cors = corsHeaders(headers['origin']);
    const candidates = routes.filter((r) => METHOD_NAME[r.method] === method && patternMatches(r.pattern, path)).sort((a, b) => specificity(b.pattern) - specificity(a.pattern));
    const route = candidates[0];
    if (!route) {
      const allowed = methodsOf(path);
      const reply: Reply = allowed.length > 0
        ? { status: 405, json: { error: { code: 'E_METHOD_NOT_ALLOWED', message: `${method} not allowed on ${path}` } }, headers: { allow: allowed.join(', ') } }
        : { status: 404, json: { error: { code: 'E_NOT_FOUND', message: 'No such route' } } };
      logAnswer(method, '/*', reply, ip);
      req.resume();
      sendNode(res, reply, cors, undefined, () => {});
      return;
    }
    begin();
    let counted = false;
    const done = (): void => {
      if (counted) return;
      counted = true;
      end();
    };
    res.on('close', done);
    const finish = (reply: Reply, cause?: unknown): void => {
      requests?.inc({ route: route.pattern, status: String(reply.status) });
      latency?.observe({ route: route.pattern }, (performance.now() - t0) / 1000);
      logAnswer(method, route.pattern, reply, ip, cause);
      if (res.destroyed) {
        reply.file?.done?.();
        return done();
      }
      if (reply.status === 413 || reply.status === 431) res.shouldKeepAlive = false;
      sendNode(res, reply, cors, headers['range'], done);
    };
    let params: Record<string, string>;
    try {
      params = paramsOf(route.pattern, path, route.params ?? []);
    } catch {
      req.resume();
      return finish({ status: 400, json: { error: { code: 'E_VALIDATION', message: 'Malformed request path' } } });
    }
    if (headerBytes > maxHeader) {
      req.resume();
      return finish(errorReply(new HttpError(431, 'E_HEADERS_TOO_LARGE', `Request headers exceed ${maxHeader} bytes`)));
    }
    const limit = route.maxBodyBytes ?? maxBody;
    if (route.body && Number(headers['content-length'] ?? '0') > limit) {
      req.resume();
      return finish(errorReply(new HttpError(413, 'E_BODY_TOO_LARGE', `Request body exceeds ${limit} bytes`)));
    }
    const ctx: RequestCtx = { method, path, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), headers, ip, params, body: null };
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      else if (route.body) chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        try {
          if (route.body) {
            if (tooLarge) return finish(errorReply(new HttpError(413, 'E_BODY_TOO_LARGE', `Request body exceeds ${limit} bytes`)));
            ctx.body = Buffer.concat(chunks);
          }
          finish(await route.handler(ctx));
        } catch (err) {
          finish(errorReply(err), err);
        }
      })();
    });
  }

  let front: { server: NetServer; node: ReturnType<typeof createNodeHttpServer>; dir: string; sockets: Set<Socket> } | null = null;
  let listenSocket: uWS.us_listen_socket;
  let port: number;
  if (relayed) {
    // uWS listens on a Unix socket in a folder only this process's user can enter: its PROXY headers are trusted.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-uws-'));
    const upstream = join(dir, 'uws.sock');
    listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
      app.listen_unix((ls) => (ls ? resolve(ls) : reject(new VigilError('E_LISTEN', `Could not listen on ${upstream}`))), upstream);
    });
    // Headers within 10 s (uWS's idle limit: a slow-header client holds no socket longer than it would there).
    const node = createNodeHttpServer({ maxHeaderSize: Math.max(maxHeader * 2, 16 * 1024), keepAliveTimeout: 10_000, headersTimeout: 10_000, requestTimeout: 60_000 }, handleNode);
    const sockets = new Set<Socket>();
    const server = createNetServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => sock.destroy());
      let head = Buffer.alloc(0);
      // Like uWS: a connection that does not send its request line in 10 s is closed.
      sock.setTimeout(10_000, () => sock.destroy());
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const eol = head.indexOf('\n');
        if (eol < 0 && head.length < 8192) return;
        sock.off('data', onData);
        sock.pause();
        sock.setTimeout(0);
        const line = head.subarray(0, eol < 0 ? head.length : eol).toString('latin1');
        if (/^[A-Z]+ \S+ HTTP\/1\.0\r?$/.test(line)) {
          sock.unshift(head);
          node.emit('connection', sock);
          sock.resume();
          return;
        }
        const up = netConnect({ path: upstream });
        up.on('error', () => sock.destroy());
        sock.on('close', () => up.destroy());
        up.on('close', () => sock.destroy());
        up.write(proxyV2Header(sock.remoteAddress ?? '0.0.0.0', sock.remotePort ?? 0, sock.localAddress ?? '0.0.0.0', sock.localPort ?? 0));
        up.write(head);
        sock.pipe(up);
        up.pipe(sock);
        sock.resume();
      };
      sock.on('data', onData);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new VigilError('E_LISTEN', `Could not listen on ${host}:${options.port ?? 8001}: ${err.message}`)));
      server.listen(options.port ?? 8001, host, () => resolve());
    });
    port = (server.address() as { port: number }).port;
    front = { server, node, dir, sockets };
  } else {
    listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
      app.listen(host, options.port ?? 8001, (ls) => {
        if (ls) resolve(ls);
        else reject(new VigilError('E_LISTEN', `Could not listen on ${host}:${options.port ?? 8001}`));
      });
    });
    port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  }
  let closing: Promise<void> | null = null;

  return {
    port,
    inFlight: () => inFlight,
    close() {
      closing ??= (async () => {
        uWS.us_listen_socket_close(listenSocket);
        front?.server.close();
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
        if (front) {
          front.node.closeAllConnections();
          for (const sock of front.sockets) sock.destroy();
          rmSync(front.dir, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
}
