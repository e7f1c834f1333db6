/**
 * Source frames (issue 3 item 7): deep copies of decoded frames captured from real pipelines (vtest.avi and
 * videotestsrc), JPEG encode / decode through GStreamer, tensor crops by the native preprocessor, the retained-bytes
 * budget, and the lifetime rules (close during work, frames outliving their pipeline).
 *
 * Tolerances: JPEG is lossy. Full frames are compared as RGB (the native I420 -> RGB conversion on both sides)
 * by mean absolute difference; flat colour areas of a test pattern must come back within 6 levels per channel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadAddon, type NativeSourceFrame, type NativeTensorSpec } from '../../bindings/index.js';
import { CameraPipeline } from '../../src/camera/pipeline.js';
import { parseSource, type CameraSource } from '../../src/camera/source.js';
import { setSourceFrameBudget, SourceFrame, sourceFrameStats } from '../../src/camera/source-frame.js';
import type { Frame } from '../../src/camera/frame.js';
import type { TensorSpec } from '../../src/camera/tensor.js';

const addon = loadAddon();
const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
const DEFAULT_BUDGET = 256 * 1024 * 1024;

/** RGB bytes of a whole frame at its own size: scale 1, no letterbox, the preprocessor's exact YUV -> RGB. */
function rgbSpec(width: number, height: number): TensorSpec {
  return { width, height, layout: 'nhwc-u8', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] };
}

async function rgbOf(frame: SourceFrame): Promise<Uint8Array> {
  return new Uint8Array(await frame.cropTensor({ x1: 0, y1: 0, x2: frame.width, y2: frame.height }, rgbSpec(frame.width, frame.height)));
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

function pixel(rgb: Uint8Array, width: number, x: number, y: number): [number, number, number] {
  const i = (y * width + x) * 3;
  return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
}

function assertNear(actual: number[], expected: number[], tolerance: number, what: string): void {
  const ok = actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
  assert.ok(ok, `${what}: ${JSON.stringify(actual)} not within ${tolerance} of ${JSON.stringify(expected)}`);
}

/**
 * Runs a camera pipeline to its end of stream. `onFrame` returns true to keep the Frame leased (the test releases
 * it); the pipeline is handed back still open so the test decides when it closes.
 */
function runCamera(
  source: CameraSource,
  tensor: TensorSpec,
  onFrame: (f: Frame) => boolean | void,
): Promise<CameraPipeline> {
  return new Promise((resolve, reject) => {
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'cam',
      source,
      tensor,
      detectFps: 0,
      decoder: { threads: 1 },
      block: true,
      poolSize: 4,
      onFrame: (f) => {
        if (onFrame(f) !== true) f.release();
      },
      onError: (e) => {
        p.close();
        reject(e);
      },
      onEos: () => resolve(p),
    });
    p.start();
  });
}

