/**
 * Wire format: what the server encodes, read back with ONLY the flatc-generated code and the flatbuffers runtime
 * (no Vigil decoding helpers), plus the control-protocol parser and the in-memory resume ring.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as flatbuffers from 'flatbuffers';
import {
  vigil_wire_AlertEvent as AlertEvent,
  vigil_wire_AlertState as AlertState,
  vigil_wire_CameraState as CameraState,
  vigil_wire_CameraStatusEvent as CameraStatusEvent,
  vigil_wire_Detection as Detection,
  vigil_wire_DetectionBatch as DetectionBatch,
  vigil_wire_DropNotice as DropNotice,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as ServerHello,
  vigil_wire_TrackEvent as TrackEvent,
  vigil_wire_TrackPhase as TrackPhase,
} from '../../src/stream/generated/message_generated.js';
import { SCHEMA_VERSION, WireEncoder } from '../../src/stream/codec.js';
import { parseControl, ControlError } from '../../src/stream/control.js';
import { RingEventLog } from '../../src/stream/ring.js';
import type { StreamEvent } from '../../src/stream/events.js';

function root(bytes: Uint8Array): Message {
  return Message.getRootAsMessage(new flatbuffers.ByteBuffer(bytes));
}

const batch = {
  cameraId: 'cam-1',
  frameSequence: 4242,
  timestampNs: 1_764_000_000_123_456_789n,
  frameWidth: 1920,
  frameHeight: 1080,
  detections: [
    { classId: 0, className: 'person', confidence: 0.875, box: { x1: 10.5, y1: 20, x2: 110.25, y2: 300 }, trackId: 7 },
    { classId: 2, className: 'car', confidence: 0.5, box: { x1: 500, y1: 600, x2: 700, y2: 800 } },
    { classId: 0, className: 'person', confidence: 0.25, box: { x1: 1, y1: 2, x2: 3, y2: 4 }, trackId: 9 },
  ],
};

test('detection batch decodes with only generated code: every field exact', () => {
  const enc = new WireEncoder();
  const bytes = enc.encodeDetections(17, batch);
  assert.equal(Message.bufferHasIdentifier(new flatbuffers.ByteBuffer(bytes)), true);
  const m = root(bytes);
  assert.equal(m.seq(), 17n);
  assert.equal(m.payloadType(), Payload.DetectionBatch);
  const b = m.payload(new DetectionBatch()) as DetectionBatch;
  assert.equal(b.cameraId(), 'cam-1');
  assert.equal(b.frameSequence(), 4242n);
  assert.equal(b.timestampNs(), 1_764_000_000_123_456_789n);
  assert.equal(b.frameWidth(), 1920);
  assert.equal(b.frameHeight(), 1080);
  assert.equal(b.detectionsLength(), 3);
  const got = [];
  for (let i = 0; i < b.detectionsLength(); i++) {
    const d = b.detections(i, new Detection())!;
    const label = b.classes(d.classIndex())!;
    assert.equal(label.id(), d.classId());
    got.push({
      classId: d.classId(),
      className: label.name(),
      confidence: d.confidence(),
      box: { x1: d.box()!.x1(), y1: d.box()!.y1(), x2: d.box()!.x2(), y2: d.box()!.y2() },
      trackId: d.trackId(),
    });
  }
  assert.deepEqual(got, [
    { classId: 0, className: 'person', confidence: 0.875, box: { x1: 10.5, y1: 20, x2: 110.25, y2: 300 }, trackId: 7 },
    { classId: 2, className: 'car', confidence: 0.5, box: { x1: 500, y1: 600, x2: 700, y2: 800 }, trackId: -1 },
    { classId: 0, className: 'person', confidence: 0.25, box: { x1: 1, y1: 2, x2: 3, y2: 4 }, trackId: 9 },
  ]);
  assert.equal(b.classesLength(), 2);
});

test('encoder reuse: a second, bigger and then an empty batch do not leak earlier content', () => {
  const enc = new WireEncoder();
  const first = enc.encodeDetections(1, batch);
  const many = {
    ...batch,
    cameraId: 'cam-2',
    detections: Array.from({ length: 200 }, (_, i) => ({
      classId: i % 3,
      className: ['a', 'b', 'c'][i % 3]!,
      confidence: i / 200,
      box: { x1: i, y1: i + 1, x2: i + 2, y2: i + 3 },
      trackId: i,
    })),
  };
  const big = root(enc.encodeDetections(2, many)).payload(new DetectionBatch()) as DetectionBatch;
  assert.equal(big.detectionsLength(), 200);
  assert.equal(big.detections(199, new Detection())!.box()!.x1(), 199);
  assert.equal(big.classes(big.detections(199, new Detection())!.classIndex())!.name(), 'b');
  const empty = root(enc.encodeDetections(3, { ...batch, detections: [] })).payload(new DetectionBatch()) as DetectionBatch;
  assert.equal(empty.detectionsLength(), 0);
  assert.equal(empty.classesLength(), 0);
  // the first result is an independent copy
  assert.equal((root(first).payload(new DetectionBatch()) as DetectionBatch).cameraId(), 'cam-1');
});

test('misaligned receive buffers: copying to an aligned buffer makes the generated reader safe', () => {
  const bytes = new WireEncoder().encodeDetections(5, batch);
  const backing = new Uint8Array(bytes.length + 3);
  backing.set(bytes, 3);
  const misaligned = backing.subarray(3);
  assert.equal(misaligned.byteOffset % 4, 3);
  const aligned = misaligned.slice();
  const b = root(aligned).payload(new DetectionBatch()) as DetectionBatch;
  assert.equal(b.detections(1, new Detection())!.box()!.x2(), 700);
});

test('track, alert, camera status, hello and drop notice round-trip', () => {
  const enc = new WireEncoder();
  const track = {
    trackId: 7,
    cameraId: 'cam-1',
    classId: 0,
    className: 'person',
    startNs: 100n,
    endNs: null,
    bestConfidence: 0.9,
    bestBox: { x1: 1, y1: 2, x2: 3, y2: 4 },
    bestFrameSequence: 3,
    bestTimestampNs: 150n,
  };
  const t = root(enc.encodeTrack(8, { phase: 'start', track, timestampNs: 160n })).payload(new TrackEvent()) as TrackEvent;
  assert.deepEqual(
    [t.phase(), t.cameraId(), t.trackId(), t.className(), t.startNs(), t.endNs(), t.timestampNs(), t.box()!.x2(), t.confidence()],
    [TrackPhase.Start, 'cam-1', 7, 'person', 100n, 0n, 160n, 3, Math.fround(0.9)],
  );
  const alert = {
    alertId: 'a-1',
    ruleId: 'r-1',
    ruleName: 'Gate A',
    cameraId: 'cam-1',
    state: 'raised' as const,
    message: 'person crossed Gate A (A→B)',
    trackIds: [7, 9],
    raisedNs: 200n,
    updatedNs: 200n,
    clearedNs: null,
    acknowledgedBy: null,
    details: { direction: 'A→B' },
  };
  const am = root(enc.encodeAlert(9, alert));
  assert.equal(am.payloadType(), Payload.AlertEvent);
  const a = am.payload(new AlertEvent()) as AlertEvent;
  assert.deepEqual(
    [a.alertId(), a.ruleName(), a.state(), a.message(), [...a.trackIdsArray()!], a.raisedNs(), a.clearedNs(), a.acknowledgedBy(), JSON.parse(a.detailsJson()!)],
    ['a-1', 'Gate A', AlertState.Raised, 'person crossed Gate A (A→B)', [7, 9], 200n, 0n, null, { direction: 'A→B' }],
  );
  const s = root(
    enc.encodeCameraStatus(10, { cameraId: 'cam-3', status: 'reconnecting', previous: 'running', timestampNs: 300n, message: 'EOS' }),
  ).payload(new CameraStatusEvent()) as CameraStatusEvent;
  assert.deepEqual([s.cameraId(), s.status(), s.previous(), s.timestampNs(), s.message()], ['cam-3', CameraState.Reconnecting, CameraState.Running, 300n, 'EOS']);
  const hm = root(enc.encodeHello({ serverTimeNs: 5n, lastSeq: 10, oldestSeq: 3, user: 'u', role: 'viewer' }));
  assert.equal(hm.seq(), 0n);
  const h = hm.payload(new ServerHello()) as ServerHello;
  assert.deepEqual([h.schemaVersion(), h.serverTimeNs(), h.lastSeq(), h.oldestSeq(), h.user(), h.role()], [SCHEMA_VERSION, 5n, 10n, 3n, 'u', 'viewer']);
  const d = root(enc.encodeDropNotice({ dropped: 4, firstSeq: 11, lastSeq: 19, totalDropped: 40 })).payload(new DropNotice()) as DropNotice;
  assert.deepEqual([d.dropped(), d.firstSeq(), d.lastSeq(), d.totalDropped()], [4, 11n, 19n, 40n]);
});

const enc = (s: string) => new TextEncoder().encode(s).buffer as ArrayBuffer;

test('control protocol: valid subscribe parses; everything else is refused with an exact message', () => {
  assert.deepEqual(
    parseControl(enc('{"type":"subscribe","id":"s1","cameras":["c1"],"classes":["person",2],"min_confidence":0.5,"kinds":["detections"],"resume_after":12}'), false),
    { type: 'subscribe', id: 's1', cameras: ['c1'], classes: ['person', 2], minConfidence: 0.5, kinds: ['detections'], resumeAfter: 12 },
  );
  assert.deepEqual(parseControl(enc('{"type":"unsubscribe"}'), false), { type: 'unsubscribe', id: '' });
  const cases: Array<[string | ArrayBuffer, boolean, string]> = [
    [enc('{"type":"subscribe"}'), true, 'Binary frames are not accepted; send JSON text control messages'],
    ['{nope', false, 'Control message is not valid UTF-8 JSON'],
    ['[1]', false, 'Expected a JSON object for message but received an array of length 1'],
    ['{"type":"delete"}', false, 'Expected "subscribe", "unsubscribe" or "auth" for type but received "delete"'],
    ['{"type":"subscribe","id":"x","extra":1}', false, 'Unknown field "extra"'],
    ['{"type":"subscribe","min_confidence":1.5}', false, 'Expected a number from 0 to 1 for min_confidence but received 1.5'],
    ['{"type":"subscribe","resume_after":-1}', false, 'Expected a non-negative integer sequence for resume_after but received -1'],
    ['{"type":"subscribe","kinds":["video"]}', false, 'Expected an array of detections, tracks, alerts, camera_status for kinds but received an array of length 1'],
    ['{"type":"subscribe","cameras":"c1"}', false, 'Expected an array of up to 1000 camera id strings for cameras but received "c1"'],
    ['{"type":"subscribe","classes":[-1]}', false, 'Expected an array of class names or class ids (0-65535) for classes but received an array of length 1'],
    [enc(JSON.stringify({ type: 'subscribe', id: 'x'.repeat(9000) })), false, 'Control message of 9028 bytes exceeds 8192 bytes'],
  ];
  for (const [input, bin, message] of cases) {
    assert.throws(
      () => parseControl(typeof input === 'string' ? enc(input) : input, bin),
      (err: unknown) => err instanceof ControlError && err.code === 'E_BAD_REQUEST' && err.message === message,
      message,
    );
  }
  assert.throws(
    () => parseControl(enc('{"type":"subscribe","id":"r7","min_confidence":"x"}'), false),
    (err: unknown) => err instanceof ControlError && err.requestId === 'r7',
  );
});

test('ring event log: sequence numbers, retention window and replay ranges', async () => {
  const ring = new RingEventLog(3);
  assert.equal(ring.lastSeq(), 0);
  assert.equal(ring.oldestSeq(), 0);
  const ev = (n: number): StreamEvent => ({
    kind: 'camera_status',
    status: { cameraId: `c${n}`, status: 'running', previous: 'starting', timestampNs: BigInt(n), message: '' },
  });
  for (let i = 1; i <= 5; i++) assert.equal(ring.append(ev(i)).seq, i);
  assert.equal(ring.lastSeq(), 5);
  assert.equal(ring.oldestSeq(), 3);
  const seqs = async (after: number, until: number) => {
    const out: number[] = [];
    for await (const e of ring.since(after, until)) out.push(e.seq);
    return out;
  };
  assert.deepEqual(await seqs(0, 5), [3, 4, 5]);
  assert.deepEqual(await seqs(3, 5), [4, 5]);
  assert.deepEqual(await seqs(3, 4), [4]);
  assert.deepEqual(await seqs(5, 5), []);
  assert.throws(() => new RingEventLog(0), { message: 'Expected a positive integer for capacity but received 0' });
});

test('ring keeps detection batches packed and replays them exactly', async () => {
  const ring = new RingEventLog(4);
  const b = {
    cameraId: 'cam-9',
    frameSequence: 77,
    timestampNs: 1_764_000_000_123_456_789n,
    frameWidth: 640,
    frameHeight: 480,
    detections: [
      { classId: 3, className: 'dog', confidence: 0.3, box: { x1: 0.1, y1: 1 / 3, x2: 10.123456789, y2: 20 }, trackId: 0 },
      { classId: 0, className: 'person', confidence: 0.999, box: { x1: 1, y1: 2, x2: 3, y2: 4 } },
      { classId: 3, className: 'dog', confidence: 1, box: { x1: 5, y1: 6, x2: 7, y2: 8 }, trackId: -5 },
    ],
  };
  ring.append({ kind: 'detections', batch: b });
  ring.append({ kind: 'detections', batch: { ...b, detections: [] } });
  const out = [];
  for await (const e of ring.since(0, 2)) out.push(e);
  assert.deepEqual(out, [
    { seq: 1, event: { kind: 'detections', batch: b } },
    { seq: 2, event: { kind: 'detections', batch: { ...b, detections: [] } } },
  ]);
});
