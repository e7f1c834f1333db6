/**
 * Memory of SnapshotService's recent-image list (issue 17, soak): stored images are remembered per camera (up to
 * 128) so that later-ending tracks can share them, and before the fix each entry kept its JPEG alive: ~90 KB per
 * image at maxWidth 640, ~11 MB per camera, which the soak saw as JS external memory growing for minutes. The list
 * must keep only what sharing needs (the image's frame key and index row). Real parts: native source frames, JPEG
 * encoding by GStreamer, files and an LMDB index in a temporary folder; the garbage collector decides what is kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { open } from 'lmdb';
import { SourceFrame } from '../../src/camera/source-frame.js';
import type { Frame } from '../../src/camera/frame.js';
import { SnapshotService } from '../../src/media/snapshots.js';
import type { TrackEvent, TrackerFrameResult } from '../../src/tracking/tracker.js';
import type { Alert, Box } from '../../src/types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const W = 64;
const H = 48;
const box: Box = { x1: 8, y1: 8, x2: 40, y2: 40 };

function frame(shade: number, wallClockNs: bigint): Frame {
  return {
    cameraId: 'cam',
    wallClockNs,
    captureSource: () => SourceFrame.fromPixels(new Uint8Array(W * H * 3).fill(shade), { format: 'RGB', width: W, height: H }),
  } as unknown as Frame;
}
function result(seq: number, objects: Array<[number, number]>): TrackerFrameResult {
  return {
    cameraId: 'cam', frameSequence: seq, timestampNs: BigInt(seq), frameWidth: W, frameHeight: H,
    objects: objects.map(([trackId, confidence]) => ({ trackId, classId: 0, className: 'person', confidence, box })),
    endedTrackIds: [], detections: [], events: [],
  };
}
const end = (trackId: number, ns: bigint): TrackEvent => ({ type: 'end', cameraId: 'cam', trackId, classId: 0, className: 'person', frameSequence: 0, timestampNs: ns });
const alertOf = (id: string, ns: bigint): Alert => ({
  alertId: id, ruleId: 'r', ruleName: 'R', cameraId: 'cam', state: 'raised', message: 'm', trackIds: [1],
  raisedNs: ns, updatedNs: ns, clearedNs: null, acknowledgedBy: null, details: {},
});

async function waitFor(what: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(what(), 'condition not reached in 3 s');
}

test('the recent-image list keeps no JPEG alive, and tracks still share its images', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-snaprecent-'));
  const env = open({ path: join(root, 'db') });
  const jpegs: Array<WeakRef<Buffer>> = [];
  const s = new SnapshotService(
    { index: env.openDB('snapshot-index', { keyEncoding: 'ordered-binary' }), dir: join(root, 'snapshots') },
    { maxWidth: 32, uploader: { upload: async (_a, jpeg) => (jpegs.push(new WeakRef(jpeg)), null) } },
  );
  try {
    const n = 10;
    for (let i = 0; i < n; i++) {
      // Frame A: tracks a (0.9) and b (0.85); an alert on it stores its image (a recent entry showing both).
      const nsA = BigInt(i + 1) * 10_000_000_000n;
      const a = 2 * i + 1;
      const b = 2 * i + 2;
      s.observe(result(2 * i, [[a, 0.9], [b, 0.85]]), frame(10 * i, nsA));
      assert.ok(await s.alertRaised(alertOf(`alert-${i}`, nsA), frame(10 * i, nsA), box));
      // Frame B: track b scores its best (0.95) there; 0.85 >= 0.8 * 0.95, so at its end b shares A's image.
      s.observe(result(2 * i + 1, [[b, 0.95]]), frame(10 * i + 5, nsA + 1_000_000n));
      s.trackEvents([end(a, nsA + 2_000_000n), end(b, nsA + 2_000_000n)]);
      await waitFor(() => s.stats().stored === 3 * (i + 1));
    }
    const st = s.stats();
    assert.deepEqual([st.images, st.stored, st.shared, st.encoded, st.liveTracks], [n, 3 * n, 2 * n, n, 0]);
    assert.equal(jpegs.length, n);
    // Every alert's work is done and its snapshot dropped: nothing should hold the JPEGs now.
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    assert.equal(jpegs.filter((w) => w.deref() !== undefined).length, 0, 'JPEGs still reachable after the work that made them ended');
    // The images themselves are still there, shared by both tracks of each alert frame.
    const snapA = await s.trackSnapshot('cam', 1);
    const snapB = await s.trackSnapshot('cam', 2);
    assert.ok(snapA && snapB);
    assert.deepEqual(snapB, snapA);
  } finally {
    await s.close();
    await env.close();
    rmSync(root, { recursive: true, force: true });
  }
});
