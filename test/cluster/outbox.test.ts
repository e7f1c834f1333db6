/**
 * The partition outbox (src/cluster/outbox.ts).
 * - On its own (LMDB in a temp folder): bounded (a full outbox drops and counts), flushed in production order
 *   whatever order events arrived in, stops at the first failed publish, survives a reopen.
 * - In a cluster (three Vigil nodes on a 3-broker JetStream cluster, each behind its own TCP proxy to cut it off;
 *   NanoDet on OpenCV's vtest clip): the camera's node is cut off from NATS for less than its lease, its events
 *   wait in the outbox and reach the stream after the heal exactly once (the same frames as its own store holds),
 *   in order, under the token they were produced with; cut off for longer, it stops the camera, another node takes
 *   it over under a higher token, and what the outbox publishes after the heal carries the old token: every other
 *   node refuses it (fenced off), and no two tokens ever produced at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/db/database.js';
import { EventOutbox, type OutboxMessage } from '../../src/cluster/outbox.js';
import { connectAdmin } from '../../src/cluster/nats.js';
import { clusterStatus } from '../../src/cluster/admin.js';
import { media } from '../helpers/media.js';
import { dumpNodeLogs, overlappingTokens, readEvents, sleep, startNatsCluster, TcpProxy, until, VigilNode } from './harness.js';

const msg = (i: number): OutboxMessage => ({ subject: `s.${i}`, msgID: `m-${i}`, headers: [['Vigil-Fence', '7']], data: Buffer.from(`event ${i}`) });

test('outbox: bounded with a drop count, flushed in production order, stops at a failure, survives a reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-outbox-'));
  try {
    let db = Database.open({ path: dir });
    let box = new EventOutbox(db.scope('cluster-outbox'), { maxEvents: 3 });
    // Arrival order 2, 1, 3 (an earlier event whose publish failed late); the fourth does not fit.
    assert.deepEqual([box.add(2, msg(2)), box.add(1, msg(1)), box.add(3, msg(3)), box.add(4, msg(4))], [true, true, true, false]);
    assert.deepEqual([box.size, box.stats.stored, box.stats.dropped], [3, 3, 1]);
    // A publish that fails on the second event: the first is gone, the rest stay.
    const sent: string[] = [];
    let fail = true;
    const publish = async (m: OutboxMessage): Promise<void> => {
      if (m.msgID === 'm-2' && fail) throw new Error('no ack');
      sent.push(`${m.msgID} ${m.subject} ${m.headers.map((h) => h.join('=')).join(',')} ${Buffer.from(m.data).toString()}`);
    };
    assert.equal(await box.flush(publish), 1);
    assert.deepEqual([box.size, box.stats.flushFailed, sent], [2, 1, ['m-1 s.1 Vigil-Fence=7 event 1']]);
    await db.close();
    // Reopened (a restart): what is left is still there, and new events of the new start come after it.
    db = Database.open({ path: dir });
    box = new EventOutbox(db.scope('cluster-outbox'), { maxEvents: 3 });
    assert.equal(box.size, 2);
    assert.equal(box.add(1, msg(5)), true);
    fail = false;
    assert.equal(await box.flush(publish), 3);
    assert.deepEqual(sent, ['m-1 s.1 Vigil-Fence=7 event 1', 'm-2 s.2 Vigil-Fence=7 event 2', 'm-3 s.3 Vigil-Fence=7 event 3', 'm-5 s.5 Vigil-Fence=7 event 5']);
    assert.deepEqual([box.size, box.bytes, box.stats.flushed], [0, 0, 3]);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const CAMERAS = [{ id: 'people', source: { kind: 'file', path: media('vtest-h264.mp4'), loop: true, realtime: true }, detectFps: 4 }];
/**
 * Renewals every 4 s, a cut-off owner stops its camera 10 s after its last renewal, others take over after 13 s: a
 * 2.5 s cut stays well inside the lease even when the first renewal after it is slow on a loaded machine.
 */
const CLUSTER = { leaseTtlS: 12, safetyS: 2, graceS: 1 };
const step = (what: string): void => void process.stderr.write(`${new Date().toISOString()} ${what}\n`);

