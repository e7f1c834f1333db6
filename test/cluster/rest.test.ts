/**
 * The REST API answers for the cluster (src/cluster/reads.ts, users.ts, camera-writer.ts), three Vigil nodes on a
 * 3-broker JetStream cluster (loopback, real processes; NanoDet on OpenCV's vtest clip for the alerts):
 * - GET /cameras on any node lists every camera with its owner, live state and lease age; a camera-scoped user sees
 *   only its cameras;
 * - GET /alerts on a node that never ran the camera returns the owner's alerts (filters and cursor as on one node);
 *   an acknowledge sent to a third node reaches the owner;
 * - POST /search on a node with no vectors merges the other nodes' indexes by score: the top k of one index
 *   holding every vector (vectors written into the nodes' stores before they start);
 * - a user created on A logs in on B; deleted on A, its session on B is refused and it cannot log in there;
 * - a camera POSTed on B runs on exactly one node; deleted on C it stops; a camera imported by the VMS sync that
 *   every node runs (a simulated Milestone API Gateway: no XProtect runs here) runs on exactly one node;
 * - a node stopped with SIGSTOP: answers come within the per-node timeout with `partial: true` naming it.
 * One cluster start for all of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataDatabase } from '../../src/db/migrate.js';
import { DetectionStore } from '../../src/store/index.js';
import { VectorIndex } from '../../src/store/vector-index.js';
import { connectAdmin } from '../../src/cluster/nats.js';
import { clusterStatus } from '../../src/cluster/admin.js';
import { media } from '../helpers/media.js';
import { MilestoneSim } from '../integration/vms-simulators.js';
import { dumpNodeLogs, overlappingTokens, readEvents, sleep, startNatsCluster, until, VigilNode } from './harness.js';

const CAMERAS = [
  { id: 'people', source: { kind: 'file', path: media('vtest-h264.mp4'), loop: true, realtime: true }, detectFps: 2 },
  { id: 'ball', source: { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 2 }, detectFps: 1 },
];
const RULE = { id: 'people-present', name: 'People present', kind: 'occupancy', cameras: ['people'], classes: ['person'], condition: 'above', threshold: 0 };
const CLUSTER = { leaseTtlS: 10, safetyS: 2, graceS: 1, queryTimeoutMs: 1500 };
const DIMS = 480;
const step = (what: string): void => void process.stderr.write(`${new Date().toISOString()} ${what}\n`);

/** Unit vector e0 * cos t + e_j * sin t: its cosine with e0 is cos t. */
function vec(cos: number, j: number): Float32Array {
  const v = new Float32Array(DIMS);
  v[0] = cos;
  v[j] = Math.sqrt(1 - cos * cos);
  return v;
}
/** Vectors stored on A (camera vec-a) and B (camera vec-b), interleaved by similarity to e0. */
const SEEDED = {
  A: [{ track: 1, cos: 0.95, j: 1 }, { track: 2, cos: 0.85, j: 2 }, { track: 3, cos: 0.7, j: 3 }],
  B: [{ track: 1, cos: 0.9, j: 4 }, { track: 2, cos: 0.8, j: 5 }, { track: 3, cos: 0.6, j: 6 }],
} as const;

async function seedVectors(dataDir: string, cameraId: string, items: ReadonlyArray<{ track: number; cos: number; j: number }>): Promise<void> {
  const { database } = openDataDatabase(dataDir, {});
  const store = DetectionStore.open({ database: database.scope('store') });
  const ix = await VectorIndex.open(store, { dims: DIMS });
  const t = BigInt(Date.now()) * 1_000_000n;
  await ix.addMany(items.map((x) => ({ track: { cameraId, trackId: x.track, classId: 0, className: 'person', timestampNs: t + BigInt(x.track) }, vector: vec(x.cos, x.j) })));
  await ix.close();
  await store.close();
  await database.close();
}

