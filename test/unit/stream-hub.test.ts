/**
 * StreamHub logic with in-memory sockets (deterministic buffered amounts; hub.flush() delivers what publish()
 * queued for the end of the event-loop turn): drop counting and the DropNotice that
 * precedes the next delivered message, the disconnect policy, resume merging live events published while an async
 * replay is running (no loss, no duplicates, order kept), and shared filtered encodings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as flatbuffers from 'flatbuffers';
import { Registry } from 'prom-client';
import {
  vigil_wire_DetectionBatch as DetectionBatch,
  vigil_wire_DropNotice as DropNotice,
  vigil_wire_ErrorNotice as ErrorNotice,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_SubscribeAck as SubscribeAck,
} from '../../src/stream/generated/message_generated.js';
import { StreamHub, type StreamSocket } from '../../src/stream/hub.js';
import { RingEventLog } from '../../src/stream/ring.js';
import type { EventLog, SequencedEvent, StreamEvent } from '../../src/stream/events.js';
import type { Principal } from '../../src/auth/policy.js';

class FakeSocket implements StreamSocket {
  sent: Uint8Array[] = [];
  buffered = 0;
  ended: [number, string] | null = null;
  /** When true, every send adds to the buffered amount (a client that does not read). */
  stalled = false;
  private corked = false;
  private corkedBytes = 0;
  send(m: Uint8Array): number {
    this.sent.push(m);
    if (this.stalled) {
      // like uWS: corked bytes only show up in the buffered amount when the cork is released
      if (this.corked) this.corkedBytes += m.length;
      else this.buffered += m.length;
    }
    return 1;
  }
  cork(cb: () => void): void {
    this.corked = true;
    cb();
    this.corked = false;
    this.buffered += this.corkedBytes;
    this.corkedBytes = 0;
  }
  getBufferedAmount(): number {
    return this.buffered;
  }
  end(code: number, reason: string): void {
    this.ended = [code, reason];
  }
  messages(): Message[] {
    return this.sent.map((b) => Message.getRootAsMessage(new flatbuffers.ByteBuffer(b)));
  }
}

const admin: Principal = { sub: 'a', role: 'admin', cameras: '*', source: 'local', family: 'f' };
const text = (o: object) => new TextEncoder().encode(JSON.stringify(o)).buffer as ArrayBuffer;
const ev = (cam: string, n = 2, conf = 0.9): StreamEvent => ({
  kind: 'detections',
  batch: {
    cameraId: cam,
    frameSequence: 1,
    timestampNs: 1n,
    frameWidth: 10,
    frameHeight: 10,
    detections: Array.from({ length: n }, (_, i) => ({ classId: i, className: `c${i}`, confidence: conf, box: { x1: 0, y1: 0, x2: 1, y2: 1 } })),
  },
});

test('drops are counted and announced just before the next delivered message', () => {
  const hub = new StreamHub({ log: new RingEventLog(100), maxBufferedBytes: 1000, registry: new Registry() });
  const s = new FakeSocket();
  const c = hub.attach(s, admin);
  hub.handleMessage(c, text({ type: 'subscribe', id: 'x' }), false);
  const base = s.sent.length; // hello + ack
  s.buffered = 990; // nearly full: the next messages do not fit
  const a = hub.publish(ev('cam-1'));
  const b = hub.publish(ev('cam-1'));
  hub.flush();
  assert.equal(s.sent.length, base);
  assert.equal(hub.totals.dropped, 2);
  s.buffered = 0;
  hub.drain(c); // uWS reports the drain; until then the client counts as stalled
  const d = hub.publish(ev('cam-1'));
  hub.flush();
  const msgs = s.messages().slice(base);
  assert.deepEqual(msgs.map((m) => m.payloadType()), [Payload.DropNotice, Payload.DetectionBatch]);
  const n = msgs[0]!.payload(new DropNotice()) as DropNotice;
  assert.deepEqual([n.dropped(), n.firstSeq(), n.lastSeq(), n.totalDropped()], [2, BigInt(a), BigInt(b), 2n]);
  assert.equal(msgs[1]!.seq(), BigInt(d));
  // drain also announces pending drops without waiting for the next event
  s.buffered = 5000;
  hub.publish(ev('cam-1'));
  hub.flush();
  s.buffered = 100;
  hub.drain(c);
  assert.equal(s.messages().at(-1)!.payloadType(), Payload.DropNotice);
});

