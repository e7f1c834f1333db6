/**
 * Embedder on real crops: [N,480] unit vectors; the same person one frame later is closer than another person.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EMBED_DIM, Embedder } from '../../src/inference/embedder.js';
import { decodeFrames } from '../../src/inference/frames.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

test('embeddings of real person crops: unit length, same person closer than a different one', async () => {
  const [f100, f101] = decodeFrames(VTEST, [100, 101], 'rgb24');
  const e = await Embedder.create();
  try {
    // Person at (589,153)-(619,236) in frame 100 (walking slowly), and the person at (348,197)-(380,272).
    const a0 = Embedder.crop(f100!.pixels, 768, 576, { x1: 589, y1: 153, x2: 619, y2: 236 });
    const a1 = Embedder.crop(f101!.pixels, 768, 576, { x1: 589, y1: 153, x2: 619, y2: 236 });
    const b0 = Embedder.crop(f100!.pixels, 768, 576, { x1: 348, y1: 197, x2: 380, y2: 272 });
    const [ea0, ea1, eb0] = await e.embed([a0, a1, b0]);
    for (const v of [ea0!, ea1!, eb0!]) {
      assert.equal(v.length, EMBED_DIM);
      assert.ok(Math.abs(Math.sqrt(dot(v, v)) - 1) < 1e-5);
    }
    const same = dot(ea0!, ea1!), other = dot(ea0!, eb0!);
    assert.ok(same > 0.95, `same person ${same}`);
    assert.ok(same > other, `same ${same} vs other ${other}`);
    // Batched and single runs agree.
    const [single] = await e.embed([b0]);
    for (let i = 0; i < EMBED_DIM; i++) assert.ok(Math.abs(single![i]! - eb0![i]!) < 1e-5);
    await assert.rejects(e.embed([new Float32Array(3)]), { code: 'E_ARGUMENT', message: 'Expected a Float32Array of 98304 values for crops[0] but received an object of type Float32Array' });
  } finally {
    await e.close();
  }
  await assert.rejects(e.embed([]), { code: 'E_CLOSED' });
});
