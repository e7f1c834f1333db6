/**
 * Property-based fuzzing of the FlatBuffers input a client decodes (issue 17): readMessage() on arbitrary bytes and
 * on well-formed FlatBuffers whose payload has fields of random slots and types (a string where the schema has a
 * ulong, a vector of tables where it has a string...), and on valid messages of every payload type (WireEncoder, both detection-batch encoders) mutated byte-wise —
 * bit flips, inserted and deleted bytes, truncation, and u8/u16/u32 overwrites with extreme values (0, 0x7fff,
 * 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, the buffer's length...) that hit offsets, vtable entries,
 * vector and string lengths. Property: the bytes decode, and then every field of the payload (strings, structs,
 * every vector element, the class label of every detection) reads with its declared type, or readMessage throws a
 * WireFormatError (E_WIRE_FORMAT) and nothing else. A slow input fails the target (the decode is linear in the
 * buffer's size whatever lengths it claims). Exact messages for specific malformed inputs:
 * test/unit/wire-format.test.ts. The server never parses client FlatBuffers (binary frames are refused, see
 * test/fuzz/api.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as flatbuffers from 'flatbuffers';
import { readMessage, WireEncoder } from '../../src/stream/codec.js';
import { WireFormatError } from '../../src/errors.js';
import {
  vigil_wire_AlertEvent as AlertEvent,
  vigil_wire_Box as WireBox,
  vigil_wire_CameraStatusEvent as CameraStatusEvent,
  vigil_wire_ClassLabel as ClassLabel,
  vigil_wire_Detection as Detection,
  vigil_wire_DetectionBatch as DetectionBatch,
  vigil_wire_DropNotice as DropNotice,
  vigil_wire_ErrorNotice as ErrorNotice,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as ServerHello,
  vigil_wire_SubscribeAck as SubscribeAck,
  vigil_wire_TrackEvent as TrackEvent,
} from '../../src/stream/generated/message_generated.js';
import { params, report, tick } from './fuzz.js';

/** Longest time one input may take (decode + reading every field): far above the ≈ 0.1 ms they take. */
const SLOW_MS = 2000;

const isU64 = (v: unknown): void => assert.ok(typeof v === 'bigint' && v >= 0n && v < 2n ** 64n, `u64: ${String(v)}`);
const isInt = (v: unknown, min: number, max: number): void => assert.ok(Number.isInteger(v) && (v as number) >= min && (v as number) <= max, `int ${min}..${max}: ${String(v)}`);
const isF32 = (v: unknown): void => assert.equal(typeof v, 'number');
const isStr = (v: unknown, required = false): void => assert.ok(typeof v === 'string' || (!required && v === null), `string: ${String(v)}`);
const I8 = [-128, 127] as const;
const U16 = [0, 65535] as const;
const I32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const U32 = [0, 2 ** 32 - 1] as const;

function readBox(box: { x1(): number; y1(): number; x2(): number; y2(): number } | null): void {
  assert.ok(box !== null);
  isF32(box.x1());
  isF32(box.y1());
  isF32(box.x2());
  isF32(box.y2());
}

