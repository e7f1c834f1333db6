import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tracker, TrackerRegistry, bufferedIou, iou } from '../../src/tracking/tracker.js';
import type { Detection, DetectionBatch } from '../../src/types.js';

const NS = 1_000_000_000n;
const person = (x: number, y: number, confidence = 0.9): Detection => ({ classId: 0, className: 'person', confidence, box: { x1: x, y1: y, x2: x + 40, y2: y + 80 } });
const car = (x: number, y: number, confidence = 0.9): Detection => ({ classId: 2, className: 'car', confidence, box: { x1: x, y1: y, x2: x + 100, y2: y + 50 } });
const batch = (seq: number, detections: Detection[], cameraId = 'cam1'): DetectionBatch => ({
  cameraId, frameSequence: seq, timestampNs: BigInt(seq) * 100_000_000n + 1000n * NS, frameWidth: 768, frameHeight: 576, detections,
});
const brief = (events: { type: string; trackId: number; frameSequence: number }[]) => events.map((e) => `${e.type}:${e.trackId}@${e.frameSequence}`);

test('iou: exact values', () => {
  assert.equal(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 5, y1: 0, x2: 15, y2: 10 }), 50 / 150);
  assert.equal(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 10, y1: 0, x2: 20, y2: 10 }), 0);
  assert.equal(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 0, y1: 0, x2: 10, y2: 10 }), 1);
});

test('stable ids over moving boxes with a short occlusion, exact events', () => {
  const tr = new Tracker('cam1', { maxLostFrames: 5 });
  const log: string[] = [];
  const idsA: number[] = [];
  const idsB: number[] = [];
  for (let f = 1; f <= 20; f++) {
    const dets: Detection[] = [];
    // A walks right 10 px/frame; hidden in frames 8-10; a low-score (occluded) box in frame 13.
    if (f < 8 || f > 10) dets.push(person(10 + 10 * f, 100, f === 13 ? 0.3 : 0.9));
    // B walks left 8 px/frame in another lane (never crosses A).
    dets.push(person(500 - 8 * f, 300, f === 15 ? 0.95 : 0.8));
    // A parked car visible in frames 1-5 only.
    if (f <= 5) dets.push(car(600, 50));
    const r = tr.update(batch(f, dets));
    log.push(...brief(r.events));
    for (const d of r.detections) {
      if (d.className === 'person' && d.box.y1 === 100 && d.trackId !== undefined) idsA.push(d.trackId);
      if (d.className === 'person' && d.box.y1 === 300 && d.trackId !== undefined) idsB.push(d.trackId);
    }
    if (f === 13) {
      assert.deepEqual(r.objects.map((o) => [o.trackId, o.confidence]), [[1, 0.3], [2, 0.8]]);
    }
    if (f === 11) assert.deepEqual(r.endedTrackIds, [3]);
  }
  // A: confirmed in frame 2, matched until 7, lost 8-10, back in 11 (within 5 frames), still id 1.
  assert.deepEqual(new Set(idsA), new Set([1]));
  assert.equal(idsA.length, 19 - 3); // frames 2..20 minus the 3 hidden ones
  assert.deepEqual(new Set(idsB), new Set([2]));
  assert.equal(idsB.length, 19);
  const expectedLog: string[] = ['start:1@2', 'start:2@2', 'start:3@2'];
  for (let f = 3; f <= 20; f++) {
    // Frame 13: A's low-score box is matched in the second (low-score) stage, after B's high-score match.
    if ((f < 8 || f > 10) && f !== 13) expectedLog.push(`update:1@${f}`);
    expectedLog.push(`update:2@${f}`);
    if (f === 13) expectedLog.push('update:1@13');
    if (f <= 5) expectedLog.push(`update:3@${f}`);
    if (f === 6) expectedLog.push('lost:3@6');
    if (f === 8) expectedLog.push('lost:1@8');
    if (f === 11) expectedLog.push('end:3@11');
  }
  assert.deepEqual(log, expectedLog);
  // Best observation of B is its 0.95 frame.
  const live = tr.liveTracks();
  assert.deepEqual(live.map((t) => t.trackId), [1, 2]);
  const b = live[1]!;
  assert.equal(b.bestConfidence, 0.95);
  assert.equal(b.bestFrameSequence, 15);
  assert.equal(b.bestTimestampNs, 15n * 100_000_000n + 1000n * NS);
  assert.deepEqual(b.bestBox, { x1: 380, y1: 300, x2: 420, y2: 380 });
  assert.equal(b.startNs, 1n * 100_000_000n + 1000n * NS);
  const ends = tr.flush(99n);
  assert.deepEqual(ends.map((e) => [e.type, e.trackId, e.summary?.endNs]), [['end', 1, 20n * 100_000_000n + 1000n * NS], ['end', 2, 20n * 100_000_000n + 1000n * NS]]);
  assert.equal(tr.size, 0);
});

