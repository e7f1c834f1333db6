/** Track ids unique across restarts: the hi/lo allocator on a real LMDB file, and the tracker's use of it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { TrackIdAllocator } from '../../src/tracking/track-ids.js';
import { Tracker } from '../../src/tracking/index.js';
import type { DetectionBatch } from '../../src/types.js';

test('ids continue above every reserved block after a reopen (crash-safe), per camera', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-trackids-'));
  try {
    let env = open({ path: dir });
    let ids = new TrackIdAllocator(env.openDB<number, string>('track-ids', {}), { blockSize: 2 });
    assert.deepEqual([ids.next('a'), ids.next('a'), ids.next('a'), ids.next('b')], [1, 2, 3, 1]);
    // No close of the allocator: the ceiling was committed before the ids were handed out (a kill -9 here is fine).
    await env.close();
    env = open({ path: dir });
    ids = new TrackIdAllocator(env.openDB<number, string>('track-ids', {}), { blockSize: 2 });
    assert.deepEqual([ids.next('a'), ids.next('b')], [5, 3]);
    await env.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('allocator options and the tracker hook are validated', () => {
  assert.throws(() => new TrackIdAllocator({} as never, { blockSize: 0 }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 1048576 for options.blockSize but received 0' });
  assert.throws(() => new Tracker('cam', { allocateId: 5 as never }), { code: 'E_ARGUMENT', message: 'Expected a function or null for tracker.allocateId but received 5' });
});

test('the tracker numbers confirmed tracks with the allocator', () => {
  let next = 1000;
  const t = new Tracker('cam', { allocateId: () => next++ });
  const frame = (seq: number, x: number): DetectionBatch => ({
    cameraId: 'cam', frameSequence: seq, timestampNs: BigInt(seq) * 1_000_000n, frameWidth: 640, frameHeight: 480,
    detections: [{ classId: 0, className: 'person', confidence: 0.9, box: { x1: x, y1: 10, x2: x + 50, y2: 110 } }],
  });
  t.update(frame(1, 10));
  const r = t.update(frame(2, 12));
  assert.deepEqual(r.objects.map((o) => o.trackId), [1000]);
  const bad = new Tracker('cam', { allocateId: () => -1 });
  bad.update(frame(1, 10));
  assert.throws(() => bad.update(frame(2, 12)), { code: 'E_ARGUMENT', message: 'Expected a positive int32 track id for allocateId() but received -1' });
});
