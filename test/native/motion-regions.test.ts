/**
 * Motion-region inference (issue 16, item 2) and the runtime analysis rate (item 3's mechanism).
 *
 * Synthetic frames are exact: raw I420 written here and read by rawvideoparse, so every pixel, cell and PTS is
 * known. A bright rectangle (and a person cut out of vtest) on a plain background at several positions: the motion
 * regions cover it, the frame goes on as a 320x320 crop around it, and the detector maps boxes from the crop back
 * to source pixels exactly (the same person at positions P0, P1, ... gives boxes that differ by exactly P1 - P0).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon, type NativeFrameEvent, type NativePipeline, type NativePipelineStats, type NativeRegionOptions } from '../../bindings/index.js';
import { Camera } from '../../src/camera/camera.js';
import { Frame } from '../../src/camera/frame.js';
import { DEFAULT_REGIONS, DEFAULT_TENSOR, nativeRegionOptions, parseTensorSpec, type TensorSpec } from '../../src/camera/tensor.js';
import { Detector, frameInput } from '../../src/inference/detector.js';
import { decodeFrames } from '../helpers/frames.js';
import { nanodetPreset } from '../../src/inference/models.js';
import { inferenceAddon } from '../../src/inference/native.js';
import type { Box, Detection } from '../../src/types.js';
import { cameraSettings } from '../helpers/camera.js';
import { media } from '../helpers/media.js';
import { until } from '../helpers/wait.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-regions-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Rect { x: number; y: number; width: number; height: number }

const MOTION = { downscale: 8, sensitivity: 0.6, minChangedFraction: 0.002, learningRate: 0.05, masks: [] };
// Raw pixel values in the tensor (mean 0, std 1, RGB), so a tensor value is a pixel value.
const RAW_TENSOR: TensorSpec = { ...DEFAULT_TENSOR, colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1] };
const REGIONS: NativeRegionOptions = { tensorWidth: 320, tensorHeight: 320, maxShare: 0.35, fullFrameEvery: 0, minSide: 160 };

/** A plain I420 frame (luma `bg`, neutral chroma). */
function plainI420(w: number, h: number, bg: number): Uint8Array {
  const b = new Uint8Array(w * h * 3 / 2).fill(128);
  b.fill(bg, 0, w * h);
  return b;
}

function withRect(w: number, h: number, bg: number, r: Rect | null, value = 230): Uint8Array {
  const b = plainI420(w, h, bg);
  if (r) for (let y = r.y; y < r.y + r.height; y++) b.fill(value, y * w + r.x, y * w + r.x + r.width);
  return b;
}

/** RGB24 -> I420, BT.601 limited range (rawvideoparse's colorimetry for this size), chroma averaged over 2x2. */
function rgbToI420(rgb: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3 / 2);
  const u = w * h, v = u + (w / 2) * (h / 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      out[y * w + x] = Math.round(16 + (65.481 * rgb[i]! + 128.553 * rgb[i + 1]! + 24.966 * rgb[i + 2]!) / 255);
    }
  }
  for (let y = 0; y < h; y += 2) {
    for (let x = 0; x < w; x += 2) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const i = ((y + dy) * w + x + dx) * 3;
        r += rgb[i]!; g += rgb[i + 1]!; b += rgb[i + 2]!;
      }
      r /= 4; g /= 4; b /= 4;
      const k = (y / 2) * (w / 2) + x / 2;
      out[u + k] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      out[v + k] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  return out;
}

interface Run {
  frames: Array<{ event: Omit<NativeFrameEvent, 'tensor'>; tensor: Float32Array }>;
  stats: NativePipelineStats;
}