test('a stalled client costs no socket calls until it drains; then it is served again', () => {
  const hub = new StreamHub({ log: new RingEventLog(100), maxBufferedBytes: 1000, registry: new Registry() });
  const s = new FakeSocket();
  let calls = 0;
  const cork = s.cork.bind(s);
  const buffered = s.getBufferedAmount.bind(s);
  s.cork = (cb) => {
    calls++;
    cork(cb);
  };
  s.getBufferedAmount = () => {
    calls++;
    return buffered();
  };
  const c = hub.attach(s, admin);
  hub.handleMessage(c, text({ type: 'subscribe', id: 'x' }), false);
  const base = s.sent.length;
  s.buffered = 5000;
  hub.publish(ev('cam-1'));
  hub.flush(); // over the cap: dropped, and the client is marked stalled
  calls = 0;
  for (let i = 0; i < 50; i++) {
    hub.publish(ev('cam-1'));
    hub.flush();
  }
  assert.equal(calls, 0);
  assert.equal(hub.totals.dropped, 51);
  assert.equal(s.sent.length, base);
  s.buffered = 0;
  hub.drain(c);
  hub.publish(ev('cam-1'));
  hub.flush();
  assert.deepEqual(s.messages().slice(base).map((m) => m.payloadType()), [Payload.DropNotice, Payload.DetectionBatch]);
  const n = s.messages()[base]!.payload(new DropNotice()) as DropNotice;
  assert.equal(n.dropped(), 51);
});

test('disconnect policy ends the slow socket with 1013 and leaves the others alone', () => {
  const hub = new StreamHub({ log: new RingEventLog(100), maxBufferedBytes: 300, slowClientPolicy: 'disconnect' });
  const slow = new FakeSocket();
  const ok = new FakeSocket();
  slow.stalled = true;
  for (const [s, id] of [[slow, 's'], [ok, 'o']] as const) hub.handleMessage(hub.attach(s, admin), text({ type: 'subscribe', id }), false);
  for (let i = 0; i < 10; i++) {
    hub.publish(ev('cam-1'));
    hub.flush();
  }
  assert.deepEqual(slow.ended, [1013, 'slow consumer: send buffer over limit']);
  assert.equal(hub.totals.slowDisconnects, 1);
  assert.equal(ok.messages().filter((m) => m.payloadType() === Payload.DetectionBatch).length, 10);
});

/** A log whose replay yields one event per timer tick, so live events arrive while it runs. */
class SlowLog implements EventLog {
  constructor(private readonly inner = new RingEventLog(1000)) {}
  append(e: StreamEvent): SequencedEvent {
    return this.inner.append(e);
  }
  lastSeq(): number {
    return this.inner.lastSeq();
  }
  oldestSeq(): number {
    return this.inner.oldestSeq();
  }
  async *since(after: number, until: number): AsyncIterable<SequencedEvent> {
    for await (const e of this.inner.since(after, until)) {
      await new Promise((r) => setTimeout(r, 1));
      yield e;
    }
  }
}

