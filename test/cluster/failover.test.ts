/**
 * Camera ownership across three Vigil nodes on a 3-broker JetStream cluster (all loopback, real processes):
 * spread by capacity; `kill -9` of a node moves its camera within the stated bound; the node's return takes its
 * share back without flapping; a node cut off from NATS (its proxy cut: a partition) stops its cameras before any
 * other node starts them; and over the whole run no camera ever had two fencing tokens producing at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAdmin } from '../../src/cluster/nats.js';
import { clusterStatus } from '../../src/cluster/admin.js';
import { dumpNodeLogs, overlappingTokens, readEvents, sleep, startNatsCluster, TcpProxy, TEST_CLUSTER, until, VigilNode } from './harness.js';

// Synthetic cameras, detection off: ownership is what is tested here (test/cluster/events.test.ts runs detection).
const CAMERAS = ['cam-1', 'cam-2', 'cam-3'].map((id) => ({ id, source: { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 5 } }));
/** leaseTtlS + graceS + scanIntervalS, plus the camera's start and a margin for a loaded 2-core machine. */
const step = (what: string): void => void process.stderr.write(`${new Date().toISOString()} ${what}\n`);
const FAILOVER_BOUND_MS = (TEST_CLUSTER.leaseTtlS + TEST_CLUSTER.graceS + TEST_CLUSTER.scanIntervalS) * 1000 + 4000;

test('spread, kill -9 failover, rejoin without flapping, partition: never two owners', { timeout: 290_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'));
  const nats = await startNatsCluster(dir);
  const proxies = await Promise.all(nats.urls.map(async (u) => {
    const p = new TcpProxy(Number(new URL(u).port));
    await p.listen();
    return p;
  }));
  // Each node reaches NATS only through its own proxy, so one node can be cut off alone.
  const nodes = ['A', 'B', 'C'].map((id, i) => new VigilNode({ id, dir, servers: [`nats://127.0.0.1:${proxies[i]!.port}`], cameras: CAMERAS, detector: false }));
  let adminB: Awaited<ReturnType<typeof connectAdmin>> | null = null;
  try {
    await Promise.all(nodes.map((n) => n.start()));
    adminB = await connectAdmin(nats.urls, 'vigil');
    const owners = async (): Promise<Map<string, string | null>> => {
      const s = await clusterStatus(adminB!, 1000);
      return new Map(s.cameras.map((c) => [c.id, c.node]));
    };
    const spread = async (): Promise<boolean> => {
      const o = await owners();
      const per = ['A', 'B', 'C'].map((n) => [...o.values()].filter((x) => x === n).length);
      return o.size === 3 && per.every((c) => c === 1);
    };

    step('nodes started');
    // 1. Spread: equal capacity, three cameras: one each.
    await until(spread, 30_000, 'one camera per node');
    const status = await clusterStatus(adminB, 1000);
    assert.equal(status.partial, false);
    assert.deepEqual(status.nodes.map((n) => [n.node, n.cameras]), [['A', 1], ['B', 1], ['C', 1]]);
    await until(async () => (await clusterStatus(adminB!, 1000)).cameras.every((c) => c.state === 'running'), 20_000, 'all cameras running');

    step('spread');
    // 2. kill -9 C: its camera runs on A or B within the bound.
    const before = await owners();
    const cCam = [...before].find(([, n]) => n === 'C')![0];
    const killedAt = Date.now();
    nodes[2]!.kill9();
    const movedTo = await until(async () => {
      const n = (await owners()).get(cCam);
      return n && n !== 'C' ? n : null;
    }, FAILOVER_BOUND_MS + 5000, `${cCam} to move off C`);
    const newOwner = nodes.find((n) => n.spec.id === movedTo)!;
    const running = await until(() => newOwner.find(new RegExp(`^${cCam} starting -> running$`)).at(-1), 15_000, `${cCam} running on ${movedTo}`);
    const failoverMs = running.ms - killedAt;
    assert.ok(failoverMs <= FAILOVER_BOUND_MS, `failover took ${failoverMs} ms (bound ${FAILOVER_BOUND_MS} ms)`);
    // The partial answer names the dead node until its heartbeat record ages out of view.
    const partial = await clusterStatus(adminB, 300);
    if (partial.nodes.some((n) => n.node === 'C')) assert.deepEqual([partial.partial, partial.missing], [true, ['C']]);

    step(`failover to ${movedTo} in ${failoverMs} ms`);
    // 3. C returns (same id, new incarnation): it takes one camera back, and then nothing moves.
    const rejoinAt = Date.now();
    await nodes[2]!.start();
    await until(spread, 30_000, 'one camera per node again after C rejoined');
    const settled = await owners();
    await sleep(TEST_CLUSTER.rebalanceIntervalS * 1000 * 2 + 1000);
    assert.deepEqual(await owners(), settled, 'no camera moved after the cluster settled');
    const acquiredSince = nodes.flatMap((n) => n.find(/^cluster: cam-\d acquired$/).filter((l) => l.ms >= rejoinAt));
    assert.equal(acquiredSince.length, 1, `one hand-off on rejoin, got ${acquiredSince.map((l) => l.msg).join('; ')}`);

    step('rejoined');
    // 4. Partition: cut B off from NATS. Its camera stops there before another node starts it.
    const bCam = [...settled].find(([, n]) => n === 'B')![0];
    const cutAt = Date.now();
    proxies[1]!.cut();
    const stoppedOnB = await until(() => nodes[1]!.find(new RegExp(`^cluster: ${bCam} stopped: lease not renewed before it could expire$`))[0], 15_000, `${bCam} stopped on B`);
    const acquiredElsewhere = await until(
      () => [nodes[0]!, nodes[2]!].flatMap((n) => n.find(new RegExp(`^cluster: ${bCam} acquired$`))).find((l) => l.ms >= cutAt),
      FAILOVER_BOUND_MS + 5000,
      `${bCam} acquired on A or C`,
    );
    assert.ok(stoppedOnB.ms < acquiredElsewhere.ms, `B stopped ${bCam} at ${stoppedOnB.time}, the new owner acquired it at ${acquiredElsewhere.time}`);
    // B still runs, as a node without NATS: no claims.
    assert.equal(nodes[1]!.find(/acquired$/).filter((l) => l.ms > stoppedOnB.ms).length, 0);
    proxies[1]!.heal();

    step('partition');
    // 5. Fencing over the whole run: per camera, one token producing at a time.
    await sleep(1000);
    const events = await readEvents(nats.urls);
    // With detection off the stream holds camera status events (a handful per ownership, however long the run):
    // every camera must be there; the number depends on how fast the steps above went.
    assert.deepEqual([...new Set(events.map((e) => e.camera))].sort(), CAMERAS.map((c) => c.id), `cameras in the stream's ${events.length} events`);
    assert.ok(events.every((e) => Number.isInteger(e.fence) && e.fence > 0 && e.node !== ''), 'every event carries a node and a token');
    assert.deepEqual(overlappingTokens(events), []);
    const tokens = new Set(events.filter((e) => e.camera === cCam).map((e) => e.fence));
    assert.ok(tokens.size >= 2, `${cCam} ran under ${tokens.size} tokens`);
  } catch (err) {
    dumpNodeLogs(nodes, 40);
    throw err;
  } finally {
    await adminB?.nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

