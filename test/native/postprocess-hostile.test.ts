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

/** The NMS every box is held to: sorted by score (NaN last, stable), each compared with every kept box of its class. */
function referenceNms(boxes: Float32Array, iouThreshold: number, maxDetections: number, agnostic: boolean): number[][] {
  const all = rows(boxes).map((r, i) => ({ r, i }));
  all.sort((a, b) => {
    const sa = a.r[4]!, sb = b.r[4]!;
    if (Number.isNaN(sa) !== Number.isNaN(sb)) return Number.isNaN(sa) ? 1 : -1;
    return sb > sa ? 1 : sb < sa ? -1 : a.i - b.i;
  });
  // float arithmetic, and std::min / std::max as C++ has them: with a NaN they return their first argument.
  const f = Math.fround;
  const min = (x: number, y: number) => (y < x ? y : x);
  const max = (x: number, y: number) => (x < y ? y : x);
  const iou = (a: number[], b: number[]) => {
    const iw = f(min(a[2]!, b[2]!) - max(a[0]!, b[0]!));
    const ih = f(min(a[3]!, b[3]!) - max(a[1]!, b[1]!));
    if (iw <= 0 || ih <= 0) return 0;
    const inter = f(iw * ih);
    const areaA = f(max(0, f(a[2]! - a[0]!)) * max(0, f(a[3]! - a[1]!)));
    const areaB = f(max(0, f(b[2]! - b[0]!)) * max(0, f(b[3]! - b[1]!)));
    const uni = f(f(areaA + areaB) - inter);
    return uni > 0 ? f(inter / uni) : 0;
  };
  const keep: number[][] = [];
  for (const { r } of all) {
    if (keep.some((k) => (agnostic || Math.trunc(k[5]!) === Math.trunc(r[5]!)) && iou(k, r) > iouThreshold)) continue;
    keep.push(r);
    if (maxDetections > 0 && keep.length >= maxDetections) break;
  }
  return keep;
}

test('nms() gives the exhaustive result: random boxes of all sizes, inverted, huge and NaN ones, 3 classes, every threshold', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 200; round++) {
    const n = 1 + Math.floor(rnd() * 300);
    const boxes = new Float32Array(n * 6);
    for (let i = 0; i < n; i++) {
      const kind = rnd();
      const x = rnd() * 1000, y = rnd() * 1000;
      const w = kind < 0.1 ? rnd() * 3000 : kind < 0.15 ? -rnd() * 50 : rnd() * 80;
      const h = kind < 0.1 ? rnd() * 3000 : rnd() * 80;
      boxes.set([x, y, x + w, y + h, kind > 0.98 ? NaN : Math.round(rnd() * 20) / 20, Math.floor(rnd() * 3)], i * 6);
      if (kind > 0.97 && kind <= 0.98) boxes[i * 6 + 2] = kind > 0.975 ? Infinity : NaN;
    }
    const iouThreshold = [0, 0.1, 0.3, 0.5, 0.7, 0.95, 1][round % 7]!;
    const maxDetections = [0, 0, 5, 50][round % 4]!;
    const agnostic = round % 3 === 0;
    const got = rows(addon.nms(boxes, { iouThreshold, maxDetections, classAgnostic: agnostic }));
    assert.deepEqual(got, referenceNms(boxes, iouThreshold, maxDetections, agnostic), `round ${round}`);
  }
});

test('nms() gives the exhaustive result when one class keeps hundreds of boxes spanning many grid cells each', () => {
  // The grid index files a box under its top-left cell and widens each query by the class's largest span; boxes
  // spanning more than 8 of its 64 cells go to a list every candidate checks. 1,500 boxes of one class (two
  // classes when agnostic is off), 0-250 px on a 1,000 px extent (0-16 cells), high thresholds so that most are kept.
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 24; round++) {
    const n = 1_500;
    const boxes = new Float32Array(n * 6);
    for (let i = 0; i < n; i++) {
      const x = rnd() * 1000, y = rnd() * 1000;
      const big = rnd() < 0.2;
      const w = big ? rnd() * 250 : rnd() * 60, h = big ? rnd() * 250 : rnd() * 60;
      boxes.set([x, y, Math.min(1000, x + w), Math.min(1000, y + h), Math.round(rnd() * 1000) / 1000, round % 2 === 0 ? 0 : Math.floor(rnd() * 2)], i * 6);
    }
    const iouThreshold = [0.3, 0.5, 0.8, 0.95][round % 4]!;
    const agnostic = round % 3 === 0;
    const got = rows(addon.nms(boxes, { iouThreshold, maxDetections: 0, classAgnostic: agnostic }));
    const want = referenceNms(boxes, iouThreshold, 0, agnostic);
    assert.ok(want.length > 300, `round ${round}: ${want.length} kept`);
    assert.deepEqual(got, want, `round ${round}`);
  }
});

test('nms() keeps thousands of disjoint boxes of one class without comparing each with every kept one (fuzz_decoders timeout)', () => {
  // 100 x 100 disjoint 8x8 boxes, one class, unlimited detections: all 10,000 kept. Exhaustively that is 5e7 IoU
  // tests (1.5 s under ASan in the fuzz target); the grid index compares each box with its neighbours only.
  const boxes = new Float32Array(10_000 * 6);
  for (let i = 0; i < 10_000; i++) {
    const x = (i % 100) * 10, y = Math.floor(i / 100) * 10;
    boxes.set([x, y, x + 8, y + 8, 1 - i / 20_000, 0], i * 6);
  }
  const out = rows(addon.nms(boxes, { iouThreshold: 0.5, maxDetections: 0 }));
  assert.equal(out.length, 10_000);
  assert.deepEqual(out[0], [0, 0, 8, 8, 1, 0]);
  assert.deepEqual(out[9_999], [990, 990, 998, 998, Math.fround(1 - 9_999 / 20_000), 0]);
  // Overlapping copies shifted by 1 px (IoU 0.6) are all suppressed by their originals.
  const both = new Float32Array(20_000 * 6);
  both.set(boxes);
  for (let i = 0; i < 10_000; i++) {
    const x = (i % 100) * 10 + 1, y = Math.floor(i / 100) * 10;
    both.set([x, y, x + 8, y + 8, 0.4, 0], (10_000 + i) * 6);
  }
  assert.equal(rows(addon.nms(both, { iouThreshold: 0.5, maxDetections: 0 })).length, 10_000);
});