test('resume with an async replay: live events published meanwhile follow in order, none lost or repeated', async () => {
  const hub = new StreamHub({ log: new SlowLog() });
  for (let i = 0; i < 20; i++) hub.publish(ev(i % 2 ? 'cam-1' : 'cam-2'));
  const s = new FakeSocket();
  const c = hub.attach(s, { ...admin, role: 'viewer', cameras: ['cam-1'] });
  hub.handleMessage(c, text({ type: 'subscribe', id: 'r', resume_after: 4 }), false);
  const live: number[] = [];
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 2));
    live.push(hub.publish(ev('cam-1')));
    hub.publish(ev('cam-2'));
  }
  await new Promise((r) => setTimeout(r, 100));
  const msgs = s.messages();
  const ack = msgs.find((m) => m.payloadType() === Payload.SubscribeAck)!.payload(new SubscribeAck()) as SubscribeAck;
  assert.deepEqual([ack.replayFrom(), ack.replayTo(), ack.gap()], [5n, 20n, 0n]);
  const seqs = msgs.filter((m) => m.payloadType() === Payload.DetectionBatch).map((m) => Number(m.seq()));
  assert.deepEqual(seqs, [6, 8, 10, 12, 14, 16, 18, 20, ...live]);
});

test('class and confidence filters: filtered batches carry only matching detections; identical filters share bytes', () => {
  const hub = new StreamHub({ log: new RingEventLog(10) });
  const a = new FakeSocket();
  const b = new FakeSocket();
  const all = new FakeSocket();
  hub.handleMessage(hub.attach(a, admin), text({ type: 'subscribe', classes: [1], min_confidence: 0.5 }), false);
  hub.handleMessage(hub.attach(b, admin), text({ type: 'subscribe', classes: ['c1'], min_confidence: 0.5 }), false);
  hub.handleMessage(hub.attach(all, admin), text({ type: 'subscribe' }), false);
  hub.publish(ev('cam-1', 3));
  hub.flush();
  const lastBatch = (s: FakeSocket) => s.messages().at(-1)!.payload(new DetectionBatch()) as DetectionBatch;
  assert.equal(lastBatch(a).detectionsLength(), 1);
  assert.equal(lastBatch(a).detections(0)!.classId(), 1);
  assert.equal(lastBatch(b).detectionsLength(), 1);
  assert.equal(lastBatch(all).detectionsLength(), 3);
  // a batch where nothing passes is not sent at all to the filtered clients
  const before = a.sent.length;
  hub.publish(ev('cam-1', 3, 0.1));
  hub.flush();
  assert.equal(a.sent.length, before);
  assert.equal(lastBatch(all).detectionsLength(), 3);
});

test('errors go back as ErrorNotice with the request id; the subscription is unchanged', () => {
  const hub = new StreamHub({ log: new RingEventLog(10) });
  const s = new FakeSocket();
  const c = hub.attach(s, { ...admin, role: 'viewer', cameras: ['cam-1'] });
  hub.handleMessage(c, text({ type: 'subscribe', id: 'bad', cameras: ['cam-9'] }), false);
  hub.handleMessage(c, text({ type: 'subscribe', id: 'bad2', kinds: ['nope'] }), false);
  const errs = s.messages().filter((m) => m.payloadType() === Payload.ErrorNotice).map((m) => m.payload(new ErrorNotice()) as ErrorNotice);
  assert.deepEqual(
    errs.map((e) => [e.code(), e.requestId(), e.message()]),
    [
      ['E_FORBIDDEN_CAMERA', 'bad', `Camera "cam-9" is outside this user's scope`],
      ['E_BAD_REQUEST', 'bad2', 'Expected an array of detections, tracks, alerts, camera_status for kinds but received an array of length 1'],
    ],
  );
  hub.publish(ev('cam-1'));
  hub.flush();
  assert.equal(s.messages().filter((m) => m.payloadType() === Payload.DetectionBatch).length, 0);
});

