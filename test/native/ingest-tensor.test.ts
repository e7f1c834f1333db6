/**
 * The native frame path on known test patterns: letterbox geometry and exact tensor values at chosen coordinates,
 * for every layout, both colour orders, and both the packed-RGB and the I420 (decoder output) paths.
 *
 * 832x468 -> 416x416 is an exact 0.5 downscale, so every sampled tensor pixel averages two source pixels of the
 * same bar/square: the expected values are the pattern's own colours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon, type NativeFrameEvent, type NativeTensorSpec } from '../../bindings/index.js';

const addon = loadAddon();
const W = 416;
const PAD_Y = 91; // (416 - 234) / 2

function grabOne(description: string, tensor: NativeTensorSpec): Promise<{ frame: NativeFrameEvent; data: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const p = new addon.Pipeline({
      cameraId: 'pattern',
      description,
      tensor,
      queueSize: 2,
      poolSize: 2,
      block: true,
      onEvent: (e) => {
        if (e.type === 'frame') {
          const copy = new Uint8Array(e.tensor.slice(0));
          p.release(e.tensor, e.slot, e.generation);
          p.close();
          resolve({ frame: e, data: copy });
        } else if (e.type === 'error') {
          p.close();
          reject(new Error(e.message));
        }
      },
    });
    p.start();
  });
}

const spec = (layout: 'nchw-f32' | 'nhwc-u8' | 'nhwc-f32', colorOrder: 'rgb' | 'bgr'): NativeTensorSpec => ({
  width: W,
  height: W,
  layout,
  colorOrder,
  mean: [10, 20, 30],
  std: [2, 4, 8],
  padColor: [114, 115, 116],
});

// Tensor x at the centre of each of the seven 100% SMPTE bars, with the bar's RGB colour.
const BARS: Array<[number, [number, number, number]]> = [
  [30, [255, 255, 255]],
  [89, [255, 255, 0]],
  [148, [0, 255, 255]],
  [208, [0, 255, 0]],
  [267, [255, 0, 255]],
  [326, [255, 0, 0]],
  [386, [0, 0, 255]],
];
const SMPTE_RGB = 'videotestsrc pattern=smpte num-buffers=1 ! video/x-raw,format=RGB,width=832,height=468 ! appsink name=sink';

test('letterbox geometry of a 832x468 frame into 416x416', async () => {
  const { frame } = await grabOne(SMPTE_RGB, spec('nhwc-u8', 'rgb'));
  assert.equal(frame.sourceWidth, 832);
  assert.equal(frame.sourceHeight, 468);
  assert.equal(frame.scale, 0.5);
  assert.equal(frame.padX, 0);
  assert.equal(frame.padY, PAD_Y);
  assert.equal(frame.tensor.byteLength, 0, 'released tensor is detached');
});

test('NHWC uint8, RGB order: bar colours and the border colour', async () => {
  const { data } = await grabOne(SMPTE_RGB, spec('nhwc-u8', 'rgb'));
  const at = (x: number, y: number) => [...data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
  for (const [x, rgb] of BARS) assert.deepEqual(at(x, PAD_Y + 50), rgb, `bar at x=${x}`);
  assert.deepEqual(at(200, 10), [114, 115, 116], 'top border');
  assert.deepEqual(at(200, PAD_Y - 1), [114, 115, 116], 'last border row above the image');
  assert.deepEqual(at(30, PAD_Y), [255, 255, 255], 'first image row');
  assert.deepEqual(at(30, PAD_Y + 233), [0, 0, 128], 'last image row (bottom-left PLUGE block)');
  assert.deepEqual(at(30, PAD_Y + 234), [114, 115, 116], 'first border row below the image');
});

test('NHWC uint8, BGR order swaps the channels', async () => {
  const { data } = await grabOne(SMPTE_RGB, spec('nhwc-u8', 'bgr'));
  const at = (x: number, y: number) => [...data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
  assert.deepEqual(at(89, PAD_Y + 50), [0, 255, 255], 'yellow as B,G,R');
  assert.deepEqual(at(326, PAD_Y + 50), [0, 0, 255], 'red as B,G,R');
  assert.deepEqual(at(200, 10), [116, 115, 114], 'border as B,G,R');
});

test('NCHW float32 normalized, RGB and BGR orders', async () => {
  for (const order of ['rgb', 'bgr'] as const) {
    const { data } = await grabOne(SMPTE_RGB, spec('nchw-f32', order));
    const f = new Float32Array(data.buffer);
    const plane = W * W;
    const at = (x: number, y: number) => [0, 1, 2].map((c) => f[c * plane + y * W + x]);
    const norm = (px: [number, number, number]) => {
      const ch = order === 'rgb' ? px : ([px[2], px[1], px[0]] as const);
      return [Math.fround((ch[0] - 10) / 2), Math.fround((ch[1] - 20) / 4), Math.fround((ch[2] - 30) / 8)];
    };
    for (const [x, rgb] of BARS) assert.deepEqual(at(x, PAD_Y + 50), norm(rgb), `${order} bar at x=${x}`);
    assert.deepEqual(at(5, 5), norm([114, 115, 116]), `${order} border`);
  }
  // Spelled out once: red in RGB order is (255-10)/2, (0-20)/4, (0-30)/8.
  const { data } = await grabOne(SMPTE_RGB, spec('nchw-f32', 'rgb'));
  const f = new Float32Array(data.buffer);
  assert.deepEqual([f[(PAD_Y + 50) * W + 326], f[W * W + (PAD_Y + 50) * W + 326], f[2 * W * W + (PAD_Y + 50) * W + 326]], [122.5, -5, -3.75]);
});

test('NHWC float32 normalized (float models with interleaved input, e.g. TF exports): no JS conversion', async () => {
  const { data } = await grabOne(SMPTE_RGB, spec('nhwc-f32', 'rgb'));
  const f = new Float32Array(data.buffer);
  assert.equal(f.length, W * W * 3);
  const at = (x: number, y: number) => [...f.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
  const norm = (px: [number, number, number]) => [Math.fround((px[0] - 10) / 2), Math.fround((px[1] - 20) / 4), Math.fround((px[2] - 30) / 8)];
  for (const [x, rgb] of BARS) assert.deepEqual(at(x, PAD_Y + 50), norm(rgb), `bar at x=${x}`);
  assert.deepEqual(at(326, PAD_Y + 50), [122.5, -5, -3.75], 'red, spelled out');
  assert.deepEqual(at(5, 5), norm([114, 115, 116]), 'border');
});

test('I420 input (what software decoders emit) converts with BT.601 studio range', async () => {
  // checkers-8 in I420: 8x8 squares alternating red (Y 81, U 90, V 240) and green (Y 145, U 54, V 34).
  const desc = 'videotestsrc pattern=checkers-8 num-buffers=1 ! video/x-raw,format=I420,width=832,height=468 ! appsink name=sink';
  const { data } = await grabOne(desc, spec('nhwc-u8', 'rgb'));
  const at = (x: number, y: number) => [...data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
  // Tensor (0,91) samples source (0..1, 0..1): the first square; tensor (4,91) samples source x 8..9: the next.
  assert.deepEqual(at(0, PAD_Y), [254, 0, 0]);
  assert.deepEqual(at(4, PAD_Y), [0, 255, 1]);
  assert.deepEqual(at(4, PAD_Y + 4), [254, 0, 0]);
  assert.deepEqual(at(200, 10), [114, 115, 116]);
});

test('I420 and NV12 with bilinear chroma (downscale under 2x): a solid colour stays exact', async () => {
  for (const format of ['I420', 'NV12']) {
    // 640x360 -> scale 0.65, image rows 91..324. Solid red: Y 81, U 90, V 240 in BT.601 studio range.
    const desc = `videotestsrc pattern=solid-color foreground-color=0xffff0000 num-buffers=1 ! video/x-raw,format=${format},width=640,height=360 ! appsink name=sink`;
    const { frame, data } = await grabOne(desc, spec('nhwc-u8', 'rgb'));
    assert.equal(frame.scale, 0.65);
    assert.equal(frame.padY, 91);
    const at = (x: number, y: number) => [...data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
    for (const [x, y] of [[0, 91], [207, 200], [415, 324]] as const) assert.deepEqual(at(x, y), [254, 0, 0], `${format} (${x},${y})`);
    assert.deepEqual(at(207, 325), [114, 115, 116], `${format} border below`);
  }
});