/** Plays raw I420 frames (15 fps) through a native pipeline, losslessly; copies every tensor out. */
function play(name: string, frames: Uint8Array[], w: number, h: number,
  opts: { regions?: NativeRegionOptions; motion?: boolean; tensor?: TensorSpec; setup?: (p: NativePipeline) => void } = {}): Promise<Run> {
  const path = join(dir, `${name}.yuv`);
  writeFileSync(path, Buffer.concat(frames));
  return new Promise((resolve, reject) => {
    const out: Run['frames'] = [];
    const p: NativePipeline = new (loadAddon().Pipeline)({
      cameraId: name,
      description: `filesrc name=src ! rawvideoparse format=i420 width=${w} height=${h} framerate=15/1 ! appsink name=sink sync=false`,
      properties: { src: { location: path } },
      tensor: opts.tensor ?? RAW_TENSOR,
      queueSize: 2,
      poolSize: 4,
      block: true,
      ...(opts.motion === false ? {} : { motion: MOTION }),
      ...(opts.regions ? { regions: opts.regions } : {}),
      onEvent: (e) => {
        if (e.type === 'frame') {
          const { tensor, ...event } = e;
          out.push({ event, tensor: new Float32Array(tensor.slice(0)) });
          p.release(tensor, e.slot, e.generation);
        } else if (e.type === 'eos') {
          const stats = p.stats();
          p.close();
          resolve({ frames: out, stats });
        } else if (e.type === 'error') {
          p.close();
          reject(new Error(e.message));
        }
      },
    });
    opts.setup?.(p);
    p.start();
  });
}

function contains(outer: Rect, inner: Rect): boolean {
  return outer.x <= inner.x && outer.y <= inner.y && outer.x + outer.width >= inner.x + inner.width &&
    outer.y + outer.height >= inner.y + inner.height;
}

function cropOf(e: Omit<NativeFrameEvent, 'tensor'>): Rect {
  return { x: e.cropX, y: e.cropY, width: e.cropWidth, height: e.cropHeight };
}

test('MotionDetector regions: cell-aligned changed cells, padded, merged when close, exact share', () => {
  const { MotionDetector } = inferenceAddon();
  const W = 640, H = 360;
  const md = new MotionDetector({ downscale: 8, regionPadding: 16, regionMergeCells: 1 });
  try {
    const first = md.update(withRect(W, H, 100, null), { format: 'I420', width: W, height: H });
    assert.equal(first.initialized, true);
    assert.deepEqual(first.regions, []);
    assert.equal(first.regionShare, 1);
    // A 40x80 rectangle at (64, 48): cells 8..12 x 6..15 -> pixels 64..104 x 48..128, padded by 16.
    let r = md.update(withRect(W, H, 100, { x: 64, y: 48, width: 40, height: 80 }), { format: 'I420', width: W, height: H });
    assert.deepEqual(r.regions, [{ x: 48, y: 32, width: 72, height: 112 }]);
    assert.equal(r.regionShare, (72 * 112) / (W * H));
    assert.equal(r.changedCells, 5 * 10);
    // Not cell-aligned (x 300..340, y 203..250): every cell it touches counts; the region still covers it.
    md.reset();
    md.update(withRect(W, H, 100, null), { format: 'I420', width: W, height: H });
    r = md.update(withRect(W, H, 100, { x: 300, y: 203, width: 40, height: 47 }), { format: 'I420', width: W, height: H });
    assert.deepEqual(r.regions, [{ x: 296 - 16, y: 200 - 16, width: 48 + 32, height: 56 + 32 }]);
    // Two rectangles 16 px apart (2 cells) merge; 200 px apart they stay two regions, larger first.
    md.reset();
    md.update(withRect(W, H, 100, null), { format: 'I420', width: W, height: H });
    const two = withRect(W, H, 100, { x: 64, y: 48, width: 40, height: 80 });
    for (let y = 48; y < 128; y++) two.fill(230, y * W + 120, y * W + 136);
    r = md.update(two, { format: 'I420', width: W, height: H });
    assert.deepEqual(r.regions, [{ x: 48, y: 32, width: 104, height: 112 }]);
    md.reset();
    md.update(withRect(W, H, 100, null), { format: 'I420', width: W, height: H });
    const far = withRect(W, H, 100, { x: 64, y: 48, width: 40, height: 80 });
    for (let y = 200; y < 240; y++) far.fill(230, y * W + 400, y * W + 440);
    r = md.update(far, { format: 'I420', width: W, height: H });
    assert.deepEqual(r.regions, [{ x: 48, y: 32, width: 72, height: 112 }, { x: 384, y: 184, width: 72, height: 72 }]);
    assert.equal(r.regionShare, (72 * 112 + 72 * 72) / (W * H));
    // Padding that makes regions overlap merges them (150 px: the two boxes above overlap, clamped to the frame).
    const wide = new MotionDetector({ downscale: 8, regionPadding: 150, regionMergeCells: 0 });
    wide.update(withRect(W, H, 100, null), { format: 'I420', width: W, height: H });
    const w2 = wide.update(far, { format: 'I420', width: W, height: H });
    assert.deepEqual(w2.regions, [{ x: 0, y: 0, width: 590, height: 360 }]);
    wide.close();
  } finally {
    md.close();
  }
});

