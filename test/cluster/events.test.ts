/**
 * The cluster as one system for its clients, three Vigil nodes on a 3-broker JetStream cluster (loopback, real
 * processes, NanoDet on OpenCV's vtest clip): a WebSocket client on one node receives the detections of a camera
 * another node runs; a REST detection query on that node returns the other node's rows; a rule edited through
 * the cluster configuration fires on the camera's node; a broker killed and restarted loses nothing acknowledged
 * while Vigil keeps going; and every event carries the fencing token of its camera's lease.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as flatbuffers from 'flatbuffers';
import WebSocket from 'ws';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectAdmin } from '../../src/cluster/nats.js';
import { clusterStatus } from '../../src/cluster/admin.js';
import {
  vigil_wire_DetectionBatch as WireBatch,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
} from '../../src/stream/generated/message_generated.js';
import { media, ROOT } from '../helpers/media.js';
import { dumpNodeLogs, overlappingTokens, readEvents, sleep, startNatsCluster, until, VigilNode } from './harness.js';

const CAMERAS = [
  { id: 'people', source: { kind: 'file', path: media('vtest-h264.mp4'), loop: true, realtime: true }, detectFps: 2 },
  { id: 'ball', source: { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 2 }, detectFps: 1 },
];
/** The rule as seeded never fires (more than 1000 people); edited to "more than 0" it fires at the first person. */
const RULE = { id: 'people-present', name: 'People present', kind: 'occupancy', cameras: ['people'], classes: ['person'], condition: 'above', threshold: 1000 };
// Lease timing that rides out a broker's death: a Raft leader election of the leases bucket takes seconds, and on a
// loaded machine (load average ~20 seen) a 10 s lease once expired during it and a camera stopped.
const CLUSTER = { leaseTtlS: 20, safetyS: 2, graceS: 1 };
const step = (what: string): void => void process.stderr.write(`${new Date().toISOString()} ${what}\n`);

function decode(buf: Buffer): Message {
  return Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(buf).slice()));
}

async function login(node: VigilNode): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${node.port}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: node.adminPassword() }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