test('captureSource on live vtest frames: a deep copy of the decoded I420 frame, exact and crop-exact', async () => {
  assert.equal(sourceFrameStats().frames, 0);
  const tensor = rgbSpec(768, 576);
  let captured: { src: SourceFrame; tensor: Uint8Array; sequence: number } | undefined;
  const p = await runCamera(parseSource({ kind: 'file', path: VTEST, realtime: false }), tensor, (f) => {
    if (f.sequence !== 100) return;
    const src = f.captureSource();
    assert.ok(src);
    captured = { src, tensor: new Uint8Array(f.tensor.slice(0)), sequence: f.sequence };
  });
  p.close();
  const { src } = captured!;
  assert.equal(src.format, 'I420');
  assert.deepEqual([src.width, src.height, src.byteLength], [768, 576, 768 * 576 * 3 / 2]);
  assert.equal(src.origin?.cameraId, 'cam');
  assert.equal(src.origin?.sequence, 100);
  assert.deepEqual(sourceFrameStats().frames, 1);
  assert.equal(sourceFrameStats().bytes, 663552);

  // The frame's own tensor was made from the decoded sample by the same preprocessor at scale 1: the copy's
  // tensor must match it byte for byte (all three planes copied right, after the pipeline is gone).
  const rgb = await rgbOf(src);
  assert.deepEqual(rgb, captured!.tensor);

  // An odd-origin crop at scale 1 reads the same pixels: equal inside, the border within the chroma clamp.
  const crop = new Uint8Array(await src.cropTensor({ x1: 101, y1: 51, x2: 301, y2: 251 }, rgbSpec(200, 200)));
  let worst = 0;
  for (let y = 0; y < 200; y++) {
    for (let x = 0; x < 200; x++) {
      const a = pixel(crop, 200, x, y);
      const b = pixel(rgb, 768, 101 + x, 51 + y);
      const d = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      if (x > 0 && y > 0 && x < 199 && y < 199) assert.equal(d, 0, `crop pixel (${x}, ${y})`);
      worst = Math.max(worst, d);
    }
  }
  assert.ok(worst <= 40, `crop border differs by ${worst}`);

  // Full-frame JPEG: decodes (decodeJpeg) to the same size, close to the source.
  const jpeg = await src.encodeJpeg({ quality: 90 });
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  const back = await SourceFrame.decodeJpeg(jpeg);
  assert.deepEqual([back.width, back.height], [768, 576]);
  const err = meanAbsDiff(await rgbOf(back), rgb);
  assert.ok(err < 4, `full frame mean abs error ${err}`);
  back.close();

  // A crop's JPEG has the crop's size, even-aligned for I420: (589.4, 153, 619, 236) -> x 589 -> 588, y 153 -> 152,
  // width 30 (589..618 -> 31 -> 30), height 83 -> 82.
  const cj = await SourceFrame.decodeJpeg(await src.encodeJpeg({ crop: { x1: 589.4, y1: 153, x2: 619, y2: 236 } }));
  assert.deepEqual([cj.width, cj.height], [30, 82]);
  const cjRgb = await rgbOf(cj);
  const ref = new Uint8Array(30 * 82 * 3);
  for (let y = 0; y < 82; y++) ref.set(rgb.subarray(((152 + y) * 768 + 588) * 3, ((152 + y) * 768 + 618) * 3), y * 30 * 3);
  const cerr = meanAbsDiff(cjRgb, ref);
  assert.ok(cerr < 6, `crop mean abs error ${cerr}`);
  cj.close();
  src.close();
  assert.deepEqual(sourceFrameStats().frames, 0);
  assert.deepEqual(sourceFrameStats().bytes, 0);
});

test('a known videotestsrc pattern survives capture -> JPEG -> decodeJpeg (bar colours within 6 levels)', async () => {
  let src: SourceFrame | null = null;
  const p = await runCamera(
    parseSource({ kind: 'test', pattern: 'smpte100', width: 448, height: 240, fps: 30, live: false, numBuffers: 3 }),
    rgbSpec(448, 240),
    (f) => {
      if (f.sequence === 1) src = f.captureSource();
    },
  );
  p.close();
  const frame = src! as SourceFrame;
  assert.deepEqual([frame.format, frame.width, frame.height], ['I420', 448, 240]);
  const jpeg = await frame.encodeJpeg({ quality: 95 });
  const decoded = await SourceFrame.decodeJpeg(jpeg);
  // jpegenc is fed RGB, so the JPEG is 4:4:4 and decodes to RGB.
  assert.deepEqual([decoded.format, decoded.width, decoded.height], ['RGB', 448, 240]);
  const rgb = await rgbOf(decoded);
  // Seven 100% bars of 64 pixels in the top two thirds: white, yellow, cyan, green, magenta, red, blue.
  const bars: Array<[number, number, number]> = [[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0], [255, 0, 255], [255, 0, 0], [0, 0, 255]];
  bars.forEach((colour, i) => assertNear(pixel(rgb, 448, i * 64 + 32, 80), colour, 6, `bar ${i}`));
  const err = meanAbsDiff(rgb, await rgbOf(frame));
  assert.ok(err < 3, `mean abs error ${err}`);
  // A crop at an odd position comes back even-aligned: (101, 31)-(200, 120) -> x 100, y 30, 98x88.
  const crop = await SourceFrame.decodeJpeg(await frame.encodeJpeg({ crop: { x1: 101, y1: 31, x2: 200, y2: 120 } }));
  assert.deepEqual([crop.width, crop.height], [98, 88]);
  // x 100..197 spans bar 1 (yellow, to 127) and bar 2 (cyan, from 128).
  const c = await rgbOf(crop);
  assertNear(pixel(c, 98, 10, 40), [255, 255, 0], 6, 'crop yellow');
  assertNear(pixel(c, 98, 60, 40), [0, 255, 255], 6, 'crop cyan');
  crop.close();
  decoded.close();
  frame.close();
  assert.equal(sourceFrameStats().frames, 0);
});

