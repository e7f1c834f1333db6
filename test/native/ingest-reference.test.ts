/**
 * The whole chain (demux, decode, colour conversion, letterbox) against an independent reference: ffmpeg decodes
 * the same frame to RGB (swscale, BT.601 as for SD video) and the frame is letterboxed from RGB. The native I420
 * path must agree to within rounding and the chroma-sampling difference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { loadAddon } from '../../bindings/index.js';
import { runFile } from '../helpers/camera.js';
import { media } from '../helpers/media.js';

test('frame 100 of the vtest clip matches ffmpeg + letterbox from RGB', async () => {
  const tensor = { width: 416, height: 416, layout: 'nhwc-u8' as const, colorOrder: 'rgb' as const, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], padColor: [114, 114, 114] as [number, number, number] };
  const clip = media('vtest-h264.mp4');
  let live: Uint8Array | null = null;
  await runFile(clip, {
    tensor,
    onFrame: (f) => {
      if (f.sequence === 100) live = new Uint8Array(f.tensor.slice(0));
    },
  });
  assert.ok(live, 'frame 100 was delivered');
  const rgb = execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-i', clip, '-vf', 'select=eq(n\\,100)', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
  assert.equal(rgb.length, 768 * 576 * 3);
  const ref = new Uint8Array(loadAddon().preprocessImage(new Uint8Array(rgb), { format: 'RGB', width: 768, height: 576 }, tensor).tensor);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i]! - live![i]!);
    sum += d;
    if (d > max) max = d;
  }
  const mean = sum / ref.length;
  assert.ok(mean < 1.5, `mean abs difference ${mean.toFixed(3)}`);
  assert.ok(max < 64, `max abs difference ${max}`);
});
