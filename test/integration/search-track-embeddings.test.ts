/**
 * The live track-embedding flow (src/store/track-embeddings.ts) with the real MobileNetV3 embedder on real vtest
 * crops, real native source frames (SourceFrame.fromPixels; crops on libuv workers), a real LMDB store and the real
 * HNSW vector index. `Counted` wraps a SourceFrame to count crop and close calls, so ownership can be checked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { SourceFrame } from '../../src/camera/source-frame.js';
import { Embedder, type EmbedCropSpec } from '../../src/inference/embedder.js';
import { decodeFrames } from '../helpers/frames.js';
import { DetectionStore } from '../../src/store/detection-store.js';
import { VectorIndex } from '../../src/store/vector-index.js';
import { registerTrackEmbeddingMetrics, TrackEmbeddings, type CroppableFrame, type TrackObservation } from '../../src/store/track-embeddings.js';
import type { Box } from '../../src/types.js';
import type { EmbeddingSink } from '../../src/media/snapshots.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
const W = 768, H = 576;
const T0 = 1_764_000_000_000_000_000n;
// Two people in vtest frames 100-101: A walks slowly (same box in both frames), B elsewhere.
const BOX_A: Box = { x1: 589, y1: 153, x2: 619, y2: 236 };
const BOX_B: Box = { x1: 348, y1: 197, x2: 380, y2: 272 };

class Counted implements CroppableFrame {
  closes = 0;
  crops = 0;
  readonly frame: SourceFrame;
  /** fail: the frame is closed under the flow before its crop (a real E_CLOSED rejection from the native frame). */
  constructor(private readonly embedder: Embedder, pixels: Uint8Array, private readonly fail = false) {
    this.frame = SourceFrame.fromPixels(pixels, { format: 'RGB', width: W, height: H });
  }
  async cropTensor(box: Box, spec: EmbedCropSpec): Promise<ArrayBuffer> {
    assert.deepEqual(spec, this.embedder.cropSpec);
    this.crops++;
    if (this.fail) this.frame.close();
    return this.frame.cropTensor(box, spec);
  }
  close(): void {
    this.closes++;
    this.frame.close();
  }
}

const track = (cameraId: string, trackId: number, box: Box, seconds: number): TrackObservation => ({
  cameraId, trackId, classId: 0, className: 'person', timestampNs: T0 + BigInt(seconds) * 1_000_000_000n, box,
});

