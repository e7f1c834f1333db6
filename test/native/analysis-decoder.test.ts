/**
 * vigildec (native/analysis_decoder.cc): the addon's H.264 / H.265 decoder on libavcodec. With deblocking on it
 * must give exactly what avdec_h264 / avdec_h265 give (same library, same settings: every frame's tensor
 * byte-identical, same timestamps), including pictures whose planes it hands over wrapped (appsink answers the
 * allocation query with GstVideoMeta) and heights that are not a multiple of 16 (padded planes). With
 * `decodeDeblock: false` it skips the in-loop filter: every frame still comes out, close to the standard decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFile } from '../helpers/camera.js';
import { ffmpeg, media, VTEST_FRAMES } from '../helpers/media.js';
import { chooseDecoder, type DecoderPreferences } from '../../src/camera/decoders.js';
import { buildPipeline } from '../../src/camera/templates.js';
import { parseSource } from '../../src/camera/source.js';
import type { TensorSpec } from '../../src/camera/tensor.js';
import { loadAddon, type NativePipelineEvent } from '../../bindings/index.js';

const TENSOR: TensorSpec = {
  width: 320, height: 320, layout: 'nhwc-u8', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [114, 114, 114],
};

interface Decoded {
  decoder: string | null;
  pts: number[];
  hashes: string[];
  tensors: Uint8Array[];
}

async function decode(path: string, decoder: DecoderPreferences, keep = false): Promise<Decoded> {
  const pts: number[] = [];
  const hashes: string[] = [];
  const tensors: Uint8Array[] = [];
  const r = await runFile(path, {
    tensor: TENSOR,
    decoder,
    onFrame: (f) => {
      const t = new Uint8Array(f.tensor);
      pts.push(f.ptsNs);
      hashes.push(createHash('sha1').update(t).digest('hex'));
      if (keep) tensors.push(t.slice());
    },
  });
  return { decoder: r.decoder, pts, hashes, tensors };
}

/** The file template with its decoder replaced by `decoderFragment` (the addon's Pipeline directly). */
function decodeWith(path: string, decoderFragment: string): Promise<Decoded> {
  const built = buildPipeline(parseSource({ kind: 'file', path, realtime: false }), { detectFps: 0, decoder: { threads: 1, allow: ['software'] } });
  const description = built.description.replace(/avdec_h26[45] name=dec max-threads=1/, decoderFragment);
  assert.notEqual(description, built.description);
  const pts: number[] = [];
  const hashes: string[] = [];
  return new Promise((resolve, reject) => {
    const { Pipeline } = loadAddon();
    const p = new Pipeline({
      cameraId: 'vigildec',
      description,
      properties: built.properties,
      tensor: TENSOR,
      queueSize: 2,
      poolSize: 4,
      block: true,
      onEvent: (e: NativePipelineEvent) => {
        if (e.type === 'frame') {
          pts.push(e.ptsNs);
          hashes.push(createHash('sha1').update(new Uint8Array(e.tensor)).digest('hex'));
          p.release(e.tensor, e.slot, e.generation);
        } else if (e.type === 'error') {
          p.close();
          reject(new Error(e.message));
        } else if (e.type === 'eos') {
          p.close();
          resolve({ decoder: 'vigildec', pts, hashes, tensors: [] });
        }
      },
    });
    p.start();
  });
}

test('decodeDeblock: false chooses vigildec for H.264 and H.265 in software, avdec otherwise', () => {
  const soft = { threads: 1, allow: ['software'] as const };
  assert.deepEqual(chooseDecoder('h264', { ...soft, deblock: false }), { codec: 'h264', element: 'vigildec', kind: 'software', properties: 'deblock=false max-threads=1' });
  assert.deepEqual(chooseDecoder('h265', { ...soft, threads: 2, deblock: false }), { codec: 'h265', element: 'vigildec', kind: 'software', properties: 'deblock=false max-threads=2' });
  assert.deepEqual(chooseDecoder('h264', { ...soft, deblock: true }), { codec: 'h264', element: 'avdec_h264', kind: 'software', properties: 'max-threads=1' });
  assert.deepEqual(chooseDecoder('mpeg4', { ...soft, deblock: false }), { codec: 'mpeg4', element: 'avdec_mpeg4', kind: 'software', properties: 'max-threads=1' });
  const built = buildPipeline(parseSource({ kind: 'file', path: media('vtest-h264.mp4'), realtime: false }), { detectFps: 5, decoder: { ...soft, deblock: false } });
  assert.match(built.description, / ! vigildec name=dec deblock=false max-threads=1 ! /);
});

