import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cropToTensor, Embedder } from '../../src/store/embedder.js';
import { tinyEmbedderReference, writeTinyEmbedder } from './store-onnx-fixture.js';

// The real embedder (.cache/models/embedder-mnv3.onnx) is produced by another part of the set-up and measured in
// bench/store.ts; these tests run the same wrapper on a tiny model with the same contract, generated here.
describe('embedder session', () => {
  let dir: string;
  let model: string;
  let params: { weights: Float32Array; bias: Float32Array };
  let emb: Embedder;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-emb-'));
    model = join(dir, 'tiny.onnx');
    params = writeTinyEmbedder(model, 24);
    emb = await Embedder.open({ modelPath: model });
  });
  after(async () => {
    await emb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads names, crop size and dimensions from the model', () => {
    assert.deepEqual([emb.inputName, emb.outputName, emb.cropWidth, emb.cropHeight, emb.dims], ['input', 'embedding', 128, 256, 24]);
  });

  it('embeds a batch of crops into L2-normalized vectors equal to the model maths', async () => {
    const per = 128 * 256 * 3;
    const crops = new Float32Array(3 * per);
    for (let i = 0; i < crops.length; i++) crops[i] = (i * 7919) % 256;
    const v = await emb.embed(crops, 3);
    assert.equal(v.length, 3);
    for (let n = 0; n < 3; n++) {
      const ref = tinyEmbedderReference(crops.subarray(n * per, (n + 1) * per), params.weights, params.bias, 24);
      assert.equal(v[n]!.length, 24);
      for (let d = 0; d < 24; d++) assert.ok(Math.abs(v[n]![d]! - ref[d]!) < 1e-5, `vector ${n} dim ${d}: ${v[n]![d]} vs ${ref[d]}`);
      assert.ok(Math.abs(Math.hypot(...v[n]!) - 1) < 1e-6);
    }
  });

  it('crops and resizes a frame bilinearly', async () => {
    // 3x2 frame, R = 10*x, G = 100*y, B = 7
    const w = 3, h = 2;
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([10 * x, 100 * y, 7], (y * w + x) * 3);
    const t = cropToTensor(rgb, w, h, { x1: 0, y1: 0, x2: 2, y2: 1 }, 5, 3);
    // x samples 0, .5, 1, 1.5, 2; y samples 0, .5, 1
    assert.deepEqual([...t.subarray(0, 15)], [0, 0, 7, 5, 0, 7, 10, 0, 7, 15, 0, 7, 20, 0, 7]);
    assert.deepEqual([...t.subarray(15, 18)], [0, 50, 7]);
    assert.deepEqual([...t.subarray(42, 45)], [20, 100, 7]);
    const frame = new Uint8Array(640 * 480 * 3).fill(128);
    const v = await emb.embedCrop(frame, 640, 480, { x1: 100, y1: 50, x2: 180, y2: 250 });
    const ref = tinyEmbedderReference(new Float32Array(128 * 256 * 3).fill(128), params.weights, params.bias, 24);
    for (let d = 0; d < 24; d++) assert.ok(Math.abs(v[d]! - ref[d]!) < 1e-5);
  });

  it('fails clearly on bad input, a missing model, and use after close', async () => {
    await assert.rejects(emb.embed(new Float32Array(10), 1), { code: 'E_ARGUMENT', message: 'Expected a Float32Array of 98304 values (1 x 256 x 128 x 3) for crops but received an object of type Float32Array' });
    await assert.rejects(Embedder.open({ modelPath: join(dir, 'none.onnx') }), { code: 'E_MODEL_MISSING', message: `Embedder model not found at ${join(dir, 'none.onnx')}` });
    const e2 = await Embedder.open({ modelPath: model });
    await e2.close();
    await e2.close();
    await assert.rejects(e2.embed(new Float32Array(128 * 256 * 3), 1), { code: 'E_CLOSED', message: 'Embedder is closed' });
  });
});
