/**
 * The server's process upkeep (src/services/process.ts, issue 17 soak): glibc's free heap pages go back to the
 * kernel every server.heapTrimIntervalS, and V8's heap gets a memory-reducing collection every
 * server.v8HeapReduceIntervalS (both counted in /metrics); 0 turns each off; the intervals are validated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import type { Logger } from '../../src/log.js';
import { until } from '../helpers/wait.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Logger;

async function withServer(heapTrimIntervalS: number, fn: (metrics: () => Promise<string>) => Promise<void>, v8HeapReduceIntervalS = 0): Promise<void> {
  return withServerConfig({ heapTrimIntervalS, v8HeapReduceIntervalS }, fn);
}

async function withServerConfig(serverConfig: Record<string, number>, fn: (metrics: () => Promise<string>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-upkeep-'));
  let password = '';
  const config = parseConfig({ dataDir: dir, server: { host: '127.0.0.1', port: 0, ...serverConfig }, cameras: [], detector: false, recording: { minFreeGb: 0 } });
  config.auth = { ...config.auth, announceInitialAdmin: (_u: string, p: string) => (password = p) };
  const server = await createServer(config, { log: quiet });
  try {
    const base = `http://127.0.0.1:${server.http!.port}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    const auth = { authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}` };
    await fn(async () => (await fetch(`${base}/metrics`, { headers: auth })).text());
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const trims = (text: string) => Number(/^vigil_heap_trims_total (\d+)$/m.exec(text)?.[1]);

test('the heap is trimmed every server.heapTrimIntervalS, counted in /metrics', async () => {
  await withServer(1, async (metrics) => {
    await until(async () => trims(await metrics()) >= 2, 20_000, 'two heap trims');
    assert.match(await metrics(), /^vigil_heap_trim_released_bytes_total \d+(\.\d+)?(e\+\d+)?$/m);
  });
});

test('server.heapTrimIntervalS 0: no trims', async () => {
  await withServer(0, async (metrics) => {
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(trims(await metrics()), 0);
  });
});

test('server.heapTrimIntervalS is validated', () => {
  for (const [v, shown] of [[-1, '-1'], [1.5, '1.5'], ['30', '"30"'], [86_401, '86401']] as const) {
    assert.throws(() => parseConfig({ server: { heapTrimIntervalS: v } }, '/tmp'), {
      code: 'E_CONFIG',
      message: `Expected an integer from 0 to 86400 for server.heapTrimIntervalS but received ${shown}`,
    });
  }
  assert.equal(parseConfig({}, '/tmp').server.heapTrimIntervalS, 30);
});

const reductions = (text: string) => Number(/^vigil_v8_heap_reductions_total (\d+)$/m.exec(text)?.[1]);

test("V8's heap gets a memory-reducing collection every server.v8HeapReduceIntervalS, counted in /metrics; 0: none", async () => {
  await withServer(0, async (metrics) => {
    await until(async () => reductions(await metrics()) >= 2, 20_000, 'two V8 heap reductions');
  }, 1);
  await withServer(0, async (metrics) => {
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(reductions(await metrics()), 0);
  }, 0);
});

test('server.v8HeapReduceIntervalS is validated, default 300 s', () => {
  for (const [v, shown] of [[-1, '-1'], [0.5, '0.5'], ['300', '"300"'], [86_401, '86401']] as const) {
    assert.throws(() => parseConfig({ server: { v8HeapReduceIntervalS: v } }, '/tmp'), {
      code: 'E_CONFIG',
      message: `Expected an integer from 0 to 86400 for server.v8HeapReduceIntervalS but received ${shown}`,
    });
  }
  assert.equal(parseConfig({}, '/tmp').server.v8HeapReduceIntervalS, 300);
});

test("the detection store's file, used and reusable bytes and its read-transaction lag are in /metrics", async () => {
  await withServer(0, async (metrics) => {
    const text = await metrics();
    const bytes = (kind: string) => Number(new RegExp(`^vigil_store_bytes\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    const [file, used, reusable] = [bytes('file'), bytes('used'), bytes('reusable')];
    assert.ok(used > 0, `used ${used}`);
    assert.equal(file, used + reusable);
    assert.equal(file % 4096, 0);
    // Nothing reads across the scrape: no read transaction is behind the newest commit.
    assert.match(text, /^vigil_store_read_txn_lag 0$/m);
  });
});
