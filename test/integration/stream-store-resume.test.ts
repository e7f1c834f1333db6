/**
 * Resume from the detection store: a real LMDB store behind the stream (StoreEventLog), the server in a child
 * process (stream-store-child.ts) so it can be killed with SIGKILL and restarted on the same store.
 *
 * One sequence space: detection batches carry the store's sequence of their last detection, tracks / alerts /
 * camera status take theirs from the same counter. A client that reconnects with the last sequence it saw gets
 * exactly the missed messages: from the store once the in-memory cache (4 events here) has rolled over, after a
 * restart (nothing in memory), and past retention a SubscribeAck with the gap, then what is retained.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as flatbuffers from 'flatbuffers';
import {
  vigil_wire_AlertEvent as AlertEvent,
  vigil_wire_CameraStatusEvent as CameraStatusEvent,
  vigil_wire_Detection as Detection,
  vigil_wire_DetectionBatch as WireBatch,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as ServerHello,
  vigil_wire_SubscribeAck as SubscribeAck,
  vigil_wire_TrackEvent as TrackEvent,
} from '../../src/stream/generated/message_generated.js';
import type { StreamEvent } from '../../src/stream/events.js';
import type { DetectionBatch } from '../../src/types.js';
import { closeWs, connectWs, waitFor, type InboxSocket } from './api-helpers.js';
import type { StoreChildCmd } from './stream-store-child.js';

const here = dirname(fileURLToPath(import.meta.url));
const T0 = 1_764_000_000_000_000_000n;
const SEC = 1_000_000_000n;

class Child {
  private inbox: Array<Record<string, unknown>> = [];
  ready!: { wsUrl: string; olga: string; vera: string; lastSeq: bigint };
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Record<string, unknown>) => this.inbox.push(m));
  }
  static async start(storeDir: string, authDir: string, recent: number): Promise<Child> {
    mkdirSync(authDir, { recursive: true });
    const proc = fork(join(here, 'stream-store-child.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, VIGIL_TEST_STORE: storeDir, VIGIL_TEST_AUTH: authDir, VIGIL_TEST_RECENT: String(recent) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    const c = new Child(proc);
    c.ready = (await c.next('ready')) as Child['ready'];
    return c;
  }
  async next(key: string): Promise<unknown> {
    await waitFor(() => this.inbox.some((m) => key in m), 30_000, `child ${key}`);
    return this.inbox.splice(this.inbox.findIndex((m) => key in m), 1)[0]![key];
  }
  async request(cmd: StoreChildCmd, key: string): Promise<unknown> {
    this.proc.send(cmd);
    return this.next(key);
  }
  async kill(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.send({ cmd: 'exit' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** What a client should see for one published event: the decoded fields that identify it exactly. */
type Seen = Array<string | number | bigint | null>;

interface Published {
  seq: number;
  cameraId: string;
  seen: Seen;
}

function batch(cameraId: string, frame: number, n: number, ts: bigint): DetectionBatch {
  return {
    cameraId,
    frameSequence: frame,
    timestampNs: ts,
    frameWidth: 1280,
    frameHeight: 720,
    detections: Array.from({ length: n }, (_, i) => ({
      classId: i % 2,
      className: i % 2 ? 'car' : 'person',
      confidence: 0.31 + i / 10,
      box: { x1: 10.25 + i, y1: 20.5, x2: 110.75, y2: 220.125 + frame },
      ...(i === 0 ? { trackId: frame * 10 } : {}),
    })),
  };
}

function expectBatch(seq: number, b: DetectionBatch): Published {
  const d = b.detections[0]!;
  return {
    seq,
    cameraId: b.cameraId,
    seen: ['detections', seq, b.cameraId, b.frameSequence, b.timestampNs, b.detections.length, d.className, Math.fround(d.confidence), d.trackId ?? -1, d.box.x1, Math.fround(d.box.y2)],
  };
}

function statusEvent(cameraId: string, ts: bigint): StreamEvent {
  return { kind: 'camera_status', status: { cameraId, status: 'stalled', previous: 'running', timestampNs: ts, message: `no frames since ${ts}` } };
}

function alertEvent(cameraId: string, id: string, ts: bigint): StreamEvent {
  return {
    kind: 'alerts',
    alert: {
      alertId: id, ruleId: 'r1', ruleName: 'Gate line', cameraId, state: 'raised', message: `person crossed (${id})`, trackIds: [7, 9],
      raisedNs: ts, updatedNs: ts, clearedNs: null, acknowledgedBy: null, details: { direction: 'A->B', count: 2 },
    },
  };
}

function trackEvent(cameraId: string, trackId: number, ts: bigint): StreamEvent {
  return {
    kind: 'tracks',
    track: {
      phase: 'start',
      timestampNs: ts,
      track: {
        trackId, cameraId, classId: 0, className: 'person', startNs: ts, endNs: null, bestConfidence: 0.875,
        bestBox: { x1: 1, y1: 2, x2: 30, y2: 40 }, bestFrameSequence: 3, bestTimestampNs: ts,
      },
    },
  };
}