test('the car summary on end carries its best observation', () => {
  const tr = new Tracker('cam1', { maxLostFrames: 2 });
  const scores = [0.7, 0.92, 0.8];
  let end;
  for (let f = 1; f <= 7; f++) {
    const r = tr.update(batch(f, f <= 3 ? [car(100, 100, scores[f - 1])] : []));
    end = r.events.find((e) => e.type === 'end') ?? end;
  }
  assert.ok(end);
  assert.equal(end.frameSequence, 6);
  assert.deepEqual(end.summary, {
    trackId: 1, cameraId: 'cam1', classId: 2, className: 'car', startNs: 1n * 100_000_000n + 1000n * NS,
    endNs: 3n * 100_000_000n + 1000n * NS, bestConfidence: 0.92, bestBox: { x1: 100, y1: 100, x2: 200, y2: 150 },
    bestFrameSequence: 2, bestTimestampNs: 2n * 100_000_000n + 1000n * NS,
  });
});

test('two people walking past each other in parallel lanes keep their ids; low scores never start tracks', () => {
  const tr = new Tracker('cam1');
  const seen = new Map<string, Set<number>>();
  for (let f = 1; f <= 30; f++) {
    // Lanes 50 px apart vertically: boxes overlap in x when passing but never in y.
    const r = tr.update(batch(f, [person(20 + 12 * f, 100), person(400 - 12 * f, 190), person(700, 400, 0.4)]));
    for (const d of r.detections) {
      if (d.trackId === undefined) continue;
      const lane = `${d.box.y1}`;
      if (!seen.has(lane)) seen.set(lane, new Set());
      seen.get(lane)!.add(d.trackId);
    }
    assert.equal(r.detections[2]!.trackId, undefined);
  }
  assert.deepEqual([...seen.entries()].map(([k, v]) => [k, [...v]]), [['100', [1]], ['190', [2]]]);
});

test('a class change never continues a track; registry keeps cameras apart', () => {
  const reg = new TrackerRegistry({ minHits: 1 });
  const a = reg.update(batch(1, [person(10, 10)], 'a'));
  const b = reg.update(batch(1, [person(10, 10)], 'b'));
  assert.deepEqual(brief(a.events), ['start:1@1']);
  assert.deepEqual(brief(b.events), ['start:1@1']);
  const a2 = reg.update(batch(2, [{ ...car(10, 10), box: { x1: 10, y1: 10, x2: 50, y2: 90 } }], 'a'));
  assert.deepEqual(brief(a2.events), ['start:2@2', 'lost:1@2']);
  assert.deepEqual(reg.remove('a', 5n).map((e) => `${e.type}:${e.trackId}`), ['end:1', 'end:2']);
});

test('argument errors', () => {
  assert.throws(() => new Tracker(''), { code: 'E_ARGUMENT', message: 'Expected a non-empty string for cameraId but received ""' });
  assert.throws(() => new Tracker('c', { highThreshold: 2 }), { message: 'Expected a number from 0 to 1 for tracker.highThreshold but received 2' });
  assert.throws(() => new Tracker('c', { minHits: 0 }), { message: 'Expected an integer >= 1 for tracker.minHits but received 0' });
  const tr = new Tracker('c');
  tr.update(batch(5, [], 'c'));
  assert.throws(() => tr.update(batch(5, [], 'c')), { message: 'Expected a frame sequence greater than 5 for batch.frameSequence but received 5' });
  assert.throws(() => tr.update(batch(6, [], 'x')), { message: 'Expected camera "c" for batch.cameraId but received "x"' });
});