interface Api {
  (path: string, init?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; json: any; headers: Headers; ms: number }>;
}
function api(node: VigilNode): Api {
  return async (path, init = {}) => {
    const t = performance.now();
    const res = await fetch(`http://127.0.0.1:${node.port}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers, ms: performance.now() - t };
  };
}

async function login(node: VigilNode, username: string, password: string): Promise<{ status: number; token: string | null }> {
  const r = await api(node)('/auth/login', { method: 'POST', body: { username, password } });
  return { status: r.status, token: r.status === 200 ? (r.json.access_token as string) : null };
}

test('REST on any node answers for the cluster: cameras, alerts (ack on a third node), search, users, camera writes, partial answers', { timeout: 420_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-rest-'));
  await seedVectors(join(dir, 'data-A'), 'vec-a', SEEDED.A);
  await seedVectors(join(dir, 'data-B'), 'vec-b', SEEDED.B);
  const nats = await startNatsCluster(dir);
  const secret = 'Client-Secret-9d2e';
  const sim = new MilestoneSim('unused', 'unused');
  sim.clients.set('vigil-analytics', secret);
  const guid = (i: number): string => `9f1c2d3e-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`;
  sim.cameras = [
    { id: guid(1), name: 'hw 1', displayName: 'Dock', enabled: true },
    { id: guid(2), name: 'hw 2', displayName: 'Spare', enabled: false },
  ];
  await sim.start();
  const VMS_CAM = `hq-${guid(1)}`;
  // Every node has the same VMS source (syncs once at start); RTSP on a port nothing listens on: the imported
  // camera runs (reconnecting) where the cluster places it.
  const vms = { integrations: { vms: [{ id: 'hq', type: 'milestone', url: sim.url, allow: ['127.0.0.1'], clientId: 'vigil-analytics', secret, syncIntervalS: 0, rtspPort: 1 }] } };
  const nodes = ['A', 'B', 'C'].map((id) => new VigilNode({ id, dir, servers: nats.urls, cameras: CAMERAS, rules: [RULE], cluster: CLUSTER, extra: vms }));
  const [A, B, C] = nodes as [VigilNode, VigilNode, VigilNode];
  let admin: Awaited<ReturnType<typeof connectAdmin>> | null = null;
  let stopped: VigilNode | null = null;
  try {
    await Promise.all(nodes.map((n) => n.start()));
    admin = await connectAdmin(nats.urls, 'vigil');
    // One node seeded the users; every node then has the same admin.
    assert.equal(nodes.filter((n) => n.find(/^seeded the cluster users from this node$/).length === 1).length, 1);
    const tokens = new Map<VigilNode, string>();
    for (const n of nodes) {
      const l = await until(async () => {
        const r = await login(n, 'admin', n.adminPassword());
        return r.token;
      }, 20_000, `admin login on ${n.spec.id}`);
      tokens.set(n, l);
    }
    const tok = (n: VigilNode): string => tokens.get(n)!;
    /** Nodes running a camera now, by their logs: acquired more often than released or stopped. */
    const holders = (id: string): string[] =>
      nodes.filter((n) => n.find(new RegExp(`^cluster: ${id} acquired$`)).length > n.find(new RegExp(`^cluster: ${id} (released|stopped): `)).length).map((n) => n.spec.id);
    const owners = await until(async () => {
      const s = await clusterStatus(admin!, 3000);
      const p = s.cameras.find((x) => x.id === 'people');
      const b = s.cameras.find((x) => x.id === 'ball');
      return p?.node && b?.node && p.node !== b.node && p.state === 'running' && b.state === 'running' ? { people: p.node, ball: b.node } : null;
    }, 90_000, 'people and ball running on two nodes');
    const owner = nodes.find((n) => n.spec.id === owners.people)!;
    // reader: never ran people (its alerts can only come from the owner); third: the remaining node
    const reader = nodes.find((n) => n !== owner && n.find(/acquired$/).every((l) => !/ people /.test(` ${l.msg} `)))!;
    assert.ok(reader, 'a node that never ran people');
    const third = nodes.find((n) => n !== owner && n !== reader)!;
    step(`people on ${owner.spec.id}, ball on ${owners.ball}; reading on ${reader.spec.id}, third ${third.spec.id}`);

    // 1. GET /cameras on the reader: every camera, its owner, live state, lease age; the VMS import placed once.
    const cams = await until(async () => {
      const r = await api(reader)('/cameras', { token: tok(reader) });
      return r.json.find((c: any) => c.id === VMS_CAM && c.node !== null && c.live) ? r : null;
    }, 60_000, `${VMS_CAM} placed`);
    assert.equal(cams.status, 200);
    assert.equal(cams.headers.get('vigil-partial'), 'false');
    assert.equal(cams.headers.get('vigil-missing-nodes'), '');
    const vmsRow = cams.json.find((c: any) => c.id === VMS_CAM);
    assert.deepEqual(
      cams.json.map((c: any) => [c.id, c.node, c.id === VMS_CAM ? '-' : c.state, c.id === VMS_CAM ? '-' : c.status, c.live, c.origin]),
      [['ball', owners.ball, 'running', 'active', true, 'config'], [VMS_CAM, vmsRow.node, '-', '-', true, 'vms'], ['people', owners.people, 'running', 'active', true, 'config']],
    );
    assert.deepEqual([vmsRow.name, vmsRow.source], ['Dock', `rtsp://127.0.0.1:1/live/${guid(1)}?stream=0`]);
    assert.deepEqual(holders(VMS_CAM), [vmsRow.node]);
    for (const c of cams.json) assert.ok(Number.isInteger(c.lease_age_ms) && c.lease_age_ms >= 0 && c.lease_age_ms < 10_000 && c.fence > 0, JSON.stringify(c));
    const one = await api(reader)('/cameras/people', { token: tok(reader) });
    assert.deepEqual([one.status, one.json.id, one.json.node, one.json.state], [200, 'people', owners.people, 'running']);
    step('cameras');

    // 2. Users: created on A, logs in on B; camera-scoped, it sees only its camera on every node.
    const created = await api(A)('/users', { method: 'POST', token: tok(A), body: { username: 'scoped1', password: 'scoped-pass-1', role: 'viewer', cameras: ['ball'] } });
    assert.equal(created.status, 201);
    const onB = await until(async () => (await login(B, 'scoped1', 'scoped-pass-1')).token, 10_000, 'scoped1 logging in on B');
    const scopedCams = await api(B)('/cameras', { token: onB });
    assert.equal(scopedCams.status, 200);
    assert.deepEqual(scopedCams.json.map((c: any) => c.id), ['ball']);
    const scopedUsers = await api(C)('/users', { token: tok(C) });
    assert.deepEqual(scopedUsers.json.users.map((u: any) => [u.username, u.role, u.cameras]).sort(), [['admin', 'admin', '*'], ['scoped1', 'viewer', ['ball']]]);
    // A password set on C: the old one fails on B, the new one works there; the session on B is refused.
    assert.equal((await api(C)('/users/scoped1/password', { method: 'POST', token: tok(C), body: { new_password: 'scoped-pass-2' } })).status, 204);
    const afterPw = await until(async () => {
      const r = await api(B)('/cameras', { token: onB });
      return r.status === 401 ? r : null;
    }, 10_000, "scoped1's session on B refused after its password changed on C");
    assert.equal(afterPw.json.error.code, 'E_AUTH_REVOKED');
    assert.equal((await login(B, 'scoped1', 'scoped-pass-1')).status, 401);
    const onB2 = (await login(B, 'scoped1', 'scoped-pass-2')).token!;
    assert.ok(onB2);
    // Its scope widened on A: the session on B ends, a new login there sees both cameras.
    const widened = await api(A)('/users/scoped1', { method: 'PATCH', token: tok(A), body: { cameras: ['ball', 'people'] } });
    assert.deepEqual([widened.status, widened.json.cameras], [200, ['ball', 'people']]);
    await until(async () => (await api(B)('/cameras', { token: onB2 })).status === 401, 10_000, "scoped1's session on B refused after its scope changed on A");
    const onB3 = (await login(B, 'scoped1', 'scoped-pass-2')).token!;
    assert.deepEqual((await api(B)('/cameras', { token: onB3 })).json.map((c: any) => c.id), ['ball', 'people']);
    // Deleted on A: its session on B is refused, and it cannot log in there.
    assert.equal((await api(A)('/users/scoped1', { method: 'DELETE', token: tok(A) })).status, 204);
    const refused = await until(async () => {
      const r = await api(B)('/cameras', { token: onB3 });
      return r.status === 401 ? r : null;
    }, 10_000, "scoped1's session on B refused");
    assert.equal(refused.json.error.code, 'E_AUTH_REVOKED');
    const again = await api(B)('/auth/login', { method: 'POST', body: { username: 'scoped1', password: 'scoped-pass-1' } });
    assert.equal(again.status, 401);
    assert.equal(again.json.error.code, 'E_AUTH_BAD_CREDENTIALS');
    step('users');

    // 3. Search on C (no vectors of its own): A's and B's vectors merged by score.
    const s1 = await api(C)('/search', { method: 'POST', token: tok(C), body: { vector: Array.from(vec(1, 7)), k: 4 } });
    assert.equal(s1.status, 200, JSON.stringify(s1.json));
    assert.deepEqual([s1.json.k, s1.json.partial, s1.json.missing_nodes], [4, false, []]);
    assert.deepEqual(s1.json.results.map((h: any) => [h.camera_id, h.track_id, h.score.toFixed(4)]), [
      ['vec-a', 1, '0.9500'], ['vec-b', 1, '0.9000'], ['vec-a', 2, '0.8500'], ['vec-b', 2, '0.8000'],
    ]);
    // By example track (stored on A only): the example itself left out, the others ranked by cosine to it.
    const ex = vec(0.95, 1);
    const want = [...SEEDED.A.filter((x) => x.track !== 1).map((x) => ['vec-a', x.track, x] as const), ...SEEDED.B.map((x) => ['vec-b', x.track, x] as const)]
      .map(([cam, track, x]) => [cam, track, vec(x.cos, x.j).reduce((s, v, i) => s + v * ex[i]!, 0)] as const)
      .sort((a, b) => b[2] - a[2])
      .slice(0, 3)
      .map(([cam, track, score]) => [cam, track, score.toFixed(4)]);
    const s2 = await api(C)('/search', { method: 'POST', token: tok(C), body: { track_id: 1, camera_id: 'vec-a', k: 3 } });
    assert.equal(s2.status, 200, JSON.stringify(s2.json));
    assert.deepEqual(s2.json.results.map((h: any) => [h.camera_id, h.track_id, h.score.toFixed(4)]), want);
    const zero = await api(C)('/search', { method: 'POST', token: tok(C), body: { vector: new Array(DIMS).fill(0), k: 3 } });
    assert.deepEqual([zero.status, zero.json.error.code], [400, 'E_VALIDATION']);
    const s3 = await api(C)('/search', { method: 'POST', token: tok(C), body: { track_id: 9, camera_id: 'vec-a', k: 3 } });
    assert.deepEqual([s3.status, s3.json.error.code, s3.json.error.message], [404, 'E_TRACK_NOT_FOUND', 'No embedding stored for track 9 of camera vec-a']);
    step('search');

    // 4. Alerts: the owner's alert listed on the reader, acknowledged on the third node.
    const firstAlert = await until(async () => {
      const r = await api(reader)('/alerts?camera_id=people', { token: tok(reader) });
      return r.status === 200 && r.json.alerts.length > 0 ? r.json : null;
    }, 120_000, `an alert of people (run by ${owner.spec.id}) on ${reader.spec.id}`);
    assert.deepEqual([firstAlert.partial, firstAlert.missing_nodes], [false, []]);
    const alert = firstAlert.alerts[0];
    assert.deepEqual([alert.cameraId, alert.ruleId], ['people', 'people-present']);
    assert.deepEqual((await api(reader)('/alerts?camera_id=ball', { token: tok(reader) })).json, { alerts: [], next_cursor: null, partial: false, missing_nodes: [] });
    // The same page on the owner (where it is stored) and on the reader.
    const onOwner = await api(owner)(`/alerts?rule_id=people-present&order=asc&limit=1`, { token: tok(owner) });
    const onReader = await api(reader)(`/alerts?rule_id=people-present&order=asc&limit=1`, { token: tok(reader) });
    assert.deepEqual(onReader.json.alerts.map((a: any) => a.alertId), onOwner.json.alerts.map((a: any) => a.alertId));
    const ack = await api(third)(`/alerts/${encodeURIComponent(alert.alertId)}/acknowledge`, { method: 'POST', token: tok(third) });
    assert.equal(ack.status, 200, JSON.stringify(ack.json));
    assert.deepEqual([ack.json.alertId, ack.json.acknowledgedBy], [alert.alertId, 'admin']);
    assert.ok(ack.json.state === 'acknowledged' || ack.json.state === 'cleared', ack.json.state);
    const got = await api(reader)(`/alerts/${encodeURIComponent(alert.alertId)}`, { token: tok(reader) });
    assert.deepEqual([got.status, got.json.acknowledgedBy, got.json.state], [200, 'admin', ack.json.state]);
    const missingAlert = await api(reader)('/alerts/00000000000000000001-00000000abcdef', { token: tok(reader) });
    assert.equal(missingAlert.status, 404);
    step('alerts');

    // 5. A camera POSTed on B runs on exactly one node; deleted on C it stops.
    const added = await api(B)('/cameras', { method: 'POST', token: tok(B), body: { id: 'added', source: { kind: 'test', pattern: 'smpte', width: 160, height: 120, fps: 2 } } });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.deepEqual([added.json.id, added.json.origin], ['added', 'api']);
    const dup = await api(C)('/cameras', { method: 'POST', token: tok(C), body: { id: 'added', source: { kind: 'test', pattern: 'ball' } } });
    assert.deepEqual([dup.status, dup.json.error.code], [409, 'E_CONFLICT']);
    const running = await until(async () => {
      const r = await api(C)('/cameras/added', { token: tok(C) });
      return r.status === 200 && r.json.state === 'running' ? r.json : null;
    }, 30_000, 'camera added running somewhere');
    await sleep(3000);
    assert.deepEqual(holders('added'), [running.node]);
    assert.equal((await api(C)('/cameras/added', { method: 'DELETE', token: tok(C) })).status, 204);
    await until(async () => (await api(A)('/cameras/added', { token: tok(A) })).status === 404, 10_000, 'camera added gone');
    const ro = await api(A)('/cameras/ball', { method: 'DELETE', token: tok(A) });
    assert.deepEqual([ro.status, ro.json.error.code], [409, 'E_CAMERA_READONLY']);
    step('camera writes');

    // 6. A node stopped (SIGSTOP): answers within the per-node timeout, partial, naming it.
    stopped = third;
    third.proc!.kill('SIGSTOP');
    const pa = await api(reader)('/alerts', { token: tok(reader) });
    assert.deepEqual([pa.status, pa.json.partial, pa.json.missing_nodes], [200, true, [third.spec.id]]);
    assert.ok(pa.ms < CLUSTER.queryTimeoutMs + 1000, `answered in ${pa.ms} ms`);
    const pc = await api(reader)('/cameras', { token: tok(reader) });
    assert.deepEqual([pc.status, pc.headers.get('vigil-partial'), pc.headers.get('vigil-missing-nodes')], [200, 'true', third.spec.id]);
    const ps = await api(reader)('/search', { method: 'POST', token: tok(reader), body: { vector: Array.from(vec(1, 7)), k: 2 } });
    assert.deepEqual([ps.status, ps.json.partial, ps.json.missing_nodes], [200, true, [third.spec.id]]);
    third.proc!.kill('SIGCONT');
    stopped = null;
    step('partial');

    // Never two producers at once for the cameras placed here (fencing tokens in the stream).
    const events = (await readEvents(nats.urls)).filter((e) => e.camera === VMS_CAM || e.camera === 'added');
    assert.ok(events.some((e) => e.camera === VMS_CAM) && events.some((e) => e.camera === 'added'));
    assert.deepEqual(overlappingTokens(events), []);
  } catch (err) {
    dumpNodeLogs(nodes);
    throw err;
  } finally {
    stopped?.proc?.kill('SIGCONT');
    await sim.stop();
    await admin?.nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
