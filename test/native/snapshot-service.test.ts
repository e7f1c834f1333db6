/**
 * SnapshotService on real parts: source frames copied natively (SourceFrame.fromPixels stands in for a camera's
 * capture, same native class), JPEG encode/decode (and scaling) by GStreamer, image files in a temporary folder
 * indexed in an LMDB sub-database. Frames are solid colours so which frame was kept is visible in the picture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
function frame(color: Rgb, wallClockNs: bigint, refuse = false, cameraId = 'cam'): Frame {
  return {
    cameraId,
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
function result(seq: number, objects: Array<[number, number] | [number, number, Box]>, events: TrackEvent[] = []): TrackerFrameResult {
  return {
    cameraId: 'cam', frameSequence: seq, timestampNs: BigInt(seq), frameWidth: W, frameHeight: H,
    objects: objects.map(([trackId, confidence, b]) => ({ trackId, classId: 0, className: 'person', confidence, box: b ?? box })),
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

/** Every file under `dir`, relative, sorted. */
function filesIn(dir: string, rel = ''): string[] {
  if (!existsSync(join(dir, rel))) return [];
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesIn(dir, rel ? `${rel}/${e.name}` : e.name) : [rel ? `${rel}/${e.name}` : e.name]))
    .sort();
}

async function waitFor(what: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(what(), 'condition not reached in 3 s');
}

interface Ctx {
  s: SnapshotService;
  dir: string;
  env: RootDatabase;
  /** A second service on the same index and folder (a restart), closed by the caller. */
  reopen(opts?: ConstructorParameters<typeof SnapshotService>[1]): SnapshotService;
}

async function withService(opts: ConstructorParameters<typeof SnapshotService>[1], fn: (c: Ctx) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vigil-snapsvc-'));
  const env: RootDatabase = open({ path: join(root, 'db') });
  const dir = join(root, 'snapshots');
  const make = (o: typeof opts) => new SnapshotService({ index: env.openDB('snapshot-index', { keyEncoding: 'ordered-binary' }), dir }, o);
  const s = make(opts);
  try {
    await fn({ s, dir, env, reopen: (o) => make(o ?? opts) });
  } finally {
    await s.close();
    await env.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function size(jpeg: Buffer | null): Promise<[number, number]> {
  assert.ok(jpeg, 'a JPEG');
  const f = await SourceFrame.decodeJpeg(jpeg);
  try {
    return [f.width, f.height];
  } finally {
    f.close();
  }
}

test('a track keeps the frame of its best score; at its end that frame is stored as a file and handed to the embedder', async () => {
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
  }, async ({ s, dir }) => {
    assert.deepEqual(await s.ready(), { files: 0, orphans: 0, temporary: 0, dangling: 0 });
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
    await s.close(); // waits for the encode, the file and the index write; frees the live track 2
    assert.deepEqual(offered.map((o) => o.trackId), [1]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sourceFrameStats().frames, base);
    const st = s.stats();
    assert.deepEqual([st.stored, st.images, st.shared], [1, 1, 0]);
    // Frame time 2000 ns: the first day of 1970 (UTC).
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/2000.jpg']);
    const onDisk = readFileSync(join(dir, 'cam/1970-01-01/2000.jpg'));
    assert.equal(st.bytesWritten, onDisk.byteLength);
    near(await centre(onDisk), [0, 0, 255], 'the file: track 1 best (blue) frame');
  });
});