test('stale leases on the native pipeline: a wrong generation and a released slot give null, counted', async () => {
  const before = sourceFrameStats();
  const results = await new Promise<Array<NativeSourceFrame | null>>((resolve, reject) => {
    const out: Array<NativeSourceFrame | null> = [];
    const pipe = new addon.Pipeline({
      cameraId: 'stale',
      description: 'videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=48 ! appsink name=sink',
      tensor: rgbSpec(16, 16),
      queueSize: 1,
      poolSize: 2,
      block: true,
      onEvent: (e) => {
        if (e.type === 'frame' && out.length === 0) {
          out.push(pipe.captureSource(e.slot, e.generation + 1));
          out.push(pipe.captureSource(e.slot, e.generation));
          pipe.release(e.tensor, e.slot, e.generation);
          out.push(pipe.captureSource(e.slot, e.generation));
        } else if (e.type === 'frame') {
          pipe.release(e.tensor, e.slot, e.generation);
        } else if (e.type === 'eos') {
          pipe.close();
          resolve(out);
        } else if (e.type === 'error') {
          pipe.close();
          reject(new Error(e.message));
        }
      },
    });
    pipe.start();
  });
  assert.equal(results[0], null);
  const nv12 = results[1]!;
  assert.deepEqual([nv12.format, nv12.width, nv12.height, nv12.byteLength], ['NV12', 64, 48, 64 * 48 * 3 / 2]);
  assert.equal(results[2], null);
  nv12.close();
  const after = sourceFrameStats();
  assert.equal(after.stale, before.stale + 2);
  assert.equal(after.frames, 0);
});

test('capture rules: after release, the budget, stale after close, close() idempotent, use after close', async () => {
  const before = sourceFrameStats();
  let released: Frame | undefined;
  let kept: Frame | undefined;
  let overBudget: SourceFrame | null | undefined;
  let refusedAfter = -1;
  let firstCapture: SourceFrame | null = null;
  const p = await runCamera(
    parseSource({ kind: 'test', pattern: 'smpte', width: 320, height: 240, fps: 30, live: false, numBuffers: 5 }),
    rgbSpec(64, 64),
    (f) => {
      if (f.sequence === 0) {
        f.release();
        released = f;
        return true;
      }
      if (f.sequence === 1) {
        setSourceFrameBudget(320 * 240 * 3 / 2 - 1);
        overBudget = f.captureSource();
        refusedAfter = sourceFrameStats().refused;
        setSourceFrameBudget(DEFAULT_BUDGET);
        firstCapture = f.captureSource();
        return;
      }
      if (f.sequence === 2) {
        kept = f;
        return true;
      }
    },
  );
  // The pipeline is at end of stream but still open; closing it drops the decoded samples of leases still held.
  p.close();
  assert.throws(() => released!.captureSource(), {
    name: 'VigilError',
    code: 'E_CLOSED',
    message: 'Frame 0 of camera cam was released: captureSource() must be called before release()',
  });
  assert.equal(overBudget, null);
  assert.equal(refusedAfter, before.refused + 1);
  assert.equal(kept!.captureSource(), null, 'a lease whose pipeline closed is stale');
  kept!.release();
  const after = sourceFrameStats();
  assert.equal(after.stale, before.stale + 1);
  assert.equal(after.refused, before.refused + 1);
  assert.equal(after.budgetBytes, DEFAULT_BUDGET);

  const frame = firstCapture! as SourceFrame;
  assert.equal(frame.closed, false);
  frame.close();
  frame.close();
  assert.equal(frame.closed, true);
  assert.deepEqual([frame.format, frame.width, frame.height], ['I420', 320, 240], 'metadata stays readable');
  await assert.rejects(frame.encodeJpeg(), { name: 'VigilClosedError', code: 'E_CLOSED', message: 'SourceFrame is closed: encodeJpeg() called after close()' });
  await assert.rejects(frame.cropTensor({ x1: 0, y1: 0, x2: 10, y2: 10 }, rgbSpec(8, 8)), {
    code: 'E_CLOSED', message: 'SourceFrame is closed: cropTensor() called after close()',
  });
  assert.equal(sourceFrameStats().frames, 0);
});