/** Reads every field of a decoded message with the generated accessors, checking each value's type. */
function readAll(m: Message): void {
  isU64(m.seq());
  const type = m.payloadType();
  isInt(type, 1, 8);
  switch (type) {
    case Payload.ServerHello: {
      const h = m.payload(new ServerHello()) as ServerHello;
      isInt(h.schemaVersion(), ...U16);
      isU64(h.serverTimeNs());
      isU64(h.lastSeq());
      isU64(h.oldestSeq());
      isStr(h.user());
      isStr(h.role());
      break;
    }
    case Payload.DetectionBatch: {
      const b = m.payload(new DetectionBatch()) as DetectionBatch;
      isStr(b.cameraId(), true);
      isU64(b.frameSequence());
      isU64(b.timestampNs());
      isInt(b.frameWidth(), ...U16);
      isInt(b.frameHeight(), ...U16);
      const k = b.classesLength();
      isInt(k, 0, 2 ** 31 - 1);
      const label = new ClassLabel();
      for (let i = 0; i < k; i++) {
        const c = b.classes(i, label)!;
        isInt(c.id(), ...U16);
        isStr(c.name());
      }
      const n = b.detectionsLength();
      isInt(n, 0, 2 ** 31 - 1);
      const d = new Detection();
      for (let i = 0; i < n; i++) {
        b.detections(i, d);
        readBox(d.box());
        isF32(d.confidence());
        isInt(d.trackId(), ...I32);
        isInt(d.classId(), ...U16);
        const ci = d.classIndex();
        isInt(ci, 0, k - 1);
        isStr(b.classes(ci, label)!.name());
      }
      break;
    }
    case Payload.TrackEvent: {
      const t = m.payload(new TrackEvent()) as TrackEvent;
      isInt(t.phase(), ...I8);
      isStr(t.cameraId(), true);
      isInt(t.trackId(), ...I32);
      isInt(t.classId(), ...U16);
      isStr(t.className());
      isU64(t.startNs());
      isU64(t.endNs());
      isU64(t.timestampNs());
      const box = t.box();
      if (box !== null) readBox(box);
      isF32(t.confidence());
      break;
    }
    case Payload.AlertEvent: {
      const a = m.payload(new AlertEvent()) as AlertEvent;
      isStr(a.alertId(), true);
      isStr(a.ruleId());
      isStr(a.ruleName());
      isStr(a.cameraId(), true);
      isInt(a.state(), ...I8);
      isStr(a.message());
      const n = a.trackIdsLength();
      isInt(n, 0, 2 ** 31 - 1);
      const arr = a.trackIdsArray();
      assert.ok(arr === null ? n === 0 : arr.length === n);
      for (let i = 0; i < n; i++) {
        isInt(a.trackIds(i), ...I32);
        assert.equal(a.trackIds(i), arr![i]);
      }
      isU64(a.raisedNs());
      isU64(a.updatedNs());
      isU64(a.clearedNs());
      isStr(a.acknowledgedBy());
      isStr(a.detailsJson());
      break;
    }
    case Payload.CameraStatusEvent: {
      const c = m.payload(new CameraStatusEvent()) as CameraStatusEvent;
      isStr(c.cameraId(), true);
      isInt(c.status(), ...I8);
      isInt(c.previous(), ...I8);
      isU64(c.timestampNs());
      isStr(c.message());
      break;
    }
    case Payload.DropNotice: {
      const d = m.payload(new DropNotice()) as DropNotice;
      isInt(d.dropped(), ...U32);
      isU64(d.firstSeq());
      isU64(d.lastSeq());
      isU64(d.totalDropped());
      break;
    }
    case Payload.SubscribeAck: {
      const s = m.payload(new SubscribeAck()) as SubscribeAck;
      isStr(s.requestId());
      isU64(s.replayFrom());
      isU64(s.replayTo());
      isU64(s.gap());
      break;
    }
    case Payload.ErrorNotice: {
      const e = m.payload(new ErrorNotice()) as ErrorNotice;
      isStr(e.code());
      isStr(e.message());
      isStr(e.requestId());
      break;
    }
    default:
      assert.fail(`payload type ${type} came through readMessage`);
  }
}

const counts = new Map<string, { decoded: number; refused: number; slowestMs: number }>();

/** One input: decodes and reads back, or is refused with a WireFormatError; anything else fails the target. */
function check(target: string, bytes: Uint8Array): void {
  tick(target);
  const c = counts.get(target) ?? { decoded: 0, refused: 0, slowestMs: 0 };
  counts.set(target, c);
  const t0 = performance.now();
  let m: Message;
  try {
    m = readMessage(bytes);
  } catch (err) {
    if (!(err instanceof WireFormatError)) throw err;
    assert.equal(err.code, 'E_WIRE_FORMAT');
    assert.ok(err.message.startsWith('Invalid Vigil wire message: '), err.message);
    c.refused++;
    noteTime(c, t0);
    return;
  }
  readAll(m);
  c.decoded++;
  noteTime(c, t0);
}

function noteTime(c: { slowestMs: number }, t0: number): void {
  const ms = performance.now() - t0;
  if (ms > c.slowestMs) c.slowestMs = ms;
  assert.ok(ms < SLOW_MS, `one input took ${ms.toFixed(0)} ms`);
}

function summary(target: string, n: number): void {
  report(target, n);
  const c = counts.get(target);
  if (process.env.VIGIL_FUZZ_RUNS && c) {
    console.log(`[fuzz] ${target}: ${c.decoded} decoded and read back, ${c.refused} refused with E_WIRE_FORMAT, slowest input ${c.slowestMs.toFixed(2)} ms`);
  }
}

// ---- valid messages of every payload type ----

