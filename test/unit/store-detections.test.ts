import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore, type DetectionQuery } from '../../src/store/detection-store.js';
import { StoreDetectionSource } from '../../src/api/sources.js';
import { RetentionManager, storeHealthCheck } from '../../src/store/retention.js';
import { VectorIndex } from '../../src/store/vector-index.js';
import type { DetectionBatch, StoredDetection, TrackSummary } from '../../src/types.js';

const SEC = 1_000_000_000n;
const T0 = 1_800_000_000n * SEC;
const CLASSES = ['person', 'car', 'bicycle'];

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeBatch(r: () => number, cameraId: string, frameSequence: number, timestampNs: bigint): DetectionBatch {
  const n = 1 + Math.floor(r() * 4);
  const detections = Array.from({ length: n }, (_, i) => {
    const cls = Math.floor(r() * CLASSES.length);
    const d = {
      classId: cls,
      className: CLASSES[cls]!,
      confidence: Math.round(r() * 1000) / 1000,
      box: { x1: 10 + i, y1: 20.5, x2: 110.25 + i, y2: 220 },
    } as DetectionBatch['detections'][number];
    if (r() < 0.5) d.trackId = Math.floor(r() * 10);
    return d;
  });
  return { cameraId, frameSequence, timestampNs, frameWidth: 1920, frameHeight: 1080, detections };
}

function modelMatches(d: StoredDetection, q: DetectionQuery): boolean {
  if (q.cameraIds && q.cameraIds.length > 0 && !q.cameraIds.includes(d.cameraId)) return false;
  if (q.startNs !== undefined && d.timestampNs < q.startNs) return false;
  if (q.endNs !== undefined && d.timestampNs > q.endNs) return false;
  if ((q.className !== undefined || q.classNames !== undefined) && !(d.className === q.className || (q.classNames ?? []).includes(d.className))) return false;
  if (q.minConfidence !== undefined && d.confidence < q.minConfidence) return false;
  if (q.trackId !== undefined && d.trackId !== q.trackId) return false;
  return true;
}

