/**
 * The hand-laid detection batch message (WireEncoder.encodeDetections) against the generated Builder API
 * (encodeDetectionsWithBuilder), both decoded with only the flatc-generated code: every field of 300 pseudo-random
 * batches (0-119 detections, up to 40 classes, non-ASCII camera and class names, 53-bit sequences, 40-bit frame
 * sequences, absent track ids). Also checked once with the official C++ flatbuffers::Verifier (libflatbuffers-dev),
 * see bench/RESULTS.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as flatbuffers from 'flatbuffers';
import {
  vigil_wire_Detection as Detection,
  vigil_wire_DetectionBatch as WireBatch,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
} from '../../src/stream/generated/message_generated.js';
import { FILE_IDENTIFIER, WireEncoder } from '../../src/stream/codec.js';
import type { DetectionBatch } from '../../src/types.js';

function fields(bytes: Uint8Array): unknown[] {
  const bb = new flatbuffers.ByteBuffer(bytes);
  assert.equal(bb.getBufferIdentifier(), FILE_IDENTIFIER);
  const m = Message.getRootAsMessage(bb);
  assert.equal(m.payloadType(), Payload.DetectionBatch);
  const b = m.payload(new WireBatch()) as WireBatch;
  const dets = [];
  for (let i = 0; i < b.detectionsLength(); i++) {
    const d = b.detections(i, new Detection())!;
    const box = d.box()!;
    dets.push([box.x1(), box.y1(), box.x2(), box.y2(), d.confidence(), d.trackId(), d.classIndex(), d.classId(), b.classes(d.classIndex())!.name()]);
  }
  const classes = [];
  for (let i = 0; i < b.classesLength(); i++) classes.push([b.classes(i)!.id(), b.classes(i)!.name()]);
  return [m.seq(), b.cameraId(), b.frameSequence(), b.timestampNs(), b.frameWidth(), b.frameHeight(), dets, classes];
}

test('hand-laid detection batches decode to exactly what the Builder encodes', () => {
  const enc = new WireEncoder();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let f = 0; f < 300; f++) {
    const n = f % 7 === 0 ? 0 : Math.floor(rnd() * 120);
    const batch: DetectionBatch = {
      cameraId: 'c'.repeat(1 + Math.floor(rnd() * 40)) + (f % 3 ? 'é漢' : ''),
      frameSequence: Math.floor(rnd() * 2 ** 40),
      timestampNs: BigInt(Math.floor(rnd() * 2 ** 52)) * 1000n + BigInt(f),
      frameWidth: Math.floor(rnd() * 65536),
      frameHeight: Math.floor(rnd() * 65536),
      detections: Array.from({ length: n }, () => {
        const c = Math.floor(rnd() * 40);
        return {
          classId: c,
          className: 'k'.repeat(1 + (c % 9)) + (c % 5 === 0 ? 'ü' : '') + c,
          confidence: rnd(),
          box: { x1: rnd() * 1e4, y1: -rnd(), x2: rnd() * 3, y2: 4.5 },
          ...(rnd() > 0.5 ? { trackId: Math.floor(rnd() * 2 ** 31) - 2 ** 30 } : {}),
        };
      }),
    };
    const seq = Math.floor(rnd() * 2 ** 53);
    const fast = enc.encodeDetections(seq, batch);
    assert.equal(fast.length % 8, 0);
    assert.deepEqual(fields(fast), fields(enc.encodeDetectionsWithBuilder(seq, batch)));
  }
});
