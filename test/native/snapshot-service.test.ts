/**
 * SnapshotService on real parts: source frames copied natively (SourceFrame.fromPixels stands in for a camera's
 * capture, same native class), JPEG encode/decode by GStreamer, LMDB for the stored snapshots. Frames are solid
 * colours so which frame was kept is visible in the decoded picture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { SourceFrame, sourceFrameStats } from '../../src/camera/source-frame.js';
import type { Frame } from '../../src/camera/frame.js';
import { SnapshotService } from '../../src/media/snapshots.js';
import type { TrackEvent, TrackerFrameResult } from '../../src/tracking/tracker.js';
import type { Alert, Box } from '../../src/types.js';

const W = 64;
const H = 48;
type Rgb = [number, number, number];

/** A leased camera frame whose capture is a solid-colour copy (or refused, like an exhausted budget). */
function frame(color: Rgb, wallClockNs: bigint, refuse = false): Frame {
  return {
    cameraId: 'cam',
    wallClockNs,
    captureSource: () => {
      if (refuse) return null;
      const px = new Uint8Array(W * H * 3);
      for (let i = 0; i < W * H; i++) px.set(color, i * 3);
      return SourceFrame.fromPixels(px, { format: 'RGB', width: W, height: H });
    },
  } as unknown as Frame;
}

const box: Box = { x1: 8, y1: 8, x2: 40, y2: 40 };
function result(seq: number, objects: Array<[number, number]>, events: TrackEvent[] = []): TrackerFrameResult {
  return {
    cameraId: 'cam', frameSequence: seq, timestampNs: BigInt(seq), frameWidth: W, frameHeight: H,
    objects: objects.map(([trackId, confidence]) => ({ trackId, classId: 0, className: 'person', confidence, box })),
    endedTrackIds: events.map((e) => e.trackId), detections: [], events,
  };
}
const end = (trackId: number, ns: bigint): TrackEvent => ({ type: 'end', cameraId: 'cam', trackId, classId: 0, className: 'person', frameSequence: 0, timestampNs: ns });

async function centre(jpeg: Buffer): Promise<Rgb> {
  const f = await SourceFrame.decodeJpeg(jpeg);
  try {
    const rgb = new Uint8Array(await f.cropTensor({ x1: 0, y1: 0, x2: f.width, y2: f.height }, { width: f.width, height: f.height, layout: 'nhwc-u8', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] }));
    const i = ((f.height >> 1) * f.width + (f.width >> 1)) * 3;
    return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
  } finally {
    f.close();
  }
}
function near(a: Rgb, b: Rgb, what: string): void {
  assert.ok(a.every((v, i) => Math.abs(v - b[i]!) <= 8), `${what}: ${a} vs ${b}`);
}

async function withService(opts: ConstructorParameters<typeof SnapshotService>[1], fn: (s: SnapshotService) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-snapsvc-'));
  const env: RootDatabase = open({ path: dir });
  const s = new SnapshotService({ snapshots: env.openDB('snapshots', { keyEncoding: 'ordered-binary' }), times: env.openDB('times', { keyEncoding: 'ordered-binary' }) }, opts);
  try {
    await fn(s);
  } finally {
    await s.close();
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a track keeps the frame of its best score; at its end that frame is stored and handed to the embedder', async () => {
  const base = sourceFrameStats().frames;
  const offered: Array<{ trackId: number; closed: boolean }> = [];
  await withService({
    embeddings: {
      offer: (t, f) => {
        const entry = { trackId: t.trackId, closed: false };
        offered.push(entry);
        setTimeout(() => { entry.closed = true; f.close(); }, 5);
        return true;
      },
    },
  }, async (s) => {
    s.observe(result(1, [[1, 0.6]]), frame([255, 0, 0], 1_000n));
    s.observe(result(2, [[1, 0.9], [2, 0.5]]), frame([0, 0, 255], 2_000n)); // one capture shared by both tracks
    s.observe(result(3, [[1, 0.7], [2, 0.8]]), frame([0, 255, 0], 3_000n));
    assert.deepEqual([s.stats().captured, s.stats().liveTracks], [3, 2]);
    near(await centre((await s.trackSnapshot('cam', 1))!), [0, 0, 255], 'track 1 live: its best (blue) frame');
    near(await centre((await s.trackSnapshot('cam', 2))!), [0, 255, 0], 'track 2 live: its best (green) frame');
    const crop = await SourceFrame.decodeJpeg((await s.trackSnapshot('cam', 1, { crop: true }))!);
    assert.deepEqual([crop.width, crop.height], [42, 42]); // 32x32 box + 15 % margin per side, rounded out
    crop.close();

    s.trackEvents([end(1, 4_000n)]);
    await s.close(); // waits for the encode and the store write; frees the live track 2
    assert.deepEqual(offered.map((o) => o.trackId), [1]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sourceFrameStats().frames, base);
    assert.equal(s.stats().stored, 1);
  });
});

