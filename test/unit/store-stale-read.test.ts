// Reads of a camera's rows from the first one (deleteOldest, deleteOlderThan, oldestTimestamp) returned nothing, or
// only the newest rows, when they came first after appends, and worked on a second try. It looked like a stale read
// snapshot; it was the sub-database's key comparator. The in-place row reader (src/store/row-reader.ts) opened its
// handles with a key encoder that had `enableNullTermination`, so lmdb-js set its `compareFast` comparator on the
// camera's sub-database, for every handle in the environment. compareFast reads as many bytes of the sought key as
// the stored key has: the one-byte key [0] that starts a range without `start` was compared with whatever key lmdb-js
// had last written into its shared key buffer, for any sub-database. Only timestamps below 2^56 ns (before 1972)
// have a first key byte of 0 and could sort after that key, so these tests store such small timestamps, and read
// a key of 'z's elsewhere first. A newest-first page without startNs also stopped before rows stamped below
// 05 00.. (lmdb-js's default first key for a key-encoder handle, the reverse scan's end).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Database } from '../../src/db/database.js';
import { DetectionStore } from '../../src/store/index.js';
import { personBatch } from '../helpers/store.js';

async function withStore(cameras: string[], frames: number, fn: (store: DetectionStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-stale-read-'));
  const store = DetectionStore.open({ path: dir });
  try {
    for (let i = 0; i < frames; i++) await store.append(personBatch(cameras[i % cameras.length]!, i));
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Leaves 'zzzz…' in lmdb-js's shared key buffer (a read of another sub-database): the state that broke the scans. */
function readOtherKey(store: DetectionStore): void {
  assert.equal(store.alerts.get('z'.repeat(24)), undefined);
}

const seqs = (store: DetectionStore, order: 'asc' | 'desc' = 'asc'): number[] =>
  store.queryPage({}, { pageSize: 100, order }).detections.map((d) => Number(d.seq));

test('deleteOldest as the first read after appends deletes the oldest rows', async () => {
  await withStore(['cam-a'], 4, async (store) => {
    assert.equal(await store.deleteOldest(3), 3);
    assert.equal(store.count({}), 1);
    assert.deepEqual(seqs(store), [4]);
    assert.equal(await store.deleteOldest(3), 1);
    assert.equal(store.count({}), 0);
  });
});

test('scans from a camera\'s first row do not depend on the key last read elsewhere', async () => {
  await withStore(['cam-a', 'cam-b'], 8, async (store) => {
    readOtherKey(store);
    assert.equal(store.oldestTimestamp('cam-a'), 1_000_000n);
    readOtherKey(store);
    assert.equal(store.oldestTimestamp('cam-b'), 1_000_001n);
    // cam-a holds frames 0, 2, 4, 6 (seq 1, 3, 5, 7): the two stamped before 1_000_004 go
    readOtherKey(store);
    assert.equal(await store.deleteOlderThan('cam-a', 1_000_004n, 100), 2);
    assert.deepEqual(seqs(store), [2, 4, 5, 6, 7, 8]);
    readOtherKey(store);
    assert.equal(store.oldestTimestamp('cam-a'), 1_000_004n);
    // oldest first across both cameras: cam-b's 1_000_001 and 1_000_003, then cam-a's 1_000_004
    readOtherKey(store);
    assert.equal(await store.deleteOldest(3), 3);
    assert.deepEqual(seqs(store), [6, 7, 8]);
    assert.equal(store.count({}), 3);
  });
});

test('a newest-first page without startNs reaches the oldest rows', async () => {
  await withStore(['cam-a', 'cam-b'], 5, async (store) => {
    readOtherKey(store);
    assert.deepEqual(seqs(store, 'desc'), [5, 4, 3, 2, 1]);
    assert.deepEqual(
      store.queryPage({ cameraIds: ['cam-a'] }, { pageSize: 2, order: 'desc' }).detections.map((d) => Number(d.seq)),
      [5, 3],
    );
    assert.deepEqual(seqs(store), [1, 2, 3, 4, 5]);
  });
});

test('a second handle may not switch a sub-database to ordered-binary key order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-stale-read-db-'));
  const db = Database.open({ path: dir });
  try {
    const writeKey = (key: Uint8Array, target: Uint8Array, start: number): number => {
      target.set(key, start);
      return start + key.length;
    };
    const readKey = (target: Uint8Array, start: number, end: number): Buffer => Buffer.from(target.subarray(start, end));
    assert.throws(() => db.openDB('rows', { keyEncoder: { writeKey, readKey, enableNullTermination(): void {} } }), {
      code: 'E_ARGUMENT',
      message: 'Expected a key encoder of raw byte keys (without enableNullTermination) for options.keyEncoder but received an object of type Object',
    });
    // The same codec without it: raw keys in LMDB's byte order, shared with a binary handle.
    const binary = db.openDB<Buffer, Buffer>('rows', { keyEncoding: 'binary', encoding: 'binary' });
    const raw = db.openDB<Buffer, Buffer>('rows', { keyEncoder: { writeKey, readKey }, encoding: 'binary' });
    await db.transaction(() => {
      for (const k of [[0, 0, 0, 0, 0, 0, 0, 2], [0, 0, 0, 0, 0, 0, 0, 1]]) binary.putSync(Buffer.from(k), Buffer.from([k[7]!]));
    });
    assert.equal(db.openDB<unknown, string>('other').get('z'.repeat(24)), undefined);
    assert.deepEqual([...binary.getKeys({})].map((k) => [...k]), [[0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 2]]);
    assert.deepEqual([...raw.getRange({ start: Buffer.alloc(8) })].map(({ value }) => [...value]), [[1], [2]]);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
