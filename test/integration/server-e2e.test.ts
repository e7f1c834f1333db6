/**
 * The composed server on its real parts: the vtest camera decoded natively, NanoDet on onnxruntime-node, tracker,
 * rules, LMDB store, REST on uWebSockets.js. What a new user gets from `vigil serve`, asserted through the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import { modelPath } from '../../src/inference/models.js';
import { media } from '../helpers/media.js';
import { until } from '../helpers/wait.js';

test('vigil serve on the sample camera: detections flow into the store and out through the API', async () => {
  assert.ok(existsSync(modelPath('nanodet')), `${modelPath('nanodet')} is missing: run bash scripts/setup.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-e2e-'));
  let adminPassword = '';
  const config = parseConfig({
    dataDir: dir,
    server: { host: '127.0.0.1', port: 0 },
    cameras: [
      {
        id: 'sample',
        source: { kind: 'file', path: media('vtest-h264.mp4'), loop: true },
        detectFps: 5,
        record: { mode: 'continuous', segmentSeconds: 2 },
      },
    ],
    rules: [{ id: 'middle', name: 'Middle', kind: 'tripwire', classes: ['person'], line: { from: [384, 0], to: [384, 576] } }],
    recording: { minFreeGb: 0 },
  });
  config.auth = { announceInitialAdmin: (_user: string, password: string) => (adminPassword = password) };
  const server = await createServer(config, { log: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } } });
  try {
    await until(() => server.stats().framesAnalysed >= 10, 30_000, '10 analysed frames');
    await server.store.flush();
    const base = `http://127.0.0.1:${server.http!.port}`;
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: adminPassword }),
    });
    assert.equal(login.status, 200);
    const { access_token: token } = (await login.json()) as { access_token: string };
    const auth = { authorization: `Bearer ${token}` };

    const cams = (await (await fetch(`${base}/cameras`, { headers: auth })).json()) as Array<{ id: string; status: string; state: string; width: number; height: number }>;
    assert.deepEqual(cams.map((c) => [c.id, c.status, c.state, c.width, c.height]), [['sample', 'active', 'running', 768, 576]]);

    const res = await fetch(`${base}/detections?camera_id=sample&page_size=100`, { headers: auth });
    assert.equal(res.status, 200);
    const page = (await res.json()) as { total: number; detections: Array<{ type: string; confidence: number; track_id: number | null }> };
    assert.ok(page.total > 20, `${page.total} detections stored`);
    const names = new Set(page.detections.map((d) => d.type));
    assert.ok(page.detections.some((d) => d.track_id !== null), 'tracker ids reach the store');
    assert.ok(names.has('person'), `classes seen: ${[...names].join(', ')}`);

    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    const decoded = /vigil_camera_frames_decoded\{camera="sample"\} (\d+)/.exec(metrics);
    assert.ok(decoded && Number(decoded[1]) > 0, 'per-camera counters in /metrics');
    assert.match(metrics, /vigil_camera_up\{camera="sample"\} 1/);

    const health = (await (await fetch(`${base}/health`)).json()) as { status: string; services: Record<string, { status: string }> };
    assert.equal(health.services.cameras?.status, 'ok');
    assert.equal(health.services.detection_store?.status, 'ok');
    assert.equal(health.services.notifications?.status, 'ok');

    // Rules: the config rule is listed and read-only; an admin adds one through the API.
    const rules = (await (await fetch(`${base}/rules`, { headers: auth })).json()) as Array<{ source: string; rule: { id: string } }>;
    assert.deepEqual(rules.map((r) => [r.rule.id, r.source]), [['middle', 'config']]);
    const created = await fetch(`${base}/rules`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'crowd', name: 'Crowd', kind: 'occupancy', condition: 'above', threshold: 20 }),
    });
    assert.equal(created.status, 201);
    const bad = await fetch(`${base}/rules`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'x', name: 'X', kind: 'tripwire' }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'E_RULE_INVALID');
    const ro = await fetch(`${base}/rules/middle`, { method: 'DELETE', headers: auth });
    assert.equal(ro.status, 409);
    assert.equal((await fetch(`${base}/rules/crowd`, { method: 'DELETE', headers: auth })).status, 204);
    assert.equal((await fetch(`${base}/rules`)).status, 401);

    const alerts = await fetch(`${base}/alerts?camera_id=sample`, { headers: auth });
    assert.equal(alerts.status, 200);
    assert.ok(Array.isArray(((await alerts.json()) as { alerts: unknown[] }).alerts));

    // Recordings: segments indexed by camera and time, and a clip cut from them.
    await until(() => server.recorder!.index.all('sample').filter((s) => s.endNs !== null).length >= 1, 15_000, 'a closed segment');
    const now = BigInt(Date.now()) * 1_000_000n;
    const recs = (await (await fetch(`${base}/recordings?camera_id=sample&start_time=0&end_time=${now}`, { headers: auth })).json()) as Array<{ start_time_ns: string; end_time_ns: string | null }>;
    assert.ok(recs.length >= 1);
    const seg = recs.find((r) => r.end_time_ns !== null)!;
    const clipRes = await fetch(`${base}/clips?camera_id=sample&start_time=${seg.start_time_ns}&end_time=${seg.end_time_ns}`, { headers: auth });
    assert.equal(clipRes.status, 200);
    assert.equal(clipRes.headers.get('content-type'), 'video/mp4');
    const clip = Buffer.from(await clipRes.arrayBuffer());
    assert.equal(clip.toString('latin1', 4, 8), 'ftyp');

    // A track's clip: the span where the track was seen, padded by 5 s, cut from the same segments.
    const tracked = page.detections.find((d) => d.track_id !== null)!;
    const trackClip = await fetch(`${base}/events/sample:${tracked.track_id}/clip`, { headers: auth });
    assert.equal(trackClip.status, 200);
    assert.equal(Buffer.from(await trackClip.arrayBuffer()).toString('latin1', 4, 8), 'ftyp');
    const unknown = await fetch(`${base}/events/sample:999999/clip`, { headers: auth });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'E_TRACK_NOT_FOUND');
  } finally {
    await server.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
