/**
 * The one embedder (src/inference/embedder.ts): the real MobileNetV3 model on real vtest crops, and the wrapper's
 * maths on a tiny ONNX model with the same contract, generated here (exact expected values).
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMBED_DIM, Embedder } from '../../src/inference/embedder.js';
import { decodeFrames } from '../helpers/frames.js';
import { tinyEmbedderReference, writeTinyEmbedder } from './store-onnx-fixture.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

test('embeddings of real person crops: unit length, same person closer than a different one', async () => {
  const [f100, f101] = decodeFrames(VTEST, [100, 101], 'rgb24');
  const e = await Embedder.create();
  try {
    assert.deepEqual([e.inputName, e.outputName, e.cropWidth, e.cropHeight, e.dims], ['input', 'embedding', 128, 256, EMBED_DIM]);
    assert.deepEqual(e.cropSpec, { width: 128, height: 256, layout: 'nhwc-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [114, 114, 114] });
    // Person at (589,153)-(619,236) in frame 100 (walking slowly), and the person at (348,197)-(380,272).
    const a0 = e.crop(f100!.pixels, 768, 576, { x1: 589, y1: 153, x2: 619, y2: 236 });
    const a1 = e.crop(f101!.pixels, 768, 576, { x1: 589, y1: 153, x2: 619, y2: 236 });
    const b0 = e.crop(f100!.pixels, 768, 576, { x1: 348, y1: 197, x2: 380, y2: 272 });
    const [ea0, ea1, eb0] = await e.embed([a0, a1, b0]);
    for (const v of [ea0!, ea1!, eb0!]) {
      assert.equal(v.length, EMBED_DIM);
      assert.ok(Math.abs(Math.sqrt(dot(v, v)) - 1) < 1e-5);
    }
    const same = dot(ea0!, ea1!), other = dot(ea0!, eb0!);
    assert.ok(same > 0.95, `same person ${same}`);
    assert.ok(same > other, `same ${same} vs other ${other}`);
    // Batched and single runs agree; embedCrop = crop + embed.
    const [single] = await e.embed([b0]);
    const viaCrop = await e.embedCrop(f100!.pixels, 768, 576, { x1: 348, y1: 197, x2: 380, y2: 272 });
    for (let i = 0; i < EMBED_DIM; i++) {
      assert.ok(Math.abs(single![i]! - eb0![i]!) < 1e-5);
      assert.ok(Math.abs(viaCrop[i]! - eb0![i]!) < 1e-5);
    }
    await assert.rejects(e.embed([new Float32Array(3)]), { code: 'E_ARGUMENT', message: 'Expected a Float32Array of 98304 values for crops[0] but received an object of type Float32Array' });
  } finally {
    await e.close();
  }
  await e.close();
  await assert.rejects(e.embed([]), { code: 'E_CLOSED', message: 'Embedder is closed' });
});

describe('embedder wrapper on a tiny model with the same contract', () => {
  let dir: string;
  let model: string;
  let params: { weights: Float32Array; bias: Float32Array };
  let emb: Embedder;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-emb-'));
    model = join(dir, 'tiny.onnx');
    params = writeTinyEmbedder(model, 24);
    emb = await Embedder.create({ modelPath: model });
  });
  after(async () => {
    await emb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads names, crop size and dimensions from the model', () => {
    assert.deepEqual([emb.inputName, emb.outputName, emb.cropWidth, emb.cropHeight, emb.dims, emb.cropValues], ['input', 'embedding', 128, 256, 24, 98304]);
  });

  it('embeds a batch of crops into L2-normalized vectors equal to the model maths', async () => {
    const per = 128 * 256 * 3;
    const crops = [0, 1, 2].map((n) => Float32Array.from({ length: per }, (_, i) => ((n * per + i) * 7919) % 256));
    const v = await emb.embed(crops);
    assert.equal(v.length, 3);
    for (let n = 0; n < 3; n++) {
      const ref = tinyEmbedderReference(crops[n]!, params.weights, params.bias, 24);
      assert.equal(v[n]!.length, 24);
      for (let d = 0; d < 24; d++) assert.ok(Math.abs(v[n]![d]! - ref[d]!) < 1e-5, `vector ${n} dim ${d}: ${v[n]![d]} vs ${ref[d]}`);
      assert.ok(Math.abs(Math.hypot(...v[n]!) - 1) < 1e-6);
    }
  });

  it('letterboxes a box to the model size with a grey border', async () => {
    // a uniform 128-grey frame, box 80 x 200: scaled by 1.28 to 102 x 256, grey 114 columns either side
    const frame = new Uint8Array(640 * 480 * 3).fill(128);
    const t = emb.crop(frame, 640, 480, { x1: 100, y1: 50, x2: 180, y2: 250 });
    assert.equal(t.length, 128 * 256 * 3);
    const px = (x: number, y: number): number[] => [...t.subarray((y * 128 + x) * 3, (y * 128 + x) * 3 + 3)];
    assert.deepEqual(px(0, 0), [114, 114, 114]);
    assert.deepEqual(px(127, 255), [114, 114, 114]);
    assert.deepEqual(px(64, 128), [128, 128, 128]);
    const inside = t.filter((v) => v === 128).length / 3;
    assert.equal(inside, 102 * 256);
    const v = await emb.embedCrop(frame, 640, 480, { x1: 100, y1: 50, x2: 180, y2: 250 });
    const ref = tinyEmbedderReference(t, params.weights, params.bias, 24);
    for (let d = 0; d < 24; d++) assert.ok(Math.abs(v[d]! - ref[d]!) < 1e-5);
  });

  it('fails clearly on bad input, a missing model, and use after close', async () => {
    await assert.rejects(emb.embed([new Float32Array(10)]), { code: 'E_ARGUMENT', message: 'Expected a Float32Array of 98304 values for crops[0] but received an object of type Float32Array' });
    assert.throws(() => emb.crop(new Uint8Array(5), 2, 2, { x1: 0, y1: 0, x2: 1, y2: 1 }), { code: 'E_ARGUMENT', message: 'Expected an RGB buffer of 12 bytes for rgb but received an object of type Uint8Array' });
    await assert.rejects(Embedder.create({ modelPath: join(dir, 'none.onnx') }), { code: 'E_MODEL_MISSING', message: `Embedder model not found at ${join(dir, 'none.onnx')}` });
    await assert.rejects(Embedder.create({ intraOpNumThreads: 0, modelPath: model }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 64 for options.intraOpNumThreads but received 0' });
    const e2 = await Embedder.create({ modelPath: model });
    await e2.close();
    await e2.close();
    await assert.rejects(e2.embed([new Float32Array(128 * 256 * 3)]), { code: 'E_CLOSED', message: 'Embedder is closed' });
  });
});
