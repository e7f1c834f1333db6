/**
 * readMessage() on hostile FlatBuffers input: every malformed buffer is refused with a WireFormatError
 * (E_WIRE_FORMAT) naming what was wrong and where, before any generated accessor reads it; valid messages, also in
 * misaligned views, decode as before. The property-based target over arbitrary and mutated bytes is
 * test/fuzz/wire.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FILE_IDENTIFIER, readMessage, WireEncoder } from '../../src/stream/codec.js';
import { VigilArgumentError, VigilError, WireFormatError } from '../../src/errors.js';
import * as api from '../../src/index.js';
import {
  vigil_wire_DetectionBatch as DetectionBatch,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as ServerHello,
} from '../../src/stream/generated/message_generated.js';

const enc = new WireEncoder();
/**
 * The hand-laid layout (WireEncoder.encodeDetections): root offset -> 24, Message vtable at 8, Message at 24
 * (payload_type at 40), DetectionBatch vtable at 44, DetectionBatch at 64, [Detection] at 100 (2 × 28 bytes),
 * [ClassLabel] offsets at 160, ClassLabel vtable at 172, ClassLabel tables at 180 and 192, camera id string at 204,
 * class names at 216 and 228; 240 bytes.
 */
function batchBytes(): Uint8Array {
  return enc.encodeDetections(9, {
    cameraId: 'gate',
    frameSequence: 3,
    timestampNs: 1_000_000_000n,
    frameWidth: 640,
    frameHeight: 480,
    detections: [
      { classId: 0, className: 'person', confidence: 0.5, box: { x1: 1, y1: 2, x2: 3, y2: 4 }, trackId: 1 },
      { classId: 2, className: 'car', confidence: 0.75, box: { x1: 5, y1: 6, x2: 7, y2: 8 } },
    ],
  });
}
const u32 = (b: Uint8Array, p: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint32(p, v, true);
const u16 = (b: Uint8Array, p: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint16(p, v, true);

function refused(bytes: Uint8Array | ArrayBuffer, message: string): void {
  assert.throws(
    () => readMessage(bytes),
    (err: unknown) => {
      assert.ok(err instanceof WireFormatError);
      assert.ok(err instanceof VigilError);
      assert.equal(err.name, 'WireFormatError');
      assert.equal(err.code, 'E_WIRE_FORMAT');
      assert.equal(err.message, message);
      return true;
    },
  );
}

test('the layout the cases below edit', () => {
  const b = batchBytes();
  assert.equal(b.length, 240);
  const m = readMessage(b);
  assert.equal(m.payloadType(), Payload.DetectionBatch);
  const batch = m.payload(new DetectionBatch()) as DetectionBatch;
  assert.equal(batch.cameraId(), 'gate');
  assert.equal(batch.detectionsLength(), 2);
  assert.equal(batch.classes(batch.detections(1)!.classIndex())!.name(), 'car');
  assert.equal(api.WireFormatError, WireFormatError);
});

test('too short', () => {
  refused(new Uint8Array(0), 'Invalid Vigil wire message: 0 bytes is too short: a message has at least 8 (root offset and file identifier "VGL1")');
  refused(batchBytes().slice(0, 7), 'Invalid Vigil wire message: 7 bytes is too short: a message has at least 8 (root offset and file identifier "VGL1")');
  refused(new ArrayBuffer(5), 'Invalid Vigil wire message: 5 bytes is too short: a message has at least 8 (root offset and file identifier "VGL1")');
});

test('truncated after the header: the root table is outside the buffer', () => {
  refused(batchBytes().slice(0, 8), 'Invalid Vigil wire message: the offset to the root table at byte 0 (24) points outside the 8-byte buffer');
  refused(batchBytes().slice(0, 120), 'Invalid Vigil wire message: the offset to DetectionBatch.camera_id at byte 68 (136) points outside the 120-byte buffer');
});

test('wrong file identifier', () => {
  const b = batchBytes();
  b.set(new TextEncoder().encode('VGL2'), 4);
  refused(b, 'Invalid Vigil wire message: the file identifier (bytes 4-7) is "VGL2", not "VGL1"');
  b.set([0, 0xff, 0x10, 0x31], 4);
  refused(b, 'Invalid Vigil wire message: the file identifier (bytes 4-7) is 0x00ff1031, not "VGL1"');
  assert.equal(FILE_IDENTIFIER, 'VGL1');
});

test('vector length past the end of the buffer (no loop over the claimed length)', () => {
  const b = batchBytes();
  u32(b, 100, 0xffffffff);
  refused(b, 'Invalid Vigil wire message: DetectionBatch.detections: vector of 4294967295 28-byte elements at byte 100 runs past the end of the 240-byte buffer');
  u32(b, 100, 5);
  refused(b, 'Invalid Vigil wire message: DetectionBatch.detections: vector of 5 28-byte elements at byte 100 runs past the end of the 240-byte buffer');
  const c = batchBytes();
  u32(c, 160, 0x7fffffff);
  refused(c, 'Invalid Vigil wire message: DetectionBatch.classes: vector of 2147483647 4-byte elements at byte 160 runs past the end of the 240-byte buffer');
});

test('string length past the end, and a string without its NUL', () => {
  const b = batchBytes();
  u32(b, 204, 1000);
  refused(b, 'Invalid Vigil wire message: DetectionBatch.camera_id: string of 1000 bytes at byte 204 runs past the end of the 240-byte buffer');
  u32(b, 204, 12); // "gate", NUL, padding, then the next string: byte 220 is the "p" of "person"
  refused(b, 'Invalid Vigil wire message: DetectionBatch.camera_id: string at byte 204 is not NUL-terminated');
});

test('offsets out of bounds, negative or misaligned', () => {
  const b = batchBytes();
  u32(b, 0, 0xffffffff);
  refused(b, 'Invalid Vigil wire message: the offset to the root table at byte 0 (4294967295) points outside the 240-byte buffer');
  u32(b, 0, 26);
  refused(b, 'Invalid Vigil wire message: Message table at byte 26 is not aligned to 4 bytes');
  const c = batchBytes();
  u32(c, 24, 0x80000000); // soffset to the vtable: a vtable 2 GiB after the table
  refused(c, 'Invalid Vigil wire message: Message vtable at byte 2147483672 (4 bytes) is outside the 240-byte buffer');
  const d = batchBytes();
  u32(d, 28, 0); // Message.payload
  refused(d, 'Invalid Vigil wire message: the offset to the DetectionBatch payload at byte 28 (0) points outside the 240-byte buffer');
  const e = batchBytes();
  u16(e, 44 + 14, 0x8000); // DetectionBatch vtable, slot 14: detections at +32768
  refused(e, 'Invalid Vigil wire message: DetectionBatch.detections: field offset 32768 in the vtable at byte 44 is over 32767');
  const f = batchBytes();
  u16(f, 44, 0xfffe);
  refused(f, 'Invalid Vigil wire message: DetectionBatch vtable at byte 44 has size 65534 (an even number from 4 to 32766 expected)');
});

test('unknown payload type, no payload, missing required field, class index past the class table', () => {
  const b = batchBytes();
  b[40] = 9;
  refused(b, 'Invalid Vigil wire message: Message.payload_type 9 is not a payload type of this schema (1-8)');
  b[40] = 0;
  refused(b, 'Invalid Vigil wire message: Message.payload_type is NONE: the message has no payload');
  const c = batchBytes();
  u16(c, 8 + 8, 0); // Message vtable, slot 8: payload absent
  refused(c, 'Invalid Vigil wire message: Message.payload is missing (payload_type DetectionBatch)');
  const d = batchBytes();
  u16(d, 44 + 4, 0); // DetectionBatch vtable, slot 4: camera_id absent
  refused(d, 'Invalid Vigil wire message: DetectionBatch.camera_id is missing (a required field)');
  const e = batchBytes();
  u16(e, 104 + 28 + 24, 2); // detections[1].class_index
  refused(e, 'Invalid Vigil wire message: DetectionBatch.detections[1].class_index 2 is past the 2 entries of DetectionBatch.classes');
});

test('a payload type naming another table than the payload is refused where that table does not fit', () => {
  const b = enc.encodeDropNotice({ dropped: 1, firstSeq: 2, lastSeq: 3, totalDropped: 4 });
  assert.equal(readMessage(b).payloadType(), Payload.DropNotice);
  // the DropNotice read as an AlertEvent: alert_id (slot 4) is the u32 `dropped`, taken as an offset
  const typeAt = b.indexOf(Payload.DropNotice, 8);
  const c = b.slice();
  c[typeAt] = Payload.AlertEvent;
  assert.throws(() => readMessage(c), (err: unknown) => err instanceof WireFormatError && err.message.startsWith('Invalid Vigil wire message: '));
});

test('valid messages in misaligned views decode (copied first); non-bytes are an argument error', () => {
  const hello = enc.encodeHello({ serverTimeNs: 5n, lastSeq: 7, oldestSeq: 1, user: 'olga', role: 'admin' });
  const backing = new Uint8Array(hello.length + 3);
  backing.set(hello, 3);
  const m = readMessage(backing.subarray(3));
  assert.equal(m.payloadType(), Payload.ServerHello);
  const h = m.payload(new ServerHello()) as ServerHello;
  assert.deepEqual([h.user(), h.role(), h.lastSeq()], ['olga', 'admin', 7n]);
  assert.equal(readMessage(Buffer.from(hello)).payloadType(), Payload.ServerHello);
  assert.equal(readMessage(hello.slice().buffer).payloadType(), Payload.ServerHello);
  assert.throws(() => readMessage('VGL1' as never), (err: unknown) => err instanceof VigilArgumentError && err.code === 'E_ARGUMENT' && err.message === 'Expected a Uint8Array or an ArrayBuffer for data but received "VGL1"');
  assert.throws(() => readMessage(null as never), (err: unknown) => err instanceof VigilArgumentError && err.message === 'Expected a Uint8Array or an ArrayBuffer for data but received null');
});
