/**
 * Property-based fuzzing of the WebSocket control protocol parser (src/stream/control.ts): arbitrary bytes as text
 * and binary frames, arbitrary JSON, and near-valid subscribe / unsubscribe messages with hostile field values.
 * Every input is accepted (and then satisfies the documented shape) or refused with a ControlError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ControlError, MAX_CONTROL_BYTES, parseControl } from '../../src/stream/control.js';
import { EVENT_KINDS } from '../../src/stream/events.js';
import { hostileJson, params, report } from './fuzz.js';

function buf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function check(data: ArrayBuffer, isBinary: boolean): void {
  let r;
  try {
    r = parseControl(data, isBinary);
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    assert.equal(err.code, 'E_BAD_REQUEST');
    assert.ok(err.requestId.length <= 64);
    return;
  }
  assert.ok(!isBinary && data.byteLength <= MAX_CONTROL_BYTES);
  assert.ok(typeof r.id === 'string' && r.id.length <= 64);
  if (r.type === 'subscribe') {
    assert.ok(r.minConfidence >= 0 && r.minConfidence <= 1);
    if (r.cameras) assert.ok(r.cameras.length <= 1000 && r.cameras.every((c) => typeof c === 'string' && c.length > 0));
    if (r.kinds) assert.ok(r.kinds.every((k) => (EVENT_KINDS as readonly string[]).includes(k)));
    if (r.resumeAfter !== undefined) assert.ok(Number.isSafeInteger(r.resumeAfter) && r.resumeAfter >= 0);
  }
}

const enc = new TextEncoder();

// A subscribe/unsubscribe message with each field either valid, hostile, or absent, plus unknown keys sometimes.
const nearValid = fc.record(
  {
    type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe'), hostileJson),
    id: fc.oneof(fc.string({ maxLength: 70 }), hostileJson),
    cameras: fc.oneof(fc.array(fc.string({ maxLength: 130 }), { maxLength: 5 }), hostileJson),
    classes: fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 130 }), fc.integer({ min: -5, max: 70000 }), fc.double()), { maxLength: 5 }), hostileJson),
    min_confidence: fc.oneof(fc.double(), hostileJson),
    kinds: fc.oneof(fc.array(fc.constantFrom(...EVENT_KINDS, 'nope'), { maxLength: 4 }), hostileJson),
    resume_after: fc.oneof(fc.integer(), fc.double(), fc.bigInt().map(String), hostileJson),
    extra: hostileJson,
  },
  { requiredKeys: [] },
);

test('parseControl: arbitrary bytes as text or binary frames', () => {
  const p = params<[Uint8Array, boolean]>(4000);
  fc.assert(fc.property(fc.uint8Array({ maxLength: MAX_CONTROL_BYTES + 64 }), fc.boolean(), (b, bin) => check(buf(b), bin)), p);
  report('control.bytes', p.numRuns!);
});

test('parseControl: arbitrary JSON and near-valid control messages', () => {
  const p = params<[unknown]>(6000);
  fc.assert(
    fc.property(fc.oneof(hostileJson, nearValid), (m) => {
      const text = JSON.stringify(m) ?? 'undefined';
      check(buf(enc.encode(text)), false);
    }),
    p,
  );
  report('control.json', p.numRuns!);
});
