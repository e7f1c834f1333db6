/**
 * Cameras over REST on the composed server (real GStreamer test-pattern and RTSP sources, LMDB, uWS): the
 * integration document's camera fields (location, status active/inactive/error beside the finer state, redacted
 * stream_url, last_seen, width/height from the negotiated caps), admin-only add / change / remove validated by
 * the config file's camera parser, persisted in the database and back after a restart; config-file cameras are
 * read-only over the API. Every response is checked against the served OpenAPI document.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createServer, type VigilServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { OpenApiValidator } from './api-openapi.js';
import { until } from '../helpers/wait.js';

const validator = new OpenApiValidator(openApiDocument as never);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface CameraView {
  id: string;
  name: string;
  location: string | null;
  status: string;
  state: string;
  stream_url: string;
  source: string;
  width: number | null;
  height: number | null;
  last_seen: string | null;
  last_error: string | null;
  origin: string;
  detection: boolean;
}

function config(dir: string) {
  const c = parseConfig({
    dataDir: dir,
    server: { host: '127.0.0.1', port: 0 },
    detector: false,
    search: false,
    snapshots: false,
    cameras: [
      { id: 'cfg', name: 'Configured', location: 'Gate A, north fence', source: { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 10 }, motion: false },
    ],
  });
  return c;
}

async function start(dir: string, onAdmin?: (pw: string) => void): Promise<VigilServer> {
  const c = config(dir);
  c.auth = { announceInitialAdmin: (_u: string, pw: string) => onAdmin?.(pw) };
  return createServer(c, { log: silentLogger });
}

test('cameras over REST: document fields, admin add/change/remove with the config parser, persisted across a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cameras-rest-'));
  let adminPassword = '';
  let server = await start(dir, (pw) => (adminPassword = pw));
  try {
    let base = `http://127.0.0.1:${server.http!.port}`;
    const call = async (method: string, path: string, doc: string, token: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      const json = text ? (JSON.parse(text) as unknown) : undefined;
      validator.check(method, doc, res.status, json);
      return { status: res.status, json: json as never, text };
    };
    const login = async (username: string, password: string): Promise<string> => {
      const r = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      assert.equal(r.status, 200);
      return ((await r.json()) as { access_token: string }).access_token;
    };
    let admin = await login('admin', adminPassword);
    const made = await call('POST', '/users', '/users', admin, { username: 'olga', password: 'operator-pass-1', role: 'operator' });
    assert.equal(made.status, 201);
    const operator = await login('olga', 'operator-pass-1');

    // A configured camera: real size from the caps, last_seen once frames flow, the document's status.
    await until(async () => ((await call('GET', '/cameras/cfg', '/cameras/{id}', admin)).json as CameraView).width !== null, 20_000, 'cfg to decode');
    const cfg = (await call('GET', '/cameras/cfg', '/cameras/{id}', admin)).json as CameraView;
    assert.match(cfg.last_seen!, ISO);
    assert.ok(Math.abs(Date.parse(cfg.last_seen!) - Date.now()) < 10_000, `last_seen ${cfg.last_seen} is recent`);
    assert.deepEqual({ ...cfg, last_seen: 'x', fps: 0 }, {
      id: 'cfg', name: 'Configured', location: 'Gate A, north fence', status: 'active', state: 'running', stream_url: 'test:ball', source: 'test:ball',
      width: 320, height: 240, fps: 0, last_seen: 'x', last_error: null, origin: 'config', detection: true,
    });

    // Add: only admins; validated by the config parser (messages name the key); ids are unique across origins.
    let r = await call('POST', '/cameras', '/cameras', operator, { id: 'x', source: { kind: 'test' } });
    assert.deepEqual([r.status, (r.json as { error: { code: string } }).error.code], [403, 'E_FORBIDDEN']);
    r = await call('POST', '/cameras', '/cameras', admin, { id: 'bad', source: { kind: 'test' }, detectFps: 500 });
    assert.deepEqual([r.status, r.json], [400, { error: { code: 'E_VALIDATION', message: 'Expected an integer from 0 to 240 for camera.detectFps but received 500' } }]);
    r = await call('POST', '/cameras', '/cameras', admin, { id: 'bad', source: { kind: 'test' }, location: '' });
    assert.deepEqual([r.status, r.json], [400, { error: { code: 'E_VALIDATION', message: 'Expected a string of 1-200 characters for camera.location but received ""' } }]);
    r = await call('POST', '/cameras', '/cameras', admin, { id: 'bad', source: { kind: 'test' }, record: { mode: 'continuous' } });
    assert.deepEqual([r.status, r.json], [400, {
      error: { code: 'E_VALIDATION', message: 'Expected "off" for camera.record.mode but received "continuous": this server has no recorder (no configured camera records)' },
    }]);
    r = await call('POST', '/cameras', '/cameras', admin, { id: 'cfg', source: { kind: 'test' } });
    assert.deepEqual([r.status, r.json], [409, { error: { code: 'E_CONFLICT', message: 'Camera "cfg" exists' } }]);

    r = await call('POST', '/cameras', '/cameras', admin, {
      id: 'yard', name: 'Yard', location: 'Back yard', source: { kind: 'test', pattern: 'snow', width: 352, height: 288, fps: 10 }, motion: false,
    });
    assert.equal(r.status, 201);
    assert.deepEqual([(r.json as CameraView).id, (r.json as CameraView).origin, (r.json as CameraView).location], ['yard', 'api', 'Back yard']);
    // An RTSP camera with credentials: never echoed; nothing listens on port 1, so it ends in the error status.
    r = await call('POST', '/cameras', '/cameras', admin, {
      id: 'door', source: { kind: 'rtsp', url: 'rtsp://viewer:s3cret-pw@127.0.0.1:1/stream1', connectTimeoutMs: 1000 }, startTimeoutMs: 1000,
      backoff: { initialMs: 5000, maxMs: 5000 },
    });
    assert.equal(r.status, 201);
    assert.equal((r.json as CameraView).stream_url, 'rtsp://***@127.0.0.1:1/stream1');
    assert.ok(!r.text.includes('s3cret-pw'));
    await until(async () => ((await call('GET', '/cameras/door', '/cameras/{id}', admin)).json as CameraView).status === 'error', 20_000, 'door to fail');
    await until(async () => ((await call('GET', '/cameras/yard', '/cameras/{id}', admin)).json as CameraView).width === 352, 20_000, 'yard to decode');
    r = await call('GET', '/cameras?status=error', '/cameras', admin);
    assert.deepEqual((r.json as CameraView[]).map((c) => [c.id, c.status, c.state, c.width]), [['door', 'error', 'reconnecting', null]]);
    r = await call('GET', '/cameras?status=active', '/cameras', admin);
    assert.deepEqual((r.json as CameraView[]).map((c) => [c.id, c.width, c.height]), [['cfg', 320, 240], ['yard', 352, 288]]);
    r = await call('GET', '/cameras?status=inactive', '/cameras', admin);
    assert.deepEqual(r.json, []);
    r = await call('GET', '/cameras', '/cameras', admin);
    assert.ok(!r.text.includes('s3cret-pw'));

    // Change: API cameras only; the body's id must match; the camera restarts with the new settings.
    r = await call('PUT', '/cameras/cfg', '/cameras/{id}', admin, { id: 'cfg', source: { kind: 'test' } });
    assert.deepEqual([r.status, r.json], [409, { error: { code: 'E_CAMERA_READONLY', message: 'Camera "cfg" is defined in the config file: change it there' } }]);
    r = await call('PUT', '/cameras/yard', '/cameras/{id}', admin, { id: 'other', source: { kind: 'test' } });
    assert.deepEqual([r.status, r.json], [409, { error: { code: 'E_CAMERA_ID_MISMATCH', message: 'The body\'s id "other" is not the camera\'s id "yard"' } }]);
    r = await call('PUT', '/cameras/nope', '/cameras/{id}', admin, { source: { kind: 'test' } });
    assert.deepEqual([r.status, r.json], [404, { error: { code: 'E_NOT_FOUND', message: 'No camera "nope"' } }]);
    r = await call('PUT', '/cameras/yard', '/cameras/{id}', admin, { source: { kind: 'test', pattern: 'snow', width: 160, height: 120 }, detectFps: -1 });
    assert.deepEqual([r.status, r.json], [400, { error: { code: 'E_VALIDATION', message: 'Expected an integer from 0 to 240 for camera.detectFps but received -1' } }]);
    r = await call('PUT', '/cameras/yard', '/cameras/{id}', operator, { source: { kind: 'test' } });
    assert.equal(r.status, 403);
    r = await call('PUT', '/cameras/yard', '/cameras/{id}', admin, {
      name: 'Yard (west)', location: 'Back yard, west wall', source: { kind: 'test', pattern: 'snow', width: 160, height: 120, fps: 10 }, motion: false,
    });
    assert.equal(r.status, 200);
    assert.deepEqual([(r.json as CameraView).name, (r.json as CameraView).location], ['Yard (west)', 'Back yard, west wall']);
    await until(async () => ((await call('GET', '/cameras/yard', '/cameras/{id}', admin)).json as CameraView).width === 160, 20_000, 'yard at its new size');

    // Remove: API cameras only.
    r = await call('DELETE', '/cameras/cfg', '/cameras/{id}', admin);
    assert.deepEqual([r.status, r.json], [409, { error: { code: 'E_CAMERA_READONLY', message: 'Camera "cfg" is defined in the config file: change it there' } }]);
    r = await call('DELETE', '/cameras/door', '/cameras/{id}', operator);
    assert.equal(r.status, 403);
    r = await call('DELETE', '/cameras/door', '/cameras/{id}', admin);
    assert.equal(r.status, 204);
    r = await call('GET', '/cameras/door', '/cameras/{id}', admin);
    assert.deepEqual([r.status, r.json], [404, { error: { code: 'E_NOT_FOUND', message: 'No camera "door"' } }]);
    r = await call('DELETE', '/cameras/door', '/cameras/{id}', admin);
    assert.deepEqual([r.status, r.json], [404, { error: { code: 'E_NOT_FOUND', message: 'No camera "door"' } }]);
    assert.equal(server.cameras.get('door'), undefined);

    // Restart on the same data folder: the API camera is back as last changed, the removed one is not.
    await server.stop();
    server = await start(dir);
    base = `http://127.0.0.1:${server.http!.port}`;
    admin = await login('admin', adminPassword);
    await until(async () => ((await call('GET', '/cameras/yard', '/cameras/{id}', admin)).json as CameraView).width === 160, 20_000, 'yard after the restart');
    r = await call('GET', '/cameras', '/cameras', admin);
    assert.deepEqual((r.json as CameraView[]).map((c) => [c.id, c.name, c.location, c.origin]), [
      ['cfg', 'Configured', 'Gate A, north fence', 'config'],
      ['yard', 'Yard (west)', 'Back yard, west wall', 'api'],
    ]);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
