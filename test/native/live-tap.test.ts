/**
 * The live tap (native/pipeline.cc OnLiveBuffer) on real GStreamer: vtest's H.264 access units reach JS undecoded,
 * the first one a keyframe with the caps, and the fMP4 made of them (src/media/live/fmp4.ts) is a stream ffprobe
 * reads back frame for frame.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NativeLiveEvent } from '../../bindings/index.js';
import { CameraPipeline } from '../../src/camera/pipeline.js';
import { parseSource } from '../../src/camera/source.js';
import { DEFAULT_TENSOR } from '../../src/camera/tensor.js';
import { Fmp4Muxer, concat } from '../../src/media/live/fmp4.js';
import { VTEST_FRAMES, media } from '../helpers/media.js';

function tapFile(path: string, enableAt: number): Promise<{ samples: NativeLiveEvent[]; stats: ReturnType<CameraPipeline['stats']> }> {
  return new Promise((resolve, reject) => {
    const samples: NativeLiveEvent[] = [];
    let frames = 0;
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'live',
      source: parseSource({ kind: 'file', path, realtime: false }),
      tensor: DEFAULT_TENSOR,
      detectFps: 0,
      decoder: { threads: 1 },
      onLive: (s) => samples.push(s),
      onFrame: (f) => {
        // Enabled mid-stream: the first sample JS sees must still be a keyframe.
        if (++frames === enableAt) p.setLiveTap(true);
        f.release();
      },
      onError: (e) => {
        p.close();
        reject(e);
      },
      onEos: () => {
        const stats = p.stats();
        p.close();
        resolve({ samples, stats });
      },
    });
    if (enableAt === 0) p.setLiveTap(true);
    p.start();
  });
}

test('live tap: every access unit of vtest-h264.mp4, first one a keyframe with avc caps; muxed fMP4 plays back in ffprobe', async () => {
  const { samples, stats } = await tapFile(media('vtest-h264.mp4'), 0);
  assert.equal(samples.length, VTEST_FRAMES);
  assert.equal(stats.liveSamples, 795);
  assert.equal(stats.liveDropped, 0);
  const first = samples[0]!;
  assert.equal(first.keyframe, true);
  assert.match(first.caps!, /^video\/x-h264, .*stream-format=\(string\)avc/);
  assert.equal(first.codecData![0], 1);
  assert.equal(samples.filter((s) => s.caps !== undefined).length, 1);
  assert.equal(samples.filter((s) => s.keyframe).length, 40); // -g 20 over 795 frames
  const mux = new Fmp4Muxer();
  mux.setCaps(first.caps!, first.codecData!);
  const parts = [mux.init!.segment];
  for (const s of samples) parts.push(mux.push(s)!.fragment);
  assert.equal(mux.init!.mimeType, 'video/mp4; codecs="avc1.64001f"');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-live-'));
  try {
    const file = join(dir, 'live.mp4');
    writeFileSync(file, concat(parts));
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' }),
    ) as { streams: Array<{ codec_name: string; width: number; height: number; nb_read_frames: string }> };
    assert.deepEqual(probe.streams[0], { codec_name: 'h264', width: 768, height: 576, nb_read_frames: '795' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('live tap enabled mid-stream starts at the next keyframe and carries the caps there', async () => {
  const { samples } = await tapFile(media('vtest-h264.mp4'), 30);
  assert.equal(samples[0]!.keyframe, true);
  assert.notEqual(samples[0]!.caps, undefined);
  assert.ok(samples.length < 795);
  assert.equal(samples.length % 20, 795 % 20); // whole GOPs of 20 from a keyframe to the end
});

test('live tap off: no samples at all', async () => {
  const { samples, stats } = await tapFile(media('vtest-h264.mp4'), -1);
  assert.equal(samples.length, 0);
  assert.equal(stats.liveSamples, 0);
});
