/**
 * A looping file camera restarts cleanly: appsink reuses the GstSample it hands out and sets new caps on it at a
 * restart, so a frame still held by Vigil (inference queue, pool slot) used to turn each loop into a
 * GStreamer-CRITICAL "gst_sample_is_writable" on stderr. Run in a child process to see GStreamer's stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('a looping file camera whose frames are held restarts with no GStreamer warnings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-loop-'));
  try {
    // 20 frames at 15 fps: a loop every 1.3 s.
    const clip = join(dir, 'short.mp4');
    execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=20', '!', 'video/x-raw,width=320,height=240,framerate=15/1', '!', 'x264enc', '!', 'h264parse', '!', 'mp4mux', '!', 'filesink', `location=${clip}`]);
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'helpers', 'loop-child.ts'), clip, '6'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    const m = /^frames (\d+) loops (\d+)$/m.exec(child.stdout);
    assert.ok(m, `child output: ${child.stdout}`);
    assert.ok(Number(m[2]) >= 2, `looped ${m[2]} times in 6 s`);
    assert.ok(Number(m[1]) >= 2 * 20, `${m[1]} frames`);
    assert.equal(child.stderr.split('\n').filter((l) => /CRITICAL|WARNING/.test(l)).join('\n'), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