test('crop path: the region covers the rectangle, a 320x320 crop holds it, whole frames where they must be', async () => {
  const W = 640, H = 360;
  const rects: Rect[] = [
    { x: 64, y: 48, width: 40, height: 80 },
    { x: 400, y: 200, width: 40, height: 80 },
    { x: 300, y: 40, width: 40, height: 80 },
    { x: 10, y: 270, width: 30, height: 60 },   // near a corner: the crop is moved inside the frame
    { x: 560, y: 150, width: 70, height: 50 },
  ];
  const frames = [withRect(W, H, 100, null), ...rects.map((r) => withRect(W, H, 100, r))];
  const run = await play('rects', frames, W, H, { regions: REGIONS });
  assert.equal(run.frames.length, 1 + rects.length);
  const [first, ...rest] = run.frames;
  // First frame: initialises the background -> whole frame, the camera's tensor size.
  assert.equal(first!.event.cropped, false);
  assert.deepEqual(cropOf(first!.event), { x: 0, y: 0, width: W, height: H });
  assert.equal(first!.event.tensorWidth, 416);
  assert.equal(first!.tensor.length, 3 * 416 * 416);
  assert.equal(first!.event.regionShare, 1);
  rest.forEach(({ event: e, tensor }, i) => {
    const r = rects[i]!;
    assert.equal(e.cropped, true, `frame ${i + 1}`);
    assert.equal(e.tensorWidth, 320);
    assert.equal(e.tensorHeight, 320);
    assert.equal(tensor.length, 3 * 320 * 320);
    assert.equal(e.regionCount, 1);
    const crop = cropOf(e);
    assert.ok(contains(crop, r), `crop ${JSON.stringify(crop)} holds ${JSON.stringify(r)}`);
    assert.equal(crop.width, 160);
    assert.equal(crop.height, 160);
    assert.equal(crop.x % 2, 0);
    assert.equal(crop.y % 2, 0);
    assert.ok(crop.x >= 0 && crop.y >= 0 && crop.x + crop.width <= W && crop.y + crop.height <= H);
    // A 160x160 crop into 320x320: scale 2, no border.
    assert.equal(e.scale, 2);
    assert.equal(e.padX, 0);
    assert.equal(e.padY, 0);
    // Source -> tensor: the rectangle's centre is bright, a point 12 px outside it is the background
    // (Y 230 -> R = G = B = 249; Y 100 -> 98 in BT.601 limited range).
    const at = (sx: number, sy: number): number => {
      const tx = Math.floor((sx - e.cropX) * e.scale + e.padX), ty = Math.floor((sy - e.cropY) * e.scale + e.padY);
      return tensor[ty * 320 + tx]!;
    };
    assert.equal(at(r.x + r.width / 2, r.y + r.height / 2), 249);
    const outsideX = r.x > 20 ? r.x - 12 : r.x + r.width + 12;
    assert.equal(at(outsideX, r.y + r.height / 2), 98);
  });
  assert.equal(run.stats.framesCropped, rects.length);
  assert.equal(run.stats.framesDelivered, 1 + rects.length);
});