describe('TrackEmbeddings: live track vectors with the real embedder', () => {
  let dir: string;
  let store: DetectionStore;
  let index: VectorIndex;
  let embedder: Embedder;
  let f100: Uint8Array, f101: Uint8Array;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-track-emb-'));
    store = DetectionStore.open({ path: dir });
    embedder = await Embedder.create();
    index = await VectorIndex.open(store, { dims: embedder.dims });
    const frames = decodeFrames(VTEST, [100, 101], 'rgb24');
    f100 = frames[0]!.pixels;
    f101 = frames[1]!.pixels;
  });
  after(async () => {
    await index.close();
    await embedder.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('embeds offered tracks in one batched run; the same person across frames ranks above another', async () => {
    const runs: number[] = [];
    const counting = { cropSpec: embedder.cropSpec, embed: (c: readonly Float32Array[]) => (runs.push(c.length), embedder.embed(c)) };
    const te = new TrackEmbeddings({ embedder: counting, index });
    // what the snapshot module hands ended tracks to (src/media/snapshots.ts): TrackEmbeddings is one
    const sink: EmbeddingSink = te;
    assert.equal(sink, te);
    const frames = [new Counted(embedder, f100), new Counted(embedder, f100), new Counted(embedder, f101)];
    assert.equal(te.offer(track('cam-1', 1, BOX_A, 100), frames[0]!), true);
    assert.equal(te.offer(track('cam-1', 2, BOX_B, 100), frames[1]!), true);
    assert.equal(te.offer(track('cam-2', 3, BOX_A, 101), frames[2]!), true);
    assert.deepEqual(te.stats, { embedded: 0, dropped: 0, failed: 0, pending: 3 });
    await te.flush();
    assert.deepEqual(te.stats, { embedded: 3, dropped: 0, failed: 0, pending: 0 });
    assert.deepEqual(runs, [3]);
    assert.deepEqual(frames.map((f) => [f.crops, f.closes]), [[1, 1], [1, 1], [1, 1]]);
    const hits = index.search({ track: { cameraId: 'cam-2', trackId: 3 }, k: 5 });
    assert.deepEqual(hits.map((h) => [h.cameraId, h.trackId, h.className, h.timestampNs]), [['cam-1', 1, 'person', T0 + 100_000_000_000n], ['cam-1', 2, 'person', T0 + 100_000_000_000n]]);
    assert.ok(hits[0]!.score > 0.95 && hits[0]!.score > hits[1]!.score, `scores ${hits.map((h) => h.score)}`);
    // the stored vector is the embedder's vector of that crop (Embedder.crop runs the same native letterbox)
    const direct = await embedder.embedCrop(f101, W, H, BOX_A);
    const stored = index.getTrack('cam-2', 3)!.vector;
    for (let i = 0; i < direct.length; i++) assert.ok(Math.abs(direct[i]! - stored[i]!) < 1e-5);
    await te.close();
  });

  it('drops offers past maxPending, closes every frame exactly once, batches by maxBatch', async () => {
    const runs: number[] = [];
    const counting = { cropSpec: embedder.cropSpec, embed: (c: readonly Float32Array[]) => (runs.push(c.length), embedder.embed(c)) };
    const te = new TrackEmbeddings({ embedder: counting, index, maxPending: 5, maxBatch: 2 });
    const frames = Array.from({ length: 8 }, () => new Counted(embedder, f100));
    const accepted = frames.map((f, i) => te.offer(track('cam-3', 10 + i, i % 2 ? BOX_A : BOX_B, 200 + i), f));
    assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
    // refused frames are closed at once, without a crop
    assert.deepEqual(frames.slice(5).map((f) => [f.crops, f.closes]), [[0, 1], [0, 1], [0, 1]]);
    assert.deepEqual(te.stats, { embedded: 0, dropped: 3, failed: 0, pending: 5 });
    await te.close();
    assert.deepEqual(te.stats, { embedded: 5, dropped: 3, failed: 0, pending: 0 });
    assert.deepEqual(runs, [2, 2, 1]);
    assert.deepEqual(frames.map((f) => f.closes), [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(index.search({ vector: index.getTrack('cam-3', 10)!.vector, k: 10, cameraIds: ['cam-3'], excludeExample: false }).map((h) => h.trackId).sort((a, b) => a - b), [10, 11, 12, 13, 14]);
  });

  it('counts failed crops and embedder runs, keeps going, and reports through metrics', async () => {
    const errors: string[] = [];
    let failNext = false;
    const flaky = {
      cropSpec: embedder.cropSpec,
      embed: (c: readonly Float32Array[]) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('session failed'));
        }
        return embedder.embed(c);
      },
    };
    const te = new TrackEmbeddings({ embedder: flaky, index, maxBatch: 8, onError: (e, t) => errors.push(`${(e as Error).message}: ${t.map((x) => x.trackId).join(',')}`) });
    const registry = new Registry();
    registerTrackEmbeddingMetrics(registry, te);
    const bad = new Counted(embedder, f100, true);
    te.offer(track('cam-4', 1, BOX_A, 300), bad);
    te.offer(track('cam-4', 2, BOX_B, 300), new Counted(embedder, f100));
    await te.flush();
    failNext = true;
    te.offer(track('cam-4', 3, BOX_A, 301), new Counted(embedder, f101));
    await te.flush();
    te.offer(track('cam-4', 4, BOX_B, 301), new Counted(embedder, f101));
    await te.flush();
    assert.equal(bad.closes, 1);
    assert.deepEqual(errors, ['SourceFrame is closed: cropTensor() called after close(): 1', 'session failed: 3']);
    assert.deepEqual(te.stats, { embedded: 2, dropped: 0, failed: 2, pending: 0 });
    assert.deepEqual([index.getTrack('cam-4', 1), index.getTrack('cam-4', 3)], [undefined, undefined]);
    assert.equal(index.getTrack('cam-4', 4)!.track.trackId, 4);
    const text = await registry.metrics();
    for (const line of ['vigil_track_embeddings_total 2', 'vigil_track_embeddings_dropped_total 0', 'vigil_track_embeddings_failed_total 2', 'vigil_track_embeddings_pending 0']) {
      assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
    }
    await te.close();
  });

  it('close() waits for the run in flight, is idempotent; offers after close throw and close the frame', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = { cropSpec: embedder.cropSpec, embed: async (c: readonly Float32Array[]) => (await gate, embedder.embed(c)) };
    const te = new TrackEmbeddings({ embedder: slow, index });
    te.offer(track('cam-5', 1, BOX_A, 400), new Counted(embedder, f100));
    let closed = false;
    const c1 = te.close().then(() => (closed = true));
    const c2 = te.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false);
    const late = new Counted(embedder, f100);
    assert.throws(() => te.offer(track('cam-5', 2, BOX_A, 400), late), { code: 'E_CLOSED', message: 'TrackEmbeddings is closed: offer() called after close()' });
    assert.equal(late.closes, 1);
    release();
    await Promise.all([c1, c2]);
    assert.deepEqual(te.stats, { embedded: 1, dropped: 0, failed: 0, pending: 0 });
    assert.equal(index.getTrack('cam-5', 1)!.track.trackId, 1);
  });

  it('validates options and tracks ("Expected X for name but received V")', () => {
    assert.throws(() => new TrackEmbeddings({ embedder, index, maxPending: 0 }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 65536 for options.maxPending but received 0' });
    assert.throws(() => new TrackEmbeddings({ embedder, index, maxBatch: 1.5 }), { code: 'E_ARGUMENT', message: 'Expected an integer from 1 to 256 for options.maxBatch but received 1.5' });
    const te = new TrackEmbeddings({ embedder, index });
    const f = new Counted(embedder, f100);
    assert.throws(() => te.offer({ ...track('cam-6', 1, BOX_A, 1), timestampNs: 5 as unknown as bigint }, f), { code: 'E_ARGUMENT', message: 'Expected a bigint timestamp in ns for track.timestampNs but received 5' });
    assert.throws(() => te.offer(track('cam-6', 1, { x1: 5, y1: 5, x2: 5, y2: 9 }, 1), f), { code: 'E_ARGUMENT', message: 'Expected a box {x1, y1, x2, y2} in pixels with x2 > x1 and y2 > y1 for track.box but received an object of type Object' });
    assert.equal(f.closes, 2);
    assert.deepEqual(te.stats, { embedded: 0, dropped: 0, failed: 0, pending: 0 });
  });
});
