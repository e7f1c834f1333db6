/**
 * Cluster benchmarks (issue 14), on loopback: a 3-broker JetStream cluster (R3) and three Vigil nodes (processes,
 * detection off, synthetic cameras) as in test/cluster/.
 *
 *   setsid /tmp/pm/prio.sh node --import tsx bench/cluster.ts [--kills N] [--events N]
 *
 * (on a shared machine: in its own autogroup at top priority, so other work does not set the figures; on a quiet
 * machine plain `node --import tsx bench/cluster.ts` is the same).
 *
 * - failover: N times, `kill -9` the node that owns a camera, time from the kill to that camera's
 *   `starting -> running` on its new owner (node logs, one clock), then restart the killed node and wait until the
 *   cluster is spread again. Lease timing as in the tests: leaseTtlS 3, graceS 1, scanIntervalS 0.25 (bound 4.25 s
 *   plus the camera's start).
 * - double owners: over the whole run, events in the stream whose camera had another token producing at the same
 *   time (test/cluster/harness.ts overlappingTokens): must be 0.
 * - bridge: detection batches (20 detections each) per second published through the EventBridge (JetStream R3,
 *   acknowledged, bounded in flight) vs written locally with DetectionStore.append (LMDB group commits) in this
 *   process: the cost of making an event cluster-visible relative to storing it.
 * - queries: `GET /cameras` on one node (scatter-gather over the three nodes, merged) and the bare request-reply of
 *   `vigil cluster status` vs `GET /detections` on the same node (a local LMDB read), p99 over 200 each, sequential.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { connectAdmin } from '../src/cluster/nats.js';
import { clusterStatus } from '../src/cluster/admin.js';
import { gather } from '../src/cluster/gather.js';
import { EventBridge } from '../src/cluster/bridge.js';
import { DetectionStore } from '../src/store/detection-store.js';
import { silentLogger } from '../src/log.js';
import type { DetectionBatch } from '../src/types.js';
import { overlappingTokens, readEvents, sleep, startNatsCluster, TEST_CLUSTER, until, VigilNode } from '../test/cluster/harness.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const KILLS = arg('--kills', 20);
const EVENTS = arg('--events', 5000);
const log = (s: string): void => void process.stderr.write(`${new Date().toISOString()} ${s}\n`);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

const CAMERAS = ['cam-1', 'cam-2', 'cam-3'].map((id) => ({ id, source: { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 5 } }));

function batch(i: number): DetectionBatch {
  return {
    cameraId: 'bench',
    frameSequence: i,
    timestampNs: BigInt(Date.now()) * 1_000_000n + BigInt(i),
    frameWidth: 1280,
    frameHeight: 720,
    detections: Array.from({ length: 20 }, (_, k) => ({ classId: 0, className: 'person', confidence: 0.5 + k / 100, box: { x1: k, y1: k, x2: k + 50, y2: k + 100 }, trackId: k })),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-'));
const nats = await startNatsCluster(dir);
const nodes = ['A', 'B', 'C'].map((id) => new VigilNode({ id, dir, servers: nats.urls, cameras: CAMERAS, detector: false }));
const figures: Record<string, unknown> = {};
try {
  await Promise.all(nodes.map((n) => n.start()));
  const admin = await connectAdmin(nats.urls, 'vigil');
  const owners = async (): Promise<Map<string, string | null>> => new Map((await clusterStatus(admin, 2000)).cameras.map((c) => [c.id, c.node]));
  const spread = async (): Promise<boolean> => {
    const o = await owners();
    return ['A', 'B', 'C'].every((n) => [...o.values()].filter((x) => x === n).length === 1);
  };
  await until(spread, 120_000, 'spread');
  log('cluster up');

  // Failover.
  const failovers: number[] = [];
  let stoppedEarly: string | null = null;
  for (let k = 0; k < KILLS && stoppedEarly === null; k++) try {
    const o = await owners();
    const victim = nodes[k % 3]!;
    const cam = [...o].find(([, n]) => n === victim.spec.id)![0];
    const killedAt = Date.now();
    victim.kill9();
    const to = await until(async () => {
      const n = (await owners()).get(cam);
      return n && n !== victim.spec.id ? n : null;
    }, 60_000, `${cam} off ${victim.spec.id}`);
    const owner = nodes.find((n) => n.spec.id === to)!;
    const running = await until(() => owner.find(new RegExp(`^${cam} starting -> running$`)).find((l) => l.ms >= killedAt), 30_000, `${cam} running`);
    failovers.push((running.ms - killedAt) / 1000);
    log(`kill ${k + 1}/${KILLS}: ${cam} ${victim.spec.id} -> ${to} in ${((running.ms - killedAt) / 1000).toFixed(2)} s`);
    await victim.start();
    await until(spread, 120_000, 'spread again');
  } catch (err) {
    // A restart that does not finish on a starved machine ends the series; what was measured is kept.
    stoppedEarly = (err as Error).message.split('\n')[0]!;
    log(`kills stopped: ${stoppedEarly}`);
  }
  figures.kills_stopped_early = stoppedEarly;
  const events = await readEvents(nats.urls);
  const overlaps = overlappingTokens(events);
  figures.failover_s_p50 = Number(pct(failovers, 50).toFixed(2));
  figures.failover_s_max = Number(Math.max(...failovers).toFixed(2));
  figures.failover_s = failovers.map((x) => Number(x.toFixed(2)));
  figures.kills = failovers.length;
  figures.double_owner_events = overlaps.length;
  figures.stream_events_checked = events.length;

  // Bridge vs local store.
  const store = DetectionStore.open({ path: join(dir, 'bench-store') });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: EVENTS }, (_, i) => store.append(batch(i))));
  const localPerS = EVENTS / ((performance.now() - t0) / 1000);
  const bridge = new EventBridge(admin, { nodeId: 'bench', incarnation: 'x', fenceOf: () => 1, store, log: silentLogger, maxInFlight: 2000 });
  const t1 = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    while (bridge.stats.published + bridge.stats.publishFailed + bridge.stats.dropped < i - 1500) await sleep(1);
    bridge.publish({ kind: 'detections', batch: batch(i) });
  }
  await until(() => bridge.stats.published + bridge.stats.publishFailed + bridge.stats.dropped >= EVENTS, 120_000, 'bridge acks');
  const bridgePerS = EVENTS / ((performance.now() - t1) / 1000);
  await bridge.close();
  await store.close();
  figures.stream_bridge_batches_per_s = Math.round(bridgePerS);
  figures.local_store_batches_per_s = Math.round(localPerS);
  figures.stream_bridge_ratio_vs_local = Number((bridgePerS / localPerS).toFixed(3));
  figures.stream_bridge_failed = bridge.stats.publishFailed + bridge.stats.dropped;

  // Queries.
  const node = nodes[0]!;
  const res = await fetch(`http://127.0.0.1:${node.port}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: node.adminPassword() }) });
  const token = ((await res.json()) as { access_token: string }).access_token;
  // Cluster query: GET /cameras on one node, answered by scatter-gather over the three nodes (what a client of any
  // node gets). Local query: GET /detections on the same node, a read of its own LMDB store (detections are
  // replicated into every node's store). Also the bare NATS request-reply gather that `vigil cluster status` does.
  const local: number[] = [];
  const cluster: number[] = [];
  const natsGather: number[] = [];
  let partial = 0;
  const get = async (path: string): Promise<Response> => {
    const r = await fetch(`http://127.0.0.1:${node.port}${path}`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    return r;
  };
  for (let i = 0; i < 200; i++) {
    let t = performance.now();
    await get('/detections?page_size=20');
    local.push(performance.now() - t);
    t = performance.now();
    const r = await get('/cameras');
    cluster.push(performance.now() - t);
    if (r.headers.get('vigil-partial') === 'true') partial++;
    t = performance.now();
    const g = await gather(admin, 'status', null, ['A', 'B', 'C'], 1000);
    natsGather.push(performance.now() - t);
    if (g.partial) partial++;
  }
  figures.cluster_query_p99_ms = Number(pct(cluster, 99).toFixed(2));
  figures.cluster_query_p50_ms = Number(pct(cluster, 50).toFixed(2));
  figures.cluster_query_partial = partial;
  figures.nats_gather_p99_ms = Number(pct(natsGather, 99).toFixed(2));
  figures.nats_gather_p50_ms = Number(pct(natsGather, 50).toFixed(2));
  figures.local_query_p99_ms = Number(pct(local, 99).toFixed(2));
  figures.local_query_p50_ms = Number(pct(local, 50).toFixed(2));
  await admin.nc.close();
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
const out = {
  ...figures,
  notes: 'failover: kill -9 of the owning node to running on the new owner (leaseTtlS 3 + graceS 1 + scanIntervalS 0.25 + camera start). cluster query = GET /cameras on one node, scatter-gathered over 3 nodes; nats gather = the bare request-reply that `vigil cluster status` does; local query = GET /detections on the same node (its own LMDB store). Stored detections are replicated into every node store, so a detection query on any node is a local read.',
  date: new Date().toISOString(),
  machine: `${cpus().length} vCPU ${cpus()[0]?.model ?? ''}, shared with other work during the run (this run in its own autogroup at top priority)`,
  command: `setsid /tmp/pm/prio.sh node --import tsx bench/cluster.ts --kills ${KILLS} --events ${EVENTS}`,
};
writeFileSync('bench/results/cluster.json', `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exit(0);
