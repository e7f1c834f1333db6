/**
 * Retention with a controlled clock and free-space reading: exactly what is past its age goes, never what is not;
 * event-only cameras keep just the footage around events; the free-space floor deletes oldest first across cameras.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Recorder } from '../../src/recording/recorder.js';
import type { SegmentEvent } from '../../src/camera/camera.js';

const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;

/** Feeds back-to-back 10 s segments of `bytes` each, starting at T0, through the recorder's segment path. */
async function feed(rec: Recorder, dir: string, cameraId: string, count: number, bytes = 1000, startAt = T0) {
  const paths: string[] = [];
  mkdirSync(join(dir, cameraId), { recursive: true });
  for (let i = 0; i < count; i++) {
    const location = join(dir, cameraId, `${cameraId}-${i}.mp4`);
    writeFileSync(location, Buffer.alloc(bytes));
    const base = { cameraId, run: 1, location, type: 'segment' as const };
    const running = i * 10_000_000_000;
    await rec.onSegment({ ...base, phase: 'opened', runningTimeNs: running, wallClockNs: startAt + BigInt(running) } as SegmentEvent);
    await rec.onSegment({ ...base, phase: 'closed', runningTimeNs: running + 10_000_000_000, wallClockNs: startAt + BigInt(running) + 10n * S } as SegmentEvent);
    paths.push(location);
  }
  return paths;
}

function setup(opts: { now: () => bigint; free?: () => number; minFreeBytes?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ret-'));
  const rec = new Recorder({
    indexPath: join(dir, 'index'),
    recordingsDir: dir,
    minFreeBytes: opts.minFreeBytes ?? 0,
    maxBytes: 0,
    now: opts.now,
    ...(opts.free ? { freeBytes: opts.free } : {}),
  });
  return { dir, rec };
}

test('age: segments ending before now - maxAge are deleted, the rest kept, per camera', async () => {
  let now = T0;
  const { dir, rec } = setup({ now: () => now });
  try {
    rec.setPolicy('a', { mode: 'continuous', maxAgeS: 60, preRollS: 0, postRollS: 0 });
    rec.setPolicy('b', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
    const a = await feed(rec, dir, 'a', 10); // ends at T0 + 10 s, 20 s, ... 100 s
    await feed(rec, dir, 'b', 10);
    now = T0 + 160n * S; // cutoff T0 + 100 s: segments ending at or after it stay
    await rec.sweep();
    const left = rec.index.all('a').map((s) => s.path);
    assert.deepEqual(left, [a[9]!], 'only the segment ending exactly at the cutoff is kept');
    for (const p of a.slice(0, 9)) assert.equal(existsSync(p), false);
    assert.equal(rec.index.all('b').length, 10, 'no age limit on b');
    assert.equal(rec.counters().segmentsDeletedAge, 9);
  } finally {
    await rec.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('event mode keeps only [event - preRoll, event + postRoll]', async () => {
  let now = T0;
  const { dir, rec } = setup({ now: () => now });
  try {
    rec.setPolicy('e', { mode: 'event', maxAgeS: 0, preRollS: 5, postRollS: 12 });
    const paths = await feed(rec, dir, 'e', 10); // [T0, T0+10) ... [T0+90, T0+100)
    rec.markEvent('e', T0 + 42n * S); // keep [T0+37, T0+54): segments 3, 4 and 5
    now = T0 + 200n * S;
    await rec.sweep();
    assert.deepEqual(rec.index.all('e').map((s) => s.path), [paths[3], paths[4], paths[5]]);
    assert.equal(rec.counters().segmentsDeletedEventMode, 7);
  } finally {
    await rec.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('event mode keeps recent footage that may become pre-roll', async () => {
  let now = T0;
  const { dir, rec } = setup({ now: () => now });
  try {
    rec.setPolicy('e', { mode: 'event', maxAgeS: 0, preRollS: 15, postRollS: 0 });
    const paths = await feed(rec, dir, 'e', 10);
    now = T0 + 100n * S; // segments ending at or after T0 + 85 s may still be pre-roll
    await rec.sweep();
    assert.deepEqual(rec.index.all('e').map((s) => s.path), [paths[8], paths[9]]);
  } finally {
    await rec.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('free-space floor: oldest first across cameras until the floor holds', async () => {
  let free = 10_000;
  const { dir, rec } = setup({ now: () => T0, free: () => free, minFreeBytes: 5_000 });
  try {
    rec.setPolicy('a', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
    rec.setPolicy('b', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
    const a = await feed(rec, dir, 'a', 3, 1000, T0); // T0, +10, +20
    const b = await feed(rec, dir, 'b', 3, 1000, T0 + 5n * S); // T0+5, +15, +25
    free = 2_500; // deleting a file frees 1000 bytes in this simulation
    const origRm = rec.index.remove.bind(rec.index);
    rec.index.remove = async (seg) => {
      free += seg.sizeBytes;
      return origRm(seg);
    };
    await rec.sweep();
    // Needs 2500 more bytes: three segments, the oldest across both cameras: a0 (T0), b0 (T0+5), a1 (T0+10).
    assert.deepEqual(rec.index.all().map((s) => s.path).sort(), [a[2], b[1], b[2]].sort());
    assert.equal(rec.counters().segmentsDeletedSpace, 3);
  } finally {
    await rec.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
