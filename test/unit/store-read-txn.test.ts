// Reads that stop early (a page of the stream's log, a page of a multi-camera query) must not leave their LMDB read transaction open: one left to the garbage collector
// pins its snapshot, no page freed after it is reused, and the file grows with every commit (a soak measured
// ~0.9 MB/s for four minutes). Checked through the reader table: after the read, a turn of the event loop and two
// commits, no read transaction is left behind the newest commit.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DetectionStore } from '../../src/store/index.js';
import { personBatch } from '../helpers/store.js';

const personBatchVaried = (cameraId: string, i: number) => personBatch(cameraId, i, 0.5 + (i % 100) / 1000);

async function withStore(fn: (store: DetectionStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-read-txn-'));
  const store = DetectionStore.open({ path: dir });
  try {
    for (let i = 0; i < 40; i++) {
      await store.append(personBatchVaried(i % 2 === 0 ? 'cam-a' : 'cam-b', i));
      await store.appendEvent({ kind: 'alerts', cameraId: 'cam-a', timestampNs: BigInt(1_000_000 + i), data: { n: i } });
    }
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Only the read transaction readTransactions itself uses, at the newest commit. */
const CLEAN = { open: 1, oldestLagTxns: 0 };

/** Lets lmdb-js end its shared read transaction (it does so on a timer), then commits twice more. */
async function afterCommits(store: DetectionStore): Promise<{ open: number; oldestLagTxns: number | null }> {
  await sleep(5);
  await store.append(personBatchVaried('cam-a', 1000));
  await store.append(personBatchVaried('cam-b', 1001));
  await sleep(5);
  return store.readTransactions();
}

test('the reader table shows an iterator left open, and how far behind it is', async () => {
  await withStore(async (store) => {
    // The state the fixes below prevent, made on purpose: a range iterator started and never finished.
    const layout = (store as unknown as { layout: { seqlog: { getRange(o: object): Iterable<unknown> } } }).layout;
    const it = layout.seqlog.getRange({})[Symbol.iterator]();
    it.next();
    const pinned = await afterCommits(store);
    // Open: the iterator's and the current one that readTransactions itself reads the lag with.
    assert.deepEqual(pinned, { open: 2, oldestLagTxns: 2 });
    it.return?.();
    assert.deepEqual(await afterCommits(store), CLEAN);
  });
});

test('a page of the stream log ends its read transaction', async () => {
  await withStore(async (store) => {
    const page = store.readLog(0n, 5);
    assert.equal(page.entries.length, 5);
    assert.deepEqual(await afterCommits(store), CLEAN);
  });
});

test('a page of a two-camera detection query ends its read transaction', async () => {
  await withStore(async (store) => {
    const page = store.queryPage({ cameraIds: ['cam-a', 'cam-b'] }, { pageSize: 3, withTotal: false });
    assert.deepEqual(
      page.detections.map((d) => d.cameraId),
      ['cam-a', 'cam-b', 'cam-a'],
    );
    assert.deepEqual(await afterCommits(store), CLEAN);
  });
});