function expectEvent(seq: number, e: StreamEvent): Published {
  switch (e.kind) {
    case 'camera_status':
      return { seq, cameraId: e.status.cameraId, seen: ['camera_status', seq, e.status.cameraId, e.status.message, e.status.timestampNs] };
    case 'alerts':
      return { seq, cameraId: e.alert.cameraId, seen: ['alerts', seq, e.alert.cameraId, e.alert.alertId, e.alert.updatedNs, JSON.stringify(e.alert.details)] };
    case 'tracks':
      return { seq, cameraId: e.track.track.cameraId, seen: ['tracks', seq, e.track.track.cameraId, e.track.track.trackId, e.track.track.className, e.track.timestampNs] };
    default:
      throw new Error('not an event');
  }
}

function decode(buf: Buffer): Message {
  return Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(buf).slice()));
}

/** Decodes a stream message into the same shape as Published.seen (null for control messages). */
function seenOf(m: Message): Seen | null {
  const seq = Number(m.seq());
  switch (m.payloadType()) {
    case Payload.DetectionBatch: {
      const b = m.payload(new WireBatch()) as WireBatch;
      const d = b.detections(0, new Detection())!;
      return ['detections', seq, b.cameraId(), Number(b.frameSequence()), b.timestampNs(), b.detectionsLength(), b.classes(d.classIndex())!.name()!, d.confidence(), d.trackId(), d.box()!.x1(), d.box()!.y2()];
    }
    case Payload.CameraStatusEvent: {
      const s = m.payload(new CameraStatusEvent()) as CameraStatusEvent;
      return ['camera_status', seq, s.cameraId(), s.message()!, s.timestampNs()];
    }
    case Payload.AlertEvent: {
      const a = m.payload(new AlertEvent()) as AlertEvent;
      return ['alerts', seq, a.cameraId(), a.alertId(), a.updatedNs(), a.detailsJson()!];
    }
    case Payload.TrackEvent: {
      const t = m.payload(new TrackEvent()) as TrackEvent;
      return ['tracks', seq, t.cameraId(), t.trackId(), t.className()!, t.timestampNs()];
    }
    default:
      return null;
  }
}

const events = (ws: InboxSocket): Seen[] => ws.inbox.map(decode).map(seenOf).filter((s): s is Seen => s !== null);

async function subscribe(ws: InboxSocket, req: object): Promise<[bigint, bigint, bigint]> {
  const before = ws.inbox.length;
  ws.send(JSON.stringify({ type: 'subscribe', ...req }));
  await waitFor(() => ws.inbox.slice(before).some((b) => decode(b).payloadType() === Payload.SubscribeAck), 5000, 'subscribe ack');
  const ack = ws.inbox.slice(before).map(decode).find((m) => m.payloadType() === Payload.SubscribeAck)!.payload(new SubscribeAck()) as SubscribeAck;
  return [ack.replayFrom(), ack.replayTo(), ack.gap()];
}

/** Publishes through the child: detections via the store, other kinds via the server's publish. */
async function publish(child: Child, what: { det: [string, number, number] } | { ev: StreamEvent }, ts: bigint): Promise<Published> {
  if ('det' in what) {
    const b = batch(what.det[0], what.det[1], what.det[2], ts);
    const c = (await child.request({ cmd: 'detections', batch: b }, 'committed')) as { firstSeq: bigint; count: number };
    return expectBatch(Number(c.firstSeq) + c.count - 1, b);
  }
  const r = (await child.request({ cmd: 'event', event: what.ev }, 'event')) as { returned: number; lastSeq: bigint };
  assert.equal(r.returned, 0, 'a store-backed publish assigns the sequence at commit');
  return expectEvent(Number(r.lastSeq), what.ev);
}