test('whole frames: periodic (fullFrameEvery), while setFullFrame(true), when the motion is not local, and without a gate', async () => {
  const W = 640, H = 360;
  const small = (k: number): Rect => ({ x: 32 + 96 * (k % 6), y: 48 + 120 * Math.floor(k / 6), width: 40, height: 40 });
  const frames = [withRect(W, H, 100, null), ...Array.from({ length: 8 }, (_, k) => withRect(W, H, 100, small(k)))];
  // fullFrameEvery 3: at most 3 frames handed on between whole frames -> whole, crop, crop, whole, crop, crop, whole...
  const periodic = await play('periodic', frames, W, H, { regions: { ...REGIONS, fullFrameEvery: 3 } });
  assert.deepEqual(periodic.frames.map((f) => f.event.cropped), [false, true, true, false, true, true, false, true, true]);
  const forced = await play('forced', frames, W, H, { regions: REGIONS, setup: (p) => p.setFullFrame(true) });
  assert.deepEqual(forced.frames.map((f) => f.event.cropped), new Array(9).fill(false));
  assert.ok(forced.frames.every((f) => f.event.tensorWidth === 416 && f.tensor.length === 3 * 416 * 416));
  assert.equal(forced.stats.framesCropped, 0);
  // A large moving object (its crop would cover 35 % of the frame or more): whole frame. Regions 40 % of the frame.
  const big = await play('big', [withRect(W, H, 100, null), withRect(W, H, 100, { x: 100, y: 40, width: 300, height: 280 })], W, H,
    { regions: REGIONS });
  assert.equal(big.frames[1]!.event.cropped, false);
  assert.ok(big.frames[1]!.event.regionShare >= 0.35, `share ${big.frames[1]!.event.regionShare}`);
  // maxShare 1 with a tiny minSide: the same object goes as a crop.
  const bigCrop = await play('bigcrop', [withRect(W, H, 100, null), withRect(W, H, 100, { x: 100, y: 40, width: 300, height: 280 })], W, H,
    { regions: { ...REGIONS, maxShare: 1, minSide: 8 } });
  assert.equal(bigCrop.frames[1]!.event.cropped, true);
  assert.ok(contains(cropOf(bigCrop.frames[1]!.event), { x: 100, y: 40, width: 300, height: 280 }));
  // Without a motion gate there are no regions: the addon refuses regions, and frames are whole.
  assert.throws(() => new (loadAddon().Pipeline)({
    cameraId: 'x', description: 'videotestsrc num-buffers=1 ! appsink name=sink', tensor: RAW_TENSOR, queueSize: 1, poolSize: 1,
    block: true, regions: REGIONS, onEvent: () => {},
  }), /regions needs options\.motion/);
  const ungated = await play('ungated', frames.slice(0, 3), W, H, { motion: false });
  assert.deepEqual(ungated.frames.map((f) => [f.event.cropped, f.event.regionShare, f.event.regionCount]),
    [[false, -1, 0], [false, -1, 0], [false, -1, 0]]);
});

function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

const people = (d: Detection[]): Detection[] => d.filter((x) => x.className === 'person');

