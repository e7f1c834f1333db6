/**
 * Filtered search's default ('auto') method choice on a real LMDB store + HNSW graph: exact scan of the matching
 * tracks for a selective filter, over-fetch of the graph for a broad one, with recall@10 against brute force, and
 * the per-camera time-ordered label lists kept right through replacements and retention.
 * (32-d clustered vectors keep the graph build short on 2 shared cores; bench/store.ts measures 480-d.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore } from '../../src/store/detection-store.js';
import { defaultEfSearch, VectorIndex, type SearchFilters } from '../../src/store/vector-index.js';
import { clustered, CLUSTER_T0, type ClusteredSet } from '../unit/store-vector-data.js';

const SEC = 1_000_000_000n;
const N = 30_000;

function truth(set: ClusteredSet, q: Float32Array, f: SearchFilters, k = 10): number[] {
  const scored: { id: number; s: number }[] = [];
  set.vectors.forEach((v, i) => {
    const t = set.tracks[i]!;
    if (f.cameraIds && !f.cameraIds.includes(t.cameraId)) return;
    if (f.className !== undefined && t.className !== f.className) return;
    if (f.startNs !== undefined && t.timestampNs < f.startNs) return;
    if (f.endNs !== undefined && t.timestampNs > f.endNs) return;
    let s = 0;
    for (let d = 0; d < set.dims; d++) s += v[d]! * q[d]!;
    scored.push({ id: t.trackId, s });
  });
  return scored.sort((a, b) => b.s - a.s).slice(0, k).map((x) => x.id);
}

describe('filtered search: the default picks exact or over-fetch by selectivity', () => {
  let dir: string;
  let store: DetectionStore;
  let ix: VectorIndex;
  let set: ClusteredSet;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-search-filtered-'));
    store = DetectionStore.open({ path: dir });
    set = clustered(N, 32, 300, 8, 40, 21);
    ix = await VectorIndex.open(store, { dims: 32 });
    for (let i = 0; i < N; i += 10_000) await ix.addMany(set.tracks.slice(i, i + 10_000).map((track, j) => ({ track, vector: set.vectors[i + j]! })));
    await ix.drain();
  });
  after(async () => {
    await ix.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const recall = (f: SearchFilters): number => {
    let r = 0;
    for (const q of set.queries) {
      const want = new Set(truth(set, q, f));
      const got = ix.search({ vector: q, k: 10, ...f });
      assert.equal(got.length, want.size);
      r += got.filter((h) => want.has(h.trackId)).length / want.size;
    }
    return r / set.queries.length;
  };

  it('a selective filter (0.4%: one camera, one class, the last tenth of the time) is an exact scan: brute force results', () => {
    const f = { cameraIds: ['cam-4'], className: 'car', startNs: CLUSTER_T0 + BigInt(N * 0.9) * SEC };
    const before = { ...ix.methods };
    for (const q of set.queries.slice(0, 10)) assert.deepEqual(ix.search({ vector: q, k: 10, ...f }).map((h) => h.trackId), truth(set, q, f));
    assert.deepEqual({ ...ix.methods }, { ...before, exact: before.exact + 10 });
  });

  it('a broad filter (12.5%: 3 of 8 cameras and a class) over-fetches the graph with recall@10 >= 0.95', () => {
    const f = { cameraIds: ['cam-1', 'cam-2', 'cam-5'], className: 'person' };
    const before = { ...ix.methods };
    const r = recall(f);
    assert.ok(r >= 0.95, `recall ${r}`);
    assert.equal(ix.methods.exact, before.exact);
    assert.equal(ix.methods.overfetch + ix.methods.filter - before.overfetch - before.filter, set.queries.length);
    assert.ok(ix.methods.overfetch - before.overfetch >= set.queries.length * 0.9, JSON.stringify(ix.methods));
  });

  it('a time-only filter and an inclusive end bound are enumerated from every camera', () => {
    const f = { startNs: CLUSTER_T0 + 1000n * SEC, endNs: CLUSTER_T0 + 1099n * SEC };
    const q = set.queries[0]!;
    const hits = ix.search({ vector: q, k: 100, ...f });
    assert.deepEqual(hits.map((h) => h.trackId).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => 1000 + i));
    assert.deepEqual(ix.search({ vector: q, k: 5, cameraIds: ['no-such-camera'] }), []);
  });

  it('replaced and expired vectors leave the camera lists: no stale or duplicate hits', async () => {
    // track 29_999 (cam-7) moves 20000 s back in time with a new vector; then retention drops cam-7 before 15000 s
    const t = set.tracks[N - 1]!;
    const v = set.vectors[0]!;
    await ix.add({ ...t, timestampNs: CLUSTER_T0 + 10_000n * SEC }, v);
    // bounds 1 ns either side (the lists are ordered by ms; the exact bound is applied per row)
    const f = { cameraIds: ['cam-7'], startNs: CLUSTER_T0 + 10_000n * SEC - 1n, endNs: CLUSTER_T0 + 10_000n * SEC + 1n };
    const hits = ix.search({ vector: v, k: 10, ...f, strategy: 'exact' });
    assert.deepEqual(hits.map((h) => [h.trackId, h.timestampNs]), [[N - 1, CLUSTER_T0 + 10_000n * SEC]]);
    assert.deepEqual(ix.search({ vector: v, k: 10, cameraIds: ['cam-7'], startNs: CLUSTER_T0 + BigInt(N - 1) * SEC, strategy: 'exact' }), []);
    const cam7Before15000 = set.tracks.filter((x) => x.cameraId === 'cam-7' && x.timestampNs < CLUSTER_T0 + 15_000n * SEC).length + 1;
    assert.equal(await ix.removeOlderThan('cam-7', CLUSTER_T0 + 15_000n * SEC, 100_000), cam7Before15000);
    assert.deepEqual(ix.search({ vector: v, k: 10, cameraIds: ['cam-7'], endNs: CLUSTER_T0 + 15_000n * SEC }), []);
    assert.equal(ix.search({ vector: v, k: 10, cameraIds: ['cam-7'] }).every((h) => h.timestampNs >= CLUSTER_T0 + 15_000n * SEC), true);
  });
});

describe('search breadth (efSearch): the default grows with the index, an explicit value wins', () => {
  let dir: string;
  let store: DetectionStore;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-search-ef-'));
    store = DetectionStore.open({ path: dir });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaultEfSearch: 64 up to 100k vectors, 64 x (n / 100k)^0.6 above, at most 512', () => {
    assert.deepEqual([0, 1, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000].map(defaultEfSearch), [64, 64, 64, 97, 168, 255, 386, 512, 512]);
  });

  it('an index uses the default for its count unless efSearch is given; bad values are refused', async () => {
    const set = clustered(50, 16, 5, 2, 1, 3);
    const ix = await VectorIndex.open(store, { dims: 16 });
    await ix.addMany(set.tracks.map((track, i) => ({ track, vector: set.vectors[i]! })));
    await ix.drain();
    assert.equal(ix.efSearch, 64);
    await ix.close();
    const fixed = await VectorIndex.open(store, { dims: 16, efSearch: 300 });
    assert.equal(fixed.count, 50);
    assert.equal(fixed.efSearch, 300);
    assert.equal(fixed.search({ vector: set.queries[0]!, k: 10 }).length, 10);
    await fixed.close();
    await assert.rejects(VectorIndex.open(store, { dims: 16, efSearch: 0 }), { name: 'VigilArgumentError', message: 'Expected a positive integer for options.efSearch but received 0' });
    await assert.rejects(VectorIndex.open(store, { dims: 16, efSearch: 1.5 }), { name: 'VigilArgumentError', message: 'Expected a positive integer for options.efSearch but received 1.5' });
  });
});