test('close() while an encode and a crop are in flight: both finish, then the memory is freed', async () => {
  const w = 640;
  const h = 480;
  const px = new Uint8Array(w * h * 3).fill(200);
  const frame = SourceFrame.fromPixels(px, { format: 'RGB', width: w, height: h });
  assert.deepEqual(sourceFrameStats().frames, 1);
  assert.equal(sourceFrameStats().bytes, w * h * 3);
  const encoding = frame.encodeJpeg({ quality: 80 });
  const cropping = frame.cropTensor({ x1: 0, y1: 0, x2: 64, y2: 64 }, rgbSpec(8, 8));
  frame.close();
  assert.equal(frame.closed, true);
  // Still held by the two workers.
  assert.deepEqual(sourceFrameStats().frames, 1);
  const [jpeg, tensor] = await Promise.all([encoding, cropping]);
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  assert.deepEqual([...new Uint8Array(tensor)].slice(0, 6), [200, 200, 200, 200, 200, 200]);
  assert.deepEqual(sourceFrameStats().frames, 0);
  assert.deepEqual(sourceFrameStats().bytes, 0);
});

test('cropTensor: exact values on four coloured quadrants, nhwc-f32 and nchw-f32, clamped boxes', async () => {
  // 64x32 RGB: red | green over blue | white.
  const W = 64;
  const H = 32;
  const px = new Uint8Array(W * H * 3);
  const colours: Array<[number, number, number]> = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.set(colours[(y < 16 ? 0 : 2) + (x < 32 ? 0 : 1)]!, (y * W + x) * 3);
  const frame = SourceFrame.fromPixels(px, { format: 'RGB', width: W, height: H });

  // Whole frame into 16x16: scale 0.25 -> 16x8 at padY 4; every sample blends two pixels of one quadrant.
  const nhwc: TensorSpec = { width: 16, height: 16, layout: 'nhwc-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [114, 115, 116] };
  const a = new Float32Array(await frame.cropTensor({ x1: 0, y1: 0, x2: W, y2: H }, nhwc));
  assert.equal(a.length, 16 * 16 * 3);
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const want = y < 4 || y >= 12 ? [114, 115, 116] : colours[(y < 8 ? 0 : 2) + (x < 8 ? 0 : 1)]!;
      assert.deepEqual([...a.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3)], want, `nhwc (${x}, ${y})`);
    }
  }

  // nchw-f32, BGR, normalized: channel planes of (v - mean) / std.
  const nchw: TensorSpec = { width: 16, height: 16, layout: 'nchw-f32', colorOrder: 'bgr', mean: [10, 20, 30], std: [2, 4, 8], padColor: [114, 115, 116] };
  const b = new Float32Array(await frame.cropTensor({ x1: 0, y1: 0, x2: W, y2: H }, nchw));
  const norm = ([r, g, bl]: number[]): number[] => [(bl! - 10) / 2, (g! - 20) / 4, (r! - 30) / 8];
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const want = norm(y < 4 || y >= 12 ? [114, 115, 116] : colours[(y < 8 ? 0 : 2) + (x < 8 ? 0 : 1)]!);
      assert.deepEqual([b[y * 16 + x], b[256 + y * 16 + x], b[512 + y * 16 + x]], want, `nchw (${x}, ${y})`);
    }
  }

  // The green quadrant alone into 8x8: 8x4 at padY 2, all green inside.
  const g = new Float32Array(await frame.cropTensor({ x1: 32, y1: 0, x2: 64, y2: 16 }, { ...nhwc, width: 8, height: 8 }));
  for (let y = 2; y < 6; y++) for (let x = 0; x < 8; x++) assert.deepEqual([...g.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3)], [0, 255, 0]);
  // A box reaching outside the frame and with fractional edges is clamped / widened: (0, 0)-(32, 16) = red only.
  const r = new Float32Array(await frame.cropTensor({ x1: -10, y1: -5, x2: 31.2, y2: 15.5 }, { ...nhwc, width: 8, height: 8 }));
  for (let y = 2; y < 6; y++) for (let x = 0; x < 8; x++) assert.deepEqual([...r.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3)], [255, 0, 0]);
  // The embedder's input: 128x256 NHWC float RGB 0..255.
  const emb = await frame.cropTensor({ x1: 32, y1: 16, x2: 64, y2: 32 }, { width: 128, height: 256, layout: 'nhwc-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] });
  assert.equal(emb.byteLength, 128 * 256 * 3 * 4);
  const e = new Float32Array(emb);
  // 32x16 -> scale 4 -> 128x64 at padY 96.
  assert.deepEqual([...e.subarray((100 * 128 + 64) * 3, (100 * 128 + 64) * 3 + 3)], [255, 255, 255]);
  assert.deepEqual([...e.subarray(0, 3)], [0, 0, 0]);

  // Validation, TypeScript side, in the one message shape.
  await assert.rejects(frame.cropTensor({ x1: Number.NaN, y1: 0, x2: 1, y2: 1 }, nhwc), { code: 'E_ARGUMENT', message: 'Expected a finite number for box.x1 but received NaN' });
  await assert.rejects(frame.cropTensor({ x1: 10, y1: 0, x2: 10, y2: 1 }, nhwc), { message: 'Expected a number greater than box.x1 (10) for box.x2 but received 10' });
  await assert.rejects(frame.cropTensor({ x1: 100, y1: 0, x2: 120, y2: 10 }, nhwc), {
    message: 'Expected a box overlapping the 64x32 frame for box but received { x1: 100, y1: 0, x2: 120, y2: 10 }',
  });
  await assert.rejects(frame.cropTensor({ x1: 0, y1: 0, x2: 1, y2: 1 }, { ...nhwc, layout: 'nchw' as 'nchw-f32' }), {
    message: 'Expected one of "nchw-f32", "nhwc-u8", "nhwc-f32" for spec.layout but received "nchw"',
  });
  await assert.rejects(frame.encodeJpeg({ quality: 0 }), { message: 'Expected an integer from 1 to 100 for options.quality but received 0' });
  // Native checks behind it (TypeError, same shape) for direct callers.
  const native = addon.sourceFrameFromPixels(px, { format: 'RGB', width: W, height: H });
  assert.throws(() => native.cropTensor({ x: 60, y: 0, width: 5, height: 1 }, nhwc as NativeTensorSpec), {
    name: 'TypeError', message: 'Expected an integer from 1 to 4 for box.width but received 5',
  });
  assert.throws(() => native.encodeJpeg({ crop: { x: 0, y: 32, width: 1, height: 1 } }), {
    name: 'TypeError', message: 'Expected an integer from 0 to 31 for options.crop.y but received 32',
  });
  native.close();
  frame.close();
  assert.equal(sourceFrameStats().frames, 0);
});

