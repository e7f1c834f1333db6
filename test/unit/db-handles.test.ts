/**
 * Handles on the environment's root are opened once. lmdb-js parks a finished range iterator's native cursor on
 * its database handle for the next iteration to reuse, and does not close it when the handle is garbage-collected:
 * a handle opened per call left one LMDB cursor (malloc'ed, ~0.5 KB) behind per call. `names()` runs on every
 * /metrics scrape (spaceUsage, vigil_store_bytes); the soak's allocation profile showed lmdb-js's CursorWrap
 * allocations growing ~1.5 MB an hour from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/db/database.js';
import { loadAddon } from '../../bindings/index.js';

const addon = loadAddon();

// Bytes malloc hands out now (glibc: in its heaps and not free, plus blocks with mappings of their own).
function mallocInUse(): number {
  const s = addon.heapStats()!;
  return s.heapBytes - s.freeBytes + s.mmapBytes;
}

test('names() and spaceUsage() leave no native memory behind (22,000 calls)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-db-handles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = Database.open({ path: join(dir, 'db'), sync: 'none' });
  try {
    await db.transaction(() => {
      for (const name of ['a/one', 'a/two', 'b/three']) db.openDB<number, string>(name).put('k', 1);
    });
    assert.deepEqual(db.names(), ['a/one', 'a/two', 'b/three']);
    for (let i = 0; i < 2000; i++) db.names(); // warm-up: JIT, lmdb-js's shared buffers
    const before = mallocInUse();
    for (let i = 0; i < 20_000; i++) db.names();
    for (let i = 0; i < 2000; i++) db.spaceUsage();
    const grewKiB = (mallocInUse() - before) / 1024;
    // Before the fix: ~0.5 KB per call, ~10,000 KiB here.
    assert.ok(grewKiB < 1024, `malloc in use grew ${grewKiB.toFixed(0)} KiB over 22,000 calls`);
    assert.deepEqual(db.names(), ['a/one', 'a/two', 'b/three']);
  } finally {
    await db.close();
  }
});
