/**
 * Issue 17 item 6 (all but the WebSocket part), on the composed server: a start time past 2^64 ns is clamped (it
 * was a 500), rule routes take application/json only (415), POST /search refuses vectors whose scores would
 * overflow (400 naming the component; it answered `score: null`), and refusals and 500s are logged (method, route
 * pattern, status, code, client; the cause of a 500 only in the log).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import { createHttpServer, type RouteModule } from '../../src/http/index.js';
import type { Logger } from '../../src/log.js';

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function capture(lines: Line[]): Logger {
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
  const log = { debug() {}, info: at('info'), warn: at('warn'), error: at('error'), child: () => log } as unknown as Logger;
  return log;
}

test('start times past 2^64 ns, rule Content-Type, overflowing search vectors, logged refusals', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-http-hardening-'));
  const lines: Line[] = [];
  let password = '';
  const config = parseConfig({ dataDir: dir, server: { host: '127.0.0.1', port: 0 }, cameras: [], detector: false, recording: { minFreeGb: 0 } });
  config.auth = { ...config.auth, announceInitialAdmin: (_u: string, p: string) => (password = p) };
  const server = await createServer(config, { log: capture(lines) });
  try {
    const base = `http://127.0.0.1:${server.http!.port}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    assert.equal(login.status, 200);
    const auth = { authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}` };

    // Start times past the last stored nanosecond: clamped, an empty answer (was 500 from the key encoding).
    for (const t of ['9999-01-01T00:00:00Z', '99999999999999999999', '18446744073709551616']) {
      const r = await fetch(`${base}/detections?start_time=${encodeURIComponent(t)}`, { headers: auth });
      assert.equal(r.status, 200, `start_time=${t}`);
      assert.equal(((await r.json()) as { total: number }).total, 0);
      const a = await fetch(`${base}/alerts?start_time=${encodeURIComponent(t)}`, { headers: auth });
      assert.equal(a.status, 200, `alerts start_time=${t}`);
    }

    // Rule routes take JSON only.
    const rule = JSON.stringify({ id: 'crowd', name: 'Crowd', kind: 'occupancy', condition: 'above', threshold: 20 });
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const r = await fetch(`${base}/rules`, { method: 'POST', headers: { ...auth, ...(ct ? { 'content-type': ct } : {}) }, body: Buffer.from(rule) });
      assert.equal(r.status, 415, `POST /rules with ${ct ?? 'no'} Content-Type`);
      assert.deepEqual(await r.json(), { error: { code: 'E_UNSUPPORTED_MEDIA_TYPE', message: 'Expected Content-Type application/json' } });
    }
    const created = await fetch(`${base}/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json; charset=utf-8' }, body: rule });
    assert.equal(created.status, 201);
    for (const method of ['PUT', 'PATCH']) {
      const r = await fetch(`${base}/rules/crowd`, { method, headers: { ...auth, 'content-type': 'text/plain' }, body: rule });
      assert.equal(r.status, 415, `${method} /rules/crowd with text/plain`);
    }

    // Search vectors whose scores would overflow are refused, naming the component.
    const search = (body: string) => fetch(`${base}/search`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const huge = await search(JSON.stringify({ vector: [0.5, 1e300, 0.25] }));
    assert.equal(huge.status, 400);
    assert.deepEqual(await huge.json(), { error: { code: 'E_VALIDATION', message: 'Expected a finite number of magnitude at most 1e+30 for vector[1] but received 1e+300' } });
    const inf = await search('{"vector": [1e400, 1]}'); // JSON.parse makes Infinity of it
    assert.equal(inf.status, 400);
    assert.deepEqual(await inf.json(), { error: { code: 'E_VALIDATION', message: 'Expected a finite number of magnitude at most 1e+30 for vector[0] but received Infinity' } });

    // Refusals are logged: who (route pattern, not the URL), what status and code, from where.
    const noToken = await fetch(`${base}/detections?start_time=1`);
    assert.equal(noToken.status, 401);
    const find = (msg: string) => lines.find((l) => l.msg === msg);
    assert.deepEqual(find('POST /rules 415'), { level: 'info', msg: 'POST /rules 415', fields: { status: 415, code: 'E_UNSUPPORTED_MEDIA_TYPE', ip: '127.0.0.1' } });
    assert.deepEqual(find('POST /search 400')?.fields, { status: 400, code: 'E_VALIDATION', ip: '127.0.0.1' });
    assert.deepEqual(find('GET /detections 401'), { level: 'warn', msg: 'GET /detections 401', fields: { status: 401, code: 'E_AUTH_MISSING', ip: '127.0.0.1' } });
    const nope = await fetch(`${base}/no/such/route?token=secret`);
    assert.equal(nope.status, 404);
    assert.deepEqual(find('GET /* 404')?.fields, { status: 404, code: 'E_NOT_FOUND', ip: '127.0.0.1' });
    assert.ok(!lines.some((l) => JSON.stringify(l).includes('secret')), 'URLs are not logged');
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 500 is logged with its cause; the client is told nothing of it', async () => {
  const lines: Line[] = [];
  const log = capture(lines);
  const mod: RouteModule = {
    name: 'boom',
    routes: [
      {
        method: 'get',
        pattern: '/boom/:id',
        params: ['id'],
        handler: async () => {
          throw new TypeError('cannot read properties of undefined (reading "x")');
        },
      },
    ],
  };
  const srv = await createHttpServer({ host: '127.0.0.1', port: 0, log }, { modules: [mod] });
  try {
    const r = await fetch(`http://127.0.0.1:${srv.port}/boom/7`);
    assert.equal(r.status, 500);
    assert.deepEqual(await r.json(), { error: { code: 'E_INTERNAL', message: 'Internal server error' } });
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line!.level, 'error');
    assert.equal(line!.msg, 'GET /boom/:id 500');
    assert.equal(line!.fields.code, 'E_INTERNAL');
    assert.match(String(line!.fields.cause), /^TypeError: cannot read properties of undefined \(reading "x"\)\n {4}at /);
  } finally {
    await srv.close();
  }
});