test('detector on crops: a vtest person pasted at several positions is found from the 320 crop, mapped back exactly', async () => {
  // vtest frame 250: a walking person at [375, 232, 421, 325] (test/integration/detector-nanodet.test.ts). Cut out
  // with a margin and pasted on a plain grey 640x360 background at cell-aligned positions.
  const src = decodeFrames(media('vtest.avi'), [250], 'rgb24')[0]!;
  const patch = { x: 363, y: 220, width: 70, height: 118 };
  const person = { x1: 375 - patch.x, y1: 232 - patch.y, x2: 421 - patch.x, y2: 325 - patch.y };
  const W = 640, H = 360;
  const positions = [{ x: 64, y: 48 }, { x: 288, y: 160 }, { x: 496, y: 96 }, { x: 176, y: 200 }];
  const rgbFrame = (at: { x: number; y: number } | null): Uint8Array => {
    const rgb = new Uint8Array(W * H * 3).fill(120);
    if (at) {
      for (let y = 0; y < patch.height; y++) {
        const from = ((patch.y + y) * src.width + patch.x) * 3;
        rgb.set(src.pixels.subarray(from, from + patch.width * 3), ((at.y + y) * W + at.x) * 3);
      }
    }
    return rgb;
  };
  const frames = [rgbFrame(null), ...positions.map(rgbFrame)].map((f) => rgbToI420(f, W, H));
  const whole = await Detector.create(nanodetPreset({ crop: { modelPath: nanodetPreset({ inputSize: 320 }).modelPath, inputWidth: 320, inputHeight: 320 } }));
  try {
    const tensor = whole.tensorSpec();
    assert.deepEqual(whole.cropTensorSpec(), { ...tensor, width: 320, height: 320 });
    assert.deepEqual(whole.inputSizes, [{ width: 416, height: 416 }, { width: 320, height: 320 }]);
    const cropRun = await play('person', frames, W, H, { tensor, regions: REGIONS });
    const wholeRun = await play('person-whole', frames, W, H, { tensor, regions: REGIONS, setup: (p) => p.setFullFrame(true) });
    const asFrame = (f: Run['frames'][number]): Frame =>
      new Frame({ ...f.event, tensor: f.tensor.buffer as ArrayBuffer }, tensor, () => {});
    const cropFrames = cropRun.frames.slice(1).map(asFrame);
    const wholeFrames = wholeRun.frames.slice(1).map(asFrame);
    assert.ok(cropFrames.every((f) => f.cropped && f.tensorWidth === 320));
    assert.ok(wholeFrames.every((f) => !f.cropped && f.tensorWidth === 416));
    // The crop sits at the same place relative to the person each time, so the crop tensors are identical.
    const rel = cropFrames.map((f, i) => ({ x: f.crop.x - positions[i]!.x, y: f.crop.y - positions[i]!.y, w: f.crop.width, h: f.crop.height }));
    assert.ok(rel.every((r) => JSON.stringify(r) === JSON.stringify(rel[0])), JSON.stringify(rel));
    // One mixed batch: the 320 crops and the 416 whole frames each go to their own session, batched by size.
    const inputs = [...cropFrames, ...wholeFrames].map(frameInput);
    const before = whole.stats();
    const results = await whole.detect(inputs);
    const after = whole.stats();
    assert.equal(after.bySize['320x320']!.runs - before.bySize['320x320']!.runs, 1);
    assert.equal(after.bySize['320x320']!.frames - before.bySize['320x320']!.frames, positions.length);
    assert.equal(after.bySize['416x416']!.runs - before.bySize['416x416']!.runs, 1);
    const fromCrops = results.slice(0, positions.length).map(people);
    const fromWhole = results.slice(positions.length).map(people);
    const first = fromCrops[0]![0]!;
    positions.forEach((p, i) => {
      assert.equal(fromCrops[i]!.length, 1, `position ${i}: ${fromCrops[i]!.length} people from the crop`);
      const b = fromCrops[i]![0]!.box;
      // Exact: the same detection, moved by the position difference (within 1 px; float32 leaves ~1e-4).
      const want = { x1: first.box.x1 + p.x - positions[0]!.x, y1: first.box.y1 + p.y - positions[0]!.y,
        x2: first.box.x2 + p.x - positions[0]!.x, y2: first.box.y2 + p.y - positions[0]!.y };
      for (const k of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(b[k] - want[k]) <= 1e-3, `position ${i} ${k}: ${b[k]} vs ${want[k]}`);
      assert.ok(Math.abs(fromCrops[i]![0]!.confidence - first.confidence) < 1e-5);
      // The known person, and the whole-frame path's box for the same frame.
      const known = { x1: person.x1 + p.x, y1: person.y1 + p.y, x2: person.x2 + p.x, y2: person.y2 + p.y };
      assert.ok(iou(b, known) >= 0.7, `position ${i}: IoU with the known person ${iou(b, known).toFixed(3)}`);
      const w = fromWhole[i]!;
      assert.equal(w.length, 1, `position ${i}: ${w.length} people in the whole frame`);
      assert.ok(iou(b, w[0]!.box) >= 0.7, `position ${i}: IoU crop vs whole ${iou(b, w[0]!.box).toFixed(3)}`);
    });
  } finally {
    await whole.close();
  }
});

