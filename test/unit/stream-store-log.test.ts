/**
 * StoreEventLog over a real LMDB store (temporary directory): one sequence space for detection batches and events,
 * replay paged from the store then from the in-memory cache, and detections refused on the publish path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore } from '../../src/store/detection-store.js';
import { StoreEventLog } from '../../src/stream/store-log.js';
import { StreamHub } from '../../src/stream/hub.js';
import type { SequencedEvent, StreamEvent } from '../../src/stream/events.js';
import type { DetectionBatch } from '../../src/types.js';

const batch = (frame: number, n: number): DetectionBatch => ({
  cameraId: 'cam-1',
  frameSequence: frame,
  timestampNs: 1_000n + BigInt(frame),
  frameWidth: 640,
  frameHeight: 480,
  detections: Array.from({ length: n }, (_, i) => ({ classId: 1, className: 'car', confidence: 0.5, box: { x1: i, y1: 0, x2: 10, y2: 10 } })),
});
const status = (i: number): StreamEvent => ({
  kind: 'camera_status',
  status: { cameraId: 'cam-1', status: 'running', previous: 'starting', timestampNs: 2_000n + BigInt(i), message: `m${i}` },
});

async function collect(it: AsyncIterable<SequencedEvent>): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for await (const e of it) out.push([e.seq, e.event.kind]);
  return out;
}

test('one sequence space: batches carry their last detection sequence; replay pages from the store, then the cache', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-storelog-'));
  const store = DetectionStore.open({ path: dir, sync: 'none' });
  try {
    const log = new StoreEventLog(store, { recent: 2, pageEntries: 3 });
    const durable: number[] = [];
    log.onDurable((items) => durable.push(...items.map((i) => i.seq)));
    void store.append(batch(1, 3)); // seqs 1-3
    log.append(status(1)); // 4
    void store.append(batch(2, 0)); // no detections: not stored, not streamed
    void store.append(batch(3, 2)); // 5-6
    log.append(status(2)); // 7
    log.append(status(3)); // 8
    void store.append(batch(4, 1)); // 9
    await store.flush();
    assert.deepEqual(durable, [3, 4, 6, 7, 8, 9]);
    assert.deepEqual([log.lastSeq(), log.oldestSeq()], [9, 1]);
    const all: Array<[number, string]> = [[3, 'detections'], [4, 'camera_status'], [6, 'detections'], [7, 'camera_status'], [8, 'camera_status'], [9, 'detections']];
    assert.deepEqual(await collect(log.since(0, 9)), all);
    // 0 and 3 are outside the cache (2 newest): pages of 3 entries from the store
    assert.deepEqual(log.stats, { storePages: 2, storeEntries: 6 });
    assert.deepEqual(await collect(log.since(6, 8)), all.slice(3, 5));
    assert.deepEqual(await collect(log.since(7, 9)), all.slice(4)); // 8 and 9 are cached
    assert.deepEqual(log.stats, { storePages: 3, storeEntries: 9 });
    // mid-batch (a client that sent a detection's own seq): the whole batch again
    assert.deepEqual(await collect(log.since(1, 4)), all.slice(0, 2));
    assert.throws(() => log.append({ kind: 'detections', batch: batch(9, 1) }), {
      code: 'E_STREAM_DETECTIONS_VIA_STORE',
      message: 'Detections reach the stream from the detection store after their commit: pass them to store.offer() or store.append(), not to publish()',
    });
    const hub = new StreamHub({ log });
    assert.equal(hub.publish(status(4)), 0);
    await store.flush();
    assert.equal(log.lastSeq(), 10);
    assert.equal(hub.totals.published, 1);
    hub.close();
    log.close();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store event log: validation, queue bound, counter across reopen when the newest entry is an event', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-storelog-'));
  let store = DetectionStore.open({ path: dir, sync: 'none', maxQueuedEvents: 2 });
  try {
    assert.throws(() => store.appendEvent({ kind: 'Bad Kind', cameraId: 'c', timestampNs: 1n, data: null }), {
      message: 'Expected an event kind of 1-32 lowercase letters or _ for event.kind but received "Bad Kind"',
    });
    await store.append(batch(1, 2));
    const a = store.appendEvent({ kind: 'alerts', cameraId: 'cam-1', timestampNs: 5n, data: { n: 1n } });
    const b = store.appendEvent({ kind: 'alerts', cameraId: 'cam-1', timestampNs: 6n, data: { n: 2n } });
    await assert.rejects(store.appendEvent({ kind: 'alerts', cameraId: 'cam-1', timestampNs: 7n, data: null }), {
      code: 'E_STORE_BACKPRESSURE',
      message: 'Event queue full (2 queued): alerts event of camera cam-1 dropped',
    });
    assert.deepEqual([(await a).seq, (await b).seq], [3n, 4n]);
    assert.deepEqual(store.eventStats(), { queued: 0, dropped: 1, committed: 2 });
    await store.close();
    store = DetectionStore.open({ path: dir, sync: 'none' });
    assert.equal(store.lastSeq, 4n);
    const r = store.readLog(2n);
    assert.deepEqual(r.entries.map((e) => (e.type === 'event' ? [e.event.seq, e.event.data] : [e.batch.firstSeq, e.batch.count])), [[3n, { n: 1n }], [4n, { n: 2n }]]);
    assert.deepEqual([r.after, r.lastSeq, r.oldestSeq], [4n, 4n, 1n]);
    assert.equal((await store.append(batch(2, 1))).firstSeq, 5n);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('retention trims stream events older than every camera keeps its detections, never the newest', async () => {
  const { RetentionManager } = await import('../../src/store/retention.js');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-storelog-'));
  const store = DetectionStore.open({ path: dir, sync: 'none' });
  try {
    const s = 1_000_000_000n;
    for (const t of [1n, 2n, 10n]) await store.appendEvent({ kind: 'alerts', cameraId: 'cam-1', timestampNs: t * s, data: { t } });
    const disk = async () => ({ freeBytes: 1e12, totalBytes: 1e12 });
    // Cameras keep 5 s and 3 s: events older than the longer age (5 s before now = 12 s) go.
    const keep = new RetentionManager(store, { defaultMaxAgeMs: 3_000, perCameraMaxAgeMs: { 'cam-1': 5_000 }, nowNs: () => 12n * s, diskStats: disk });
    assert.equal((await keep.runOnce()).eventLogTrimmed, 2);
    assert.deepEqual(store.readLog(0n).entries.map((e) => (e.type === 'event' ? e.event.data : null)), [{ t: 10n }]);
    // A camera kept forever keeps every event too.
    const forever = new RetentionManager(store, { defaultMaxAgeMs: 3_000, perCameraMaxAgeMs: { 'cam-2': null }, nowNs: () => 100n * s, diskStats: disk });
    assert.equal((await forever.runOnce()).eventLogTrimmed, 0);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