test('resume from the detection store: after the cache rolled over, after a kill -9 restart, and past retention', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-stream-store-'));
  const storeDir = join(root, 'store');
  let child = await Child.start(storeDir, join(root, 'auth-1'), 4);
  const sockets: InboxSocket[] = [];
  try {
    // 1. live: every message carries the store's sequence (a batch: its last detection's)
    let ws = await connectWs(child.ready.wsUrl, { token: child.ready.olga });
    sockets.push(ws);
    assert.deepEqual(await subscribe(ws, { id: 'live' }), [0n, 0n, 0n]);
    const all: Published[] = [];
    let clock = T0;
    const step = async (what: Parameters<typeof publish>[1]): Promise<Published> => {
      clock += SEC;
      const p = await publish(child, what, clock);
      all.push(p);
      return p;
    };
    await step({ det: ['cam-1', 1, 3] });
    await step({ ev: statusEvent('cam-1', clock + SEC) });
    await step({ det: ['cam-1', 2, 2] });
    await step({ ev: alertEvent('cam-1', 'al-1', clock + SEC) });
    await step({ det: ['cam-2', 3, 4] });
    assert.deepEqual(all.map((p) => p.seq), [3, 4, 6, 7, 11]);
    await waitFor(() => events(ws).length === 5, 5000, 'five live messages');
    assert.deepEqual(events(ws), all.map((p) => p.seen));
    const lastSeen = 11;
    await closeWs(ws);

    // 2. ten missed messages of every kind: more than the 4 the log keeps in memory
    const missed: Published[] = [];
    for (let i = 0; i < 10; i++) {
      const cam = i % 3 === 2 ? 'cam-2' : 'cam-1';
      const what = i % 4 === 0 ? { ev: trackEvent(cam, 100 + i, clock + SEC) } : i % 4 === 1 ? { ev: alertEvent(cam, `al-${i}`, clock + SEC) } : { det: [cam, 10 + i, 1 + (i % 3)] as [string, number, number] };
      missed.push(await step(what));
    }
    const lastBeforeKill = missed.at(-1)!.seq;
    ws = await connectWs(child.ready.wsUrl, { token: child.ready.olga });
    sockets.push(ws);
    assert.deepEqual(await subscribe(ws, { id: 'r1', resume_after: lastSeen }), [BigInt(lastSeen + 1), BigInt(lastBeforeKill), 0n]);
    await waitFor(() => events(ws).length === missed.length, 5000, 'replayed messages');
    assert.deepEqual(events(ws), missed.map((p) => p.seen));
    const st = (await child.request({ cmd: 'stats' }, 'stats')) as { log: { storePages: number; storeEntries: number } };
    assert.deepEqual(st.log, { storePages: 1, storeEntries: 10 }, 'replayed from the store, not from memory');
    // then live again, in order after the replay
    const live = await step({ det: ['cam-1', 50, 2] });
    await waitFor(() => events(ws).length === missed.length + 1, 5000, 'live after replay');
    assert.deepEqual(events(ws).at(-1), live.seen);
    // a viewer scoped to cam-1 resuming from the start gets only cam-1's messages
    const wv = await connectWs(child.ready.wsUrl, { token: child.ready.vera });
    sockets.push(wv);
    const cam1 = all.filter((p) => p.cameraId === 'cam-1');
    assert.deepEqual(await subscribe(wv, { id: 'v', resume_after: 0 }), [1n, BigInt(live.seq), 0n]);
    await waitFor(() => events(wv).length === cam1.length, 5000, 'viewer replay');
    assert.deepEqual(events(wv), cam1.map((p) => p.seen));
    // the last message before the kill is an event: the restarted store must continue the counter after it
    const lastEvent = await step({ ev: statusEvent('cam-1', clock + SEC) });
    for (const s of sockets.splice(0)) s.terminate();

    // 3. kill -9 and restart on the same store: nothing in memory, every acknowledged message replays
    await child.kill();
    child = await Child.start(storeDir, join(root, 'auth-2'), 4);
    assert.equal(child.ready.lastSeq, BigInt(lastEvent.seq));
    ws = await connectWs(child.ready.wsUrl, { token: child.ready.olga });
    sockets.push(ws);
    await waitFor(() => ws.inbox.length >= 1, 5000, 'hello');
    const hello = decode(ws.inbox[0]!).payload(new ServerHello()) as ServerHello;
    assert.deepEqual([hello.lastSeq(), hello.oldestSeq()], [BigInt(lastEvent.seq), 1n]);
    assert.deepEqual(await subscribe(ws, { id: 'r2', resume_after: lastSeen }), [BigInt(lastSeen + 1), BigInt(lastEvent.seq), 0n]);
    const afterLastSeen = all.filter((p) => p.seq > lastSeen);
    await waitFor(() => events(ws).length === afterLastSeen.length, 5000, 'replay after restart');
    assert.deepEqual(events(ws), afterLastSeen.map((p) => p.seen));
    const next = await step({ ev: alertEvent('cam-2', 'al-after', clock + SEC) });
    assert.equal(next.seq, lastEvent.seq + 1);
    await waitFor(() => events(ws).length === afterLastSeen.length + 1, 5000, 'live after restart');
    assert.deepEqual(events(ws).at(-1), next.seen);

    // 4. retention removes everything older than the 9th message: a resume from before it is told the gap
    const cutoff = all[8]!.seen[0] === 'detections' ? (all[8]!.seen[4] as bigint) : (all[8]!.seen.at(-1) as bigint);
    const kept = all.filter((_, i) => i >= 8);
    const removed = all.slice(0, 8);
    const oldest = removed.at(-1)!.seq + 1;
    const r = (await child.request({ cmd: 'retention', cutoffNs: cutoff }, 'retention')) as { oldestSeq: bigint };
    assert.equal(r.oldestSeq, BigInt(oldest));
    const wo = await connectWs(child.ready.wsUrl, { token: child.ready.olga });
    sockets.push(wo);
    assert.deepEqual(await subscribe(wo, { id: 'old', resume_after: 4 }), [BigInt(oldest), BigInt(next.seq), BigInt(oldest - 5)]);
    await waitFor(() => events(wo).length === kept.length, 5000, 'retained messages');
    assert.deepEqual(events(wo), kept.map((p) => p.seen));
  } finally {
    for (const s of sockets) s.terminate();
    await child.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