test('association is an optimal assignment, not greedy: no track loses its only candidate', () => {
  const tr = new Tracker('cam1');
  const box = (x1: number, x2: number): Detection => ({ classId: 0, className: 'person', confidence: 0.9, box: { x1, y1: 0, x2, y2: 100 } });
  tr.update(batch(1, [box(0, 100), box(60, 160)]));
  const r2 = tr.update(batch(2, [box(0, 100), box(60, 160)]));
  assert.deepEqual(r2.detections.map((d) => d.trackId), [1, 2]);
  // Both moved left. Greedy would give track 1 the box it overlaps most (IoU 0.6) and leave track 2 without any
  // candidate; the assignment gives track 1 the other box (IoU 0.379) and track 2 this one (IoU 0.481).
  const r3 = tr.update(batch(3, [box(25, 125), box(-45, 55)]));
  assert.deepEqual(r3.detections.map((d) => d.trackId), [2, 1]);
  assert.deepEqual(brief(r3.events), ['update:1@3', 'update:2@3']);
});

test('maxLostSeconds ends a lost track by frame time when sequence numbers jump little', () => {
  const tr = new Tracker('cam1', { minHits: 1, maxLostFrames: 1000, maxLostSeconds: 0.5 });
  tr.update(batch(1, [person(10, 10)]));
  assert.deepEqual(brief(tr.update(batch(2, [])).events), ['lost:1@2']);
  assert.deepEqual(brief(tr.update(batch(6, [])).events), []); // 0.5 s after the last match: not more than the limit
  assert.deepEqual(brief(tr.update(batch(7, [])).events), ['end:1@7']);
  assert.throws(() => new Tracker('c', { maxLostSeconds: -1 }), { message: 'Expected a number >= 0 or null for tracker.maxLostSeconds but received -1' });
});

// Issue 16: thresholds relative to the detector's, persistence, class groups, buffered matching.
const van = (cls: 'car' | 'truck', confidence: number, dx = 0): Detection => ({
  classId: cls === 'car' ? 2 : 7, className: cls, confidence, box: { x1: 650 + dx, y1: 45, x2: 722 + dx, y2: 100 },
});

test('detectorThreshold: a steady low scorer is confirmed by persistence; the fixed 0.6 threshold never tracks it', () => {
  const scores = [0.45, 0.44, 0.47, 0.43, 0.46, 0.45, 0.44];
  const relative = new Tracker('cam1', { detectorThreshold: 0.4 });
  const fixed = new Tracker('cam1');
  const log: string[] = [];
  scores.forEach((s, i) => {
    log.push(...brief(relative.update(batch(i + 1, [car(600, 50, s)])).events));
    assert.deepEqual(fixed.update(batch(i + 1, [car(600, 50, s)])).events, []);
  });
  // Five consecutive matches (persistHits) confirm it: frame 5, then one update per frame.
  assert.deepEqual(log, ['start:1@5', 'update:1@6', 'update:1@7']);
  assert.equal(fixed.size, 0);
  // Relative defaults: high = 0.4 + 0.1, new track (fast confirmation) = 0.4 + 0.2.
  const fast = new Tracker('cam1', { detectorThreshold: 0.4 });
  assert.deepEqual(brief(fast.update(batch(1, [car(0, 0, 0.62)])).events), []);
  assert.deepEqual(brief(fast.update(batch(2, [car(0, 0, 0.41)])).events), ['start:1@2']);
});

test('persistence means consecutive matches: a missed frame restarts a low-score tentative track', () => {
  const tr = new Tracker('cam1', { detectorThreshold: 0.4, persistHits: 3 });
  const frames = [[0.45], [0.45], [], [0.45], [0.45], [0.45], [0.45]];
  const log: string[] = [];
  frames.forEach((f, i) => log.push(...brief(tr.update(batch(i + 1, f.map((s) => car(600, 50, s)))).events)));
  assert.deepEqual(log, ['start:1@6', 'update:1@7']);
});

