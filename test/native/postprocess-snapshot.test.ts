/**
 * Snapshot encoder: JPEG of a real vtest frame and of a crop (RGB and I420), decoded back with ffmpeg and compared
 * with the source pixels; concurrent encodes; validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { decodeFrames } from '../helpers/frames.js';
import { inferenceAddon } from '../../src/inference/native.js';

const { encodeJpeg } = inferenceAddon();
const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
const frame = decodeFrames(VTEST, [100], 'rgb24')[0]!;

function decodeJpeg(jpeg: Buffer): { width: number; height: number; rgb: Buffer } {
  const probe = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0:s=x', '-i', 'pipe:0'],
    { input: jpeg, encoding: 'utf8' }).trim();
  const [width, height] = probe.split('x').map(Number) as [number, number];
  const rgb = execFileSync('ffmpeg', ['-v', 'error', '-f', 'image2pipe', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { input: jpeg, maxBuffer: 64 << 20 });
  return { width, height, rgb };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

function cropRgb(x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) out.set(frame.pixels.subarray(((y + r) * 768 + x) * 3, ((y + r) * 768 + x + w) * 3), r * w * 3);
  return out;
}

test('a whole RGB frame and a crop encode to JPEGs that decode back close to the source', async () => {
  const full = await encodeJpeg(frame.pixels, { format: 'RGB', width: 768, height: 576 }, { quality: 90 });
  assert.deepEqual([...full.subarray(0, 2)], [0xff, 0xd8]);
  assert.deepEqual([...full.subarray(full.length - 2)], [0xff, 0xd9]);
  const d = decodeJpeg(full);
  assert.deepEqual([d.width, d.height], [768, 576]);
  const err = meanAbsDiff(d.rgb, frame.pixels);
  assert.ok(err < 4, `full frame mean abs error ${err}`);
  // The person at (589,153)-(619,236): an odd-sized crop (31x83, rows not 4-byte aligned).
  const crop = await encodeJpeg(frame.pixels, { format: 'RGB', width: 768, height: 576 }, { quality: 90, crop: { x: 589, y: 153, width: 31, height: 83 } });
  const c = decodeJpeg(crop);
  assert.deepEqual([c.width, c.height], [31, 83]);
  const cerr = meanAbsDiff(c.rgb, cropRgb(589, 153, 31, 83));
  assert.ok(cerr < 6, `crop mean abs error ${cerr}`);
});

test('I420 input (crop aligned to even pixels) and concurrent encodes', async () => {
  const i420 = execFileSync('ffmpeg', ['-v', 'error', '-i', VTEST, '-vf', 'select=eq(n\\,100)', '-frames:v', '1', '-f', 'rawvideo',
    '-pix_fmt', 'yuv420p', '-'], { maxBuffer: 8 << 20 });
  const px = new Uint8Array(i420.buffer, i420.byteOffset, i420.length);
  const jobs = [
    encodeJpeg(px, { format: 'I420', width: 768, height: 576 }, { crop: { x: 349, y: 197, width: 32, height: 75 } }),
    encodeJpeg(px, { format: 'I420', width: 768, height: 576 }),
    encodeJpeg(frame.pixels, { format: 'RGB', width: 768, height: 576 }, { quality: 50 }),
  ];
  const [crop, full, low] = await Promise.all(jobs);
  const c = decodeJpeg(crop!);
  assert.deepEqual([c.width, c.height], [32, 74]); // x 349 -> 348, height 75 -> 74
  const cerr = meanAbsDiff(c.rgb, cropRgb(348, 196, 32, 74));
  assert.ok(cerr < 5, `I420 crop mean abs error ${cerr}`);
  assert.deepEqual([decodeJpeg(full!).width, decodeJpeg(full!).height], [768, 576]);
  assert.ok(low!.length < full!.length, `quality 50 (${low!.length} B) smaller than 85 (${full!.length} B)`);
});

test('validation: the one message shape', () => {
  assert.throws(() => encodeJpeg(new Uint8Array(12), { format: 'YUY2' as 'RGB', width: 2, height: 2 }), {
    name: 'TypeError', message: 'Expected one of "RGB", "BGR", "RGBA", "BGRA", "I420", "NV12", "GRAY8" for image.format but received "YUY2"',
  });
  assert.throws(() => encodeJpeg(new Uint8Array(11), { format: 'RGB', width: 2, height: 2 }), {
    name: 'RangeError', message: 'Expected at least 12 bytes for pixels but received 11',
  });
  assert.throws(() => encodeJpeg(new Uint8Array(12), { format: 'RGB', width: 2, height: 2 }, { crop: { x: 1, y: 0, width: 2, height: 1 } }), {
    name: 'TypeError', message: 'Expected an integer from 1 to 1 for options.crop.width but received 2',
  });
  assert.throws(() => encodeJpeg(new Uint8Array(12), { format: 'RGB', width: 2, height: 2 }, { quality: 0 }), {
    name: 'TypeError', message: 'Expected an integer from 1 to 100 for options.quality but received 0',
  });
});
