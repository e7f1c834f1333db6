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

test('the per-label arrays (int8 codes, metadata) cover the live labels only, not every label ever issued; also after save and load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-vec-window-'));
  let store = DetectionStore.open({ path: dir });
  let ix = await VectorIndex.open(store, { dims: DIMS, exactBelow: 1 });
  // track i of generation g: trackId (= label) 1000 g + i, cam-1 / cam-2 alternating, 'car' every third, 1 ms apart
  const meta = (id: number) => {
    const i = id % 1000;
    return { cameraId: i % 2 === 0 ? 'cam-1' : 'cam-2', trackId: id, classId: i % 3 === 0 ? 1 : 0, className: i % 3 === 0 ? 'car' : 'person', timestampNs: T0 + BigInt(Math.floor(id / 1000)) * 60n * SEC + BigInt(i) * 1_000_000n };
  };
  const unit = (v: Float32Array) => {
    const n = Math.hypot(...v);
    return Array.from(v, (x) => x / n);
  };
  // the top k of a generation under a filter, by float64 cosine: the expected answer
  const oracle = (gen: number, vs: Float32Array[], q: Float32Array, k: number, keep: (t: ReturnType<typeof meta>) => boolean) => {
    const qu = unit(q);
    return vs
      .map((v, i) => ({ t: meta(gen * 1000 + i), s: unit(v).reduce((a, x, d) => a + x * qu[d]!, 0) }))
      .filter((x) => keep(x.t))
      .sort((a, b) => b.s - a.s)
      .slice(0, k);
  };
  const check = (gen: number, vs: Float32Array[]) => {
    const q = vs[7]!;
    const base = T0 + BigInt(gen) * 60n * SEC;
    const f = { cameraIds: ['cam-2'], className: 'person', startNs: base + 100_000_000n, endNs: base + 899_000_000n };
    const want = oracle(gen, vs, q, 5, (t) => t.cameraId === 'cam-2' && t.className === 'person' && t.timestampNs >= f.startNs && t.timestampNs <= f.endNs);
    assert.equal(want.length, 5);
    for (const hits of [ix.search({ vector: q, k: 5, ...f, strategy: 'exact' }), ix.search({ vector: q, k: 5, ...f, strategy: 'filter' }), ix.bruteForce(q, 5, f)]) {
      assert.deepEqual(hits.map((h) => h.trackId), want.map((w) => w.t.trackId));
      assert.deepEqual(hits.map((h) => h.label), want.map((w) => w.t.trackId));
      hits.forEach((h, i) => assert.ok(Math.abs(h.score - want[i]!.s) < 1e-5, `${h.score} vs ${want[i]!.s}`));
    }
    // unfiltered, graph and exact scan: the example itself first, then its neighbours; never a removed vector
    const all = oracle(gen, vs, q, 10, () => true);
    assert.deepEqual(ix.search({ vector: q, k: 10 }).map((h) => h.trackId), all.map((w) => w.t.trackId));
    assert.deepEqual(ix.search({ vector: q, k: 10, strategy: 'exact' }).map((h) => h.trackId), all.map((w) => w.t.trackId));
    assert.equal(all[0]!.t.trackId, gen * 1000 + 7);
    // by track, the example excluded
    const byTrack = oracle(gen, vs, q, 4, (t) => t.cameraId === 'cam-2' && t.trackId !== gen * 1000 + 7);
    assert.deepEqual(ix.search({ track: { cameraId: 'cam-2', trackId: gen * 1000 + 7 }, k: 3, cameraIds: ['cam-2'], strategy: 'exact' }).map((h) => h.trackId), byTrack.slice(0, 3).map((w) => w.t.trackId));
    const t = ix.getTrack('cam-2', gen * 1000 + 7)!;
    assert.equal(t.label, gen * 1000 + 7);
    assert.deepEqual(t.track, meta(gen * 1000 + 7));
    assert.deepEqual(Array.from(t.vector), Array.from(Float32Array.from(unit(q))));
    assert.equal(ix.getTrack('cam-2', (gen - 1) * 1000 + 7), undefined);
  };
  const retire = async (gen: number) => {
    const cutoff = T0 + BigInt(gen) * 60n * SEC;
    assert.deepEqual([await ix.removeOlderThan('cam-1', cutoff, 10_000), await ix.removeOlderThan('cam-2', cutoff, 10_000)], [500, 500]);
  };
  try {
    let last: Float32Array[] = [];
    for (let gen = 0; gen < 10; gen++) {
      last = vectors(1000, 200 + gen);
      await ix.addMany(last.map((vector, i) => ({ track: meta(gen * 1000 + i), vector })));
      await ix.drain();
      if (gen > 0) await retire(gen);
      assert.equal(ix.count, 1000);
    }
    // Without the window the arrays cover labels 0..9999 (capacity 16,384). With it: the two generations live at a
    // time fit 2048; the window starts at the oldest label still stored when it last moved (generation 8's first).
    assert.deepEqual(ix.labelArrays, { base: 8000, capacity: 2048 });
    check(9, last);

    await ix.save();
    await ix.close();
    await store.close();
    store = DetectionStore.open({ path: dir });
    ix = await VectorIndex.open(store, { dims: DIMS, exactBelow: 1 });
    assert.deepEqual([ix.report.source, ix.count], ['loaded', 1000]);
    // loaded from LMDB: labels 9000..9999 only
    assert.deepEqual(ix.labelArrays, { base: 9000, capacity: 1024 });
    check(9, last);
    const next = vectors(1000, 300);
    await ix.addMany(next.map((vector, i) => ({ track: meta(10_000 + i), vector })));
    await ix.drain();
    await retire(10);
    assert.deepEqual(ix.labelArrays, { base: 9000, capacity: 2048 });
    check(10, next);
  } finally {
    await ix.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('drain() after an add of nothing returns, and the graph keeps taking vectors (the pump once left a settled promise behind)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-vec-pump-'));
  const store = DetectionStore.open({ path: dir });
  const ix = await VectorIndex.open(store, { dims: DIMS, exactBelow: 1 });
  try {
    assert.deepEqual(await ix.addMany([]), []);
    // Before the fix this awaited a settled promise in a loop: microtasks only, so no timer could end it; the file
    // then fails at the runner's timeout.
    await ix.drain();
    const [v] = vectors(1, 5);
    await ix.add({ cameraId: 'cam-1', trackId: 1, classId: 0, className: 'person', timestampNs: T0 }, v!);
    await ix.drain();
    assert.equal(ix.pendingCount, 0);
    assert.equal(ix.search({ vector: v!, k: 1 })[0]!.trackId, 1);
  } finally {
    await ix.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