test('stored images: scaled to maxWidth, served after the track ended, crops cut from the stored pixels, expired with their files', async () => {
  await withService({ maxWidth: 32 }, async ({ s, dir }) => {
    s.observe(result(1, [[7, 0.9]]), frame([200, 200, 0], 1_000_000_000n));
    s.observe(result(2, [[8, 0.9]]), frame([0, 200, 200], 5_000_000_000n));
    assert.deepEqual(await size(await s.trackSnapshot('cam', 7)), [32, 24]); // live: the size it will be stored at
    s.trackEvents([end(7, 2_000_000_000n), end(8, 6_000_000_000n)]);
    await waitFor(() => s.stats().stored === 2);
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/1000000000.jpg', 'cam/1970-01-01/5000000000.jpg']);
    const whole = (await s.trackSnapshot('cam', 7))!;
    assert.deepEqual(await size(whole), [32, 24]);
    assert.deepEqual(whole, readFileSync(join(dir, 'cam/1970-01-01/1000000000.jpg')));
    near(await centre(whole), [200, 200, 0], 'stored track 7');
    // Box 8..40 of the 64-wide source is 4..20 of the 32-wide image; 15 % margin: 1.6..22.4, rounded out: 1..23.
    assert.deepEqual(await size(await s.trackSnapshot('cam', 7, { crop: true })), [22, 22]);
    assert.equal(await s.trackSnapshot('cam', 9), null);
    // Cutoff 3 s (ms since the epoch): track 7's frame (1 s) goes with its file, track 8's (5 s) stays.
    assert.equal(await s.expire(['cam'], () => 3_000), 1);
    assert.equal(await s.trackSnapshot('cam', 7), null);
    assert.notEqual(await s.trackSnapshot('cam', 8), null);
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/5000000000.jpg']);
    assert.equal(await s.expire(['cam'], () => null), 0);
    assert.equal(await s.expire(['cam'], () => 6_000), 1);
    assert.deepEqual(filesIn(dir), []);
    assert.equal(existsSync(join(dir, 'cam', '1970-01-01')), false, 'the empty day folder goes too');
    assert.deepEqual([s.stats().expired, s.stats().imagesDeleted, s.stats().missing], [2, 2, 0]);
  });
});

test('tracks share one image: the same best frame, or a stored frame where they scored >= 0.8 of their best', async () => {
  await withService({}, async ({ s, dir }) => {
    const A = 1_000_000_000n, B = 2_000_000_000n, C = 3_000_000_000n;
    const left: Box = { x1: 2, y1: 2, x2: 20, y2: 40 };
    s.observe(result(1, [[1, 0.9], [2, 0.7, left]]), frame([255, 0, 0], A));
    s.observe(result(2, [[2, 0.8], [3, 0.9]]), frame([0, 255, 0], B)); // track 2's best is B, 3's too
    s.observe(result(3, [[3, 0.5], [4, 0.9], [5, 0.6]]), frame([0, 0, 255], C));
    // One call, as the tracker reports them: 1 stores A; 2 scored 0.7 >= 0.8 x 0.8 in A and shares it; 3 was not
    // in A and stores its best B; 4 stores C; 5's best is C, which is being stored: shared.
    s.trackEvents([end(1, 4n), end(2, 4n), end(3, 4n), end(4, 4n), end(5, 4n)]);
    await waitFor(() => s.stats().stored === 5);
    const st = s.stats();
    assert.deepEqual([st.images, st.stored, st.shared], [3, 5, 2]);
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/1000000000.jpg', 'cam/1970-01-01/2000000000.jpg', 'cam/1970-01-01/3000000000.jpg']);
    const colours: Rgb[] = [[255, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 255]];
    for (const [i, c] of colours.entries()) near(await centre((await s.trackSnapshot('cam', i + 1))!), c, `track ${i + 1}`);
    // Track 2's crop is its box in the shared frame A (2..20 x 2..40 + 15 %, clamped: 0..23 x 0..46), not the box
    // of its own best frame (8..40 x 8..40 -> 42x42).
    assert.deepEqual(await size(await s.trackSnapshot('cam', 2, { crop: true })), [23, 46]);
    // An image goes with its last reference: A's two tracks at cutoff 1.5 s, then B's one. In batches of one: a pass
    // stops at maxBatches, the next one goes on until a batch comes back short.
    assert.equal(await s.expireAll(['cam'], () => 1_500, { batchRows: 1, maxBatches: 1 }), 1);
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/1000000000.jpg', 'cam/1970-01-01/2000000000.jpg', 'cam/1970-01-01/3000000000.jpg']);
    assert.equal(await s.expireAll(['cam'], () => 1_500, { batchRows: 1 }), 1);
    await assert.rejects(s.expireAll(['cam'], () => 1_500, { batchRows: 0 }), { code: 'E_ARGUMENT', message: 'Expected a positive integer for opts.batchRows but received 0' });
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/2000000000.jpg', 'cam/1970-01-01/3000000000.jpg']);
    assert.equal(await s.expire(['cam'], () => 2_500), 1);
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/3000000000.jpg']);
    assert.equal(s.stats().imagesDeleted, 2);
  });
  // Ratio 1: only the exact best frame is shared, so track 2 gets its own image.
  await withService({ shareMinScoreRatio: 1 }, async ({ s }) => {
    s.observe(result(1, [[1, 0.9], [2, 0.7]]), frame([255, 0, 0], 1_000_000_000n));
    s.observe(result(2, [[2, 0.8]]), frame([0, 255, 0], 2_000_000_000n));
    s.trackEvents([end(1, 4n), end(2, 4n)]);
    await waitFor(() => s.stats().stored === 2);
    assert.deepEqual([s.stats().images, s.stats().shared], [2, 0]);
  });
});

