/**
 * The density bench's quiet cameras play the quiet clip at different phases (so their walkers do not all cross at
 * once): each phase is a stream copy of the clip started at a keyframe offset that wraps around to its start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sceneClips, withQuietPhases } from '../../src/bench/command.js';

const md5At = (clip: string, s: number): string =>
  execFileSync('ffmpeg', ['-v', 'error', '-ss', String(s), '-i', clip, '-frames:v', '1', '-f', 'md5', '-'], { encoding: 'utf8' }).trim();

test('quiet phases: the clip rotated by whole keyframe intervals, same length, wrapping to its start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-phases-'));
  try {
    const clips = sceneClips();
    const c = withQuietPhases(clips, 2, dir);
    assert.equal(c.quietPhases.length, 2);
    assert.equal(c.quietPhases[0]!.quiet, clips.quiet);
    const rotated = c.quietPhases[1]!.quiet;
    assert.equal(rotated, join(dir, 'quiet-30s.mp4'));
    const duration = (p: string): number => Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', p], { encoding: 'utf8' }));
    assert.equal(duration(rotated), duration(clips.quiet));
    assert.equal(md5At(rotated, 0), md5At(clips.quiet, 30));
    assert.equal(md5At(rotated, duration(clips.quiet) - 30), md5At(clips.quiet, 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