test('fromPixels: strided I420 and NV12 copies, validation', async () => {
  // 16x8 I420 with a 20-byte luma stride (chroma stride 10), full range: Y = 16 + 10x, U = V = 128 -> grey ramp.
  const stride = 20;
  const buf = new Uint8Array(stride * 8 + 10 * 4 * 2).fill(128);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) buf[y * stride + x] = 16 + x * 10;
  const i420 = SourceFrame.fromPixels(buf, { format: 'I420', width: 16, height: 8, stride, fullRange: true });
  assert.deepEqual([i420.format, i420.width, i420.height, i420.byteLength], ['I420', 16, 8, 16 * 8 + 2 * 8 * 4]);
  const rgb = await rgbOf(i420);
  const ramp = Array.from({ length: 16 }, (_, x) => [16 + x * 10, 16 + x * 10, 16 + x * 10]).flat();
  for (let y = 0; y < 8; y++) assert.deepEqual([...rgb.subarray(y * 48, y * 48 + 48)], ramp, `row ${y}`);
  // NV12 with the same luma, tight.
  const nv = new Uint8Array(16 * 8 + 16 * 4).fill(128);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) nv[y * 16 + x] = 16 + x * 10;
  const nv12 = SourceFrame.fromPixels(nv, { format: 'NV12', width: 16, height: 8, fullRange: true });
  assert.deepEqual(await rgbOf(nv12), rgb);
  i420.close();
  nv12.close();
  assert.throws(() => SourceFrame.fromPixels(new Uint8Array(10), { format: 'YUY2' as 'I420', width: 2, height: 2 }), {
    code: 'E_ARGUMENT', message: 'Expected one of "I420", "NV12", "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx" for image.format but received "YUY2"',
  });
  assert.throws(() => SourceFrame.fromPixels(new Uint8Array(11), { format: 'RGB', width: 2, height: 2 }), {
    code: 'E_ARGUMENT', message: 'Expected at least 12 bytes for pixels but received 11',
  });
  assert.throws(() => addon.sourceFrameFromPixels(new Uint8Array(5), { format: 'I420', width: 3, height: 2 }), {
    name: 'RangeError', message: 'Expected at least 10 bytes for pixels but received 5',
  });
  assert.throws(() => setSourceFrameBudget(-1), { code: 'E_ARGUMENT', message: 'Expected a non-negative integer for bytes but received -1' });
  assert.throws(() => addon.setSourceFrameBudget(1.5), { name: 'TypeError', message: 'Expected a non-negative integer for bytes but received 1.5' });
  assert.throws(() => new (addon.SourceFrame as unknown as new () => unknown)(), {
    code: 'E_ARGUMENT', message: 'SourceFrame has no public constructor: use Pipeline.captureSource(), sourceFrameFromPixels() or decodeJpeg()',
  });
  assert.equal(sourceFrameStats().frames, 0);
});

