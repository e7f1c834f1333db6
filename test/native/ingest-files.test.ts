/** File sources through the explicit graphs: every container and codec yields exactly the clip's frames. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { media, VTEST_FRAMES } from '../helpers/media.js';
import { runFile } from '../helpers/camera.js';
import { probeFile } from '../../src/camera/source.js';

const CASES: Array<[file: string, container: string, codec: string, decoder: string]> = [
  ['vtest-h264.mp4', 'mp4', 'h264', 'avdec_h264'],
  ['vtest-h264.mkv', 'mkv', 'h264', 'avdec_h264'],
  ['vtest-h264.avi', 'avi', 'h264', 'avdec_h264'],
  ['vtest.h264', 'raw', 'h264', 'avdec_h264'],
  ['vtest-h265.mp4', 'mp4', 'h265', 'avdec_h265'],
  ['vtest-h265.mkv', 'mkv', 'h265', 'avdec_h265'],
  ['vtest.avi', 'avi', 'msmpeg4v3', 'avdec_msmpeg4'],
];

for (const [file, container, codec, decoder] of CASES) {
  test(`${file}: ${container}/${codec} decodes all ${VTEST_FRAMES} frames with ${decoder}`, async () => {
    const path = media(file);
    assert.deepEqual(probeFile(path), { container, codec });
    const r = await runFile(path);
    assert.equal(r.decoder, decoder);
    assert.equal(r.frames, VTEST_FRAMES);
    assert.equal(r.stats.framesDecoded, VTEST_FRAMES);
    assert.equal(r.stats.framesDelivered, VTEST_FRAMES);
    assert.equal(r.stats.droppedQueue + r.stats.droppedPool + r.stats.droppedDelivery + r.stats.droppedFormat, 0);
    assert.deepEqual(r.sequences.slice(0, 3), [0, 1, 2]);
    assert.equal(r.sequences.at(-1), VTEST_FRAMES - 1);
    assert.equal(r.stats.width, 768);
    assert.equal(r.stats.height, 576);
  });
}

test('a detect rate drops frames before conversion: 10 fps clip at 5 fps hands on every other frame', async () => {
  const r = await runFile(media('vtest-h264.mp4'), { detectFps: 5 });
  assert.equal(r.stats.framesDecoded, VTEST_FRAMES);
  // videorate drop-only keeps the first frame of each 200 ms slot: 795 frames over 79.5 s.
  assert.equal(r.frames, 398);
  assert.equal(r.stats.framesIn, 398, 'only the kept frames reached the tensor stage');
});

test('720p and 1080p generated clips', async () => {
  for (const [file, w, h] of [['gen-720p.mp4', 1280, 720], ['gen-1080p.mp4', 1920, 1080]] as const) {
    const r = await runFile(media(file));
    assert.equal(r.frames, 60, file);
    assert.equal(r.stats.width, w);
    assert.equal(r.stats.height, h);
  }
});