test('classThresholds keep one class from starting tracks below its own threshold', () => {
  const ball = (confidence: number): Detection => ({ classId: 32, className: 'sports ball', confidence, box: { x1: 327, y1: 452, x2: 351, y2: 467 } });
  const tr = new Tracker('cam1', { detectorThreshold: 0.4, classThresholds: { 'sports ball': 0.7 } });
  for (let f = 1; f <= 10; f++) {
    const r = tr.update(batch(f, [ball(0.5), person(100, 100, 0.45)]));
    if (f === 5) assert.deepEqual(brief(r.events), ['start:1@5']); // the person, by persistence
    assert.equal(r.detections[0]!.trackId, undefined);
  }
  // A ball scoring its class's threshold starts at once and is confirmed as fast as any high score (max of both).
  assert.deepEqual(brief(tr.update(batch(11, [ball(0.7)])).events), ['lost:1@11']);
  assert.deepEqual(brief(tr.update(batch(12, [ball(0.5)])).events), ['start:2@12']);
  assert.throws(() => new Tracker('c', { classThresholds: { car: 1.5 } }), { message: 'Expected a number from 0 to 1 for tracker.classThresholds.car but received 1.5' });
});

test('class groups: a van that is "car" and "truck" at once, or in turns, is one track reporting its leading class', () => {
  const tr = new Tracker('cam1', { detectorThreshold: 0.4 });
  const frames: Detection[][] = [
    [van('truck', 0.46), van('car', 0.49, 1)], // both boxes on the van: the higher one is tracked
    [van('truck', 0.47), van('car', 0.42, 1)],
    [van('truck', 0.45)],
    [van('car', 0.44, 1)],
    [van('truck', 0.46), van('car', 0.43, 1)],
    [van('car', 0.41, 1)],
    [van('truck', 0.5)],
  ];
  const log: string[] = [];
  const classes: string[] = [];
  frames.forEach((f, i) => {
    const r = tr.update(batch(i + 1, f));
    log.push(...brief(r.events));
    classes.push(r.objects.map((o) => o.className).join(','));
    // Exactly one of the frame's boxes carries the track; the duplicate stays untracked.
    assert.equal(r.detections.filter((d) => d.trackId !== undefined).length, i >= 4 ? 1 : 0);
  });
  assert.deepEqual(log, ['start:1@5', 'update:1@6', 'update:1@7']);
  // The reported class has the highest total score so far: car led after frames 1, 2 (0.49 vs 0.47) and 4
  // (0.93 vs 0.92); from frame 5 truck leads (1.38 vs 0.93, 1.38 vs 1.34, 1.88 vs 1.34).
  assert.deepEqual(classes, ['', '', '', '', 'truck', 'truck', 'truck']);
  const end = tr.flush(0n)[0]!;
  assert.equal(end.className, 'truck');
  assert.equal(end.summary!.bestConfidence, 0.5);
  // Without the group the two classes are separate objects.
  const apart = new Tracker('cam1', { detectorThreshold: 0.4, classGroups: [] });
  for (let f = 1; f <= 5; f++) apart.update(batch(f, [van('truck', 0.46), van('car', 0.45, 1)]));
  assert.deepEqual(apart.liveTracks().map((t) => t.className), ['truck', 'car']);
  assert.throws(() => new Tracker('c', { classGroups: [['car'], ['car', 'bus']] }), { message: 'Expected a class name in one group only for tracker.classGroups[1] but received "car"' });
});

test('a low score finds a lost track again (a steady low scorer after a missed frame keeps its id)', () => {
  const tr = new Tracker('cam1', { detectorThreshold: 0.4 });
  const log: string[] = [];
  for (let f = 1; f <= 9; f++) log.push(...brief(tr.update(batch(f, f === 6 || f === 7 ? [] : [car(600, 50, 0.45)])).events));
  assert.deepEqual(log, ['start:1@5', 'lost:1@6', 'update:1@8', 'update:1@9']);
});

test('buffered IoU: exact values; a walker changing pace at a low frame rate keeps its id', () => {
  assert.equal(bufferedIou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 10, y1: 0, x2: 20, y2: 10 }, 0), 0);
  // Grown by 3 on every side: [-3, 13] and [7, 23] overlap by 6 of 16 in x, fully in y: 6*16 / (2*256 - 96).
  assert.equal(bufferedIou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 10, y1: 0, x2: 20, y2: 10 }, 0.3), 96 / 416);
  // 40 px wide, walking 20 px a frame, then 50 px a frame (a run, or frames skipped).
  const xs = [0, 20, 40, 60, 110, 160, 210];
  const run = (opts: object): number[] => {
    const tr = new Tracker('cam1', opts);
    return xs.map((x, i) => tr.update(batch(i + 1, [person(x, 100)])).detections[0]!.trackId ?? 0);
  };
  assert.deepEqual(run({}), [0, 1, 1, 1, 1, 1, 1]);
  // Plain IoU: lost at the change of pace, and every later box starts a tentative track that never matches again.
  assert.deepEqual(run({ matchBuffer: 0, wideMatchBuffer: 0 }), [0, 1, 1, 1, 0, 0, 0]);
});