test('decodeJpeg: garbage, truncated, oversized (from the header, before decoding), bad options', async () => {
  const frame = SourceFrame.fromPixels(new Uint8Array(320 * 240 * 3).fill(90), { format: 'RGB', width: 320, height: 240 });
  const jpeg = await frame.encodeJpeg();
  frame.close();
  const ok = await SourceFrame.decodeJpeg(jpeg, { maxPixels: 320 * 240 });
  assert.deepEqual([ok.width, ok.height], [320, 240]);
  ok.close();
  const fail = (data: Uint8Array, message: string, options?: { maxPixels?: number }) =>
    assert.rejects(SourceFrame.decodeJpeg(data, options), { code: 'E_SNAPSHOT_DECODE', message });
  await fail(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]), 'Not a JPEG image: the data does not start with a JPEG start-of-image marker');
  await fail(new Uint8Array(0), 'Not a JPEG image: the data does not start with a JPEG start-of-image marker');
  await fail(jpeg.subarray(0, 100), 'Truncated JPEG image: the data ends inside its headers (100 bytes)');
  await fail(jpeg.subarray(0, jpeg.length - 40), 'Truncated JPEG image: no end-of-image marker after the image data');
  await fail(jpeg, 'JPEG image of 320x240 pixels (76800) is over the limit of 76799 pixels', { maxPixels: 76799 });
  // The same JPEG claiming 5000x4000 in its frame header: refused by the default 16 000 000 limit, undecoded.
  const big = Buffer.from(jpeg);
  const sof = big.indexOf(Buffer.from([0xff, 0xc0]));
  assert.ok(sof > 0);
  big.writeUInt16BE(4000, sof + 5);
  big.writeUInt16BE(5000, sof + 7);
  await fail(big, 'JPEG image of 5000x4000 pixels (20000000) is over the limit of 16000000 pixels');
  // Header checks beyond the size: only 8-bit samples.
  const twelveBit = Buffer.from(jpeg);
  twelveBit[sof + 4] = 12;
  await fail(twelveBit, 'Unsupported JPEG image: 12-bit samples (only 8-bit JPEGs are decoded)');
  // Intact markers but a Huffman table libjpeg rejects: libjpeg's own reason (native/jpeg_decode.cc).
  const badTable = Buffer.from(jpeg);
  const dht = badTable.indexOf(Buffer.from([0xff, 0xc4]));
  badTable.fill(0xee, dht + 5, dht + 20);
  await fail(badTable, 'JPEG decoding failed: Bogus Huffman table definition');
  await assert.rejects(SourceFrame.decodeJpeg(jpeg, { maxPixels: 0 }), { code: 'E_ARGUMENT', message: 'Expected a positive integer for options.maxPixels but received 0' });
  await assert.rejects(SourceFrame.decodeJpeg('x' as unknown as Uint8Array), { code: 'E_ARGUMENT', message: 'Expected a Uint8Array for jpeg but received "x"' });
  assert.equal(sourceFrameStats().frames, 0);
});

