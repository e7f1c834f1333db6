/**
 * TrackerRegistry across a camera's pipeline restart (issue 17, found by bench/soak.ts): a reconnected camera numbers
 * its frames from 0 again, and frames of the old run may still arrive after the camera's reset. A sequence at or
 * below the last one starts a new tracker: the old run's tracks end first, then the frame is tracked (no error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackerRegistry } from '../../src/tracking/tracker.js';
import type { Detection, DetectionBatch } from '../../src/types.js';
import { RuleEngine } from '../../src/rules/engine.js';
import { validateRules } from '../../src/rules/validate.js';

const person = (x: number): Detection => ({ classId: 0, className: 'person', confidence: 0.9, box: { x1: x, y1: 10, x2: x + 40, y2: 90 } });
const batch = (seq: number, detections: Detection[], cameraId = 'cam'): DetectionBatch => ({
  cameraId, frameSequence: seq, timestampNs: 1_000_000_000_000n + BigInt(seq) * 100_000_000n, frameWidth: 640, frameHeight: 360, detections,
});
const brief = (events: { type: string; trackId: number; frameSequence: number }[]) => events.map((e) => `${e.type}:${e.trackId}@${e.frameSequence}`);

test('a frame sequence that goes back ends the old run and tracks the frame in a new one', () => {
  let next = 1;
  const reg = new TrackerRegistry({ minHits: 1, allocateId: () => next++ });
  assert.deepEqual(brief(reg.update(batch(40, [person(10)])).events), ['start:1@40']);
  reg.update(batch(41, [person(12)]));
  const other = reg.update(batch(7, [person(300)], 'other')); // another camera is not affected
  assert.deepEqual(brief(other.events), ['start:2@7']);
  const restarted = reg.update(batch(1, [person(100)]));
  assert.deepEqual(brief(restarted.events), ['end:1@41', 'start:3@1']);
  assert.equal(reg.get('cam')!.lastSequence, 1);
  // equal sequence counts as a new run too (a restart can land on the same number)
  assert.deepEqual(brief(reg.update(batch(1, [])).events), ['end:3@1']);
  assert.equal(reg.get('other')!.lastSequence, 7);
});

test("the old run's tracks are in the restarted frame's endedTrackIds, so the rule engine forgets them", () => {
  let next = 1;
  const reg = new TrackerRegistry({ minHits: 1, allocateId: () => next++ });
  const rules = new RuleEngine();
  rules.setRules(validateRules([{ id: 'p', name: 'Yard', kind: 'zone_presence', zone: { points: [[0, 0], [640, 0], [640, 360], [0, 360]] } }]), 0n);
  const lines = (frame: ReturnType<TrackerRegistry['update']>) => rules.process(frame).map((e) => `${e.type} [${e.alert.trackIds.join(',')}]`);
  assert.deepEqual(lines(reg.update(batch(40, [person(10), person(300)]))), ['raised [1,2]']);
  const restarted = reg.update(batch(1, []));
  assert.deepEqual(restarted.endedTrackIds, [1, 2]);
  assert.deepEqual(brief(restarted.events), ['end:1@40', 'end:2@40']);
  // before the fix: [] (tracks 1 and 2 stayed in the zone for good)
  assert.deepEqual(lines(restarted), ['cleared [1,2]']);
  assert.deepEqual(lines(reg.update(batch(2, [person(100)]))), ['raised [3]']);
});