const alertOf = (id: string, ns = 10_000_000_000n): Alert => ({
  alertId: id, ruleId: 'r', ruleName: 'R', cameraId: 'cam', state: 'raised', message: 'm', trackIds: [1],
  raisedNs: ns, updatedNs: ns, clearedNs: null, acknowledgedBy: null, details: {},
});

test('an alert on a frame a track kept: one capture, one file, uploaded once, served for both', async () => {
  const uploads: Array<[string, number]> = [];
  await withService({ maxWidth: 32, uploader: { upload: async (a, jpeg) => { uploads.push([a.alertId, jpeg.byteLength]); return `https://media.example/${a.alertId}.jpg`; } } }, async ({ s, dir }) => {
    const ns = 10_000_000_000n;
    s.observe(result(1, [[1, 0.9]]), frame([0, 0, 255], ns));
    const snap = await s.alertRaised(alertOf('a1', ns), frame([255, 255, 255], ns), box);
    assert.equal(s.stats().captured, 1, 'the alert reused the capture of that frame');
    assert.ok(snap);
    assert.deepEqual([snap.width, snap.height, snap.sourceWidth, snap.sourceHeight, snap.url, snap.timestampNs], [32, 24, W, H, 'https://media.example/a1.jpg', ns]);
    assert.deepEqual(snap.box, box);
    near(await centre(snap.jpeg), [0, 0, 255], 'the kept (blue) capture');
    s.trackEvents([end(1, ns + 1n)]);
    await waitFor(() => s.stats().stored === 2);
    assert.deepEqual([s.stats().images, s.stats().shared], [1, 1]);
    assert.deepEqual(filesIn(dir), ['cam/1970-01-01/10000000000.jpg']);
    assert.deepEqual(uploads, [['a1', snap.jpeg.byteLength]]);
    assert.deepEqual((await s.alertSnapshot('a1', 'cam'))?.jpeg, snap.jpeg);
    assert.deepEqual(await s.trackSnapshot('cam', 1), snap.jpeg);
  });
});

