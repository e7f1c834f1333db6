/**
 * Recording on real pipelines: segments of the original stream (no re-encode), indexed in LMDB, playable; a kill -9
 * loses at most the open segment; clips across segment boundaries; the size cap deletes oldest first and
 * recording goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Camera } from '../../src/camera/camera.js';
import { Recorder, probeDurationNs } from '../../src/recording/recorder.js';
import { cutClip } from '../../src/recording/clips.js';
import { cameraSettings } from '../helpers/camera.js';
import { media, ROOT } from '../helpers/media.js';
import { sleep, until } from '../helpers/wait.js';

const S = 1_000_000_000n;

async function recordFor(dir: string, seconds: number, opts: { segmentSeconds: number; maxBytes?: number; format?: 'mp4' | 'mkv' }) {
  const recorder = new Recorder({ indexPath: join(dir, 'index'), recordingsDir: join(dir, 'rec'), minFreeBytes: 0, maxBytes: opts.maxBytes ?? 0 });
  await recorder.start();
  recorder.setPolicy('cam', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
  const camera = new Camera(
    cameraSettings('cam', { kind: 'file', path: media('vtest-h264.mp4'), loop: true, realtime: true }, {
      recording: { directory: join(dir, 'rec', 'cam'), prefix: 'cam', format: opts.format ?? 'mp4', segmentSeconds: opts.segmentSeconds },
    }),
  );
  const pending: Promise<void>[] = [];
  camera.on('segment', (e) => pending.push(recorder.onSegment(e)));
  camera.start();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  camera.stop(); // sends EOS: the open segment is finalised and closed
  const elapsedS = (performance.now() - t0) / 1000;
  await until(() => pending.length > 0, 5000, 'segment events');
  await sleep(300);
  await Promise.all(pending);
  camera.close();
  return { recorder, elapsedS };
}

test('continuous recording: segments cover the recorded time within one segment length, each playable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rec-'));
  try {
    const { recorder, elapsedS } = await recordFor(dir, 7, { segmentSeconds: 2 });
    const segs = recorder.index.all('cam');
    assert.ok(segs.length >= 3, `${segs.length} segments`);
    let total = 0n;
    for (const s of segs) {
      assert.ok(s.endNs !== null, `${s.path} closed`);
      assert.ok(s.sizeBytes > 0);
      const d = await probeDurationNs(s.path);
      assert.ok(d !== null && d > 0n, `${s.path} is readable by ffprobe`);
      total += s.endNs! - s.startNs;
    }
    const totalS = Number(total) / 1e9;
    assert.ok(Math.abs(totalS - elapsedS) <= 2, `indexed ${totalS.toFixed(2)} s of ${elapsedS.toFixed(2)} s recorded`);
    // Back to back in the index: each segment starts where the previous ended.
    for (let i = 1; i < segs.length; i++) assert.equal(segs[i]!.startNs, segs[i - 1]!.endNs);
    // Range query: only the segments overlapping the span, in order.
    const mid = segs[1]!;
    assert.deepEqual(recorder.recordings('cam', mid.startNs + 1n, mid.endNs! - 1n).map((s) => s.path), [mid.path]);
    assert.deepEqual(recorder.recordings('cam', segs[0]!.startNs, segs.at(-1)!.endNs!).map((s) => s.path), segs.map((s) => s.path));
    assert.deepEqual(recorder.recordings('other', segs[0]!.startNs, segs.at(-1)!.endNs!), []);

    // A clip across a segment boundary: one playable MP4 of the span, within a GOP (2 s in this clip).
    const from = segs[0]!.endNs! - S;
    const to = segs[1]!.startNs + 1_500_000_000n;
    const out = join(dir, 'clip.mp4');
    await cutClip(recorder.recordings('cam', from, to), from, to, out);
    const clipS = Number((await probeDurationNs(out))!) / 1e9;
    assert.ok(clipS >= 2.5 - 2 && clipS <= 2.5 + 2, `clip of ${clipS.toFixed(2)} s for a 2.5 s request`);
    await recorder.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Matroska segments work the same way', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rec-mkv-'));
  try {
    const { recorder } = await recordFor(dir, 4, { segmentSeconds: 2, format: 'mkv' });
    const segs = recorder.index.all('cam');
    assert.ok(segs.length >= 2);
    for (const s of segs) {
      assert.ok(s.path.endsWith('.mkv'));
      assert.ok((await probeDurationNs(s.path))! > 0n);
    }
    await recorder.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('size cap: oldest segments go first and recording never stops', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rec-cap-'));
  try {
    // The clip has a keyframe every 2 s, so segments are 2 s (about 250 KB): a 600 KB cap holds two.
    const { recorder } = await recordFor(dir, 11, { segmentSeconds: 1, maxBytes: 600_000 });
    const c = recorder.counters();
    assert.ok(c.segmentsDeletedSpace >= 2, `${c.segmentsDeletedSpace} deleted for space`);
    assert.ok(c.segmentsClosed >= 5, `${c.segmentsClosed} closed: recording went on`);
    const left = recorder.index.all('cam');
    assert.ok(recorder.index.totalBytes() <= 600_000, `${recorder.index.totalBytes()} bytes kept`);
    // What is left is the newest footage, and the files on disk are exactly the indexed ones.
    assert.equal(left.length, c.segmentsClosed - c.segmentsDeletedSpace);
    const onDisk = readdirSync(join(dir, 'rec', 'cam')).sort();
    assert.deepEqual(onDisk, left.map((s) => s.path.split('/').pop()).sort());
    await recorder.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 during recording: closed segments intact and indexed, the open one recovered or dropped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rec-kill-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'record-child.ts'), media('vtest-h264.mp4'), dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until(() => (out.match(/^closed /gm) ?? []).length >= 3, 20_000, 'three closed segments in the child');
    await sleep(400); // into the next segment
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const acknowledged = [...out.matchAll(/^closed (.+)$/gm)].map((m) => m[1]!);

    const recorder = new Recorder({ indexPath: join(dir, 'index'), recordingsDir: join(dir, 'rec'), minFreeBytes: 0, maxBytes: 0 });
    await recorder.start();
    const c = recorder.counters();
    assert.equal(c.recoveredAtStart + c.droppedAtStart, 1, 'exactly the open segment needed settling');
    const segs = recorder.index.all('cam');
    for (const path of acknowledged) assert.ok(segs.some((s) => s.path === path), `${path} still indexed`);
    for (const s of segs) {
      assert.ok(s.endNs !== null, 'nothing left open');
      assert.ok(existsSync(s.path));
      assert.ok((await probeDurationNs(s.path))! > 0n, `${s.path} playable`);
    }
    assert.equal(recorder.index.open().length, 0);
    await recorder.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
