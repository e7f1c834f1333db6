/**
 * The motion gate inside the native frame path: frames without change never reach the tensor stage (counted),
 * moving footage passes, and a bypass (set while a tracked object is active) lets every frame through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CameraPipeline } from '../../src/camera/pipeline.js';
import { parseSource } from '../../src/camera/source.js';
import { DEFAULT_TENSOR } from '../../src/camera/tensor.js';
import { DEFAULT_MOTION } from '../../src/config/index.js';
import { media, VTEST_FRAMES } from '../helpers/media.js';

function run(source: unknown, opts: { bypass?: boolean } = {}) {
  return new Promise<{ handed: number; motionFlags: boolean[]; stats: ReturnType<CameraPipeline['stats']> }>((resolve, reject) => {
    let handed = 0;
    const motionFlags: boolean[] = [];
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'gate',
      source: parseSource(source),
      tensor: DEFAULT_TENSOR,
      detectFps: 0,
      decoder: { threads: 1 },
      motion: DEFAULT_MOTION,
      block: true,
      onFrame: (f) => {
        handed++;
        motionFlags.push(f.motion);
        f.release();
      },
      onError: (e) => {
        p.close();
        reject(e);
      },
      onEos: () => {
        const stats = p.stats();
        p.close();
        resolve({ handed, motionFlags, stats });
      },
    });
    if (opts.bypass) p.setMotionBypass(true);
    p.start();
  });
}

test('a static scene: only the first frame (which initialises the background) reaches the tensor stage', async () => {
  const r = await run({ kind: 'test', pattern: 'smpte', width: 640, height: 360, fps: 30, live: false, numBuffers: 120 });
  assert.equal(r.stats.framesIn, 120);
  assert.equal(r.handed, 1);
  assert.equal(r.stats.skippedNoMotion, 119);
});

test('the pedestrian clip: most frames have motion and pass', async () => {
  const r = await run({ kind: 'file', path: media('vtest-h264.mp4'), realtime: false });
  assert.equal(r.stats.framesIn, VTEST_FRAMES);
  assert.equal(r.handed + r.stats.skippedNoMotion, VTEST_FRAMES);
  assert.ok(r.handed > VTEST_FRAMES * 0.9, `${r.handed} of ${VTEST_FRAMES} frames had motion`);
  assert.ok(r.motionFlags.every((m) => m));
});

test('with the bypass on, static frames pass too, marked as without motion', async () => {
  const r = await run({ kind: 'test', pattern: 'smpte', width: 640, height: 360, fps: 30, live: false, numBuffers: 30 }, { bypass: true });
  assert.equal(r.handed, 30);
  assert.equal(r.stats.skippedNoMotion, 0);
  assert.deepEqual(r.motionFlags.slice(0, 3), [true, false, false]);
});