test('stored snapshots: served after the track ended, cropped on demand, expired by age', async () => {
  await withService({}, async (s) => {
    s.observe(result(1, [[7, 0.9]]), frame([200, 200, 0], 1_000_000_000n));
    s.observe(result(2, [[8, 0.9]]), frame([0, 200, 200], 5_000_000_000n));
    s.trackEvents([end(7, 2_000_000_000n), end(8, 6_000_000_000n)]);
    // Wait for both encodes to land.
    for (let i = 0; i < 200 && s.stats().stored < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.stats().stored, 2);
    near(await centre((await s.trackSnapshot('cam', 7))!), [200, 200, 0], 'stored track 7');
    const crop = await SourceFrame.decodeJpeg((await s.trackSnapshot('cam', 7, { crop: true }))!);
    assert.deepEqual([crop.width, crop.height], [42, 42]);
    crop.close();
    assert.equal(await s.trackSnapshot('cam', 9), null);
    // Cutoff 3 s (ms since the epoch): track 7's frame (1 s) goes, track 8's (5 s) stays.
    assert.equal(await s.expire(['cam'], () => 3_000), 1);
    assert.equal(await s.trackSnapshot('cam', 7), null);
    assert.notEqual(await s.trackSnapshot('cam', 8), null);
    assert.equal(await s.expire(['cam'], () => null), 0);
    assert.equal(s.stats().expired, 1);
  });
});

test('bounds: a refused capture is counted; encode work past maxPendingEncodes is dropped and counted', async () => {
  const alert = (id: string): Alert => ({
    alertId: id, ruleId: 'r', ruleName: 'R', cameraId: 'cam', state: 'raised', message: 'm', trackIds: [1],
    raisedNs: 10_000_000_000n, updatedNs: 10_000_000_000n, clearedNs: null, acknowledgedBy: null, details: {},
  });
  const uploads: string[] = [];
  await withService({ maxPendingEncodes: 1, uploader: { upload: async (a) => { uploads.push(a.alertId); return `https://media.example/${a.alertId}.jpg`; } } }, async (s) => {
    s.observe(result(1, [[1, 0.9]]), frame([1, 2, 3], 1n, true));
    assert.deepEqual([s.stats().captured, s.stats().captureRefused, s.stats().liveTracks], [0, 1, 0]);
    const first = s.alertRaised(alert('a1'), frame([255, 255, 255], 10_000_000_000n), box);
    const second = await s.alertRaised(alert('a2'), frame([255, 255, 255], 10_000_000_000n), box);
    assert.equal(second, null);
    const snap = await first;
    assert.equal(snap?.url, 'https://media.example/a1.jpg');
    assert.deepEqual(snap?.box, box);
    assert.deepEqual(uploads, ['a1']);
    assert.equal((await s.alertSnapshot('a1', 'cam'))?.jpeg.equals(snap!.jpeg), true);
    assert.equal(await s.alertSnapshot('a2', 'cam'), null);
    assert.deepEqual([s.stats().dropped, s.stats().uploaded, s.stats().stored], [1, 1, 1]);
  });
});

test('use after close is refused with a clear error', async () => {
  await withService({}, async (s) => {
    await s.close();
    await s.close();
    await assert.rejects(s.trackSnapshot('cam', 1), { code: 'E_CLOSED', message: 'SnapshotService is closed: trackSnapshot() called after close()' });
    assert.throws(() => new SnapshotService({} as never, { quality: 0 }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 100 for snapshots.quality but received 0' });
  });
});