test('detector: crop boxes are (tensor_px - pad) / scale + crop origin, clamped to the crop', async () => {
  const d = await Detector.create(nanodetPreset({ crop: { modelPath: nanodetPreset({ inputSize: 320 }).modelPath, inputWidth: 320, inputHeight: 320 } }));
  try {
    // A vtest frame letterboxed whole into 320x320 (tensor space = source space at scale 1, no crop).
    const src = decodeFrames(media('vtest.avi'), [100], 'rgb24')[0]!;
    const spec = d.cropTensorSpec()!;
    const pre = loadAddon().preprocessImage(src.pixels, { format: 'RGB', width: src.width, height: src.height }, spec);
    const tensorSpace = (await d.detect([{ tensor: pre.tensor, tensorWidth: 320, tensorHeight: 320,
      letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 320, sourceHeight: 320 } }]))[0]!;
    assert.ok(tensorSpace.length >= 3, `${tensorSpace.length} detections`);
    const lb = { scale: 0.37, padX: 6, padY: 10 };
    const crop = { x: 911, y: 403, width: 800, height: 830 };
    const mapped = (await d.detect([{ tensor: pre.tensor, tensorWidth: 320, tensorHeight: 320, crop,
      letterbox: { ...lb, sourceWidth: 1920, sourceHeight: 1080 } }]))[0]!;
    const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
    // Boxes left empty by the clamp (wholly outside the crop: here past its right edge) are dropped.
    const wanted = tensorSpace.map((t) => ({ ...t, box: {
      x1: clamp((t.box.x1 - lb.padX) / lb.scale, crop.width) + crop.x, y1: clamp((t.box.y1 - lb.padY) / lb.scale, crop.height) + crop.y,
      x2: clamp((t.box.x2 - lb.padX) / lb.scale, crop.width) + crop.x, y2: clamp((t.box.y2 - lb.padY) / lb.scale, crop.height) + crop.y,
    } })).filter((t) => t.box.x2 > t.box.x1 && t.box.y2 > t.box.y1);
    assert.ok(wanted.length >= 3 && wanted.length < tensorSpace.length, `${wanted.length} of ${tensorSpace.length} inside the crop`);
    assert.equal(mapped.length, wanted.length);
    mapped.forEach((m, i) => {
      const w = wanted[i]!;
      assert.equal(m.classId, w.classId);
      assert.equal(m.confidence, w.confidence);
      for (const k of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(m.box[k] - w.box[k]) < 0.01, `${k}: ${m.box[k]} vs ${w.box[k]}`);
    });
    // Sizes the detector has no session for are refused; so is a malformed crop.
    await assert.rejects(d.detect([{ tensor: new Float32Array(3 * 64 * 64), tensorWidth: 64, tensorHeight: 64, letterbox: { ...lb, sourceWidth: 64, sourceHeight: 64 } }]),
      /Expected a tensor size of 416x416 or 320x320 for inputs\[0\]/);
    await assert.rejects(d.detect([{ tensor: pre.tensor, tensorWidth: 320, tensorHeight: 320, crop: { x: 0, y: 0, width: 0, height: 5 },
      letterbox: { ...lb, sourceWidth: 64, sourceHeight: 64 } }]), /inputs\[0\]\.crop/);
  } finally {
    await d.close();
  }
  // A crop size equal to the main size needs no second session.
  const one = await Detector.create(nanodetPreset({ crop: { inputWidth: 416, inputHeight: 416 } }));
  assert.deepEqual(one.inputSizes, [{ width: 416, height: 416 }]);
  await one.close();
});

test('camera settings: regions parsed with defaults and handed to the native pipeline only when enabled', () => {
  const spec = parseTensorSpec({ regions: { enabled: true } });
  assert.deepEqual(spec.regions, { ...DEFAULT_REGIONS, enabled: true });
  assert.deepEqual(nativeRegionOptions(spec), { tensorWidth: 320, tensorHeight: 320, maxShare: 0.35, fullFrameEvery: 30, minSide: 160 });
  assert.equal(nativeRegionOptions(parseTensorSpec({ regions: { enabled: false } })), undefined);
  assert.equal(parseTensorSpec(undefined).regions, undefined);
  assert.throws(() => parseTensorSpec({ regions: { enabled: true, maxShare: 0 } }), /tensor\.regions\.maxShare/);
  assert.throws(() => parseTensorSpec({ regions: { enabled: 'yes' } }), /Expected a boolean for tensor\.regions\.enabled/);
  assert.throws(() => parseTensorSpec({ regions: { enabled: true, inputSize: 7 } }), /tensor\.regions\.inputSize/);
});

