/**
 * Native motion gate: exact cell counts on synthetic planes, masks, strides, validation; then real clips — a
 * static clip (a frozen vtest frame encoded with x264) skips nearly every frame, vtest.avi does not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSequence } from '../helpers/frames.js';
import { inferenceAddon } from '../../src/inference/native.js';

const { MotionDetector } = inferenceAddon();
const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-motion-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function plane(w: number, h: number, value: number, block?: { x: number; y: number; size: number; value: number }): Uint8Array {
  const p = new Uint8Array(w * h).fill(value);
  if (block) {
    for (let y = block.y; y < block.y + block.size; y++) p.fill(block.value, y * w + block.x, y * w + block.x + block.size);
  }
  return p;
}

test('first frame initialises and reports motion; a changed 16x16 block is 4 of 64 cells', () => {
  const md = new MotionDetector({ downscale: 8, sensitivity: 0.6 });
  assert.equal(md.threshold, 28); // round(4 + (1 - 0.6) * 60)
  const img = { format: 'GRAY8' as const, width: 64, height: 64 };
  assert.deepEqual(md.update(plane(64, 64, 100), img), { motion: true, changedFraction: 1, changedCells: 64, activeCells: 64, initialized: true, regions: [], regionShare: 1 });
  assert.deepEqual(md.update(plane(64, 64, 100), img),
    { motion: false, changedFraction: 0, changedCells: 0, activeCells: 64, initialized: false, regions: [], regionShare: 0 });
  // Cells 2-3 x 3-4 (pixels 16-32 x 24-40), padded by 16 and clamped to the frame.
  assert.deepEqual(md.update(plane(64, 64, 100, { x: 16, y: 24, size: 16, value: 200 }), img),
    { motion: true, changedFraction: 4 / 64, changedCells: 4, activeCells: 64, initialized: false,
      regions: [{ x: 0, y: 8, width: 48, height: 48 }], regionShare: (48 * 48) / (64 * 64) });
  md.close();
});

test('a global change below the per-cell threshold is not motion; sensitivity 1 catches it', () => {
  const img = { format: 'GRAY8' as const, width: 64, height: 64 };
  const dull = new MotionDetector({ sensitivity: 0.6 });
  dull.update(plane(64, 64, 100), img);
  assert.equal(dull.update(plane(64, 64, 120), img).motion, false); // +20 < 28
  const keen = new MotionDetector({ sensitivity: 1 });
  assert.equal(keen.threshold, 4);
  keen.update(plane(64, 64, 100), img);
  assert.deepEqual(keen.update(plane(64, 64, 120), img), { motion: true, changedFraction: 1, changedCells: 64, activeCells: 64,
    initialized: false, regions: [{ x: 0, y: 0, width: 64, height: 64 }], regionShare: 1 });
});

test('mask polygons (source pixels) exclude their cells; a fully masked frame never has motion', () => {
  const img = { format: 'GRAY8' as const, width: 64, height: 64 };
  // Left half masked: cells whose centre x < 32 -> 4 of 8 columns.
  const half = new MotionDetector({ masks: [[[0, 0], [32, 0], [32, 64], [0, 64]]] });
  half.update(plane(64, 64, 100), img);
  assert.deepEqual(half.update(plane(64, 64, 100, { x: 0, y: 0, size: 16, value: 250 }), img),
    { motion: false, changedFraction: 0, changedCells: 0, activeCells: 32, initialized: false, regions: [], regionShare: 0 });
  assert.deepEqual(half.update(plane(64, 64, 100, { x: 40, y: 0, size: 16, value: 250 }), img).changedCells, 4);
  const all = new MotionDetector({ masks: [[[-1, -1], [65, -1], [65, 65], [-1, 65]]] });
  all.update(plane(64, 64, 100), img);
  assert.deepEqual(all.update(plane(64, 64, 0), img),
    { motion: false, changedFraction: 0, changedCells: 0, activeCells: 0, initialized: false, regions: [], regionShare: 0 });
});

test('I420 / NV12 read the luma plane with its stride; a new size re-initialises', () => {
  const md = new MotionDetector();
  const w = 32, h = 16, stride = 48;
  const i420 = new Uint8Array(stride * h + 2 * (stride / 2) * (h / 2)).fill(50);
  assert.equal(md.update(i420, { format: 'I420', width: w, height: h, stride }).initialized, true);
  // Bytes beyond the width in each row (stride padding) change: ignored.
  for (let y = 0; y < h; y++) i420.fill(255, y * stride + w, (y + 1) * stride);
  assert.equal(md.update(i420, { format: 'I420', width: w, height: h, stride }).motion, false);
  assert.equal(md.update(new Uint8Array(64 * 64).fill(50), { format: 'NV12', width: 64, height: 32 }).initialized, true);
  md.reset();
  assert.equal(md.update(new Uint8Array(64 * 64).fill(50), { format: 'NV12', width: 64, height: 32 }).initialized, true);
});

test('argument validation and use after close', () => {
  const md = new MotionDetector();
  assert.throws(() => md.update(new Uint8Array(16), { format: 'RGB' as 'GRAY8', width: 4, height: 4 }), {
    name: 'TypeError', message: 'Expected one of "GRAY8", "I420", "NV12" for image.format but received "RGB"',
  });
  assert.throws(() => md.update(new Uint8Array(15), { format: 'GRAY8', width: 4, height: 4 }), {
    name: 'RangeError', message: 'Expected at least 16 bytes for pixels but received 15',
  });
  assert.throws(() => new MotionDetector({ sensitivity: 2 }), {
    name: 'TypeError', message: 'Expected a number from 0 to 1 for config.sensitivity but received 2',
  });
  assert.throws(() => new MotionDetector({ masks: [[[0, 0], [1, 1]]] }), {
    name: 'TypeError', message: 'Expected an array of at least 3 [x, y] points for config.masks[0] but received an array of length 2',
  });
  md.close();
  md.close();
  assert.equal(md.closed, true);
  assert.throws(() => md.update(new Uint8Array(16), { format: 'GRAY8', width: 4, height: 4 }), { code: 'E_CLOSED', message: 'MotionDetector is closed' });
});

function gateRatio(path: string, frames: number): { motion: number; total: number } {
  const seq = decodeSequence(path, frames, 'gray');
  const md = new MotionDetector();
  let motion = 0;
  for (const f of seq) if (md.update(f.pixels, { format: 'GRAY8', width: f.width, height: f.height }).motion) motion++;
  md.close();
  return { motion, total: seq.length };
}

test('a static clip skips nearly every frame; the vtest clip (people walking) does not', (t) => {
  const still = join(dir, 'still.png');
  const clip = join(dir, 'static.mp4');
  execFileSync('ffmpeg', ['-v', 'error', '-i', VTEST, '-vf', 'select=eq(n\\,100)', '-frames:v', '1', still]);
  execFileSync('ffmpeg', ['-v', 'error', '-loop', '1', '-framerate', '10', '-i', still, '-frames:v', '150',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', clip]);
  const s = gateRatio(clip, 150);
  t.diagnostic(`static clip: ${s.motion} of ${s.total} frames with motion`);
  assert.equal(s.total, 150);
  assert.ok(s.motion <= 3, `static clip: ${s.motion} of ${s.total} frames had motion`);
  const v = gateRatio(VTEST, 200);
  t.diagnostic(`vtest: ${v.motion} of ${v.total} frames with motion`);
  assert.equal(v.total, 200);
  assert.ok(v.motion >= 190, `vtest: only ${v.motion} of ${v.total} frames had motion`);
});