async function metric(node: VigilNode, token: string, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${node.port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

/** An admin token on `node`: every admin password a node printed is tried (per-node users, or shared ones). */
async function login(node: VigilNode, nodes: VigilNode[]): Promise<string> {
  const printed = nodes.flatMap((n) => [...n.stdout.matchAll(/created user "admin" with password (\S+)/g)].map((m) => m[1]!));
  for (const password of [...new Set(printed)]) {
    const res = await fetch(`http://127.0.0.1:${node.port}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    if (res.status === 200) return ((await res.json()) as { access_token: string }).access_token;
  }
  throw new Error(`no printed admin password logs in on ${node.spec.id} (${printed.length} tried)`);
}

/** Distinct frame times (ns) of the camera's detections in the node's own store, start <= t < end. */
async function storedFrames(node: VigilNode, token: string, startNs: bigint, endNs: bigint): Promise<string[]> {
  const out = new Set<string>();
  for (let page = 1; ; page++) {
    const res = await fetch(`http://127.0.0.1:${node.port}/detections?camera_id=people&start_time=${startNs}&end_time=${endNs}&page_size=1000&page=${page}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { detections: Array<{ timestamp_ns: string }> };
    for (const d of body.detections) out.add(d.timestamp_ns);
    if (body.detections.length < 1000) break;
  }
  return [...out].sort();
}

test('partition outbox: events made while cut off arrive once, in order, with their token; a taken-over lease\'s are fenced off', { timeout: 290_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-outbox-'));
  const nats = await startNatsCluster(dir);
  const proxies = await Promise.all(nats.urls.map(async (u) => {
    const p = new TcpProxy(Number(new URL(u).port));
    await p.listen();
    return p;
  }));
  const nodes = ['A', 'B', 'C'].map((id, i) => new VigilNode({ id, dir, servers: [`nats://127.0.0.1:${proxies[i]!.port}`], cameras: CAMERAS, cluster: CLUSTER }));
  let admin: Awaited<ReturnType<typeof connectAdmin>> | null = null;
  try {
    await Promise.all(nodes.map((n) => n.start()));
    admin = await connectAdmin(nats.urls, 'vigil');
    const ownerId = await until(async () => {
      const c = (await clusterStatus(admin!, 2000)).cameras.find((x) => x.id === 'people');
      return c?.node && c.state === 'running' ? c.node : null;
    }, 60_000, 'people running');
    const i = nodes.findIndex((n) => n.spec.id === ownerId);
    const owner = nodes[i]!;
    const token = await login(owner, nodes);
    const firstFence = (await clusterStatus(admin, 2000)).cameras.find((x) => x.id === 'people')!.fence!;
    // Detections flowing into the stream before the cut.
    await until(async () => (await readEvents(nats.urls)).filter((e) => e.kind === 'detections' && e.node === ownerId).length >= 5, 60_000, 'detections in the stream');
    step(`people on ${ownerId} under token ${firstFence}`);

    // 1. A cut shorter than the lease: the camera keeps running, its events wait, then arrive.
    const cutAt = Date.now();
    proxies[i]!.cut();
    await sleep(2500);
    const healAt = Date.now();
    proxies[i]!.heal();
    await until(async () => (await metric(owner, token, 'vigil_cluster_outbox_events')) === 0 && (await metric(owner, token, 'vigil_cluster_outbox_stored_total')) > 0, 30_000, 'the outbox published').catch(async (err: Error) => {
      const res = await fetch(`http://127.0.0.1:${owner.port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      throw new Error(`${err.message}: /metrics ${res.status} ${(await res.text()).split('\n').filter((l) => /vigil_cluster_(outbox|events)/.test(l)).join(' ; ').slice(0, 1500)}`);
    });
    await sleep(1000);
    assert.equal(owner.find(/stopped: lease not renewed/).length, 0, 'the camera kept running through the short cut');
    let events = await readEvents(nats.urls);
    const startNs = BigInt(cutAt) * 1_000_000n;
    const endNs = BigInt(healAt) * 1_000_000n;
    const inCut = events.filter((e) => {
      const b = e.data.batch as { timestampNs: string; detections: unknown[] } | undefined;
      return e.kind === 'detections' && e.node === ownerId && b && b.detections.length > 0 && BigInt(b.timestampNs) >= startNs && BigInt(b.timestampNs) < endNs;
    });
    const streamFrames = inCut.map((e) => (e.data.batch as { timestampNs: string }).timestampNs);
    assert.ok(streamFrames.length >= 3, `${streamFrames.length} detection batches made during the cut`);
    // Exactly once: the frames the owner stored while cut off, each once in the stream; in order; its token.
    assert.deepEqual([...streamFrames].sort(), await storedFrames(owner, token, startNs, endNs));
    assert.deepEqual(streamFrames, [...streamFrames].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)), 'in production order');
    assert.deepEqual([...new Set(inCut.map((e) => e.fence))], [firstFence]);
    assert.equal(await metric(owner, token, 'vigil_cluster_outbox_dropped_total'), 0);
    step(`short cut: ${streamFrames.length} batches from the outbox`);

    // 2. A cut past the lease: the owner stops, another node takes over with a higher token; after the heal the
    // outbox's late events carry the old token and the other nodes refuse them.
    const deferredBefore = await metric(owner, token, 'vigil_cluster_outbox_stored_total');
    const cut2At = Date.now();
    proxies[i]!.cut();
    await until(() => owner.find(/^cluster: people stopped: lease not renewed before it could expire$/).find((l) => l.ms >= cut2At), 20_000, 'people stopped on the cut-off owner');
    const newOwnerId = await until(async () => {
      const c = (await clusterStatus(admin!, 1000)).cameras.find((x) => x.id === 'people');
      return c?.node && c.node !== ownerId && c.state === 'running' ? c.node : null;
    }, 30_000, 'people running on another node');
    const newOwner = nodes.find((n) => n.spec.id === newOwnerId)!;
    await until(async () => (await readEvents(nats.urls)).some((e) => e.kind === 'detections' && e.node === newOwnerId), 30_000, `detections of ${newOwnerId}`);
    proxies[i]!.heal();
    await until(async () => (await metric(owner, token, 'vigil_cluster_outbox_events')) === 0, 30_000, 'the outbox published after the long cut');
    assert.ok((await metric(owner, token, 'vigil_cluster_outbox_stored_total')) > deferredBefore, 'events were kept during the long cut');
    await sleep(1500);
    events = await readEvents(nats.urls);
    const maxFence = new Map<string, number>();
    const late = events.filter((e) => {
      const cur = maxFence.get(e.camera) ?? 0;
      maxFence.set(e.camera, Math.max(cur, e.fence));
      return e.fence < cur;
    });
    assert.ok(late.length > 0, 'late events of the old lease in the stream');
    // Late events were made during the cut, or just before it and still waiting for their publish ack (5 s) when it
    // came: those go to the outbox too (seen: three made 0-0.4 s before the cut).
    assert.ok(late.every((e) => e.node === ownerId && e.fence === firstFence && e.time >= cut2At - 5000), JSON.stringify(late.slice(0, 3).map((e) => [e.node, e.fence, e.time, cut2At])));
    const newFence = Math.max(...events.filter((e) => e.node === newOwnerId).map((e) => e.fence));
    assert.ok(newFence > firstFence);
    const others = nodes.filter((n) => n !== owner);
    const tokens = await Promise.all(others.map((n) => login(n, nodes)));
    const fencedOff = await Promise.all(others.map((n, k) => metric(n, tokens[k]!, 'vigil_cluster_events_fenced_off_total')));
    assert.deepEqual(fencedOff.map((n) => n >= late.length), others.map(() => true), `fenced off on ${others.map((n) => n.spec.id)}: ${fencedOff} (late ${late.length})`);
    // Per producer and token, events in production order, none twice; never two tokens producing at once.
    const frames = events.filter((e) => e.kind === 'detections').map((e) => `${e.fence}|${(e.data.batch as { timestampNs: string }).timestampNs}`);
    assert.equal(new Set(frames).size, frames.length, 'no batch twice in the stream');
    for (const f of new Set(events.map((e) => e.fence))) {
      const ts = events.filter((e) => e.kind === 'detections' && e.fence === f).map((e) => BigInt((e.data.batch as { timestampNs: string }).timestampNs));
      assert.ok(ts.every((t, k) => k === 0 || t > ts[k - 1]!), `token ${f}: batches in production order`);
    }
    assert.deepEqual(overlappingTokens(events), []);
    void newOwner;
    step(`long cut: ${late.length} late events under token ${firstFence} after ${newOwnerId}'s ${newFence}`);
  } catch (err) {
    dumpNodeLogs(nodes);
    throw err;
  } finally {
    await admin?.nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