test('analysis interval: frames sooner than the interval (stream time) are skipped before any work, counted', async () => {
  const W = 64, H = 48;
  const frames = Array.from({ length: 30 }, () => plainI420(W, H, 90));
  // 15 fps (rawvideoparse stamps frame k at k x 66 666 666 ns), 200 ms: frames 0, 3, 6, ... (199 999 998 ns passes:
  // up to 2 ms early is allowed).
  const r = await play('rate', frames, W, H, { motion: false, setup: (p) => p.setAnalysisInterval(200) });
  assert.deepEqual(r.frames.map((f) => f.event.ptsNs), Array.from({ length: 10 }, (_, k) => 3 * k * 66_666_666));
  assert.equal(r.stats.framesIn, 30);
  assert.equal(r.stats.skippedRate, 20);
  assert.equal(r.stats.framesDelivered, 10);
  assert.equal(r.stats.analysisIntervalMs, 200);
  const none = await play('rate0', frames, W, H, { motion: false, setup: (p) => { p.setAnalysisInterval(200); p.setAnalysisInterval(0); } });
  assert.equal(none.stats.framesDelivered, 30);
  assert.equal(none.stats.skippedRate, 0);
  const p = new (loadAddon().Pipeline)({ cameraId: 'x', description: 'videotestsrc num-buffers=1 ! appsink name=sink', tensor: RAW_TENSOR,
    queueSize: 1, poolSize: 1, block: true, onEvent: () => {} });
  assert.throws(() => p.setAnalysisInterval(-1), /Expected a number of milliseconds/);
  p.close();
});

test('Camera.setAnalysisRate at run time lowers and raises the frames handed on (live source), skippedRate counted', async () => {
  const cam = new Camera(cameraSettings('rate', { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 15, live: true }));
  const pts: number[] = [];
  cam.on('frame', (f) => {
    pts.push(f.ptsNs);
    f.release();
  });
  assert.throws(() => cam.setAnalysisRate(-1), /Expected a number of frames per second/);
  try {
    cam.setAnalysisRate(2);  // before start: kept for the pipeline it builds
    cam.start();
    await until(() => pts.length >= 3, 10_000, '3 frames at 2 fps');
    const slow = pts.length;
    const slowPts = pts.slice();
    cam.setAnalysisRate(0);
    const mark = pts.length;
    await until(() => pts.length >= mark + 10, 10_000, '10 frames at the full rate');
    const fast = pts.slice(mark + 1);
    cam.setAnalysisRate(2);
    const mark2 = pts.length;
    await until(() => pts.length >= mark2 + 3, 10_000, '3 more frames at 2 fps');
    const slowAgain = pts.slice(mark2 + 1);
    const gaps = (xs: number[]): number[] => xs.slice(1).map((x, i) => (x - xs[i]!) / 1e6);
    // At 2 fps consecutive analysed frames are >= 498 ms apart in stream time; at the full rate 66.7 ms.
    assert.ok(gaps(slowPts).every((g) => g >= 498), `slow gaps ${gaps(slowPts)}`);
    assert.ok(gaps(fast).every((g) => Math.abs(g - 1000 / 15) < 1), `fast gaps ${gaps(fast)}`);
    assert.ok(gaps(slowAgain).every((g) => g >= 498), `slow again ${gaps(slowAgain)}`);
    const c = cam.counters();
    assert.ok(slow >= 3);
    // Skipped frames at 2 of 15 fps: about 6.5 per analysed frame in the slow phases.
    assert.ok(c.skippedRate >= 5 * (slowPts.length - 1), `skippedRate ${c.skippedRate}`);
    assert.equal(c.framesCropped, 0);
  } finally {
    cam.close();
  }
});
