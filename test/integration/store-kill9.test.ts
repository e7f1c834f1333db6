import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore } from '../../src/store/detection-store.js';
import type { StoredDetection } from '../../src/types.js';
import { kill9Frame, runWriter, type Ack } from './store-kill9-writer.js';

const RUNS = 50;

it(`keeps every acknowledged detection across ${RUNS} kill -9 of a writer mid-stream`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-kill9-'));
  try {
    const allAcks: Ack[] = [];
    let lastAckedSeq = 0n;
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let run = 0; run < RUNS; run++) {
      const acks = await runWriter(dir, run * 1_000_000, 1 + rand(40), rand(15));
      assert.ok(acks.length > 0, `run ${run}: no acknowledgement before the kill`);
      // the database opens cleanly and holds every acknowledged detection, exactly as written
      const store = DetectionStore.open({ path: dir });
      try {
        const minSeq = acks.reduce((m, a) => (a.firstSeq < m ? a.firstSeq : m), acks[0]!.firstSeq);
        assert.ok(minSeq > lastAckedSeq, `run ${run}: sequence ${minSeq} reused (last acknowledged ${lastAckedSeq})`);
        const bySeq = new Map<bigint, StoredDetection>();
        let next = minSeq;
        for (;;) {
          const r = store.replay(next, 5000);
          for (const d of r.detections) bySeq.set(d.seq, d);
          if (r.detections.length === 0) break;
          next = r.nextSeq;
        }
        for (const a of acks) {
          const frame = kill9Frame(a.cameraId, a.frame);
          assert.equal(a.count, frame.detections.length);
          frame.detections.forEach((d, i) => {
            const got = bySeq.get(a.firstSeq + BigInt(i));
            assert.ok(got, `run ${run}: acknowledged seq ${a.firstSeq + BigInt(i)} missing`);
            assert.deepEqual(got, { seq: a.firstSeq + BigInt(i), cameraId: a.cameraId, timestampNs: frame.timestampNs, frameWidth: 1280, frameHeight: 720, ...d });
          });
          if (a.firstSeq + BigInt(a.count) - 1n > lastAckedSeq) lastAckedSeq = a.firstSeq + BigInt(a.count) - 1n;
        }
        allAcks.push(...acks);
      } finally {
        await store.close();
      }
    }
    // at the end every acknowledged row of every run is still there, and range queries see them
    const store = DetectionStore.open({ path: dir });
    try {
      const expectedRows = allAcks.reduce((s, a) => s + a.count, 0);
      let found = 0;
      for (const a of allAcks) {
        for (let i = 0; i < a.count; i++) if (store.getBySeq(a.firstSeq + BigInt(i))) found++;
      }
      assert.equal(found, expectedRows);
      assert.ok(store.count({}) >= expectedRows);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