const enc = new WireEncoder();
const text = fc.oneof(fc.string({ maxLength: 24 }), fc.string({ unit: 'grapheme', maxLength: 8 }), fc.constantFrom('', 'cam-1', 'person'));
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const seq = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const f32 = fc.float({ noNaN: false });
const box = fc.record({ x1: f32, y1: f32, x2: f32, y2: f32 });
const CLASSES: Array<[number, string]> = [[0, 'person'], [1, 'bicycle'], [2, 'car'], [16, 'dog'], [79, 'toothbrush'], [65535, 'max']];
const detection = fc.record({
  cls: fc.constantFrom(...CLASSES),
  confidence: f32,
  box,
  trackId: fc.option(fc.integer({ min: -1, max: 2 ** 31 - 1 }), { nil: undefined }),
}).map(({ cls, ...d }) => ({ classId: cls[0], className: cls[1], ...d }));
const batch = fc.record({
  cameraId: text,
  frameSequence: seq,
  timestampNs: u64,
  frameWidth: fc.integer({ min: 0, max: 65535 }),
  frameHeight: fc.integer({ min: 0, max: 65535 }),
  detections: fc.array(detection, { maxLength: 12 }),
});
const ALERT_STATES = ['raised', 'updated', 'cleared', 'acknowledged'] as const;
const CAMERA_STATES = ['starting', 'running', 'stalled', 'reconnecting', 'stopped', 'failed'] as const;

/** Every encoder of WireEncoder, i.e. every payload type (and both detection-batch layouts). */
export const validMessage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(seq, batch).map(([s, b]) => enc.encodeDetections(s, b)),
  fc.tuple(seq, batch).map(([s, b]) => enc.encodeDetectionsWithBuilder(s, b)),
  fc
    .record({ s: seq, phase: fc.constantFrom('start' as const, 'update' as const, 'end' as const), cameraId: text, trackId: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), classId: fc.integer({ min: 0, max: 65535 }), className: text, startNs: u64, endNs: fc.option(u64, { nil: null }), timestampNs: u64, box: fc.option(box, { nil: undefined }), bestBox: box, confidence: fc.option(f32, { nil: undefined }), best: f32 })
    .map((r) =>
      enc.encodeTrack(r.s, {
        phase: r.phase,
        timestampNs: r.timestampNs,
        box: r.box,
        confidence: r.confidence,
        track: { trackId: r.trackId, cameraId: r.cameraId, classId: r.classId, className: r.className, startNs: r.startNs, endNs: r.endNs, bestConfidence: r.best, bestBox: r.bestBox, bestFrameSequence: 0, bestTimestampNs: 0n },
      }),
    ),
  fc
    .record({ s: seq, alertId: text, ruleId: text, ruleName: text, cameraId: text, state: fc.constantFrom(...ALERT_STATES), message: text, trackIds: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 8 }), raisedNs: u64, updatedNs: u64, clearedNs: fc.option(u64, { nil: null }), acknowledgedBy: fc.option(text, { nil: null }), details: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 10 }), fc.integer()), { maxKeys: 3 }) })
    .map(({ s, ...a }) => enc.encodeAlert(s, a)),
  fc
    .record({ s: seq, cameraId: text, status: fc.constantFrom(...CAMERA_STATES), previous: fc.constantFrom(...CAMERA_STATES), timestampNs: u64, message: text })
    .map(({ s, ...c }) => enc.encodeCameraStatus(s, c)),
  fc.record({ serverTimeNs: u64, lastSeq: seq, oldestSeq: seq, user: text, role: text }).map((h) => enc.encodeHello(h)),
  fc.record({ dropped: fc.integer({ min: 0, max: 2 ** 32 - 1 }), firstSeq: seq, lastSeq: seq, totalDropped: seq }).map((d) => enc.encodeDropNotice(d)),
  fc.record({ requestId: text, replayFrom: seq, replayTo: seq, gap: seq }).map((a) => enc.encodeAck(a)),
  fc.record({ code: text, message: text, requestId: text }).map((e) => enc.encodeError(e)),
);

// ---- well-formed FlatBuffers of random shape ----

/**
 * A field of the payload table as the Builder writes it: at a random slot (schema slot or not), of a random kind —
 * so a string sits where the schema has a ulong, a vector of tables where it has a string, a struct where it has
 * a byte... Every offset is valid FlatBuffers; only the types disagree with the schema (or happen to agree).
 */
type RandomField =
  | { slot: number; kind: 'u8' | 'u16' | 'u32' | 'u64' | 'f32'; v: number }
  | { slot: number; kind: 'str'; v: string }
  | { slot: number; kind: 'bytes'; v: Uint8Array }
  | { slot: number; kind: 'ints'; v: number[] }
  | { slot: number; kind: 'structs'; v: Array<{ f: number; track: number; ci: number; cid: number }> }
  | { slot: number; kind: 'box'; v: number[] }
  | { slot: number; kind: 'tables'; v: RandomField[][] };

