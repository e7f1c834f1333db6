/**
 * REST API on the real uWS server (loopback): every route's success and error responses, each validated against
 * the served OpenAPI document; limits (body, headers, login rate), CORS, health aggregation, metrics.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { closeWs, connectWs, startHarness, type Harness } from './api-helpers.js';
import { OpenApiValidator } from './api-openapi.js';

let h: Harness;
let api: OpenApiValidator;

before(async () => {
  h = await startHarness({ server: { corsOrigins: ['https://dash.example'], maxBodyBytes: 1024, maxHeaderBytes: 4096 } });
  const doc = await (await fetch(`${h.base}/openapi.json`)).json();
  api = new OpenApiValidator(doc);
});
after(() => h.close());

interface Res {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

async function call(method: string, path: string, init: { token?: string; json?: unknown; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers['authorization'] = `Bearer ${init.token}`;
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(init.json);
  }
  const r = await fetch(`${h.base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  let parsed: unknown = undefined;
  if ((r.headers.get('content-type') ?? '').startsWith('application/json')) parsed = JSON.parse(text);
  return { status: r.status, headers: r.headers, body: parsed, text };
}

/** Calls and validates against the OpenAPI document (`docPath` = the templated path). */
async function checked(method: string, path: string, docPath: string, init: Parameters<typeof call>[2] = {}): Promise<Res> {
  const r = await call(method, path, init);
  api.check(method, docPath, r.status, r.body);
  return r;
}

const errOf = (r: Res) => (r.body as { error: { code: string; message: string } }).error;

test('openapi.json is served and names every route', async () => {
  const r = await call('GET', '/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.body as { openapi: string; paths: Record<string, unknown> };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/alerts', '/alerts/{id}', '/alerts/{id}/snapshot.jpg', '/auth/login', '/auth/logout', '/auth/refresh', '/auth/saml/acs', '/auth/saml/login', '/auth/saml/metadata', '/cameras', '/cameras/{id}', '/cameras/{id}/latest.jpg', '/console/rules/replay', '/detections', '/health', '/metrics', '/openapi.json', '/search', '/tracks', '/tracks/{ref}/snapshot.jpg', '/users', '/users/{username}', '/users/{username}/password',
  ]);
});

test('health aggregates registered checks with status and response time', async () => {
  // the details are for operators and admins (test/integration/security-scope.test.ts: anonymous gets the status)
  const op = { token: h.tokens.olga.access_token };
  let r = await checked('GET', '/health', '/health', op);
  assert.equal(r.status, 200);
  const body = r.body as { status: string; services: Record<string, { status: string; response_time: number }> };
  assert.equal(body.status, 'healthy');
  assert.deepEqual(Object.keys(body.services), ['auth_store']);
  assert.equal(body.services['auth_store']!.status, 'ok');
  const off1 = h.srv.health.register('recorder', { check: async () => ({ status: 'degraded', detail: 'disk 91% full' }), critical: false });
  r = await checked('GET', '/health', '/health', op);
  assert.equal((r.body as { status: string }).status, 'degraded');
  assert.deepEqual((r.body as { services: Record<string, unknown> }).services['recorder'], {
    status: 'degraded',
    response_time: (r.body as { services: Record<string, { response_time: number }> }).services['recorder']!.response_time,
    detail: 'disk 91% full',
  });
  const off2 = h.srv.health.register('store', { check: () => new Promise(() => undefined), timeoutMs: 50 });
  r = await checked('GET', '/health', '/health', op);
  assert.equal(r.status, 503);
  assert.equal((r.body as { status: string }).status, 'unhealthy');
  assert.deepEqual(
    { ...(r.body as { services: Record<string, { status: string; detail: string }> }).services['store'], response_time: 0 },
    { status: 'down', detail: 'timed out', response_time: 0 },
  );
  off1();
  off2();
  const off3 = h.srv.health.register('redis', { check: () => { throw new Error('ECONNREFUSED'); } });
  r = await checked('GET', '/health', '/health', op);
  assert.equal(r.status, 503);
  off3();
});

