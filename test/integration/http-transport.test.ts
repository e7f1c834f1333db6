/**
 * The transport (src/http/) on its own: files streamed with Range (200 / 206 / 416), a multi-megabyte body through
 * backpressure, close() waiting for a request in flight, methods derived from the mounted routes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer, parseRange, type RouteModule } from '../../src/http/index.js';

test('parseRange: one byte range, suffixes, open ends; several ranges or other units send the whole file', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-5000', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=0-1,5-6', 100), null);
  assert.equal(parseRange('items=0-1', 100), null);
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=9-3', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=a-b', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-', 100), 'unsatisfiable');
  assert.equal(parseRange('garbage', 100), 'unsatisfiable');
});

test('files stream with Range; close() waits for the request in flight', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-http-'));
  const small = randomBytes(1000);
  const big = randomBytes(8 * 1024 * 1024 + 17);
  writeFileSync(join(dir, 'small.bin'), small);
  writeFileSync(join(dir, 'big.bin'), big);
  const sent: string[] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const files: RouteModule = {
    name: 'files',
    routes: [
      { method: 'get', pattern: '/files/:name', params: ['name'], handler: async (ctx) => ({ status: 200, contentType: 'application/octet-stream', file: { path: join(dir, ctx.params.name!), done: () => sent.push(ctx.params.name!) } }) },
      { method: 'put', pattern: '/files/:name', params: ['name'], handler: async () => ({ status: 204 }) },
      { method: 'get', pattern: '/slow', handler: async () => (await held, { status: 200, json: { slow: true } }) },
    ],
  };
  const srv = await createHttpServer({ host: '127.0.0.1', port: 0, corsOrigins: ['https://dash.example'] }, { modules: [files] });
  const base = `http://127.0.0.1:${srv.port}`;
  try {
    let r = await fetch(`${base}/files/small.bin`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    assert.equal(r.headers.get('content-length'), '1000');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), small);

    r = await fetch(`${base}/files/small.bin`, { headers: { range: 'bytes=10-19' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 10-19/1000');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), small.subarray(10, 20));

    r = await fetch(`${base}/files/small.bin`, { headers: { range: 'bytes=-5' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 995-999/1000');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), small.subarray(995));

    r = await fetch(`${base}/files/small.bin`, { headers: { range: 'bytes=1000-' } });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), 'bytes */1000');
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_RANGE');

    r = await fetch(`${base}/files/big.bin`);
    assert.equal(r.status, 200);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(big), 'the 8 MiB file arrives whole, in order');
    r = await fetch(`${base}/files/big.bin`, { headers: { range: `bytes=${big.length - 3_000_000}-` } });
    assert.equal(r.status, 206);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(big.subarray(big.length - 3_000_000)));
    assert.deepEqual(sent, ['small.bin', 'small.bin', 'small.bin', 'small.bin', 'big.bin', 'big.bin']);

    r = await fetch(`${base}/files/missing.bin`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();

    // Methods come from the mounted routes: 405 names them, a preflight offers them.
    r = await fetch(`${base}/files/x`, { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, PUT');
    await r.arrayBuffer();
    r = await fetch(`${base}/files/x`, { method: 'OPTIONS', headers: { origin: 'https://dash.example', 'access-control-request-method': 'PUT' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-methods'), 'GET, PUT, OPTIONS');

    // close() while /slow is in flight: it resolves only after that request was answered.
    const slow = fetch(`${base}/slow`);
    while (srv.inFlight() === 0) await new Promise((res) => setTimeout(res, 5));
    let closed = false;
    const closing = srv.close().then(() => (closed = true));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(closed, false, 'close() waits for the request in flight');
    release();
    const answer = await slow;
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { slow: true });
    await closing;
    assert.equal(srv.inFlight(), 0);
    await assert.rejects(fetch(`${base}/files/small.bin`), 'no longer listening');
  } finally {
    release();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