const slot = fc.oneof(fc.nat({ max: 12 }), fc.nat({ max: 40 }));
const scalarField = fc.record({ slot, kind: fc.constantFrom('u8' as const, 'u16' as const, 'u32' as const, 'u64' as const, 'f32' as const), v: fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 0xffffffff })) });
const leafField: fc.Arbitrary<RandomField> = fc.oneof(
  { weight: 4, arbitrary: scalarField },
  { weight: 3, arbitrary: fc.record({ slot, kind: fc.constant('str' as const), v: fc.string({ maxLength: 12 }) }) },
  fc.record({ slot, kind: fc.constant('bytes' as const), v: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ slot, kind: fc.constant('ints' as const), v: fc.array(fc.oneof(fc.nat({ max: 4 }), fc.integer()), { maxLength: 8 }) }),
  fc.record({ slot, kind: fc.constant('structs' as const), v: fc.array(fc.record({ f: fc.float({ noNaN: false }), track: fc.integer(), ci: fc.oneof(fc.nat({ max: 3 }), fc.nat({ max: 0xffff })), cid: fc.nat({ max: 0xffff }) }), { maxLength: 6 }) }),
  fc.record({ slot, kind: fc.constant('box' as const), v: fc.array(fc.float({ noNaN: false }), { minLength: 4, maxLength: 4 }) }),
);
const randomField: fc.Arbitrary<RandomField> = fc.oneof(
  { weight: 6, arbitrary: leafField },
  { weight: 1, arbitrary: fc.record({ slot, kind: fc.constant('tables' as const), v: fc.array(fc.array(leafField, { maxLength: 4 }), { maxLength: 4 }) }) },
);

function buildTable(b: flatbuffers.Builder, fields: readonly RandomField[]): number {
  const offsets = fields.map((f): number => {
    switch (f.kind) {
      case 'str':
        return b.createString(f.v);
      case 'bytes':
        return b.createByteVector(f.v);
      case 'ints':
        b.startVector(4, f.v.length, 4);
        for (let i = f.v.length - 1; i >= 0; i--) b.addInt32(f.v[i]!);
        return b.endVector();
      case 'structs': // a [Detection]: 28-byte structs
        b.startVector(28, f.v.length, 4);
        for (let i = f.v.length - 1; i >= 0; i--) {
          const d = f.v[i]!;
          Detection.createDetection(b, d.f, d.f, d.f, d.f, d.f, d.track, d.ci, d.cid);
        }
        return b.endVector();
      case 'tables': {
        const ts = f.v.map((t) => buildTable(b, t));
        b.startVector(4, ts.length, 4);
        for (let i = ts.length - 1; i >= 0; i--) b.addOffset(ts[i]!);
        return b.endVector();
      }
      default:
        return 0;
    }
  });
  const maxSlot = fields.reduce((m, f) => Math.max(m, f.slot), -1);
  b.startObject(maxSlot + 1);
  fields.forEach((f, i) => {
    switch (f.kind) {
      case 'u8':
        return b.addFieldInt8(f.slot, f.v, 0);
      case 'u16':
        return b.addFieldInt16(f.slot, f.v, 0);
      case 'u32':
        return b.addFieldInt32(f.slot, f.v, 0);
      case 'u64':
        return b.addFieldInt64(f.slot, BigInt(f.v), 0n);
      case 'f32':
        return b.addFieldFloat32(f.slot, f.v, 0);
      case 'box':
        return b.addFieldStruct(f.slot, WireBox.createBox(b, f.v[0]!, f.v[1]!, f.v[2]!, f.v[3]!), 0);
      default:
        return b.addFieldOffset(f.slot, offsets[i]!, 0);
    }
  });
  return b.endObject();
}

/** A Message (seq, payload_type, payload) around a payload table of random fields. */
const randomFlatBuffer: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    seq: fc.nat(),
    fields: fc.array(randomField, { maxLength: 10 }),
  })
  .map(({ type, seq, fields }) => {
    const b = new flatbuffers.Builder(256);
    b.forceDefaults(true);
    const payload = buildTable(b, fields);
    b.startObject(3);
    b.addFieldInt64(0, BigInt(seq), 0n);
    b.addFieldInt8(1, type, 0);
    b.addFieldOffset(2, payload, 0);
    b.finish(b.endObject(), 'VGL1');
    return b.asUint8Array().slice();
  });

// ---- mutations ----

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'byte'; at: number; value: number }
  | { op: 'u16'; at: number; value: number; aligned: boolean }
  | { op: 'u32'; at: number; value: number; aligned: boolean }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number };