for (const [clip, standard] of [['vtest-h264.mp4', 'avdec_h264'], ['vtest-h265.mp4', 'avdec_h265']] as const) {
  test(`vigildec with deblocking gives ${standard}'s frames exactly (${clip})`, async () => {
    const path = media(clip);
    const a = await decode(path, { threads: 1 });
    assert.equal(a.decoder, standard);
    const v = await decode(path, { threads: 1, deblock: true, allow: ['software'] }, false);
    assert.equal(v.decoder, standard, 'deblock: true keeps the standard decoder');
    // The element itself with deblock=true, through a description of its own.
    const own = await decodeWith(path, 'vigildec name=dec deblock=true max-threads=1');
    assert.equal(own.pts.length, VTEST_FRAMES);
    assert.deepEqual(own.pts, a.pts);
    assert.deepEqual(own.hashes, a.hashes);
  });
}

test('vigildec skips deblocking: every frame, same timestamps, pictures close to the standard decode', async () => {
  const path = media('vtest-h264.mp4');
  const a = await decode(path, { threads: 1 }, true);
  const v = await decode(path, { threads: 1, deblock: false, allow: ['software'] }, true);
  assert.equal(v.decoder, 'vigildec');
  assert.equal(v.pts.length, VTEST_FRAMES);
  assert.deepEqual(v.pts, a.pts);
  let differing = 0;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.tensors.length; i++) {
    const x = a.tensors[i]!;
    const y = v.tensors[i]!;
    if (a.hashes[i] !== v.hashes[i]) differing++;
    for (let k = 0; k < x.length; k++) sum += Math.abs(x[k]! - y[k]!);
    n += x.length;
  }
  const mean = sum / n;
  // Measured: all 795 frames differ (the filter works on every frame of this clip), by 0.35 of a grey level on
  // average per tensor byte.
  assert.equal(differing, VTEST_FRAMES);
  assert.ok(mean > 0.2 && mean < 0.5, `mean |difference| ${mean.toFixed(3)} per tensor byte`);
});

test('vigildec: B-frames come out in order, and a height that is not a multiple of 16 (padded planes) unchanged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-vigildec-'));
  try {
    const clip = join(dir, 'h360.mp4');
    ffmpeg('-i', media('vtest.avi'), '-frames:v', '60', '-vf', 'scale=640:360', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '3', '-pix_fmt', 'yuv420p', '-an', clip);
    const a = await decode(clip, { threads: 1 });
    const own = await decodeWith(clip, 'vigildec name=dec deblock=true max-threads=1');
    assert.equal(own.pts.length, 60);
    assert.deepEqual(own.pts, a.pts);
    assert.ok(own.pts.every((t, i) => i === 0 || t > own.pts[i - 1]!), 'presentation order');
    assert.deepEqual(own.hashes, a.hashes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigildec refuses a stream that is not 8-bit 4:2:0 with an error naming the format', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-vigildec-'));
  try {
    const clip = join(dir, 'yuv422.mp4');
    ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10', '-frames:v', '5', '-c:v', 'libx264', '-pix_fmt', 'yuv422p', clip);
    await assert.rejects(decodeWith(clip, 'vigildec name=dec deblock=false max-threads=1'), (e: Error) => {
      assert.match(e.message, /vigildec decodes 8-bit 4:2:0 streams only; this stream is yuv422p/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