test('control messages are rate limited per client', () => {
  let now = 1_000_000;
  const hub = new StreamHub({ log: new RingEventLog(10), controlRate: { max: 3, windowS: 3 }, nowMs: () => now });
  const s = new FakeSocket();
  const c = hub.attach(s, admin);
  for (let i = 0; i < 5; i++) hub.handleMessage(c, text({ type: 'subscribe', id: `s${i}` }), false);
  const kinds = s.messages().slice(1).map((m) => m.payloadType());
  assert.deepEqual(kinds, [Payload.SubscribeAck, Payload.SubscribeAck, Payload.SubscribeAck, Payload.ErrorNotice, Payload.ErrorNotice]);
  const e = s.messages().at(-1)!.payload(new ErrorNotice()) as ErrorNotice;
  assert.deepEqual([e.code(), e.message()], ['E_RATE_LIMITED', 'Too many control messages; retry in 1 s']);
  now += 1000;
  hub.handleMessage(c, text({ type: 'subscribe', id: 'later' }), false);
  assert.equal(s.messages().at(-1)!.payloadType(), Payload.SubscribeAck);
});

test('coalescing: events published in one turn reach each client in one corked write, in order, after the turn', async () => {
  const hub = new StreamHub({ log: new RingEventLog(100) });
  const s = new FakeSocket();
  let corks = 0;
  const cork = s.cork.bind(s);
  s.cork = (cb: () => void) => {
    corks++;
    cork(cb);
  };
  hub.handleMessage(hub.attach(s, admin), text({ type: 'subscribe' }), false);
  const base = s.sent.length;
  const seqs = [hub.publish(ev('cam-1')), hub.publish(ev('cam-2')), hub.publish(ev('cam-1'))];
  assert.equal(s.sent.length, base); // nothing before the end of the turn
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.messages().slice(base).map((m) => Number(m.seq())), seqs);
  assert.equal(corks, 1);
});

test('a subscription made in the same turn as a publish neither repeats nor gets events from before it', async () => {
  const hub = new StreamHub({ log: new RingEventLog(100) });
  const s = new FakeSocket();
  const t = new FakeSocket();
  const c = hub.attach(s, admin);
  const d = hub.attach(t, admin);
  hub.handleMessage(d, text({ type: 'subscribe' }), false);
  const first = hub.publish(ev('cam-1')); // queued for the end of the turn
  hub.handleMessage(c, text({ type: 'subscribe', resume_after: 0 }), false); // replays it
  hub.handleMessage(hub.attach(new FakeSocket(), admin), text({ type: 'subscribe' }), false);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const seqsOf = (x: FakeSocket) => x.messages().filter((m) => m.payloadType() === Payload.DetectionBatch).map((m) => Number(m.seq()));
  assert.deepEqual(seqsOf(s), [first]);
  assert.deepEqual(seqsOf(t), [first]);
  const second = hub.publish(ev('cam-1'));
  hub.flush();
  assert.deepEqual(seqsOf(s), [first, second]);
});

test('resuming from a position the server never reached: told so (E_RESUME_AHEAD), then live', () => {
  const hub = new StreamHub({ log: new RingEventLog(100), registry: new Registry() });
  hub.publish(ev('cam-1'));
  hub.publish(ev('cam-1'));
  hub.flush(); // last sequence 2
  const s = new FakeSocket();
  const c = hub.attach(s, admin);
  hub.handleMessage(c, text({ type: 'subscribe', id: 'r', resume_after: 90 }), false);
  const live = hub.publish(ev('cam-1'));
  hub.flush();
  const msgs = s.messages().slice(1); // after the hello
  assert.deepEqual(msgs.map((m) => m.payloadType()), [Payload.ErrorNotice, Payload.SubscribeAck, Payload.DetectionBatch]);
  const e = msgs[0]!.payload(new ErrorNotice()) as ErrorNotice;
  assert.deepEqual([e.code(), e.message(), e.requestId()], [
    'E_RESUME_AHEAD',
    "Resume position 90 is ahead of this server's last sequence 2 (its event log was reset); live events follow from 3",
    'r',
  ]);
  const ack = msgs[1]!.payload(new SubscribeAck()) as SubscribeAck;
  assert.deepEqual([ack.replayFrom(), ack.replayTo(), ack.gap()], [0n, 0n, 0n]);
  assert.equal(msgs[2]!.seq(), BigInt(live));
});