const EXTREME_U16 = [0, 1, 2, 4, 0x7ffe, 0x7fff, 0x8000, 0xfffe, 0xffff];
const EXTREME_U32 = [0, 1, 3, 4, 0x7ffffffc, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];
/** `len` and friends are resolved against the buffer being mutated: offsets just in and just out of bounds. */
const RELATIVE = ['len', 'len-4', 'len+1', '-len', '-4'] as const;
const at = fc.nat({ max: 1 << 16 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('byte' as const), at, value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 9), fc.nat({ max: 255 })) }),
  fc.record({ op: fc.constant('u16' as const), at, value: fc.oneof(fc.constantFrom(...EXTREME_U16), fc.nat({ max: 0xffff })), aligned: fc.boolean() }),
  fc.record({
    op: fc.constant('u32' as const),
    at,
    value: fc.oneof(fc.constantFrom(...EXTREME_U32), fc.constantFrom(...RELATIVE).map((r) => -1 - RELATIVE.indexOf(r)), fc.nat({ max: 0xffffffff }), fc.integer({ min: -64, max: 64 }).map((v) => v >>> 0)),
    aligned: fc.boolean(),
  }),
  fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at }),
);

function writeU32(b: Uint8Array, p: number, v: number): void {
  for (let i = 0; i < 4; i++) if (p + i < b.length) b[p + i] = (v >>> (8 * i)) & 0xff;
}

export function mutate(src: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of mutations) {
    if (b.length === 0) break;
    const p = m.at % b.length;
    switch (m.op) {
      case 'flip':
        b[p]! ^= 1 << m.bit;
        break;
      case 'byte':
        b[p] = m.value;
        break;
      case 'u16': {
        const q = m.aligned ? p & ~1 : p;
        b[q] = m.value & 0xff;
        if (q + 1 < b.length) b[q + 1] = m.value >> 8;
        break;
      }
      case 'u32': {
        const q = m.aligned ? p & ~3 : p;
        let v = m.value;
        // negative codes: values relative to the buffer (see RELATIVE)
        if (v < 0) v = [b.length, b.length - 4, b.length + 1, -b.length, -4][-1 - v]! >>> 0;
        writeU32(b, q, v);
        break;
      }
      case 'insert': {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, p));
        out.set(m.bytes, p);
        out.set(b.subarray(p), p + m.bytes.length);
        b = out;
        break;
      }
      case 'delete':
        b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + m.count)]);
        break;
      case 'truncate':
        b = b.slice(0, p);
        break;
    }
  }
  return b;
}

// ---- targets ----

test('valid messages of every payload type decode and read back', () => {
  fc.assert(
    fc.property(validMessage, (bytes) => {
      readAll(readMessage(bytes));
    }),
    { ...params<[Uint8Array]>(300), numRuns: 300 },
  );
});

test('FlatBuffers input: arbitrary bytes, and well-formed FlatBuffers of random shape, decode or throw WireFormatError', () => {
  // raw bytes; bytes behind a plausible header (root offset, "VGL1") so more inputs get past the first checks; and
  // well-formed FlatBuffers whose payload fields have random slots and types (most disagree with the schema)
  const header = fc.tuple(fc.nat({ max: 64 }), fc.uint8Array({ maxLength: 256 })).map(([root, rest]) => {
    const b = new Uint8Array(8 + rest.length);
    writeU32(b, 0, root);
    b.set([0x56, 0x47, 0x4c, 0x31], 4);
    b.set(rest, 8);
    return b;
  });
  const bytes = fc.oneof(fc.uint8Array({ maxLength: 512 }), header, randomFlatBuffer);
  const p = params<[Uint8Array]>(3000);
  fc.assert(
    fc.property(bytes, (b) => check('wire.arbitrary-bytes', b)),
    p,
  );
  summary('wire.arbitrary-bytes', p.numRuns!);
});

test('FlatBuffers input: mutated valid messages decode (every field readable) or throw WireFormatError', () => {
  const p = params<[Uint8Array, Mutation[], number]>(3000);
  fc.assert(
    fc.property(validMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom(0, 1, 4), (msg, muts, shift) => {
      const b = mutate(msg, muts);
      // also as a misaligned view, the way WebSocket libraries hand out frames (readMessage copies it)
      if (shift === 0) return check('wire.mutated-messages', b);
      const backing = new Uint8Array(b.length + shift);
      backing.set(b, shift);
      check('wire.mutated-messages', backing.subarray(shift));
    }),
    p,
  );
  summary('wire.mutated-messages', p.numRuns!);
});