function order(a: StoredDetection, b: StoredDetection): number {
  if (a.timestampNs !== b.timestampNs) return a.timestampNs < b.timestampNs ? -1 : 1;
  return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

describe('detection store', () => {
  let dir: string;
  let store: DetectionStore;
  const model: StoredDetection[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
    store = DetectionStore.open({ path: dir, bucketSeconds: 1 });
    const r = rng(42);
    const acks: Promise<unknown>[] = [];
    const frames = new Map<string, number>();
    // Three cameras, interleaved, 0..40 s, with equal timestamps across cameras and some out-of-order frames.
    for (let i = 0; i < 1500; i++) {
      const cam = ['cam-a', 'cam-b', 'cam-c'][i % 3]!;
      const f = (frames.get(cam) ?? 0) + 1;
      frames.set(cam, f);
      const jitter = r() < 0.1 ? -BigInt(Math.floor(r() * 2e9)) : 0n;
      let ts = T0 + (BigInt(i) * 40n * SEC) / 1500n + jitter;
      if (i % 7 === 0) ts = T0 + BigInt(Math.floor(i / 3)) * 80_000_000n;
      const batch = makeBatch(r, cam, f, ts);
      acks.push(store.append(batch).then((c) => model.push(...c.detections)));
      if (i % 100 === 99) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
    model.sort(order);
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('assigns consecutive sequence numbers from 1 and reports them', () => {
    const seqs = model.map((d) => d.seq).sort((a, b) => (a < b ? -1 : 1));
    assert.equal(seqs[0], 1n);
    assert.equal(seqs[seqs.length - 1], BigInt(model.length));
    assert.equal(store.lastSeq, BigInt(model.length));
    assert.equal(store.stats().committedDetections, model.length);
  });

  it('returns exactly the rows in a range, in order, per camera and across cameras, with exact totals', () => {
    const r = rng(7);
    const queries: DetectionQuery[] = [{}, { cameraIds: ['cam-b'] }, { cameraIds: ['nope'] }];
    for (let i = 0; i < 60; i++) {
      const a = T0 - SEC + BigInt(Math.floor(r() * 42e9));
      const b = a + BigInt(Math.floor(r() * 20e9));
      const q: DetectionQuery = { startNs: a, endNs: b };
      const cams = ['cam-a', 'cam-b', 'cam-c'].filter(() => r() < 0.6);
      if (cams.length > 0) q.cameraIds = cams;
      const f = r();
      if (f < 0.2) q.className = 'car';
      else if (f < 0.4) q.minConfidence = Math.round(r() * 100) / 100;
      else if (f < 0.5) q.minConfidence = 0.3337;
      else if (f < 0.6) q.trackId = 3;
      queries.push(q);
    }
    // an exact boundary: both bounds inclusive
    const mid = model[500]!;
    queries.push({ startNs: mid.timestampNs, endNs: mid.timestampNs });
    for (const q of queries) {
      const want = model.filter((d) => modelMatches(d, q));
      const all: StoredDetection[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const p = store.queryPage(q, { pageSize: 37, cursor });
        assert.equal(p.total, want.length);
        all.push(...p.detections);
        cursor = p.nextCursor;
        pages++;
      } while (cursor);
      assert.deepEqual(all, want);
      assert.equal(pages, Math.max(1, Math.ceil(want.length / 37)));
      assert.equal(store.count(q), want.length);
      // page numbers land on the same rows as the cursor walk
      for (const page of [1, 2, 5]) {
        const p = store.queryPage(q, { pageSize: 37, page });
        assert.deepEqual(p.detections, want.slice((page - 1) * 37, page * 37));
        assert.equal(p.page, page);
      }
    }
  });

  it('pages newest first with the same exactness, and filters on several classes', () => {
    const r = rng(8);
    for (let i = 0; i < 30; i++) {
      const a = T0 + BigInt(Math.floor(r() * 40e9));
      const q: DetectionQuery = { startNs: a, endNs: a + BigInt(Math.floor(r() * 15e9)) };
      if (i % 2) q.cameraIds = ['cam-a', 'cam-c'];
      if (i % 3 === 0) q.classNames = ['car', 'bicycle'];
      if (i % 5 === 0) q.minConfidence = 0.5;
      const want = model.filter((d) => modelMatches(d, q)).reverse();
      const all: StoredDetection[] = [];
      let cursor: string | null = null;
      do {
        const p = store.queryPage(q, { pageSize: 29, cursor, order: 'desc' });
        assert.equal(p.total, want.length);
        all.push(...p.detections);
        cursor = p.nextCursor;
      } while (cursor);
      assert.deepEqual(all, want);
      for (const page of [2, 4]) assert.deepEqual(store.queryPage(q, { pageSize: 29, page, order: 'desc' }).detections, want.slice((page - 1) * 29, page * 29));
    }
    const asc = store.queryPage({}, { pageSize: 5 });
    assert.throws(() => store.queryPage({}, { pageSize: 5, cursor: asc.nextCursor, order: 'desc' }), { code: 'E_ARGUMENT', message: `Expected a cursor made with order 'desc' for cursor but received "${asc.nextCursor!.slice(0, 28)}"` });
  });

  it('answers the REST layer\'s detection source (newest first, end exclusive, classes by name or id, camera scope)', async () => {
    const api = new StoreDetectionSource(store);
    const start = model[100]!.timestampNs;
    const end = model[900]!.timestampNs;
    const inRange = (d: StoredDetection): boolean => d.timestampNs >= start && d.timestampNs < end;
    const newest = (xs: StoredDetection[]): StoredDetection[] => [...xs].reverse();
    let r = await api.query({ cameraIds: ['cam-b'], startNs: start, endNs: end, confidenceMin: 0.3, classes: ['person', '2'], page: 2, pageSize: 20 });
    const want = newest(model.filter((d) => inRange(d) && d.cameraId === 'cam-b' && d.confidence >= 0.3 && (d.className === 'person' || d.classId === 2)));
    assert.deepEqual(r, { detections: want.slice(20, 40), total: want.length, page: 2, page_size: 20 });
    r = await api.query({ cameraIds: '*', page: 1, pageSize: 10 });
    assert.deepEqual(r, { detections: newest(model).slice(0, 10), total: model.length, page: 1, page_size: 10 });
    assert.deepEqual(await api.query({ cameraIds: [], page: 1, pageSize: 10 }), { detections: [], total: 0, page: 1, page_size: 10 });
    assert.equal((await api.query({ cameraIds: '*', classes: ['1'], page: 1, pageSize: 1 })).total, model.filter((d) => d.classId === 1).length);
    assert.deepEqual(store.classNamesForId(1), ['car']);
  });

  it('streams an export in order', async () => {
    const q: DetectionQuery = { cameraIds: ['cam-a', 'cam-c'], minConfidence: 0.5 };
    const got: StoredDetection[] = [];
    for await (const d of store.export(q, 50)) got.push(d);
    assert.deepEqual(got, model.filter((d) => modelMatches(d, q)));
  });

  it('replays by global sequence from any position', () => {
    const bySeq = [...model].sort((a, b) => (a.seq < b.seq ? -1 : 1));
    for (const from of [0n, 1n, 2n, 500n, 1234n, BigInt(model.length)]) {
      const got: StoredDetection[] = [];
      let next = from;
      for (;;) {
        const r = store.replay(next, 97);
        got.push(...r.detections);
        assert.equal(r.lastSeq, BigInt(model.length));
        assert.equal(r.oldestSeq, 1n);
        if (r.detections.length === 0) break;
        next = r.nextSeq;
      }
      assert.deepEqual(got, bySeq.filter((d) => d.seq >= from));
    }
    assert.deepEqual(store.replay(BigInt(model.length) + 1n).detections, []);
    assert.deepEqual(store.getBySeq(77n), bySeq[76]);
  });

  it('stores tracks, alerts and users in typed collections', async () => {
    const t: TrackSummary = { trackId: 5, cameraId: 'cam-a', classId: 0, className: 'person', startNs: T0, endNs: null, bestConfidence: 0.9, bestBox: { x1: 1, y1: 2, x2: 3, y2: 4 }, bestFrameSequence: 12, bestTimestampNs: T0 + 5n };
    await store.tracks.put(['cam-a', 5], t);
    assert.deepEqual(store.tracks.get(['cam-a', 5]), t);
    await store.users.put('alice', { role: 'admin' });
    assert.deepEqual([...store.users.entries()], [{ key: 'alice', value: { role: 'admin' } }]);
    assert.equal(await store.users.remove('alice'), true);
    assert.equal(store.users.count(), 0);
  });

  it('rejects bad batches with the argument message shape', () => {
    assert.throws(() => store.append({ cameraId: 'x', frameSequence: 1, timestampNs: 5 as unknown as bigint, frameWidth: 1, frameHeight: 1, detections: [] }), {
      code: 'E_ARGUMENT',
      message: 'Expected a bigint timestamp in ns since the Unix epoch for batch.timestampNs but received 5',
    });
    const bad = makeBatch(rng(1), 'x', 1, T0);
    bad.detections[0]!.confidence = 1.5;
    assert.throws(() => store.append(bad), { code: 'E_ARGUMENT', message: 'Expected a number from 0 to 1 for batch.detections[0].confidence but received 1.5' });
  });
});

describe('detection store queue', () => {
  it('drops and counts when the queue is full, and acknowledges the rest after commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-store-q-'));
    const store = DetectionStore.open({ path: dir, maxQueuedDetections: 10 });
    try {
      const r = rng(3);
      const batches = Array.from({ length: 10 }, (_, i) => {
        const b = makeBatch(r, 'cam', i, T0 + BigInt(i));
        b.detections = b.detections.slice(0, 1).concat(b.detections.slice(0, 1));
        return b;
      });
      const results = await Promise.allSettled(batches.map((b) => store.append(b)));
      assert.deepEqual(results.map((x) => x.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
      const rej = results[5] as PromiseRejectedResult;
      assert.equal(rej.reason.code, 'E_STORE_BACKPRESSURE');
      assert.deepEqual({ ...store.stats() }, { droppedDetections: 10, droppedBatches: 5, committedDetections: 10, commits: 1, writeErrors: 0, queuedDetections: 0, lastSeq: 10n });
      assert.equal(store.count({}), 10);
      // offer(): the same without promises; committed frames reach onCommitted listeners
      const seen: bigint[] = [];
      const off = store.onCommitted((cs) => seen.push(...cs.map((c) => c.firstSeq)));
      assert.deepEqual(batches.map((b) => store.offer(b)), [true, true, true, true, true, false, false, false, false, false]);
      await store.flush();
      off();
      assert.deepEqual(seen, [11n, 13n, 15n, 17n, 19n]);
      assert.equal(store.stats().droppedBatches, 10);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts the faster sync modes only when asked, by name', async () => {
    for (const sync of ['overlapping', 'none'] as const) {
      const dir = mkdtempSync(join(tmpdir(), `vigil-store-${sync}-`));
      const store = DetectionStore.open({ path: dir, sync, commitDelayMs: 5 });
      try {
        assert.equal(store.sync, sync);
        const c = await store.append(makeBatch(rng(4), 'cam', 1, T0));
        assert.deepEqual(store.queryPage({}, { pageSize: 10 }).detections, c.detections);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    assert.throws(() => DetectionStore.open({ path: '/tmp/x', sync: 'fast' as never }), { code: 'E_ARGUMENT', message: `Expected 'durable', 'overlapping' or 'none' for options.sync but received "fast"` });
  });

  it('keeps the sequence across reopen and refuses use after close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-store-r-'));
    try {
      let store = DetectionStore.open({ path: dir });
      await store.append(makeBatch(rng(5), 'cam', 1, T0));
      const last = store.lastSeq;
      await store.close();
      await store.close();
      assert.throws(() => store.count({}), { code: 'E_CLOSED', message: 'DetectionStore is closed' });
      store = DetectionStore.open({ path: dir });
      const c = await store.append(makeBatch(rng(6), 'cam', 2, T0 + 1n));
      assert.equal(c.firstSeq, last + 1n);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('retention', () => {
  it('deletes exactly what is past its age per camera, in bounded batches, and never what is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-store-ret-'));
    const store = DetectionStore.open({ path: dir, bucketSeconds: 10 });
    try {
      const r = rng(11);
      const model: StoredDetection[] = [];
      for (let i = 0; i < 600; i++) {
        const cam = ['a', 'b', 'c'][i % 3]!;
        const c = await Promise.all([store.append(makeBatch(r, cam, i, T0 + BigInt(i) * SEC))]);
        model.push(...c[0]!.detections);
      }
      const now = T0 + 600n * SEC;
      // one track and one track vector per 10 s per camera; tracks 0-9 never ended (age by start time)
      const vectors = await VectorIndex.open(store, { dims: 4 });
      for (const cam of ['a', 'b', 'c']) {
        for (let t = 0; t < 60; t++) {
          const startNs = T0 + BigInt(t * 10) * SEC;
          await store.tracks.put([cam, t], { trackId: t, cameraId: cam, classId: 0, className: 'person', startNs, endNs: t < 10 ? null : startNs + 5n * SEC, bestConfidence: 0.9, bestBox: { x1: 0, y1: 0, x2: 1, y2: 1 }, bestFrameSequence: t, bestTimestampNs: startNs });
          await vectors.add({ cameraId: cam, trackId: t, classId: 0, className: 'person', timestampNs: startNs + 2n * SEC }, [1, t, 0, 1]);
        }
      }
      // a: 100 s, b: 250.5 s (cutoff inside a frame's second), c: forever
      const ret = new RetentionManager(store, { perCameraMaxAgeMs: { a: 100_000, b: 250_500, c: null }, batchRows: 50, nowNs: () => now, vectors });
      const rep = await ret.runOnce();
      // tracks: a keeps those ending at/after 500 s (t >= 50 ends at 10t+5 >= 500 -> t >= 50); b: ends >= 349.5 s -> t >= 35
      assert.deepEqual(rep.tracksDeleted, { a: 50, b: 35 });
      assert.deepEqual([...store.tracks.entries()].filter((e) => e.key[0] === 'a').map((e) => e.key[1]), Array.from({ length: 10 }, (_, i) => 50 + i));
      assert.equal([...store.tracks.entries()].filter((e) => e.key[0] === 'c').length, 60);
      // vectors at 10t+2 s: a keeps 10t+2 >= 500 -> t >= 50 (50 deleted); b keeps 10t+2 >= 349.5 -> t >= 35
      assert.deepEqual(rep.vectorsDeleted, { a: 50, b: 35 });
      assert.equal(vectors.count, 180 - 85);
      assert.equal(vectors.getTrack('a', 49), undefined);
      assert.equal(vectors.getTrack('a', 50)?.track.trackId, 50);
      assert.ok(vectors.search({ vector: [1, 1, 0, 1], k: 100, cameraIds: ['a', 'b'] }).every((h) => (h.cameraId === 'a' ? h.trackId >= 50 : h.trackId >= 35)));
      const cutoff: Record<string, bigint | null> = { a: now - 100n * SEC, b: now - 250_500_000_000n, c: null };
      const keep = model.filter((d) => cutoff[d.cameraId] === null || d.timestampNs >= cutoff[d.cameraId]!).sort(order);
      const gone = model.length - keep.length;
      assert.deepEqual(rep.deletedByAge, {
        a: model.filter((d) => d.cameraId === 'a' && d.timestampNs < cutoff.a!).length,
        b: model.filter((d) => d.cameraId === 'b' && d.timestampNs < cutoff.b!).length,
      });
      assert.equal(rep.incomplete, false);
      const left: StoredDetection[] = [];
      for await (const d of store.export({})) left.push(d);
      assert.deepEqual(left, keep);
      assert.equal(store.count({}), keep.length);
      assert.equal(store.count({ cameraIds: ['a'], startNs: T0, endNs: now }), keep.filter((d) => d.cameraId === 'a').length);
      assert.ok(gone > 0);
      // a row exactly at the cutoff is kept; the replay skips what retention removed
      const replayed = store.replay(0n, 100000).detections;
      assert.deepEqual(replayed, [...keep].sort((x, y) => (x.seq < y.seq ? -1 : 1)));
      // a second pass deletes nothing
      assert.equal(rep.seqLogTrimmed > 0, true);
      assert.ok(store.replay(0n, 1).oldestSeq > 1n);
      const rep2 = await ret.runOnce();
      assert.deepEqual([rep2.deletedByAge, rep2.tracksDeleted, rep2.vectorsDeleted], [{}, {}, {}]);
      await vectors.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deletes the oldest rows across cameras when the disk is below the floor, and reports degraded health', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-store-wm-'));
    const store = DetectionStore.open({ path: dir });
    try {
      const r = rng(12);
      const model: StoredDetection[] = [];
      for (let i = 0; i < 3000; i += 100) {
        const cs = await Promise.all(Array.from({ length: 100 }, (_, j) => store.append(makeBatch(r, `cam${(i + j) % 4}`, i + j, T0 + BigInt(i + j) * SEC))));
        for (const c of cs) model.push(...c.detections);
      }
      model.sort(order);
      // Simulated disk (a real file system cannot be filled here): 1 MB free, floor 10 MB.
      let free = 1_000_000;
      const before = store.spaceUsage();
      // ask for 256 KiB more reusable space than the file has now: about a third of the rows must go
      const reserveBytes = before.reusableBytes + 256 * 1024;
      const ret = new RetentionManager(store, { minFreeBytes: 10_000_000, reserveBytes, batchRows: 500, maxBatchesPerPass: 100, diskStats: async () => ({ freeBytes: free, totalBytes: 100_000_000 }) });
      const h = await ret.health();
      assert.equal(h.status, 'degraded');
      assert.equal(h.message, 'disk nearly full: 1000000 bytes free, floor 10000000');
      const rep = await ret.runOnce();
      assert.ok(rep.deletedForSpace > 0 && rep.deletedForSpace % 500 === 0, String(rep.deletedForSpace));
      assert.ok(store.spaceUsage().reusableBytes >= reserveBytes);
      assert.ok(rep.deletedForSpace < model.length);
      const left: StoredDetection[] = [];
      for await (const d of store.export({})) left.push(d);
      assert.deepEqual(left, model.slice(rep.deletedForSpace));
      assert.deepEqual(await storeHealthCheck(ret).check(), { status: 'degraded', detail: 'disk nearly full: 1000000 bytes free, floor 10000000' });
      free = 50_000_000;
      assert.equal((await ret.health()).status, 'ok');
      assert.deepEqual(await storeHealthCheck(ret).check(), { status: 'ok' });
      const rep2 = await ret.runOnce();
      assert.equal(rep2.deletedForSpace, 0);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
