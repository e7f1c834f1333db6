/**
 * Native post-processing against hand-computed values: NanoDet distribution decoding, CenterNet rows, YOLO v8/v5
 * layouts, class-wise NMS, letterbox undo, thresholds, class filters and argument validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferenceAddon, type NativeDecodeOptions } from '../../src/inference/native.js';

const addon = inferenceAddon();
const LN2 = Math.log(2);

function rows(a: Float32Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += 6) out.push(Array.from(a.subarray(i, i + 6)));
  return out;
}

function assertBoxes(actual: Float32Array, expected: number[][], eps = 1e-4): void {
  const got = rows(actual);
  assert.equal(got.length, expected.length, `got ${JSON.stringify(got)}`);
  got.forEach((r, i) => r.forEach((v, k) => {
    assert.ok(Math.abs(v - expected[i]![k]!) <= eps, `box ${i} field ${k}: ${v} vs ${expected[i]![k]} (${JSON.stringify(got)})`);
  }));
}

const base: NativeDecodeOptions = { numClasses: 2, scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100 };

// NanoDet: a 32x16 input, stride 8 -> 4x2 cells; stride 16 -> 2x1 cells. 2 classes, 3 bins per side.
function nanodetLevels(scoreAt: Record<number, [number, number]>): { scores: Float32Array; boxes: Float32Array; stride: number }[] {
  const scores8 = new Float32Array(8 * 2);
  for (const [cell, s] of Object.entries(scoreAt)) scores8.set(s, Number(cell) * 2);
  const boxes8 = new Float32Array(8 * 12); // all zeros: uniform softmax, expectation 1 bin -> 8 px
  // cell 5 (col 1, row 1, centre 12,12): right side [0, 0, ln2] -> p = [1/4, 1/4, 1/2] -> 1.25 bins = 10 px;
  // bottom side [0, 0, -1000] -> p = [1/2, 1/2, 0] -> 0.5 bins = 4 px.
  boxes8.set([0, 0, LN2], 5 * 12 + 2 * 3);
  boxes8.set([0, 0, -1000], 5 * 12 + 3 * 3);
  return [
    { scores: scores8, boxes: boxes8, stride: 8 },
    { scores: new Float32Array(2 * 2), boxes: new Float32Array(2 * 12), stride: 16 },
  ];
}
const nanoOpts = { ...base, inputWidth: 32, inputHeight: 16, bins: 3 };

test('decodeNanodet: softmax expectation x stride from the cell centre, sorted by score', () => {
  const out = addon.decodeNanodet(nanodetLevels({ 5: [0.9, 0.1], 2: [0.3, 0.7] }), nanoOpts);
  // cell 5: centre (12,12), distances l=8 t=8 r=10 b=4 -> (4,4,22,16); cell 2: centre (20,4), all 8 -> (12,-4->0,28,12)
  assertBoxes(out, [[4, 4, 22, 16, 0.9, 0], [12, 0, 28, 12, 0.7, 1]]);
});

test('decodeNanodet: letterbox undo maps to source pixels and clamps', () => {
  const out = addon.decodeNanodet(nanodetLevels({ 5: [0.9, 0.1], 2: [0.3, 0.7] }), {
    ...nanoOpts, letterbox: { scale: 0.5, padX: 0, padY: 2, sourceWidth: 64, sourceHeight: 28 },
  });
  // x / 0.5, (y - 2) / 0.5, clamped to 64x28: (4,4,22,16) -> (8,4,44,28); (12,0,28,12) -> (24,-4->0,56,20)
  assertBoxes(out, [[8, 4, 44, 28, 0.9, 0], [24, 0, 56, 20, 0.7, 1]]);
});

test('decodeNanodet: empty when every score is below the threshold', () => {
  const out = addon.decodeNanodet(nanodetLevels({ 5: [0.49, 0.49], 2: [0.1, 0.4999] }), nanoOpts);
  assert.equal(out.length, 0);
});

test('decodeNanodet: overlapping classes on one cell are both kept (class-wise NMS), one when class-agnostic', () => {
  const levels = nanodetLevels({ 5: [0.8, 0.75] });
  assertBoxes(addon.decodeNanodet(levels, nanoOpts), [[4, 4, 22, 16, 0.8, 0], [4, 4, 22, 16, 0.75, 1]]);
  assertBoxes(addon.decodeNanodet(levels, { ...nanoOpts, classAgnostic: true }), [[4, 4, 22, 16, 0.8, 0]]);
});

test('decodeNanodet: per-class thresholds and class filter', () => {
  const levels = nanodetLevels({ 5: [0.9, 0.1], 2: [0.3, 0.7] });
  assertBoxes(addon.decodeNanodet(levels, { ...nanoOpts, classThresholds: [0.95, -1] }), [[12, 0, 28, 12, 0.7, 1]]);
  assertBoxes(addon.decodeNanodet(levels, { ...nanoOpts, classThresholds: [-1, 0.1], scoreThreshold: 0.95 }),
    [[12, 0, 28, 12, 0.7, 1], [4, 4, 22, 16, 0.1, 1]]);
  assertBoxes(addon.decodeNanodet(levels, { ...nanoOpts, classFilter: [0] }), [[4, 4, 22, 16, 0.9, 0]]);
});

test('decodeNanodet: a level whose size does not match the grid is a RangeError', () => {
  assert.throws(() => addon.decodeNanodet([{ scores: new Float32Array(7 * 2), boxes: new Float32Array(7 * 12), stride: 8 }], nanoOpts), {
    name: 'RangeError', message: 'a stride-8 level of a 32x16 input has 8 cells but the output has 7',
  });
  assert.throws(() => addon.decodeNanodet([{ scores: new Float32Array(8 * 2), boxes: new Float32Array(8 * 11), stride: 8 }], nanoOpts), {
    name: 'TypeError', message: 'Expected a Float32Array of 96 values (cells x 4 x bins) for levels[0].boxes but received an object',
  });
});

test('decodeCenternet: rows above threshold, NaN rows skipped, NMS and class filter', () => {
  const data = new Float32Array([
    10, 20, 30, 40, 0.9, 0,
    12, 22, 32, 42, 0.6, 0, // IoU with the first = 18*18 / (400 + 400 - 324) = 0.68 -> suppressed
    100, 100, 150, 150, 0.5, 2,
    0, 0, 5, 5, 0.1, 1, // below threshold
    1, 1, 2, 2, 0.95, NaN, // padding row
  ]);
  const opts = { ...base, numClasses: 80, scoreThreshold: 0.3 };
  assertBoxes(addon.decodeCenternet(data, opts), [[10, 20, 30, 40, 0.9, 0], [100, 100, 150, 150, 0.5, 2]]);
  assertBoxes(addon.decodeCenternet(data, { ...opts, classFilter: [2] }), [[100, 100, 150, 150, 0.5, 2]]);
  const per = new Array<number>(80).fill(-1);
  per[2] = 0.55;
  assertBoxes(addon.decodeCenternet(data, { ...opts, classThresholds: per }), [[10, 20, 30, 40, 0.9, 0]]);
  assertBoxes(addon.decodeCenternet(data, { ...opts, iouThreshold: 0.7 }),
    [[10, 20, 30, 40, 0.9, 0], [12, 22, 32, 42, 0.6, 0], [100, 100, 150, 150, 0.5, 2]]);
  assert.equal(addon.decodeCenternet(new Float32Array(0), opts).length, 0);
});

test('decodeYolo v8 ([4+C, N], attribute-major) and v5 ([N, 5+C], objectness x class)', () => {
  // Boxes: (50,50,20,10) -> (40,45,60,55); (52,50,20,10) -> (42,45,62,55), IoU 180/220 with the first; (10,10,4,4) -> (8,8,12,12)
  const v8 = new Float32Array([
    50, 52, 10, // cx
    50, 50, 10, // cy
    20, 20, 4, // w
    10, 10, 4, // h
    0.9, 0.8, 0.1, // class 0
    0.2, 0.3, 0.95, // class 1
  ]);
  assertBoxes(addon.decodeYolo(v8, 'v8', base), [[8, 8, 12, 12, 0.95, 1], [40, 45, 60, 55, 0.9, 0]]);
  const v5 = new Float32Array([
    50, 50, 20, 10, 0.5, 0.9, 0.2,
    52, 50, 20, 10, 0.5, 0.8, 0.3,
    10, 10, 4, 4, 1.0, 0.1, 0.95,
  ]);
  assertBoxes(addon.decodeYolo(v5, 'v5', { ...base, scoreThreshold: 0.4 }), [[8, 8, 12, 12, 0.95, 1], [40, 45, 60, 55, 0.45, 0]]);
  assert.equal(addon.decodeYolo(new Float32Array(0), 'v8', base).length, 0);
  assert.equal(addon.decodeYolo(v8, 'v8', { ...base, scoreThreshold: 0.99 }).length, 0);
});

test('nms: class-wise greedy suppression, class-agnostic, max detections', () => {
  const boxes = new Float32Array([
    0, 0, 10, 10, 0.9, 0,
    1, 1, 11, 11, 0.8, 0, // IoU with the first 81/119 = 0.68
    1, 1, 11, 11, 0.85, 1,
    20, 20, 30, 30, 0.7, 0,
  ]);
  assertBoxes(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 0 }),
    [[0, 0, 10, 10, 0.9, 0], [1, 1, 11, 11, 0.85, 1], [20, 20, 30, 30, 0.7, 0]]);
  assertBoxes(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 0, classAgnostic: true }),
    [[0, 0, 10, 10, 0.9, 0], [20, 20, 30, 30, 0.7, 0]]);
  assertBoxes(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 2 }), [[0, 0, 10, 10, 0.9, 0], [1, 1, 11, 11, 0.85, 1]]);
  assertBoxes(addon.nms(boxes, { iouThreshold: 0.7, maxDetections: 0 }),
    [[0, 0, 10, 10, 0.9, 0], [1, 1, 11, 11, 0.85, 1], [1, 1, 11, 11, 0.8, 0], [20, 20, 30, 30, 0.7, 0]]);
  assert.equal(addon.nms(new Float32Array(0), { iouThreshold: 0.5, maxDetections: 0 }).length, 0);
});

test('mapToSource: x_src = (x - padX) / scale, clamped; boxes wholly in the border are dropped', () => {
  const boxes = new Float32Array([
    10, 58, 110, 158, 0.9, 0, // inside
    -5, 40, 30, 60, 0.8, 2, // crosses the left edge and the top border
    0, 0, 416, 50, 0.7, 1, // entirely in the top border (padY 52)
  ]);
  const out = addon.mapToSource(boxes, { scale: 0.5, padX: 0, padY: 52, sourceWidth: 832, sourceHeight: 624 });
  assertBoxes(out, [[20, 12, 220, 212, 0.9, 0], [0, 0, 60, 16, 0.8, 2]]);
});

test('argument validation: TypeError in the one message shape', () => {
  assert.throws(() => addon.decodeCenternet(new Float32Array(5), base), {
    name: 'TypeError', message: 'Expected a Float32Array with a length that is a multiple of 6 for rows but received an object',
  });
  assert.throws(() => addon.decodeCenternet(new Float32Array(6), { ...base, scoreThreshold: 1.5 }), {
    name: 'TypeError', message: 'Expected a number from 0 to 1 for options.scoreThreshold but received 1.5',
  });
  assert.throws(() => addon.decodeYolo(new Float32Array(6), 'v7' as 'v8', base), {
    name: 'TypeError', message: 'Expected one of "v8", "v5" for layout but received "v7"',
  });
  assert.throws(() => addon.decodeYolo([1, 2] as unknown as Float32Array, 'v8', base), {
    name: 'TypeError', message: 'Expected a Float32Array for data but received an array of length 2',
  });
  assert.throws(() => addon.decodeCenternet(new Float32Array(6), { ...base, classFilter: [2] }), {
    name: 'TypeError', message: 'Expected an integer from 0 to 1 for options.classFilter[0] but received 2',
  });
  assert.throws(() => addon.decodeCenternet(new Float32Array(6), { ...base, classThresholds: [0.5] }), {
    name: 'TypeError', message: 'Expected an array of 2 numbers for options.classThresholds but received an array of length 1',
  });
  assert.throws(() => addon.mapToSource(new Float32Array(6), { scale: 0, padX: 0, padY: 0, sourceWidth: 10, sourceHeight: 10 }), {
    name: 'TypeError', message: 'Expected a positive number for letterbox.scale but received 0',
  });
});