test('login, refresh, logout over HTTP', async () => {
  let r = await checked('POST', '/auth/login', '/auth/login', { json: { username: 'olga', password: 'operator-pass' } });
  assert.equal(r.status, 200);
  const login = r.body as { access_token: string; refresh_token: string; user: unknown };
  assert.deepEqual(login.user, { id: 'local:olga', username: 'olga', roles: ['operator'], cameras: '*', source: 'local' });
  r = await checked('POST', '/auth/login', '/auth/login', { json: { username: 'olga', password: 'wrong-pass' } });
  assert.equal(r.status, 401);
  assert.deepEqual(errOf(r), { code: 'E_AUTH_BAD_CREDENTIALS', message: 'Invalid username or password' });
  assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  r = await checked('POST', '/auth/login', '/auth/login', { json: { username: 'olga' } });
  assert.equal(r.status, 400);
  assert.deepEqual(errOf(r), { code: 'E_VALIDATION', message: 'Expected a string of 1-1024 characters for password but received undefined' });
  r = await checked('POST', '/auth/login', '/auth/login', { json: { username: 'olga', password: '' } });
  assert.deepEqual(errOf(r), { code: 'E_VALIDATION', message: 'Expected a string of 1-1024 characters for password but received "(hidden)"' });
  r = await checked('POST', '/auth/login', '/auth/login', { body: '{"username":', headers: { 'content-type': 'application/json' } });
  assert.deepEqual([r.status, errOf(r)], [400, { code: 'E_VALIDATION', message: 'Request body is not valid JSON' }]);
  r = await call('POST', '/auth/login', { body: 'username=olga', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.deepEqual([r.status, errOf(r)], [415, { code: 'E_UNSUPPORTED_MEDIA_TYPE', message: 'Expected Content-Type application/json' }]);
  r = await checked('POST', '/auth/login', '/auth/login', { json: { username: 'olga', password: 'x'.repeat(2000) } });
  assert.deepEqual([r.status, errOf(r)], [413, { code: 'E_BODY_TOO_LARGE', message: 'Request body exceeds 1024 bytes' }]);

  r = await checked('POST', '/auth/refresh', '/auth/refresh', { json: { refresh_token: login.refresh_token } });
  assert.equal(r.status, 200);
  const rotated = r.body as { access_token: string; refresh_token: string };
  r = await checked('POST', '/auth/refresh', '/auth/refresh', { json: { refresh_token: login.refresh_token } });
  assert.deepEqual([r.status, errOf(r).code], [401, 'E_AUTH_REFRESH_REUSED']);
  r = await checked('GET', '/cameras', '/cameras', { token: rotated.access_token });
  assert.deepEqual([r.status, errOf(r).code], [401, 'E_AUTH_REVOKED']);

  const again = (await call('POST', '/auth/login', { json: { username: 'olga', password: 'operator-pass' } })).body as { access_token: string; refresh_token: string };
  r = await checked('POST', '/auth/logout', '/auth/logout', { json: { refresh_token: again.refresh_token } });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  r = await checked('GET', '/cameras', '/cameras', { token: again.access_token });
  assert.deepEqual([r.status, errOf(r).code], [401, 'E_AUTH_REVOKED']);
  r = await checked('POST', '/auth/logout', '/auth/logout', { json: { refresh_token: 'garbage' } });
  assert.deepEqual([r.status, errOf(r).code], [401, 'E_AUTH_INVALID']);
});

test('cameras: list with status filter and scope; one camera; 403 out of scope; 404 unknown', async () => {
  let r = await checked('GET', '/cameras', '/cameras', { token: h.tokens.admin.access_token });
  assert.deepEqual((r.body as Array<{ id: string }>).map((c) => c.id), ['cam-1', 'cam-2', 'cam-3']);
  assert.deepEqual((r.body as unknown[])[1], {
    id: 'cam-2', name: 'Lobby', location: null, status: 'error', state: 'reconnecting', stream_url: 'rtsp://10.0.0.6/stream1', source: 'rtsp://10.0.0.6/stream1',
    width: 1280, height: 720, fps: 15, last_seen: null, last_error: 'EOS', origin: 'config', detection: true,
  });
  r = await checked('GET', '/cameras?status=active', '/cameras', { token: h.tokens.admin.access_token });
  assert.deepEqual((r.body as Array<{ id: string }>).map((c) => c.id), ['cam-1']);
  r = await checked('GET', '/cameras?status=error', '/cameras', { token: h.tokens.admin.access_token });
  assert.deepEqual((r.body as Array<{ id: string }>).map((c) => c.id), ['cam-2']);
  r = await checked('GET', '/cameras?status=inactive', '/cameras', { token: h.tokens.admin.access_token });
  assert.deepEqual((r.body as Array<{ id: string }>).map((c) => c.id), ['cam-3']);
  r = await checked('GET', '/cameras?status=running', '/cameras', { token: h.tokens.olga.access_token });
  assert.deepEqual((r.body as Array<{ id: string }>).map((c) => c.id), ['cam-1']);
  r = await checked('GET', '/cameras?status=broken', '/cameras', { token: h.tokens.admin.access_token });
  assert.deepEqual(errOf(r), {
    code: 'E_VALIDATION',
    message: 'Expected all, active, inactive, error, starting, running, stalled, reconnecting, stopped, failed for status but received "broken"',
  });
  r = await checked('GET', '/cameras', '/cameras', { token: h.tokens.vera.access_token });
  assert.deepEqual((r.body as Array<{ id: string }>).map((c) => c.id), ['cam-1']);
  r = await checked('GET', '/cameras/cam-1', '/cameras/{id}', { token: h.tokens.vera.access_token });
  assert.equal((r.body as { name: string }).name, 'Gate');
  r = await checked('GET', '/cameras/cam-2', '/cameras/{id}', { token: h.tokens.vera.access_token });
  assert.deepEqual([r.status, errOf(r)], [403, { code: 'E_FORBIDDEN_CAMERA', message: 'Camera "cam-2" is outside this user\'s scope' }]);
  r = await checked('GET', '/cameras/nope', '/cameras/{id}', { token: h.tokens.admin.access_token });
  assert.deepEqual([r.status, errOf(r)], [404, { code: 'E_NOT_FOUND', message: 'No camera "nope"' }]);
});

test('detections: filters, pagination, scope, exact rows', async () => {
  const tok = h.tokens.admin.access_token;
  let r = await checked('GET', '/detections', '/detections', { token: tok });
  let b = r.body as { detections: Array<Record<string, unknown>>; total: number; page: number; page_size: number };
  assert.deepEqual([b.total, b.page, b.page_size, b.detections.length], [30, 1, 100, 30]);
  assert.deepEqual(b.detections[0], {
    id: '30', camera_id: 'cam-3', timestamp: '2025-11-24T16:00:29.000Z', timestamp_ns: '1764000029000000000', type: 'car', class_id: 2,
    confidence: 0.9, bounding_box: { x: 29, y: 30, width: 11, height: 20 }, track_id: null, frame_width: 1920, frame_height: 1080,
  });
  r = await checked('GET', '/detections?camera_id=cam-1&confidence_min=0.5&class=person&page=1&page_size=2', '/detections', { token: tok });
  b = r.body as typeof b;
  // cam-1 rows: i = 0,3,...,27; person (even i): 0,6,12,18,24; confidence (i%10)/10 >= 0.5: 6 (0.6), 18 (0.8), 24 (0.4 no) -> 6, 18
  assert.deepEqual([b.total, b.detections.map((d) => d['id'])], [2, ['19', '7']]);
  r = await checked('GET', '/detections?start_time=2025-11-24T16:00:10Z&end_time=1764000013000000000&page_size=2&page=2', '/detections', { token: tok });
  b = r.body as typeof b;
  assert.deepEqual([b.total, b.page, b.detections.map((d) => d['id'])], [3, 2, ['11']]);
  r = await checked('GET', '/detections', '/detections', { token: h.tokens.vera.access_token });
  b = r.body as typeof b;
  assert.equal(b.total, 10);
  assert.ok(b.detections.every((d) => d['camera_id'] === 'cam-1'));
  r = await checked('GET', '/detections?camera_id=cam-2', '/detections', { token: h.tokens.vera.access_token });
  assert.deepEqual([r.status, errOf(r).code], [403, 'E_FORBIDDEN_CAMERA']);
  const bad: Array<[string, string]> = [
    ['confidence_min=2', 'Expected a number from 0 to 1 for confidence_min but received "2"'],
    ['page=0', 'Expected an integer from 1 to 1000000 for page but received "0"'],
    ['page_size=5000', 'Expected an integer from 1 to 1000 for page_size but received "5000"'],
    ['start_time=yesterday', 'Expected nanoseconds since the Unix epoch or an ISO 8601 date-time with a zone for start_time but received "yesterday"'],
  ];
  for (const [q, message] of bad) {
    r = await checked('GET', `/detections?${q}`, '/detections', { token: tok });
    assert.deepEqual([r.status, errOf(r)], [400, { code: 'E_VALIDATION', message }]);
  }
});

test('users (admin only) and metrics (admin, operator)', async () => {
  let r = await checked('GET', '/users', '/users', { token: h.tokens.admin.access_token });
  assert.deepEqual((r.body as { users: Array<{ username: string }> }).users.map((u) => u.username).sort(), ['admin', 'olga', 'vera']);
  r = await checked('POST', '/users', '/users', { token: h.tokens.admin.access_token, json: { username: 'nina', password: 'nina-pass-1', role: 'viewer', cameras: ['cam-3'] } });
  assert.equal(r.status, 201);
  assert.deepEqual({ ...(r.body as object), created: 'x' }, { username: 'nina', role: 'viewer', cameras: ['cam-3'], disabled: false, created: 'x' });
  r = await checked('POST', '/users', '/users', { token: h.tokens.admin.access_token, json: { username: 'nina', password: 'nina-pass-1', role: 'viewer' } });
  assert.deepEqual([r.status, errOf(r).code], [409, 'E_CONFLICT']);
  r = await checked('POST', '/users', '/users', { token: h.tokens.admin.access_token, json: { username: 'n!', password: 'nina-pass-1', role: 'viewer' } });
  assert.deepEqual([r.status, errOf(r)], [400, { code: 'E_VALIDATION', message: 'Expected a string of 3-50 characters for username but received "n!"' }]);
  r = await checked('POST', '/users', '/users', { token: h.tokens.admin.access_token, json: { username: 'n$n', password: 'nina-pass-1', role: 'viewer' } });
  assert.deepEqual([r.status, errOf(r)], [400, { code: 'E_VALIDATION', message: 'Expected 3-50 characters of A-Z a-z 0-9 . _ @ - for username but received "n$n"' }]);
  r = await checked('POST', '/users', '/users', { token: h.tokens.olga.access_token, json: { username: 'evil', password: 'evil-pass-1', role: 'admin' } });
  assert.deepEqual([r.status, errOf(r)], [403, { code: 'E_FORBIDDEN', message: 'Role may not users:write' }]);
  const m = await call('GET', '/metrics', { token: h.tokens.olga.access_token });
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(m.text, /^vigil_ws_clients 0$/m);
  assert.match(m.text, /^vigil_http_requests_total\{route="\/cameras",status="200"\} \d+$/m);
  assert.match(m.text, /^process_cpu_user_seconds_total /m);
  r = await checked('GET', '/metrics', '/metrics', { token: h.tokens.vera.access_token });
  assert.deepEqual([r.status, errOf(r)], [403, { code: 'E_FORBIDDEN', message: 'Role may not metrics:read' }]);
});

test('limits and routing: header size, unknown route, wrong method', async () => {
  // fetch() refuses some big headers itself; node:http sends what we give it
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${h.base}/cameras`, { headers: { 'x-filler': 'a'.repeat(5000), authorization: `Bearer ${h.tokens.admin.access_token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 431);
  let r = await call('GET', '/nope');
  assert.deepEqual([r.status, errOf(r)], [404, { code: 'E_NOT_FOUND', message: 'No such route' }]);
  r = await call('DELETE', '/cameras');
  assert.deepEqual([r.status, errOf(r)], [405, { code: 'E_METHOD_NOT_ALLOWED', message: 'DELETE not allowed on /cameras' }]);
});

test('WebSocket upgrade limits: header size 431, foreign Origin 403, configured Origin accepted', async () => {
  await assert.rejects(connectWs(h.wsUrl, { token: h.tokens.admin.access_token, headers: { 'x-filler': 'a'.repeat(5000) } }), { status: 431 });
  await assert.rejects(connectWs(h.wsUrl, { token: h.tokens.admin.access_token, headers: { origin: 'https://evil.example' } }), { status: 403 });
  const ws = await connectWs(h.wsUrl, { token: h.tokens.admin.access_token, via: 'protocol', headers: { origin: 'https://dash.example' } });
  assert.equal(ws.protocol, 'vigil.v1');
  await closeWs(ws);
});

test('CORS: configured origin gets headers and a preflight; others do not', async () => {
  let r = await call('GET', '/health', { headers: { origin: 'https://dash.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://dash.example');
  assert.equal(r.headers.get('vary'), 'Origin');
  r = await call('GET', '/health', { headers: { origin: 'https://evil.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  r = await call('OPTIONS', '/cameras', { headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET' } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-methods'), 'GET, OPTIONS');
  assert.equal(r.headers.get('access-control-allow-headers'), 'authorization, content-type, range');
  // The methods come from the mounted routes: /rules/:id takes GET, PUT, PATCH and DELETE.
  r = await call('OPTIONS', '/rules/r1', { headers: { origin: 'https://dash.example', 'access-control-request-method': 'PUT' } });
  assert.equal(r.headers.get('access-control-allow-methods'), 'GET, PUT, PATCH, DELETE, OPTIONS');
  r = await call('OPTIONS', '/cameras', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
  assert.deepEqual([r.status, errOf(r).code], [403, 'E_CORS_ORIGIN']);
});

test('login rate limits over HTTP answer 429 with Retry-After', async () => {
  // a frozen clock: the bucket does not refill between attempts however slow this machine is
  const frozen = Date.now();
  const h2 = await startHarness({
    users: false,
    auth: { now: () => frozen, rateLimits: { loginPerIp: { max: 3, windowS: 60 }, loginFailuresPerUser: { max: 10, windowS: 60 } } },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${h2.base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `user${i}`, password: 'guess-guess' }) });
      assert.equal(r.status, 401);
      await r.arrayBuffer();
    }
    const r = await fetch(`${h2.base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: h2.adminPassword }) });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '20');
    const body = await r.json();
    api.check('POST', '/auth/login', 429, body);
    assert.deepEqual(body, { error: { code: 'E_RATE_LIMITED', message: 'Too many login attempts; retry in 20 s' } });
  } finally {
    await h2.close();
  }
});