test('start-up sweep: temporary and unindexed files (a crash before the index commit) go; entries of lost files are dropped', async () => {
  await withService({}, async ({ s, dir, reopen }) => {
    s.observe(result(1, [[1, 0.9]]), frame([255, 0, 0], 1_000_000_000n));
    s.observe(result(2, [[2, 0.9]]), frame([0, 255, 0], 2_000_000_000n));
    s.trackEvents([end(1, 3n), end(2, 3n)]);
    await waitFor(() => s.stats().stored === 2);
    // What a crash leaves: a file renamed but never indexed, a temporary file cut short; and a file lost by hand.
    writeFileSync(join(dir, 'cam/1970-01-01/1500000000.jpg'), readFileSync(join(dir, 'cam/1970-01-01/1000000000.jpg')));
    writeFileSync(join(dir, 'cam/1970-01-01/.tmp-0a1b2c3d4e5f'), Buffer.alloc(100));
    mkdirSync(join(dir, 'other/1970-01-02'), { recursive: true });
    writeFileSync(join(dir, 'other/1970-01-02/86400000000000.jpg'), Buffer.alloc(10));
    rmSync(join(dir, 'cam/1970-01-01/2000000000.jpg'));
    const again = reopen();
    try {
      assert.deepEqual(await again.ready(), { files: 1, orphans: 2, temporary: 1, dangling: 1 });
      assert.deepEqual(filesIn(dir), ['cam/1970-01-01/1000000000.jpg']);
      assert.equal(existsSync(join(dir, 'other/1970-01-02')), false);
      near(await centre((await again.trackSnapshot('cam', 1))!), [255, 0, 0], 'the intact track');
      assert.equal(await again.trackSnapshot('cam', 2), null);
      assert.deepEqual([again.stats().orphansSwept, again.stats().danglingDropped, again.stats().missing], [3, 1, 1]);
      // Retention still removes the reference whose image was dropped.
      assert.equal(await again.expire(['cam'], () => 5_000), 2);
      assert.deepEqual(filesIn(dir), []);
    } finally {
      await again.close();
    }
    assert.ok(statSync(dir).isDirectory());
  });
});

test('bounds: a refused capture is counted; encode work past maxPendingEncodes is dropped and counted', async () => {
  const uploads: string[] = [];
  await withService({ maxPendingEncodes: 1, uploader: { upload: async (a) => { uploads.push(a.alertId); return `https://media.example/${a.alertId}.jpg`; } } }, async ({ s }) => {
    s.observe(result(1, [[1, 0.9]]), frame([1, 2, 3], 1n, true));
    assert.deepEqual([s.stats().captured, s.stats().captureRefused, s.stats().liveTracks], [0, 1, 0]);
    const first = s.alertRaised(alertOf('a1'), frame([255, 255, 255], 10_000_000_000n), box);
    const second = await s.alertRaised(alertOf('a2'), frame([255, 255, 255], 10_000_000_000n), box);
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

test('use after close is refused with a clear error; options are validated', async () => {
  await withService({}, async ({ s }) => {
    await s.close();
    await s.close();
    await assert.rejects(s.trackSnapshot('cam', 1), { code: 'E_CLOSED', message: 'SnapshotService is closed: trackSnapshot() called after close()' });
    const storage = { index: {} as never, dir: '/tmp' };
    assert.throws(() => new SnapshotService(storage, { quality: 0 }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 100 for snapshots.quality but received 0' });
    assert.throws(() => new SnapshotService(storage, { maxWidth: 8 }), { code: 'E_ARGUMENT', message: 'Expected 0 or an integer from 16 to 16384 for snapshots.maxWidth but received 8' });
    assert.throws(() => new SnapshotService(storage, { shareMinScoreRatio: 1.5 }), { code: 'E_ARGUMENT', message: 'Expected a number from 0 to 1 for snapshots.shareMinScoreRatio but received 1.5' });
    assert.throws(() => new SnapshotService(storage, { fsync: 'sometimes' as 'never' }), { code: 'E_ARGUMENT', message: 'Expected "always" or "never" for snapshots.fsync but received "sometimes"' });
    assert.throws(() => new SnapshotService(storage), { code: 'E_ARGUMENT', message: 'Expected an LMDB database for storage.index but received an object of type Object' });
  });
});
