/**
 * The web console's server side over real HTTP (src/console/): static files (types, gzip, cache headers, /ui/*
 * fallback, API 404s untouched, 503 when not built), the cookie session (HttpOnly refresh cookie, rotation, reuse
 * refused, logout clears it, the console header required) and latest.jpg's refusals.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import { AuthService } from '../../src/auth/service.js';
import { CameraManager } from '../../src/camera/manager.js';
import { createConsole, type WebConsole } from '../../src/console/index.js';
import WebSocket from 'ws';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';

const SECRET = 'console-test-secret-0123456789abcdefghijklmn';
let dir: string;
let auth: AuthService;
let srv: ApiServer;
let bare: ApiServer;
let consoles: WebConsole[] = [];
let adminPassword = '';
let base: string;
const JS = `export const app = ${JSON.stringify('x'.repeat(2000))};\n`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-console-'));
  const dist = join(dir, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Vigil</title><div id="app"></div>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), JS);
  writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  auth = await AuthService.open({ dataDir: join(dir, 'auth'), jwt: { secret: SECRET }, announceInitialAdmin: (_u, p) => (adminPassword = p) });
  await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
  const cameras = new CameraManager();
  const c = createConsole({ auth, cameras, dist });
  const empty = createConsole({ auth, cameras, dist: join(dir, 'nothing') });
  consoles = [c, empty];
  const deps = { auth, cameras: new MemoryCameraListing([]), detections: new MemoryDetectionSource([]) };
  srv = await createApiServer({ host: '127.0.0.1', port: 0 }, { ...deps, routes: { console: c.routes }, websockets: [c.live] });
  bare = await createApiServer({ host: '127.0.0.1', port: 0 }, { ...deps, routes: { console: empty.routes } });
  base = `http://127.0.0.1:${srv.port}`;
});

after(async () => {
  for (const c of consoles) c.close();
  await srv?.close();
  await bare?.close();
  await auth?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('static: index at / and every /ui/* path (no-cache, CSP), hashed assets gzip + immutable, API 404s untouched', async () => {
  for (const path of ['/', '/ui', '/ui/cameras/gate']) {
    const r = await fetch(base + path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.match(r.headers.get('content-security-policy')!, /^default-src 'self'; /);
    assert.equal(await r.text(), '<!doctype html><title>Vigil</title><div id="app"></div>');
  }
  const js = await fetch(base + '/assets/index-abc123.js', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  // fetch inflates gzip itself; the raw body is checked through the http module below.
  assert.equal(await js.text(), JS);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    import('node:http').then(({ get }) =>
      get(base + '/assets/index-abc123.js', { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject),
    );
  });
  assert.equal(gunzipSync(raw).toString(), JS);
  assert.ok(raw.length < JS.length / 10);
  const plain = await fetch(base + '/favicon.svg');
  assert.equal(plain.headers.get('content-type'), 'image/svg+xml');
  assert.equal((await fetch(base + '/assets/missing.js')).status, 404);
  const api404 = await fetch(base + '/no-such-route');
  assert.equal(api404.status, 404);
  assert.deepEqual(await api404.json(), { error: { code: 'E_NOT_FOUND', message: 'No such route' } });
  const bareIndex = await fetch(`http://127.0.0.1:${bare.port}/`);
  assert.equal(bareIndex.status, 503);
  assert.deepEqual(await bareIndex.json(), { error: { code: 'E_CONSOLE_NOT_BUILT', message: 'The web console is not built: run `bash scripts/setup.d/66-web.sh`' } });
});

function cookieOf(r: Response): string {
  return r.headers.get('set-cookie') ?? '';
}

const H = { 'x-vigil-console': '1', 'content-type': 'application/json' };

test('session: refresh token only in an HttpOnly cookie, rotated on refresh, reuse revokes the session, logout clears it', async () => {
  const noHeader = await fetch(base + '/console/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
  assert.equal(noHeader.status, 403);
  assert.deepEqual(await noHeader.json(), { error: { code: 'E_CONSOLE_HEADER', message: 'Expected the header x-vigil-console: 1' } });
  const bad = await fetch(base + '/console/session', { method: 'POST', headers: H, body: JSON.stringify({ username: 'admin', password: 'wrong' }) });
  assert.equal(bad.status, 401);
  const login = await fetch(base + '/console/session', { method: 'POST', headers: H, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
  assert.equal(login.status, 200);
  const c1 = cookieOf(login);
  assert.match(c1, /^vigil_refresh=[A-Za-z0-9._-]+; Path=\/console\/session; Max-Age=604800; HttpOnly; SameSite=Strict$/);
  const body = (await login.json()) as { access_token: string; token_type: string; expires_in: number; user: unknown; refresh_token?: string };
  assert.equal(body.refresh_token, undefined, 'the refresh token is never in the body');
  assert.deepEqual({ ...body, access_token: typeof body.access_token }, { access_token: 'string', token_type: 'Bearer', expires_in: 900, user: { username: 'admin', role: 'admin', cameras: '*', source: 'local' } });
  const cams = await fetch(base + '/cameras', { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.equal(cams.status, 200);
  const cookie1 = c1.split(';')[0]!;
  const noCookie = await fetch(base + '/console/session/refresh', { method: 'POST', headers: H });
  assert.equal(noCookie.status, 401);
  const r2 = await fetch(base + '/console/session/refresh', { method: 'POST', headers: { ...H, cookie: cookie1 } });
  assert.equal(r2.status, 200);
  const cookie2 = cookieOf(r2).split(';')[0]!;
  assert.notEqual(cookie2, cookie1);
  // The old cookie again: reuse, the whole session is revoked and the cookie cleared.
  const reuse = await fetch(base + '/console/session/refresh', { method: 'POST', headers: { ...H, cookie: cookie1 } });
  assert.equal(reuse.status, 401);
  assert.equal((await reuse.json() as { error: { code: string } }).error.code, 'E_AUTH_REFRESH_REUSED');
  assert.match(cookieOf(reuse), /^vigil_refresh=; Path=\/console\/session; Max-Age=0; HttpOnly; SameSite=Strict$/);
  assert.equal((await fetch(base + '/console/session/refresh', { method: 'POST', headers: { ...H, cookie: cookie2 } })).status, 401);
  // A fresh session, logged out: cookie cleared, refresh refused.
  const l2 = await fetch(base + '/console/session', { method: 'POST', headers: H, body: JSON.stringify({ username: 'vera', password: 'viewer-pass' }) });
  assert.deepEqual(((await l2.json()) as { user: unknown }).user, { username: 'vera', role: 'viewer', cameras: ['cam-1'], source: 'local' });
  const cookie3 = cookieOf(l2).split(';')[0]!;
  const out = await fetch(base + '/console/session/logout', { method: 'POST', headers: { ...H, cookie: cookie3 } });
  assert.equal(out.status, 204);
  assert.match(cookieOf(out), /Max-Age=0/);
  assert.equal((await fetch(base + '/console/session/refresh', { method: 'POST', headers: { ...H, cookie: cookie3 } })).status, 401);
});

test('media cookie: POST /console/session/media puts the access token in an HttpOnly cookie for /events that expires with it; no token clears it; refusals', async () => {
  const login = await fetch(base + '/console/session', { method: 'POST', headers: H, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const noHeader = await fetch(base + '/console/session/media', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(noHeader.status, 403);
  assert.deepEqual(await noHeader.json(), { error: { code: 'E_CONSOLE_HEADER', message: 'Expected the header x-vigil-console: 1' } });
  const set = await fetch(base + '/console/session/media', { method: 'POST', headers: { ...H, authorization: `Bearer ${token}` } });
  assert.equal(set.status, 204);
  const m = /^vigil_media=([A-Za-z0-9._-]+); Path=\/events; HttpOnly; SameSite=Strict; Max-Age=(\d+)$/.exec(cookieOf(set));
  assert.ok(m, cookieOf(set));
  assert.equal(m[1], token);
  assert.ok(Number(m[2]) > 890 && Number(m[2]) <= 900, `Max-Age ${m[2]}`);
  const cleared = await fetch(base + '/console/session/media', { method: 'POST', headers: H });
  assert.equal(cleared.status, 204);
  assert.equal(cookieOf(cleared), 'vigil_media=; Path=/events; HttpOnly; SameSite=Strict; Max-Age=0');
  const forged = await fetch(base + '/console/session/media', { method: 'POST', headers: { ...H, authorization: 'Bearer not.a.token' } });
  assert.equal(forged.status, 401);
  assert.equal(cookieOf(forged), '');
});

test('latest.jpg: unknown camera 404, outside the scope 403, no token 401', async () => {
  const admin = (await auth.login('admin', adminPassword, '127.0.0.1')).access_token;
  const vera = (await auth.login('vera', 'viewer-pass', '127.0.0.1')).access_token;
  const r1 = await fetch(base + '/cameras/gate/latest.jpg', { headers: { authorization: `Bearer ${admin}` } });
  assert.equal(r1.status, 404);
  assert.deepEqual(await r1.json(), { error: { code: 'E_NOT_FOUND', message: 'No camera "gate"' } });
  const r2 = await fetch(base + '/cameras/gate/latest.jpg', { headers: { authorization: `Bearer ${vera}` } });
  assert.equal(r2.status, 403);
  assert.equal((await fetch(base + '/cameras/gate/latest.jpg')).status, 401);
});

test('/live: a logout ends the open live stream of that session (closed 4001), another session keeps its own', async () => {
  const login = async (): Promise<{ token: string; cookie: string }> => {
    const r = await fetch(base + '/console/session', { method: 'POST', headers: H, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
    return { token: ((await r.json()) as { access_token: string }).access_token, cookie: cookieOf(r).split(';')[0]! };
  };
  const a = await login();
  const b = await login();
  const connect = async (token: string): Promise<{ ws: WebSocket; closed: Promise<number> }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/live`, ['vigil.live.v1', `bearer.${token}`]);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await new Promise<void>((res, rej) => (ws.once('open', () => res()), ws.once('error', rej)));
    return { ws, closed };
  };
  const wa = await connect(a.token);
  const wb = await connect(b.token);
  assert.equal((await fetch(base + '/console/session/logout', { method: 'POST', headers: { ...H, cookie: a.cookie } })).status, 204);
  assert.equal(await wa.closed, 4001);
  assert.equal(wb.ws.readyState, WebSocket.OPEN);
  wb.ws.close();
  await wb.closed;
  const refused = new WebSocket(`ws://127.0.0.1:${srv.port}/live`, ['vigil.live.v1', `bearer.${a.token}`]);
  const status = await new Promise<number>((r) => refused.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
  assert.equal(status, 401);
});
