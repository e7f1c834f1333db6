/**
 * The merges of the cluster reads (src/cluster/reads.ts), exactly: three NodeReads in this process, each with its
 * own NATS connection, rule store and vector index, on a real 3-broker JetStream cluster; every answer is compared
 * with one rule store / one vector index holding all three nodes' data (what a single server would answer).
 * - GET /alerts pages (filters, both orders, cursors) across nodes = the single store's pages;
 * - search top k (filters, by vector and by example track) = the single index's exact top k;
 * - a node whose responders stop: the answer comes after the per-node timeout, partial, naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CameraManager } from '../../src/camera/manager.js';
import { encodeJson } from '../../src/cluster/codec.js';
import { connectCluster, type ClusterBackend } from '../../src/cluster/nats.js';
import { parseClusterOptions } from '../../src/cluster/options.js';
import { NodeReads } from '../../src/cluster/reads.js';
import { SharedConfig } from '../../src/cluster/shared-config.js';
import { silentLogger } from '../../src/log.js';
import { RuleService } from '../../src/rules/service.js';
import { RuleStore, type AlertFilter } from '../../src/rules/store.js';
import { DetectionStore } from '../../src/store/index.js';
import { VectorIndex } from '../../src/store/vector-index.js';
import type { Alert, AlertState } from '../../src/types.js';
import { startNatsCluster } from './harness.js';

const NODES = ['A', 'B', 'C'] as const;
const CAMS = ['gate', 'yard', 'dock'];
const STATES: AlertState[] = ['raised', 'updated', 'cleared', 'acknowledged'];
const DIMS = 16;
let seed = 11;
const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const vector = (): number[] => Array.from({ length: DIMS }, () => rnd() * 2 - 1);

function alertOf(node: string, i: number): Alert {
  const raisedNs = 1_700_000_000_000_000_000n + BigInt(Math.floor(rnd() * 1e9)) * 1000n;
  return {
    alertId: `${raisedNs.toString().padStart(20, '0')}-${node}${String(i).padStart(7, '0')}`,
    ruleId: i % 2 === 0 ? 'r-even' : 'r-odd',
    ruleName: 'r',
    cameraId: CAMS[i % 3]!,
    state: STATES[i % 4]!,
    message: `${node} ${i}`,
    trackIds: [i],
    raisedNs,
    updatedNs: raisedNs,
    clearedNs: null,
    acknowledgedBy: null,
    details: {},
  };
}

test('cluster reads merge exactly as one store / one index would answer; a silent node is named', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-reads-'));
  const nats = await startNatsCluster(dir);
  const options = parseClusterOptions({ servers: nats.urls, nodeId: 'A', replicas: 3, queryTimeoutMs: 800 })!;
  const backends: ClusterBackend[] = [];
  const closers: Array<() => Promise<unknown> | unknown> = [];
  try {
    // The single-server truth: one rule store, one vector index with everything.
    const allRules = new RuleStore(join(dir, 'all-rules'));
    const allDetections = DetectionStore.open({ path: join(dir, 'all-store') });
    const allIndex = await VectorIndex.open(allDetections, { dims: DIMS });
    closers.push(() => allRules.close(), async () => (await allIndex.close(), await allDetections.close()));
    const reads: NodeReads[] = [];
    const t0 = 1_700_000_000_000_000_000n;
    for (const [n, node] of NODES.entries()) {
      const backend = await connectCluster(options, { name: `reads-test-${node}` });
      backends.push(backend);
      closers.push(() => backend.nc.close());
      await backend.members.put(node, encodeJson({ node }));
      // 40 alerts per node, interleaved raise times, written before the node's rule service opens.
      const pre = new RuleStore(join(dir, `rules-${node}`));
      for (let i = 0; i < 40; i++) {
        const a = alertOf(node, i);
        await pre.putAlert(a);
        await allRules.putAlert(a);
      }
      await pre.close();
      const rules = await RuleService.open({ path: join(dir, `rules-${node}`) });
      const store = DetectionStore.open({ path: join(dir, `store-${node}`) });
      const index = await VectorIndex.open(store, { dims: DIMS });
      closers.push(() => rules.close(), async () => (await index.close(), await store.close()));
      const items = Array.from({ length: 60 }, (_, i) => ({
        track: { cameraId: CAMS[(i + n) % 3]!, trackId: n * 1000 + i, classId: i % 2, className: i % 2 === 0 ? 'person' : 'car', timestampNs: t0 + BigInt(i) * 1_000_000_000n },
        vector: vector(),
      }));
      await index.addMany(items);
      await allIndex.addMany(items);
      const shared = new SharedConfig(backend.config, silentLogger);
      await shared.start();
      closers.push(() => shared.stop());
      const r = new NodeReads({
        nodeId: node,
        backend,
        shared,
        cameras: new CameraManager(),
        rules: () => rules,
        vectors: () => index,
        fenceOf: () => undefined,
        timeoutMs: 800,
        log: silentLogger,
      });
      await r.start();
      closers.push(() => r.stop());
      reads.push(r);
    }
    await allIndex.drain();
    const [onA, , onC] = reads as [NodeReads, NodeReads, NodeReads];

    // Alerts: every page of every filter equals the single store's, following the cursors to the end.
    const filters: AlertFilter[] = [
      { limit: 7 },
      { limit: 7, order: 'asc' },
      { limit: 5, cameraId: 'yard' },
      { limit: 9, state: ['raised', 'cleared'], ruleId: 'r-even', order: 'asc' },
      { limit: 1000 },
      { limit: 4, since: t0 + 300_000_000_000_000n, until: t0 + 700_000_000_000_000n },
    ];
    for (const f of filters) {
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const want = allRules.listAlerts({ ...f, ...(cursor ? { cursor } : {}) });
        const got = await onC.alerts({ ...f, ...(cursor ? { cursor } : {}) });
        assert.deepEqual(got.alerts.map((a) => a.alertId), want.alerts.map((a) => a.alertId), `${JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v))} page ${pages}`);
        assert.equal(got.nextCursor, want.nextCursor);
        assert.deepEqual([got.partial, got.missing], [false, []]);
        pages++;
        if (!want.nextCursor) break;
        cursor = want.nextCursor;
      }
      assert.ok(pages >= 1);
    }
    assert.equal((await onC.alerts({ limit: 1000 })).alerts.length, 120);
    // One alert, wherever it is; acknowledged through the node that stores it.
    const bAlert = allRules.listAlerts({ limit: 1000 }).alerts.find((a) => a.message === 'B 5')!;
    assert.deepEqual(await onA.alert(bAlert.alertId).then((r) => [r.node, r.alert.message]), ['B', 'B 5']);
    const acked = await onA.acknowledge(bAlert.alertId, 'op');
    assert.deepEqual([acked.alertId, acked.acknowledgedBy], [bAlert.alertId, 'op']);
    assert.equal((await onC.alert(bAlert.alertId)).alert.acknowledgedBy, 'op');
    await assert.rejects(onC.alert('00000000000000000001-none'), { code: 'E_ALERT_NOT_FOUND' });

    // Search: the exact top k of one index holding every vector.
    for (const [k, f] of [[10, {}], [25, {}], [5, { cameraIds: ['dock'] }], [8, { className: 'car', startNs: t0 + 20_000_000_000n }]] as const) {
      const q = vector();
      const want = allIndex.bruteForce(q, k, f).map((h) => [h.cameraId, h.trackId, h.score.toFixed(5)]);
      const got = await onC.search({ vector: q, k, ...f });
      assert.deepEqual(got.hits.map((h) => [h.cameraId, h.trackId, h.score.toFixed(5)]), want, `k ${k} ${JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      assert.deepEqual([got.partial, got.missing], [false, []]);
    }
    // By an example track stored on B: the example left out.
    const ex = allIndex.getTrack('yard', 1000)!;
    const want = allIndex.bruteForce(ex.vector, 7).filter((h) => !(h.cameraId === 'yard' && h.trackId === 1000)).slice(0, 6).map((h) => [h.cameraId, h.trackId, h.score.toFixed(5)]);
    const byTrack = await onA.search({ track: { cameraId: 'yard', trackId: 1000 }, k: 6 });
    assert.deepEqual(byTrack.hits.map((h) => [h.cameraId, h.trackId, h.score.toFixed(5)]), want);
    await assert.rejects(onA.search({ track: { cameraId: 'yard', trackId: 999_999 }, k: 3 }), { code: 'E_NOT_FOUND', message: 'No embedding stored for track 999999 of camera yard' });

    // B stops answering: after the per-node timeout, partial, naming B (A's and C's data still there).
    reads[1]!.stop();
    const t = performance.now();
    const partial = await onC.alerts({ limit: 1000 });
    const ms = performance.now() - t;
    assert.deepEqual([partial.partial, partial.missing, partial.alerts.length], [true, ['B'], 80]);
    assert.ok(ms >= 700 && ms < 3000, `answered after ${ms} ms`);
    const ps = await onC.search({ vector: vector(), k: 5 });
    assert.deepEqual([ps.partial, ps.missing, ps.hits.length], [true, ['B'], 5]);
    await assert.rejects(onC.alert(bAlert.alertId), { code: 'E_CLUSTER_PARTIAL', message: `Alert "${bAlert.alertId}" is on none of the nodes that answered; no answer from B` });
  } finally {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