test('maxPredictFrames: a lost track waits where it was last expected instead of drifting on', () => {
  const run = (maxPredictFrames: number): string[] => {
    const tr = new Tracker('cam1', { maxPredictFrames });
    const log: string[] = [];
    // Walks right 10 px a frame, is hidden for 8 frames while it stops, and reappears 20 px further on.
    for (let f = 1; f <= 3; f++) log.push(...brief(tr.update(batch(f, [person(100 + 10 * f, 100)])).events));
    for (let f = 4; f <= 11; f++) log.push(...brief(tr.update(batch(f, [])).events));
    log.push(...brief(tr.update(batch(12, [person(150, 100)])).events));
    return log;
  };
  assert.deepEqual(run(5), ['start:1@2', 'update:1@3', 'lost:1@4', 'update:1@12']);
  // Predicted 90 px on, the box no longer overlaps even with the buffers: a new (tentative) track.
  assert.deepEqual(run(1000), ['start:1@2', 'update:1@3', 'lost:1@4']);
});

test('argument errors of the relative options', () => {
  assert.throws(() => new Tracker('c', { detectorThreshold: -0.1 }), { message: 'Expected a number from 0 to 1 for tracker.detectorThreshold but received -0.1' });
  assert.throws(() => new Tracker('c', { persistHits: 1, minHits: 2 }), { message: 'Expected an integer >= minHits (2) for tracker.persistHits but received 1' });
  assert.throws(() => new Tracker('c', { matchBuffer: 0.6 }), { message: 'Expected a number >= matchBuffer (0.6) for tracker.wideMatchBuffer but received 0.5' });
  assert.throws(() => new Tracker('c', { maxPredictFrames: 1.5 }), { message: 'Expected an integer >= 0 for tracker.maxPredictFrames but received 1.5' });
  assert.throws(() => new Tracker('c', { classGroups: [[]] }), { message: 'Expected a non-empty array of class names for tracker.classGroups[0] but received an array of length 0' });
});

test('stationary objects: not moving after 3 s still, kept unseen up to stationaryMaxLostSeconds, moving again when they move', () => {
  // 10 frames a second (batch(): 100 ms per sequence unit).
  const tr = new Tracker('cam1', { maxLostFrames: 5 });
  const moving: number[] = [];
  for (let f = 1; f <= 40; f++) {
    tr.update(batch(f, [car(600, 50), person(10 + 10 * f, 300)]));
    moving.push(tr.moving);
  }
  // Both move for the first 3 s of frame time (30 units); then the parked car is still, the person still walks.
  assert.deepEqual([moving[0], moving[29], moving[30], moving[39]], [2, 2, 1, 1]);
  assert.equal(tr.size, 2);
  // The car goes unseen for 100 s (1000 units, far past maxLostFrames): still tracked, not moving.
  let r = tr.update(batch(1040, []));
  assert.deepEqual(brief(r.events.filter((e) => e.type === 'end')), ['end:2@1040']); // the person (id 2) ended
  assert.deepEqual([tr.size, tr.moving], [1, 0]);
  r = tr.update(batch(1041, [car(600, 50)]));
  assert.deepEqual(r.objects.map((o) => o.trackId), [1]);
  // It drives off: moving again at once.
  tr.update(batch(1042, [car(640, 50)]));
  assert.equal(tr.moving, 1);
  // Unseen for more than 120 s after it stopped again: it ends.
  for (let f = 1043; f <= 1075; f++) tr.update(batch(f, [car(640, 50)]));
  assert.equal(tr.moving, 0);
  r = tr.update(batch(1075 + 1201, []));
  assert.deepEqual(brief(r.events), ['lost:1@2276', 'end:1@2276']);
  assert.throws(() => new Tracker('cam1', { stationarySeconds: 0 }), { message: 'Expected a positive number of seconds for tracker.stationarySeconds but received 0' });
});
