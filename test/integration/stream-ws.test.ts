/**
 * The WebSocket event stream end to end on loopback: a client that decodes with only the flatc-generated code and
 * the flatbuffers runtime; subscriptions (camera, class, min confidence, kinds); resume after a disconnect; slow
 * consumers (20 never-reading + 10 normal) with the server's send buffers bounded; disconnect policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as flatbuffers from 'flatbuffers';
import type WebSocket from 'ws';
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  vigil_wire_CameraStatusEvent as CameraStatusEvent,
  vigil_wire_Detection as Detection,
  vigil_wire_DetectionBatch as DetectionBatch,
  vigil_wire_DropNotice as DropNotice,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as ServerHello,
  vigil_wire_SubscribeAck as SubscribeAck,
} from '../../src/stream/generated/message_generated.js';
import type { StreamEvent } from '../../src/stream/events.js';
import type { DetectionBatch as Batch } from '../../src/types.js';
import { closeWs, connectWs, startHarness, waitFor, type InboxSocket } from './api-helpers.js';

function decode(buf: Buffer): Message {
  // ws hands out Buffers that may be slices of a bigger pool: copy so the generated accessors are aligned
  return Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(buf).slice()));
}

function batch(cameraId: string, frame: number, n: number): StreamEvent {
  const detections: Batch['detections'] = [];
  for (let i = 0; i < n; i++)
    detections.push({
      classId: i % 2 === 0 ? 0 : 2,
      className: i % 2 === 0 ? 'person' : 'car',
      confidence: ((i % 10) + 0.5) / 10,
      box: { x1: i, y1: i * 2, x2: i + 50, y2: i * 2 + 100 },
      trackId: i,
    });
  return { kind: 'detections', batch: { cameraId, frameSequence: frame, timestampNs: 1_764_000_000_000_000_000n + BigInt(frame), frameWidth: 1920, frameHeight: 1080, detections } };
}

const statusEvent = (cameraId: string): StreamEvent => ({
  kind: 'camera_status',
  status: { cameraId, status: 'stalled', previous: 'running', timestampNs: 5n, message: 'no frames for 10 s' },
});

async function subscribe(ws: InboxSocket, req: object): Promise<SubscribeAck> {
  const before = ws.inbox.length;
  ws.send(JSON.stringify({ type: 'subscribe', ...req }));
  await waitFor(() => ws.inbox.slice(before).some((b) => decode(b).payloadType() === Payload.SubscribeAck), 5000, 'subscribe ack');
  const ack = ws.inbox.slice(before).map(decode).find((m) => m.payloadType() === Payload.SubscribeAck)!;
  return ack.payload(new SubscribeAck()) as SubscribeAck;
}

test('hello, then filtered detection batches decoded with only the generated code', async () => {
  const h = await startHarness();
  try {
    const ws = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
    await waitFor(() => ws.inbox.length === 1, 5000, 'hello');
    const hello = decode(ws.inbox[0]!);
    assert.equal(hello.payloadType(), Payload.ServerHello);
    const hp = hello.payload(new ServerHello()) as ServerHello;
    assert.deepEqual([hp.schemaVersion(), hp.lastSeq(), hp.oldestSeq(), hp.user(), hp.role()], [1, 0n, 0n, 'olga', 'operator']);
    const ack = await subscribe(ws, { id: 's1', cameras: ['cam-1'], classes: ['person'], min_confidence: 0.5, kinds: ['detections', 'camera_status'] });
    assert.deepEqual([ack.requestId(), ack.replayFrom(), ack.replayTo(), ack.gap()], ['s1', 0n, 0n, 0n]);
    const start = ws.inbox.length;
    h.srv.publish(batch('cam-2', 1, 10)); // other camera: not delivered
    const s2 = h.srv.publish(batch('cam-1', 2, 10));
    h.srv.publish(batch('cam-1', 3, 1)); // one person at confidence 0.05: filtered to nothing, not delivered
    h.srv.publish({ kind: 'alerts', alert: { alertId: 'a', ruleId: 'r', ruleName: 'R', cameraId: 'cam-1', state: 'raised', message: 'm', trackIds: [], raisedNs: 1n, updatedNs: 1n, clearedNs: null, acknowledgedBy: null, details: {} } }); // kind not subscribed
    const s5 = h.srv.publish(statusEvent('cam-1'));
    await waitFor(() => ws.inbox.length === start + 2, 5000, 'two messages');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ws.inbox.length, start + 2);
    const m = decode(ws.inbox[start]!);
    assert.equal(m.seq(), BigInt(s2));
    const b = m.payload(new DetectionBatch()) as DetectionBatch;
    assert.deepEqual([b.cameraId(), b.frameSequence(), b.timestampNs(), b.frameWidth(), b.frameHeight()], ['cam-1', 2n, 1_764_000_000_000_000_002n, 1920, 1080]);
    // 10 detections: persons are i = 0,2,4,6,8 with confidence 0.05,0.25,0.45,0.65,0.85 -> i = 6, 8 pass 0.5
    const got = [];
    for (let i = 0; i < b.detectionsLength(); i++) {
      const d = b.detections(i, new Detection())!;
      got.push([b.classes(d.classIndex())!.name(), d.classId(), Math.round(d.confidence() * 100) / 100, d.trackId(), d.box()!.x1(), d.box()!.y2()]);
    }
    assert.deepEqual(got, [
      ['person', 0, 0.65, 6, 6, 112],
      ['person', 0, 0.85, 8, 8, 116],
    ]);
    const st = decode(ws.inbox[start + 1]!);
    assert.equal(st.seq(), BigInt(s5));
    const sp = st.payload(new CameraStatusEvent()) as CameraStatusEvent;
    assert.deepEqual([sp.cameraId(), sp.message()], ['cam-1', 'no frames for 10 s']);
    // unsubscribe stops delivery
    ws.send(JSON.stringify({ type: 'unsubscribe', id: 'u' }));
    await waitFor(() => ws.inbox.length === start + 3, 5000, 'unsubscribe ack');
    h.srv.publish(statusEvent('cam-1'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ws.inbox.length, start + 3);
    // a binary frame is refused with an ErrorNotice, the connection stays
    ws.send(Buffer.from([1, 2, 3]));
    await waitFor(() => ws.inbox.length === start + 4, 5000, 'error notice');
    assert.equal(decode(ws.inbox[start + 3]!).payloadType(), Payload.ErrorNotice);
    await closeWs(ws);
  } finally {
    await h.close();
  }
});

test('resume: disconnect, publish, reconnect with the last sequence: exactly the missed messages, then live', async () => {
  const h = await startHarness({ server: { stream: { ringCapacity: 50 } } });
  try {
    let ws = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token, via: 'protocol' });
    await subscribe(ws, { id: 'a' });
    for (let i = 0; i < 5; i++) h.srv.publish(batch('cam-1', i, 3));
    await waitFor(() => ws.inbox.filter((b) => decode(b).payloadType() === Payload.DetectionBatch).length === 5, 5000, 'first five');
    const lastSeen = Number(decode(ws.inbox.at(-1)!).seq());
    assert.equal(lastSeen, 5);
    await closeWs(ws);
    const missed: number[] = [];
    for (let i = 0; i < 12; i++) {
      const seq = h.srv.publish(i % 3 === 2 ? batch('cam-2', 100 + i, 3) : batch('cam-1', 100 + i, 3)); // cam-2 is outside vera's scope
      if (i % 3 !== 2) missed.push(seq);
    }
    ws = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token });
    const ack = await subscribe(ws, { id: 'resume', resume_after: lastSeen });
    assert.deepEqual([ack.replayFrom(), ack.replayTo(), ack.gap()], [6n, 17n, 0n]);
    const live = h.srv.publish(batch('cam-1', 999, 3));
    await waitFor(() => ws.inbox.map(decode).filter((m) => m.payloadType() === Payload.DetectionBatch).length === missed.length + 1, 5000, 'replay + live');
    await new Promise((r) => setTimeout(r, 50));
    const seqs = ws.inbox.map(decode).filter((m) => m.payloadType() === Payload.DetectionBatch).map((m) => Number(m.seq()));
    assert.deepEqual(seqs, [...missed, live]);
    await closeWs(ws);
    // beyond retention: the ack says how many cannot be replayed, and the retained ones follow
    for (let i = 0; i < 60; i++) h.srv.publish(batch('cam-1', 2000 + i, 1));
    ws = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token });
    const ack2 = await subscribe(ws, { id: 'old', resume_after: 3 });
    const last = h.srv.hub.log.lastSeq();
    assert.deepEqual([ack2.replayFrom(), ack2.replayTo(), ack2.gap()], [BigInt(last - 49), BigInt(last), BigInt(last - 49 - 4)]);
    await waitFor(() => ws.inbox.map(decode).filter((m) => m.payloadType() === Payload.DetectionBatch).length === 50, 5000, 'retained 50');
    await closeWs(ws);
  } finally {
    await h.close();
  }
});

test('slow consumers: 20 never-reading and 10 normal clients; normal ones get every message, server memory bounded', async (t) => {
  // The server runs in its own process (stream-server-child.ts) so its memory is measured apart from the clients.
  const CAP = 256 * 1024;
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'stream-server-child.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, VIGIL_TEST_CAP: String(CAP) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const inbox: Array<Record<string, unknown>> = [];
  child.on('message', (m: Record<string, unknown>) => inbox.push(m));
  const next = async (key: string): Promise<Record<string, unknown>> => {
    await waitFor(() => inbox.some((m) => key in m), 30_000, `child ${key}`);
    return inbox.splice(inbox.findIndex((m) => key in m), 1)[0]!;
  };
  const sockets: WebSocket[] = [];
  try {
    const ready = await next('ready');
    const wsUrl = ready['wsUrl'] as string;
    const token = ready['token'] as string;
    const normal: Array<{ count: number; lastSeq: number; inOrder: boolean; drops: number }> = [];
    for (let i = 0; i < 10; i++) {
      const ws = await connectWs(wsUrl, { token });
      sockets.push(ws);
      await subscribe(ws, { id: 'n' });
      const st = { count: 0, lastSeq: 0, inOrder: true, drops: 0 };
      ws.removeAllListeners('message');
      ws.inbox.length = 0;
      ws.on('message', (d: Buffer) => {
        const m = decode(d);
        if (m.payloadType() === Payload.DropNotice) st.drops++;
        if (m.payloadType() !== Payload.DetectionBatch) return;
        const seq = Number(m.seq());
        if (seq !== st.lastSeq + 1 && st.lastSeq !== 0) st.inOrder = false;
        st.lastSeq = seq;
        st.count++;
      });
      normal.push(st);
    }
    const stalled: InboxSocket[] = [];
    for (let i = 0; i < 20; i++) {
      const ws = await connectWs(wsUrl, { token });
      sockets.push(ws);
      stalled.push(ws);
      await subscribe(ws, { id: 's' });
      (ws as unknown as { _socket: { pause(): void } })._socket.pause(); // never reads again
    }
    child.send({ cmd: 'stats' });
    const before = await next('stats');
    assert.equal((before['stats'] as Array<{ subscribed: boolean }>).filter((c) => c.subscribed).length, 30);
    const rss0 = before['rss'] as number;
    let maxBuffered = 0;
    let maxRss = rss0;
    const TOTAL = 4000;
    const CHUNK = 100;
    let published = 0;
    let lastSeq = 0;
    while (published < TOTAL) {
      child.send({ cmd: 'publish', frameFrom: published, count: CHUNK, detections: 100 }); // ≈ 3 KB each
      const r = await next('published');
      published += CHUNK;
      lastSeq = r['published'] as number;
      maxBuffered = Math.max(maxBuffered, r['buffered'] as number);
      maxRss = Math.max(maxRss, r['rss'] as number);
      await waitFor(() => normal.every((n) => n.count === published), 30_000, 'normal clients to catch up');
    }
    const first = lastSeq - TOTAL + 1;
    for (const n of normal) {
      assert.equal(n.count, TOTAL);
      assert.equal(n.inOrder, true);
      assert.equal(n.drops, 0);
      assert.equal(n.lastSeq, lastSeq);
    }
    child.send({ cmd: 'stats' });
    const after = await next('stats');
    const stats = after['stats'] as Array<{ id: number; delivered: number; totalDropped: number; buffered: number }>;
    const totals = after['totals'] as { dropped: number };
    const slow = stats.filter((c) => c.totalDropped > 0);
    assert.equal(slow.length, 20, 'every stalled client had messages dropped');
    assert.equal(stats.filter((c) => c.totalDropped === 0).length, 10);
    for (const s of slow) {
      assert.equal(s.delivered + s.totalDropped, TOTAL);
      assert.ok(s.buffered <= CAP, `client ${s.id} buffered ${s.buffered} > cap`);
    }
    assert.equal(totals.dropped, slow.reduce((a, s) => a + s.totalDropped, 0));
    assert.match(after['metrics'] as string, new RegExp(`^vigil_ws_messages_dropped_total ${totals.dropped}$`, 'm'));
    // The stated bound: the server never holds more than its cap per client in send buffers (30 x 256 KiB =
    // 7.5 MiB), and its resident memory after GC grows by less than 64 MiB while it delivers 4000 x 3 KB batches to
    // 30 clients (≈ 360 MB offered, most of it to clients that never read; the 500-event resume ring is included).
    const rssGrowth = maxRss - rss0;
    t.diagnostic(`server send buffers max ${maxBuffered} B (bound ${30 * CAP}); server rss growth ${(rssGrowth / 1048576).toFixed(1)} MiB (bound 64); dropped ${totals.dropped}`);
    assert.ok(maxBuffered <= 30 * CAP, `server buffered ${maxBuffered} bytes`);
    assert.ok(rssGrowth < 64 * 1024 * 1024, `server rss grew ${rssGrowth} bytes`);
    // a stalled client that resumes reading is first told how many it missed
    const one = stalled[0]!;
    one.removeAllListeners('message');
    const got: Message[] = [];
    one.on('message', (d: Buffer) => got.push(decode(d)));
    (one as unknown as { _socket: { resume(): void } })._socket.resume();
    // its drop notices add up to exactly what the server counted for it (clientStats lists clients in connection
    // order: 10 normal ones, then the stalled ones)
    const mine = stats[10]!;
    const notices = () => got.filter((m) => m.payloadType() === Payload.DropNotice).map((m) => m.payload(new DropNotice()) as DropNotice);
    await waitFor(() => notices().some((n) => n.totalDropped() === BigInt(mine.totalDropped)), 20_000, 'final drop notice');
    assert.equal(notices().reduce((a, n) => a + n.dropped(), 0), mine.totalDropped);
    assert.ok(notices().every((n) => n.lastSeq() <= BigInt(lastSeq) && n.firstSeq() >= BigInt(first)));
    assert.equal(first > 0, true);
  } finally {
    for (const s of sockets) s.terminate();
    const exited = new Promise((r) => child.once('exit', r));
    if (child.connected) child.send({ cmd: 'exit' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test("disconnect policy: a client over the cap is closed with 1013 and counted; others unaffected", async () => {
  const CAP = 64 * 1024;
  const h = await startHarness({ server: { stream: { maxBufferedBytes: CAP, slowClientPolicy: 'disconnect' } } });
  const sockets: WebSocket[] = [];
  try {
    const good = await connectWs(h.wsUrl, { token: h.tokens.admin.access_token });
    sockets.push(good);
    await subscribe(good, { id: 'g' });
    let goodCount = 0;
    good.on('message', (d: Buffer) => {
      if (decode(d).payloadType() === Payload.DetectionBatch) goodCount++;
    });
    const bad = await connectWs(h.wsUrl, { token: h.tokens.admin.access_token });
    sockets.push(bad);
    await subscribe(bad, { id: 'b' });
    (bad as unknown as { _socket: { pause(): void } })._socket.pause();
    let published = 0;
    while (h.srv.hub.totals.slowDisconnects === 0 && published < 20_000) {
      for (let i = 0; i < 100; i++) h.srv.publish(batch('cam-1', published++, 100));
      await waitFor(() => goodCount === published, 30_000, 'good client');
    }
    assert.equal(h.srv.hub.totals.slowDisconnects, 1);
    await waitFor(() => h.srv.hub.clientCount === 1, 5000, 'slow client detached');
    (bad as unknown as { _socket: { resume(): void } })._socket.resume();
    const code = await new Promise<number>((resolve) => bad.once('close', (c: number) => resolve(c)));
    assert.equal(code, 1013);
    assert.equal(goodCount, published);
  } finally {
    for (const s of sockets) s.terminate();
    await h.close();
  }
});

test('per-user connection limit: the next upgrade is refused with 429 until one closes', async () => {
  const h = await startHarness({ server: { stream: { maxConnectionsPerUser: 2 } } });
  try {
    const a = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token });
    const b = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token });
    await assert.rejects(connectWs(h.wsUrl, { token: h.tokens.vera.access_token }), (err: { status?: number; body?: string }) => {
      assert.equal(err.status, 429);
      assert.deepEqual(JSON.parse(err.body!), { error: { code: 'E_TOO_MANY_CONNECTIONS', message: 'At most 2 stream connections per user' } });
      return true;
    });
    const other = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token }); // another user is not affected
    await closeWs(a);
    await waitFor(() => h.srv.hub.connectionsOf('vera') === 1, 5000, 'close seen by the server');
    const c = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token });
    for (const s of [b, c, other]) await closeWs(s);
  } finally {
    await h.close();
  }
});
