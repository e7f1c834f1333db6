/**
 * Native decoders against hostile model outputs (issue 17; found by native/fuzz/fuzz_decoders.cc): NaN and infinite
 * box values never become boxes, a huge CenterNet class id is not wrapped into a valid class, and nms() keeps its
 * highest-score-first order when boxes carry NaN scores or NaN class ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferenceAddon, type NativeDecodeOptions } from '../../src/inference/native.js';

const addon = inferenceAddon();
const base: NativeDecodeOptions = { numClasses: 2, scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100 };

function rows(a: Float32Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += 6) out.push(Array.from(a.subarray(i, i + 6)));
  return out;
}

test('decodeYolo: boxes with NaN or infinite coordinates are dropped, finite ones kept', () => {
  // v5 rows [cx, cy, w, h, obj, c0, c1]
  const v5 = new Float32Array([
    NaN, 10, 4, 4, 1, 0.9, 0, // NaN centre
    10, 10, Infinity, 4, 1, 0.9, 0, // infinite width
    3e38, 10, -3e38, 4, 1, 0.9, 0, // finite inputs whose corners overflow to infinity
    50, 50, 10, 10, 1, 0, 0.8, // a real box
  ]);
  assert.deepEqual(rows(addon.decodeYolo(v5, 'v5', base)), [[45, 45, 55, 55, Math.fround(0.8), 1]]);
  // v8 [4 + C, N] with N = 2: column 0 has a NaN height
  const v8 = new Float32Array([10, 50, 10, 50, 4, 10, NaN, 10, 0.9, 0.9, 0, 0]);
  assert.deepEqual(rows(addon.decodeYolo(v8, 'v8', base)), [[45, 45, 55, 55, Math.fround(0.9), 0]]);
});

test('decodeNanodet: a cell whose box logits are NaN or all infinite gives no box', () => {
  // 8x8 input, stride 8: one cell, 1 class, 2 bins per side.
  const opts = { ...base, numClasses: 1, inputWidth: 8, inputHeight: 8, bins: 2 };
  const level = (boxes: number[]) => [{ scores: new Float32Array([0.9]), boxes: new Float32Array(boxes), stride: 8 }];
  assert.equal(addon.decodeNanodet(level([NaN, 0, 0, 0, 0, 0, 0, 0]), opts).length, 0);
  assert.equal(addon.decodeNanodet(level([Infinity, Infinity, 0, 0, 0, 0, 0, 0]), opts).length, 0);
  // uniform logits: 0.5 bin x stride 8 = 4 px each side from the centre (4, 4)
  assert.deepEqual(rows(addon.decodeNanodet(level([0, 0, 0, 0, 0, 0, 0, 0]), opts)), [[0, 0, 8, 8, Math.fround(0.9), 0]]);
});

test('decodeCenternet: class ids out of range (2^32, 2^31, -1) or boxes that are not finite are skipped', () => {
  const data = new Float32Array([
    10, 10, 20, 20, 0.9, 4294967296, // lround(2^32) truncated to int used to give class 0
    10, 10, 20, 20, 0.9, 2147483648,
    10, 10, 20, 20, 0.9, -1,
    10, NaN, 20, 20, 0.9, 1,
    -Infinity, 10, 20, 20, 0.9, 1,
    30, 30, 40, 40, 0.8, 1,
  ]);
  assert.deepEqual(rows(addon.decodeCenternet(data, base)), [[30, 30, 40, 40, Math.fround(0.8), 1]]);
});

test('nms: NaN scores sort after every number, NaN or huge class ids do not crash', () => {
  const boxes = new Float32Array([
    0, 0, 10, 10, 0.1, 0,
    20, 20, 30, 30, NaN, 0,
    40, 40, 50, 50, 0.9, 0,
    60, 60, 70, 70, 0.5, NaN,
    80, 80, 90, 90, 0.4, 1e20,
  ]);
  const out = rows(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 0 }));
  assert.deepEqual(out.map((r) => r[4]), [Math.fround(0.9), 0.5, Math.fround(0.4), Math.fround(0.1), NaN]);
  // a class id that is no int32 comes back as -1 (no class), the rest unchanged
  assert.deepEqual(out.map((r) => r[5]), [0, -1, -1, 0, 0]);
});

test('nms() over many classes compares each box only with its own class (fuzz_decoders timeout, 45,000 boxes took 11 s)', () => {
  // 200 classes x 1,000 side-by-side boxes, each with a lower-scored copy in its own class (suppressed) and none
  // overlapping across positions: every original is kept. One list of kept boxes made this 200,000 x 200,000 / 2 IoU
  // tests (over a minute); per class it is 200 x 1,000 x 1,000 / 2. The time bound is a hang detector only.
  const classes = 200, perClass = 1000;
  const boxes = new Float32Array(classes * perClass * 2 * 6);
  let i = 0;
  for (let c = 0; c < classes; c++) {
    for (let k = 0; k < perClass; k++) {
      const x = k * 20;
      boxes.set([x, 0, x + 10, 10, 0.9 - k * 1e-4, c], i);
      boxes.set([x, 0, x + 10, 10, 0.1, c], i + 6);
      i += 12;
    }
  }
  const t0 = process.hrtime.bigint();
  const out = rows(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 0 }));
  assert.ok(process.hrtime.bigint() - t0 < 30_000_000_000n, 'nms() did not finish within 30 s');
  assert.equal(out.length, classes * perClass);
  assert.ok(out.every((r) => r[4]! > 0.5), 'a lower-scored copy was kept');
  // highest score first; at equal scores the input order (stable sort): class 0..199 for box 0, then box 1, ...
  assert.deepEqual(out.slice(0, 3), [[0, 0, 10, 10, Math.fround(0.9), 0], [0, 0, 10, 10, Math.fround(0.9), 1], [0, 0, 10, 10, Math.fround(0.9), 2]]);
  // class-agnostic: the copies in other classes of the same place are suppressed too, one box per position remains
  const agnostic = rows(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 0, classAgnostic: true }));
  assert.equal(agnostic.length, perClass);
  assert.deepEqual(agnostic[0], [0, 0, 10, 10, Math.fround(0.9), 0]);
});
