/**
 * Issue 17 item 10: a failure that repeats on every frame is logged once with a count, not once per frame, and is
 * visible in /metrics and /health. Reproduced on the real parts: the README's old camera tensor (640x640 nhwc-u8,
 * which the config check now refuses) forced into a parsed config, so NanoDet refuses every analysed frame.
 * Also ErrorTally on its own: distinct messages, summaries, the health window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import { modelPath } from '../../src/inference/models.js';
import { ErrorTally } from '../../src/services/error-tally.js';
import { HealthRegistry } from '../../src/services/health.js';
import type { Logger } from '../../src/log.js';
import { until } from '../helpers/wait.js';

test('ErrorTally: first occurrence logged, repeats counted and summed up once per interval, metric and health', async () => {
  let now = 1_000_000;
  const lines: Array<[string, Record<string, unknown>]> = [];
  const registry = new Registry();
  const tally = new ErrorTally('inference', { log: (m, f) => lines.push([m, f]), metric: { registry, name: 'vigil_test_errors_total', help: 'h' }, summaryMs: 60_000, now: () => now });
  const health = new HealthRegistry();
  health.register('inference', tally.healthCheck());
  assert.equal((await health.run()).services.inference?.status, 'ok');
  for (let i = 0; i < 100; i++) {
    tally.report(new Error('Expected a tensor of 519168 floats'));
    now += 100; // 10 a second
  }
  tally.report(new Error('another failure'));
  assert.deepEqual(lines, [
    ['inference: Expected a tensor of 519168 floats', { count: 1 }],
    ['inference: another failure', { count: 1 }],
  ]);
  now += 60_000;
  tally.report(new Error('Expected a tensor of 519168 floats'));
  assert.deepEqual(lines[2], ['inference: Expected a tensor of 519168 floats (repeated 100 times in the last 70 s)', { count: 101 }]);
  assert.equal(tally.total, 102);
  assert.match(await registry.metrics(), /vigil_test_errors_total 102/);
  const h = (await health.run()).services.inference;
  assert.deepEqual(h && { status: h.status, detail: h.detail }, { status: 'degraded', detail: '102 inference errors since start; last: Expected a tensor of 519168 floats' });
  now += 61_000;
  assert.equal((await health.run()).services.inference?.status, 'ok');
  tally.flush();
  assert.equal(lines.length, 3, 'nothing left to summarise');
});

test('a camera tensor the detector refuses: one log line, counted in /metrics, degraded in /health', async () => {
  assert.ok(existsSync(modelPath('nanodet')), `${modelPath('nanodet')} is missing: run bash scripts/setup.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-repeated-'));
  const errors: string[] = [];
  const log = { debug() {}, info() {}, warn() {}, error: (m: string) => void errors.push(m), child: () => log } as unknown as Logger;
  let password = '';
  const config = parseConfig({
    dataDir: dir,
    server: { host: '127.0.0.1', port: 0 },
    cameras: [{ id: 'pattern', source: { kind: 'test', pattern: 'ball', width: 640, height: 360, fps: 15 }, motion: false, detectFps: 10 }],
    recording: { minFreeGb: 0 },
    analysis: false,
  });
  // What the config check refuses (parseConfig names the camera): forced in, to see the run-time path.
  config.cameras[0]!.tensor = { ...config.cameras[0]!.tensor, width: 640, height: 640, layout: 'nhwc-u8', colorOrder: 'rgb' };
  delete config.cameras[0]!.tensor.regions;
  config.auth = { ...config.auth, announceInitialAdmin: (_u: string, p: string) => (password = p) };
  const server = await createServer(config, { log });
  try {
    const base = `http://127.0.0.1:${server.http!.port}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    const auth = { authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}` };
    const count = async (): Promise<number> => Number(/vigil_inference_errors_total (\d+)/.exec(await (await fetch(`${base}/metrics`, { headers: auth })).text())?.[1] ?? 0);
    await until(async () => (await count()) >= 10, 30_000, '10 failed inferences');
    const inference = errors.filter((m) => m.startsWith('inference: '));
    assert.equal(inference.length, 1, inference.join('\n'));
    assert.equal(inference[0], 'inference: Expected a tensor size of 416x416 or 320x320 for inputs[0].tensorWidth x tensorHeight but received "640x640"');
    const health = (await (await fetch(`${base}/health`, { headers: auth })).json()) as { services: Record<string, { status: string; detail?: string }> };
    assert.equal(health.services.inference?.status, 'degraded');
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