test('WebSocket and REST on one node see another node\'s camera; a cluster rule edit fires there; a broker dies without loss', { timeout: 290_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-ev-'));
  const nats = await startNatsCluster(dir);
  const nodes = ['A', 'B', 'C'].map((id) => new VigilNode({ id, dir, servers: nats.urls, cameras: CAMERAS, rules: [RULE], cluster: CLUSTER }));
  let ws: WebSocket | null = null;
  let admin: Awaited<ReturnType<typeof connectAdmin>> | null = null;
  try {
    await Promise.all(nodes.map((n) => n.start()));
    admin = await connectAdmin(nats.urls, 'vigil');
    const owner = await until(async () => {
      const t = Date.now();
      const s = await clusterStatus(admin!, 2000);
      step(`status in ${Date.now() - t} ms: ${s.cameras.map((c) => `${c.id}@${c.node}:${c.state}`).join(' ')}`);
      const c = s.cameras.find((x) => x.id === 'people');
      const b = s.cameras.find((x) => x.id === 'ball');
      // Placement is settled when the two cameras run on two nodes: the first node up may claim both and hand
      // one off (hysteresis), so people can move once before this.
      const settled = c?.node && b?.node && c.node !== b.node && c.state === 'running' && b.state === 'running';
      return settled ? c.node : null;
    }, 40_000, 'cameras people and ball running on two nodes');
    const producer = nodes.find((n) => n.spec.id === owner)!;
    // The reader must never have run people, so that its REST rows can only come from the producer's store.
    const reader = nodes.find((n) => n.spec.id !== owner && n.find(/acquired$/).every((l) => !/people/.test(l.msg)));
    assert.ok(reader, `a node other than ${owner} that never ran people`);
    const editor = nodes.find((n) => n.spec.id !== owner && n !== reader)!;
    step(`people runs on ${owner}; reading on ${reader.spec.id}, editing on ${editor.spec.id}`);

    // 1. WebSocket on the reader node: detections of the producer's camera arrive.
    const token = await login(reader);
    const inbox: Buffer[] = [];
    ws = new WebSocket(`ws://127.0.0.1:${reader.port}/ws`, ['vigil.v1'], { headers: { authorization: `Bearer ${token}` } });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (d: Buffer) => inbox.push(d));
    await new Promise<void>((resolve, reject) => (ws!.once('open', () => resolve()), ws!.once('error', reject)));
    ws.send(JSON.stringify({ type: 'subscribe', id: 's1', cameras: ['people'], kinds: ['detections'] }));
    const batch = await until(() => {
      const m = inbox.map(decode).find((x) => x.payloadType() === Payload.DetectionBatch);
      return m ? (m.payload(new WireBatch()) as WireBatch) : null;
    }, 60_000, `a detection batch of people (run by ${owner}) on ${reader.spec.id}'s WebSocket`);
    assert.equal(batch.cameraId(), 'people');
    assert.ok(batch.detectionsLength() > 0);
    step('ws');

    // 2. REST on the reader node: the producer's rows.
    const res = await fetch(`http://127.0.0.1:${reader.port}/detections?camera_id=people&page_size=5`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { detections: Array<{ camera_id: string; type: string }>; total: number };
    assert.ok(body.total > 0 && body.detections.length > 0, JSON.stringify(body).slice(0, 300));
    assert.ok(body.detections.every((d) => d.camera_id === 'people'));
    assert.ok(reader.find(/acquired$/).every((l) => !/people/.test(l.msg)), `${reader.spec.id} never ran people`);
    step('rest');

    // 3. The rule edited through the cluster configuration (the CLI on the editor's config) fires on the producer.
    const appliedBefore = nodes.map((n) => n.find(/^rules applied from the cluster configuration$/).length);
    const ruleFile = join(dir, 'rule.json');
    writeFileSync(ruleFile, JSON.stringify({ ...RULE, threshold: 0 }));
    const cli = spawnSync(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'cluster', 'rules', 'set', ruleFile, '--config', editor.config], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), 'rules set: people-present');
    const alert = await until(async () => {
      const ev = await readEvents(nats.urls);
      return ev.find((e) => e.kind === 'alerts' && (e.data.alert as { ruleId?: string } | undefined)?.ruleId === 'people-present');
    }, 40_000, 'an alert of the edited rule');
    assert.equal(alert.node, owner);
    assert.equal(alert.camera, 'people');
    for (const [i, n] of nodes.entries()) {
      await until(() => n.find(/^rules applied from the cluster configuration$/).length > appliedBefore[i]!, 10_000, `rules applied on ${n.spec.id}`);
    }
    step('rule');

    // 4. Kill one broker: Vigil goes on (no camera changes hands), and after its restart nothing acknowledged is lost.
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    const before = await jsm.streams.info('vigil-events');
    const seqBefore = before.state.last_seq;
    const acquiredBefore = nodes.reduce((s, n) => s + n.find(/acquired$/).length, 0);
    const stoppedBefore = nodes.reduce((s, n) => s + n.find(/stopped: /).length, 0);
    nats.kill(0);
    await until(async () => (await jsm.streams.info('vigil-events').catch(() => null))?.state.last_seq! > seqBefore + 20, 40_000, 'events still flowing with a broker down');
    await nats.restart(0);
    await sleep(3000);
    const after = await jsm.streams.info('vigil-events');
    assert.ok(after.state.first_seq === 1 && after.state.messages === after.state.last_seq, `stream holds every message: ${JSON.stringify(after.state)}`);
    assert.equal(nodes.reduce((s, n) => s + n.find(/acquired$/).length, 0), acquiredBefore, 'no camera changed hands');
    assert.equal(nodes.reduce((s, n) => s + n.find(/stopped: /).length, 0), stoppedBefore, 'no camera stopped');
    await nc.close();
    step('broker');

    // 5. `vigil cluster drain` the producer: its camera moves, it stays a member with nothing.
    const drain = spawnSync(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'cluster', 'drain', owner, '--servers', nats.urls.join(',')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(drain.status, 0, drain.stderr);
    assert.equal(drain.stdout.trim(), `${owner}: draining (its cameras move to the other nodes)`);
    await until(() => producer.find(/^cluster: people released: drained$/)[0], 20_000, 'people released by the drained node');
    const drained = await until(async () => {
      const s = await clusterStatus(admin!, 2000);
      const c = s.cameras.find((x) => x.id === 'people');
      return c?.node && c.node !== owner && c.state === 'running' ? s : null;
    }, 30_000, 'people running on another node');
    assert.deepEqual(drained.nodes.filter((n) => n.node === owner).map((n) => [n.draining, n.cameras]), [[true, 0]]);
    const text = spawnSync(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'cluster', 'status', '--config', reader.config], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^NODE {12}CAMERAS {2}CAPACITY {2}DRAINING/);
    assert.match(text.stdout, new RegExp(`\\n${owner} +0 +4 +yes `));
    step('drain');

    // 6. Every event carries its camera's token; none overlap.
    const events = await readEvents(nats.urls);
    assert.ok(events.some((e) => e.kind === 'detections' && e.camera === 'people'));
    assert.ok(events.every((e) => e.fence > 0 && (e.node === 'A' || e.node === 'B' || e.node === 'C')));
    assert.deepEqual(overlappingTokens(events), []);
  } catch (err) {
    dumpNodeLogs(nodes);
    throw err;
  } finally {
    ws?.terminate();
    await admin?.nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