test('300 frames with captures: the pipeline closes cleanly, kept frames outlive it, stats return to 0', async () => {
  const kept: SourceFrame[] = [];
  let frames = 0;
  let last: Frame | undefined;
  const p = await runCamera(
    parseSource({ kind: 'test', pattern: 'ball', width: 640, height: 360, fps: 30, live: false, numBuffers: 300 }),
    { width: 160, height: 160, layout: 'nchw-f32', colorOrder: 'bgr', mean: [0, 0, 0], std: [1, 1, 1], padColor: [114, 114, 114] },
    (f) => {
      frames++;
      const src = f.captureSource();
      assert.ok(src, `capture of frame ${f.sequence}`);
      if (f.sequence % 30 === 0) kept.push(src);
      else src.close();
      if (last) last.release();
      last = f;
      return true; // held until the next frame: a lease with its sample across a frame boundary
    },
  );
  const stats = p.stats();
  assert.equal(frames, 300);
  assert.equal(stats.framesDelivered, 300);
  assert.equal(stats.poolInUse, 1);
  p.close();
  assert.equal(p.closed, true);
  assert.equal(addon.openPipelines(), 0);
  // The last frame's lease lost its sample with the pipeline.
  assert.equal(last!.captureSource(), null);
  last!.release();
  assert.equal(kept.length, 10);
  assert.equal(sourceFrameStats().frames, 10);
  const jpegs = await Promise.all(kept.map((k) => k.encodeJpeg({ quality: 70 })));
  for (const j of jpegs) assert.deepEqual([...j.subarray(0, 2)], [0xff, 0xd8]);
  const sizes = await Promise.all(jpegs.map(async (j) => {
    const d = await SourceFrame.decodeJpeg(j);
    d.close();
    return `${d.width}x${d.height}`;
  }));
  assert.deepEqual(new Set(sizes), new Set(['640x360']));
  for (const k of kept) k.close();
  assert.deepEqual(sourceFrameStats().frames, 0);
  assert.deepEqual(sourceFrameStats().bytes, 0);
});

