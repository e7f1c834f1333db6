/**
 * Retention and the vector graph (issue 17, soak): a server that keeps vectors for a while and keeps adding new
 * ones must not grow its graph for ever. Slots of deleted vectors (removeOlderThan, a track's replaced vector) are
 * reused by later inserts, also after the index is saved and loaded again; search finds the new vectors, never the
 * removed ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore } from '../../src/store/detection-store.js';
import { VectorIndex } from '../../src/store/vector-index.js';
import { mulberry32 } from './store-vector-data.js';

const DIMS = 16;
const SEC = 1_000_000_000n;
const T0 = 1_800_000_000n * SEC;

function vectors(n: number, seed: number): Float32Array[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: DIMS }, () => rnd() * 2 - 1));
}

test('a graph under retention reuses the slots of removed vectors instead of growing; also after save and load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-vec-retention-'));
  let store = DetectionStore.open({ path: dir });
  let ix = await VectorIndex.open(store, { dims: DIMS, exactBelow: 1 });
  try {
    // 1000 vectors a "minute", each minute's removed by retention the next: ten generations through one graph.
    let trackId = 0;
    let last: Float32Array[] = [];
    for (let gen = 0; gen < 10; gen++) {
      last = vectors(1000, 100 + gen);
      const ts = T0 + BigInt(gen) * 60n * SEC;
      await ix.addMany(last.map((vector) => ({ track: { cameraId: 'cam-1', trackId: trackId++, classId: 0, className: 'person', timestampNs: ts }, vector })));
      await ix.drain();
      if (gen > 0) assert.equal(await ix.removeOlderThan('cam-1', ts, 10_000), 1000);
      assert.equal(ix.count, 1000);
    }
    // Without reuse: 10,000 slots, capacity 16,384. With it: the first generation's slots, reused ever since.
    assert.deepEqual(ix.graphSlots, { slots: 2000, vacant: 1000, capacity: 2048 });
    const hit = ix.search({ vector: last[7]!, k: 1 })[0]!;
    assert.equal(hit.trackId, 9007);
    assert.ok(Math.abs(hit.score - 1) < 1e-5);
    // Removed vectors are never found: every hit of a broad search is from the last generation.
    assert.ok(ix.search({ vector: last[0]!, k: 50 }).every((h) => h.trackId >= 9000));

    // Saved and loaded: the vacant slots are known again and reused.
    await ix.save();
    await ix.close();
    await store.close();
    store = DetectionStore.open({ path: dir });
    ix = await VectorIndex.open(store, { dims: DIMS, exactBelow: 1 });
    assert.deepEqual([ix.report.source, ix.count], ['loaded', 1000]);
    assert.deepEqual(ix.graphSlots, { slots: 2000, vacant: 1000, capacity: 2048 });
    const next = vectors(1000, 999);
    await ix.addMany(next.map((vector) => ({ track: { cameraId: 'cam-1', trackId: trackId++, classId: 0, className: 'person', timestampNs: T0 + 600n * SEC }, vector })));
    await ix.drain();
    assert.deepEqual(ix.graphSlots, { slots: 2000, vacant: 0, capacity: 2048 });
    assert.equal(ix.search({ vector: next[3]!, k: 1 })[0]!.trackId, 10_003);
    assert.equal(ix.search({ vector: last[3]!, k: 1 })[0]!.trackId, 9003);
  } finally {
    await ix.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
