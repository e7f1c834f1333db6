/**
 * The console's browser-side FlatBuffers decode (web/src/wire.ts, on the flatc-generated code): what the server's
 * encoder writes comes back as the plain objects the UI draws, exactly; and the box/frame alignment helper.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireEncoder } from '../../src/stream/codec.js';
import { batchAt, decodeWire } from '../../web/src/wire.js';

const enc = new WireEncoder();

test('detections: camera, time, frame size, boxes with labels, track ids and confidences', () => {
  const bytes = enc.encodeEvent({
    seq: 41,
    event: {
      kind: 'detections',
      batch: {
        cameraId: 'gate',
        frameSequence: 77,
        timestampNs: 1_764_000_000_123_456_789n,
        frameWidth: 768,
        frameHeight: 576,
        detections: [
          { classId: 0, className: 'person', confidence: 0.875, box: { x1: 10.5, y1: 20, x2: 110.25, y2: 300 }, trackId: 7 },
          { classId: 2, className: 'car', confidence: 0.5, box: { x1: 500, y1: 400, x2: 700, y2: 560 } },
        ],
      },
    },
  });
  assert.deepEqual(decodeWire(bytes), {
    kind: 'detections',
    seq: 41,
    cameraId: 'gate',
    frameSequence: 77,
    timestampMs: 1_764_000_000_123.456789,
    frameWidth: 768,
    frameHeight: 576,
    detections: [
      { box: { x1: 10.5, y1: 20, x2: 110.25, y2: 300 }, confidence: 0.875, trackId: 7, classId: 0, label: 'person' },
      { box: { x1: 500, y1: 400, x2: 700, y2: 560 }, confidence: 0.5, trackId: -1, classId: 2, label: 'car' },
    ],
  });
});

test('track, alert and camera status events', () => {
  const track = decodeWire(
    enc.encodeEvent({
      seq: 42,
      event: {
        kind: 'tracks',
        track: {
          phase: 'end',
          timestampNs: 2_000_000_000n,
          track: { trackId: 7, cameraId: 'gate', classId: 0, className: 'person', startNs: 1_000_000_000n, endNs: 2_000_000_000n, bestConfidence: 0.9, bestBox: { x1: 1, y1: 2, x2: 3, y2: 4 }, bestFrameSequence: 3, bestTimestampNs: 1_500_000_000n },
        },
      },
    }),
  );
  assert.deepEqual(track, { kind: 'track', seq: 42, cameraId: 'gate', phase: 'end', trackId: 7, className: 'person', timestampMs: 2000, box: { x1: 1, y1: 2, x2: 3, y2: 4 }, confidence: track.kind === 'track' ? track.confidence : 0 });
  assert.ok(track.kind === 'track' && Math.abs(track.confidence - 0.9) < 1e-6);
  const alert = decodeWire(
    enc.encodeEvent({
      seq: 43,
      event: {
        kind: 'alerts',
        alert: { alertId: 'a-1', ruleId: 'gate-in', ruleName: 'Gate', cameraId: 'gate', state: 'acknowledged', message: 'person crossed Gate', trackIds: [7], raisedNs: 3_000_000_000n, updatedNs: 3_000_000_000n, clearedNs: null, acknowledgedBy: 'ops', details: {} },
      },
    }),
  );
  assert.deepEqual(alert, { kind: 'alert', seq: 43, alertId: 'a-1', ruleId: 'gate-in', ruleName: 'Gate', cameraId: 'gate', state: 'acknowledged', message: 'person crossed Gate', raisedMs: 3000, acknowledgedBy: 'ops' });
  const status = decodeWire(enc.encodeEvent({ seq: 44, event: { kind: 'camera_status', status: { cameraId: 'gate', status: 'reconnecting', previous: 'running', timestampNs: 5n, message: 'E_SOURCE_UNREACHABLE' } } }));
  assert.deepEqual(status, { kind: 'camera', seq: 44, cameraId: 'gate', status: 'reconnecting', message: 'E_SOURCE_UNREACHABLE' });
});

test('batchAt: the newest batch at or before the shown frame (40 ms early allowed), none older than the limit', () => {
  const list = [{ timestampMs: 1000 }, { timestampMs: 1200 }, { timestampMs: 1400 }];
  assert.equal(batchAt(list, 1250, 500), list[1]);
  assert.equal(batchAt(list, 1365, 500), list[2]);
  assert.equal(batchAt(list, 990, 500), list[0]); // 10 ms early: same frame
  assert.equal(batchAt(list, 950, 500), null);
  assert.equal(batchAt(list, 2000, 500), null);
});
