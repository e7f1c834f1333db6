/**
 * Cluster REST query latency (issue 14), on loopback: a 3-broker JetStream cluster (R3) and three Vigil nodes
 * (processes, detection off, two synthetic cameras) as in test/cluster/; 1,000 track vectors written into A's and
 * B's stores before they start.
 *
 *   setsid /tmp/pm/prio.sh node --import tsx bench/cluster-rest.ts [--n 300]
 *
 * On node C, sequential and interleaved, N each: `GET /cameras`, `GET /alerts`, `POST /search` (k 10, a vector) —
 * the cluster answers (scatter-gather over NATS request-reply to the three nodes, merged) — against
 * `GET /detections?page_size=10` on the same node, a local LMDB read through the same HTTP stack and auth (the
 * baseline: what a single server's query costs). p50 / p99 in ms; partial answers counted (must be 0).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataDatabase } from '../src/db/migrate.js';
import { DetectionStore } from '../src/store/index.js';
import { VectorIndex } from '../src/store/vector-index.js';
import { startNatsCluster, until, VigilNode } from '../test/cluster/harness.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--n', 300);
const DIMS = 480;
const log = (s: string): void => void process.stderr.write(`${new Date().toISOString()} ${s}\n`);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
let seed = 7;
const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
const randomVector = (): number[] => Array.from({ length: DIMS }, rnd);

async function seedVectors(dataDir: string, cameraId: string, n: number): Promise<void> {
  const { database } = openDataDatabase(dataDir, {});
  const store = DetectionStore.open({ database: database.scope('store') });
  const ix = await VectorIndex.open(store, { dims: DIMS });
  const t = BigInt(Date.now()) * 1_000_000n;
  await ix.addMany(Array.from({ length: n }, (_, i) => ({ track: { cameraId, trackId: i + 1, classId: 0, className: 'person', timestampNs: t + BigInt(i) }, vector: randomVector() })));
  await ix.close();
  await store.close();
  await database.close();
}

const CAMERAS = ['cam-1', 'cam-2'].map((id) => ({ id, source: { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 5 } }));
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-rest-'));
await seedVectors(join(dir, 'data-A'), 'vec-a', 500);
await seedVectors(join(dir, 'data-B'), 'vec-b', 500);
const nats = await startNatsCluster(dir);
const nodes = ['A', 'B', 'C'].map((id) => new VigilNode({ id, dir, servers: nats.urls, cameras: CAMERAS, detector: false }));
const figures: Record<string, unknown> = {};
try {
  await Promise.all(nodes.map((n) => n.start()));
  const node = nodes[2]!;
  const base = `http://127.0.0.1:${node.port}`;
  const token = await until(async () => {
    const r = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: node.adminPassword() }) });
    return r.status === 200 ? ((await r.json()) as { access_token: string }).access_token : null;
  }, 30_000, 'login');
  const auth = { authorization: `Bearer ${token}` };
  await until(async () => {
    const r = await fetch(`${base}/cameras`, { headers: auth });
    const rows = (await r.json()) as Array<{ state: string }>;
    return rows.length === 2 && rows.every((c) => c.state === 'running');
  }, 120_000, 'cameras running');
  log('cluster up');
  const vector = randomVector();
  const kinds = {
    local_detections: async () => (await fetch(`${base}/detections?page_size=10`, { headers: auth })).json(),
    cluster_cameras: async () => {
      const r = await fetch(`${base}/cameras`, { headers: auth });
      await r.arrayBuffer();
      return { partial: r.headers.get('vigil-partial') === 'true' };
    },
    cluster_alerts: async () => (await fetch(`${base}/alerts`, { headers: auth })).json(),
    cluster_search: async () =>
      (await fetch(`${base}/search`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ vector, k: 10 }) })).json(),
  } as const;
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  let partial = 0;
  let searchResults = 0;
  for (let i = 0; i < N + 20; i++) {
    for (const [k, fn] of Object.entries(kinds)) {
      const t = performance.now();
      const body = (await fn()) as { partial?: boolean; results?: unknown[] };
      const ms = performance.now() - t;
      if (i >= 20) times[k]!.push(ms); // the first 20 rounds warm up
      if (body.partial === true) partial++;
      if (k === 'cluster_search' && i === 0) searchResults = body.results?.length ?? -1;
    }
  }
  for (const [k, xs] of Object.entries(times)) {
    figures[`${k}_p50_ms`] = Number(pct(xs, 50).toFixed(2));
    figures[`${k}_p99_ms`] = Number(pct(xs, 99).toFixed(2));
  }
  figures.cluster_query_p99_ms = Math.max(...['cluster_cameras', 'cluster_alerts', 'cluster_search'].map((k) => figures[`${k}_p99_ms`] as number));
  figures.local_query_p99_ms = figures.local_detections_p99_ms;
  figures.partial_answers = partial;
  figures.search_results = searchResults;
  figures.queries_each = N;
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
const out = {
  ...figures,
  notes:
    'On node C of three (R3 brokers, loopback): GET /cameras, GET /alerts, POST /search (k 10 over 1,000 vectors stored on A and B) are scatter-gathers to the three nodes merged on C (src/cluster/reads.ts); GET /detections?page_size=10 is a local LMDB read (detections are replicated into every node store). Sequential, interleaved, after 20 warm-up rounds. cluster_query_p99_ms: the largest of the three cluster p99s.',
  date: new Date().toISOString(),
  machine: `${cpus().length} vCPU ${cpus()[0]?.model ?? ''}, shared with other work during the run (this run in its own autogroup at top priority)`,
  command: `setsid /tmp/pm/prio.sh node --import tsx bench/cluster-rest.ts --n ${N}`,
};
writeFileSync('bench/results/cluster-rest.json', `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exit(0);