test('native argument checks on Pipeline.captureSource', () => {
  const pipe = new addon.Pipeline({
    cameraId: 'args',
    description: 'videotestsrc num-buffers=1 ! appsink name=sink',
    tensor: rgbSpec(16, 16),
    queueSize: 1,
    poolSize: 1,
    block: true,
    onEvent: (_e: unknown) => {},
  });
  assert.throws(() => pipe.captureSource(256, 1), { name: 'TypeError', message: 'Expected an integer from 0 to 255 for slot but received 256' });
  assert.throws(() => pipe.captureSource(0, -1), { name: 'TypeError', message: 'Expected an integer from 0 to 4294967295 for generation but received -1' });
  assert.equal(pipe.captureSource(0, 1), null, 'nothing leased yet');
  pipe.close();
  assert.equal(pipe.captureSource(0, 1), null, 'after close');
});


test('encodeJpeg maxWidth: scaled natively (aspect kept, never up), quadrant colours intact, crop then scale', async () => {
  // 1280x720 I420 in four flat quadrants (BT.601 limited-range YUV of red, green, blue, white).
  const W = 1280;
  const H = 720;
  const yuv: Array<[number, number, number]> = [[81, 90, 240], [145, 54, 34], [41, 240, 110], [235, 128, 128]];
  const px = new Uint8Array(W * H * 3 / 2);
  const q = (x: number, y: number): number => (y < H / 2 ? 0 : 2) + (x < W / 2 ? 0 : 1);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px[y * W + x] = yuv[q(x, y)]![0];
  for (let y = 0; y < H / 2; y++) {
    for (let x = 0; x < W / 2; x++) {
      px[W * H + y * (W / 2) + x] = yuv[q(x * 2, y * 2)]![1];
      px[W * H * 5 / 4 + y * (W / 2) + x] = yuv[q(x * 2, y * 2)]![2];
    }
  }
  const frame = SourceFrame.fromPixels(px, { format: 'I420', width: W, height: H, matrix: 'bt601', fullRange: false });
  try {
    const full = await frame.encodeJpeg({ quality: 90 });
    const small = await frame.encodeJpeg({ quality: 90, maxWidth: 640 });
    assert.ok(small.byteLength < full.byteLength, `${small.byteLength} < ${full.byteLength}`);
    const d = await SourceFrame.decodeJpeg(small);
    try {
      assert.deepEqual([d.width, d.height], [640, 360]);
      const rgb = await rgbOf(d);
      const want: Array<[number, number, number]> = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
      for (const [i, [x, y]] of [[160, 90], [480, 90], [160, 270], [480, 270]].entries()) {
        assertNear(pixel(rgb, 640, x!, y!), want[i]!, 12, `quadrant ${i}`);
      }
    } finally {
      d.close();
    }
    // Crop first (the green quadrant, 640x360), then at most 100 wide: 100x56 (56.25 rounded).
    const crop = await SourceFrame.decodeJpeg(await frame.encodeJpeg({ crop: { x1: 640, y1: 0, x2: 1280, y2: 360 }, maxWidth: 100 }));
    assert.deepEqual([crop.width, crop.height], [100, 56]);
    assertNear(pixel(await rgbOf(crop), 100, 50, 28), [0, 255, 0], 12, 'green crop');
    crop.close();
    // Never scaled up: a width over the frame's keeps its size.
    const same = await SourceFrame.decodeJpeg(await frame.encodeJpeg({ maxWidth: 4000 }));
    assert.deepEqual([same.width, same.height], [1280, 720]);
    same.close();
    await assert.rejects(frame.encodeJpeg({ maxWidth: 0 }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 16384 for options.maxWidth but received 0' });
  } finally {
    frame.close();
  }
});
