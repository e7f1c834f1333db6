/**
 * The density benchmark's track matching: a clip's tracks seen alone against the same clip seen in a loaded mix,
 * started at another moment and looping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignOffset, clipTimeOf, iou, matchTracks, type ObservedTrack } from '../../src/bench/match.js';

/** A person walking right at 20 px/s from t0 for `dur` seconds, sampled at 5 fps. */
function walker(id: number, t0: number, dur: number, y: number, shift = 0): ObservedTrack {
  const points = [];
  for (let t = 0; t <= dur + 1e-9; t += 0.2) points.push({ t: t0 + t + shift, box: { x1: 20 * t, y1: y, x2: 20 * t + 40, y2: y + 100 } });
  return { trackId: id, className: 'person', points };
}

const PERIOD = 20;
const reference = [walker(1, 1, 5, 0), walker(2, 8, 4, 200), walker(3, 14, 1, 400) /* under 2 s: not counted */];

test('iou of boxes', () => {
  assert.equal(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 5, y1: 0, x2: 15, y2: 10 }), 50 / 150);
  assert.equal(iou({ x1: 0, y1: 0, x2: 10, y2: 10 }, { x1: 20, y1: 0, x2: 30, y2: 10 }), 0);
});

test('the mix is aligned by the phase offset of its person counts', () => {
  // The mix camera's clip started 3 s later on its own time line.
  const mix = reference.map((r) => walker(r.trackId + 10, r.points[0]!.t, r.points.at(-1)!.t - r.points[0]!.t, r.points[0]!.box.y1, 3));
  assert.equal(alignOffset(reference, mix, PERIOD), PERIOD - 3);
});

test('every reference occurrence inside the window is found when the mix saw the same walkers', () => {
  // Two loops of the clip in the mix, shifted by 3 s; window [0, 40) holds walker 1 and 2 twice each.
  const mix: ObservedTrack[] = [];
  let id = 100;
  for (const loop of [0, 1]) for (const r of reference) mix.push(walker(id++, r.points[0]!.t + loop * PERIOD, r.points.at(-1)!.t - r.points[0]!.t, r.points[0]!.box.y1, 3));
  const m = matchTracks(reference, mix, { periodS: PERIOD, windowStartS: 0, windowEndS: 40 });
  assert.deepEqual([m.reference, m.found, m.ratio, m.offsetS], [4, 4, 1, 17]);
});

test('a missed walker and a box in the wrong place are not found', () => {
  const mix = [walker(100, 1, 5, 0, 3), walker(101, 8, 4, 600, 3) /* wrong place */];
  const m = matchTracks(reference, mix, { periodS: PERIOD, windowStartS: 0, windowEndS: 20 });
  assert.deepEqual([m.reference, m.found], [2, 1]);
  assert.equal(m.ratio, 0.5);
});

test('a walker the mix tracked under two ids is still found', () => {
  const r1 = walker(1, 1, 5, 0);
  const first = walker(100, 1, 2.4, 0, 3);
  const second = { trackId: 101, className: 'person', points: walker(0, 1, 5, 0, 3).points.filter((p) => p.t > 3 + 1 + 2.5) };
  const m = matchTracks([r1], [first, second], { periodS: PERIOD, windowStartS: 0, windowEndS: 20 });
  assert.deepEqual([m.reference, m.found], [1, 1]);
  // Only the first half seen: not found.
  assert.deepEqual(matchTracks([r1], [walker(100, 1, 2, 0, 3)], { periodS: PERIOD, windowStartS: 0, windowEndS: 20 }).found, 0);
});

test('the clip time line counts a loop when the stream time goes back, and maps capture times to it', () => {
  const line = { loop: 0, lastPtsNs: -1, byCapture: new Map<bigint, number>(), lastS: 0 };
  // 5 fps over a 2 s clip; the loop restart takes 0.7 s of wall time, which the clip time line does not see.
  const frames: Array<[number, bigint]> = [[0, 1000n], [1.2e9, 2200n], [1.8e9, 2800n], [0.2e9, 3700n], [1.0e9, 4500n]];
  for (const [pts, capture] of frames) clipTimeOf(line, pts, capture, 2);
  assert.deepEqual([...line.byCapture.entries()], [[1000n, 0], [2200n, 1.2], [2800n, 1.8], [3700n, 2.2], [4500n, 3]]);
  assert.deepEqual([line.loop, line.lastS], [1, 3]);
  // A small step back (B-frame reordering, a PTS jitter) is not a loop.
  clipTimeOf(line, 0.9e9, 4600n, 2);
  assert.equal(line.loop, 1);
});

test('the phase offset is searched only near zero when maxOffsetS is given', () => {
  const mix = reference.map((r) => walker(r.trackId + 10, r.points[0]!.t, r.points.at(-1)!.t - r.points[0]!.t, r.points[0]!.box.y1, 0.4));
  assert.equal(Number(alignOffset(reference, mix, PERIOD, 1).toFixed(6)), PERIOD - 0.4);
  // 3 s away is out of reach: the best within +-1 s is taken instead.
  const far = reference.map((r) => walker(r.trackId + 10, r.points[0]!.t, r.points.at(-1)!.t - r.points[0]!.t, r.points[0]!.box.y1, 3));
  assert.equal(Number(alignOffset(reference, far, PERIOD, 1).toFixed(6)), PERIOD - 1 + 0.6);
  assert.equal(alignOffset(reference, far, PERIOD), PERIOD - 3);
});
