/**
 * The inference scheduler with real frames from real pipelines. The detector here is a recording wrapper with a
 * controllable run time (the real NanoDet runs in test/integration/detection-pipeline.test.ts), so batching,
 * round-robin, shedding and releasing can be asserted exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CameraManager } from '../../src/camera/manager.js';
import type { Frame } from '../../src/camera/frame.js';
import { InferenceScheduler, type FrameDetections } from '../../src/inference/scheduler.js';
import type { DetectorInput } from '../../src/inference/detector.js';
import type { Detection } from '../../src/types.js';
import { cameraSettings } from '../helpers/camera.js';
import { sleep, until } from '../helpers/wait.js';

class TimedDetector {
  batches: number[] = [];
  constructor(public runMs: number) {}
  async detect(inputs: DetectorInput[]): Promise<Detection[][]> {
    this.batches.push(inputs.length);
    for (const i of inputs) assert.equal((i.tensor as ArrayBuffer).byteLength, 416 * 416 * 3 * 4, 'tensor readable during the run');
    await sleep(this.runMs);
    return inputs.map((i) => [{ classId: 0, className: 'person', confidence: 0.9, box: { x1: 0, y1: 0, x2: i.letterbox.sourceWidth, y2: i.letterbox.sourceHeight } }]);
  }
}

async function collectFrames(cameras: number, perCamera: number): Promise<{ frames: Frame[]; manager: CameraManager }> {
  const manager = new CameraManager();
  const frames: Frame[] = [];
  const counts = new Map<string, number>();
  manager.on('frame', (f) => {
    const n = counts.get(f.cameraId) ?? 0;
    if (n >= perCamera) return f.release();
    counts.set(f.cameraId, n + 1);
    frames.push(f);
  });
  for (let i = 0; i < cameras; i++) {
    manager.add(cameraSettings(`c${i}`, { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 30, live: false }, { poolSize: perCamera + 1 }));
  }
  await until(() => [...counts.values()].reduce((a, b) => a + b, 0) === cameras * perCamera && counts.size === cameras, 10_000, 'frames');
  return { frames, manager };
}

test('frames of several cameras share one run; results map back per camera; buffers are released', async () => {
  const { frames, manager } = await collectFrames(3, 1);
  try {
    const det = new TimedDetector(30);
    const results: FrameDetections[] = [];
    const s = new InferenceScheduler(det, { maxBatch: 4, onDetections: (r) => results.push(r) });
    // Hold the detector busy with the first frame, so the other two queue up and go in one batch.
    for (const f of frames) s.submit(f);
    await until(() => results.length === 3, 5000, 'three results');
    assert.deepEqual(det.batches, [1, 2]);
    assert.deepEqual(results.map((r) => r.cameraId).sort(), ['c0', 'c1', 'c2']);
    for (const r of results) {
      assert.equal(r.frameWidth, 320);
      assert.deepEqual(r.detections[0]!.box, { x1: 0, y1: 0, x2: 320, y2: 240 });
      assert.ok(r.latencyMs >= 0);
    }
    assert.ok(frames.every((f) => f.released));
    const st = s.stats();
    assert.equal(st.runs, 2);
    assert.deepEqual(Object.keys(st.cameras).sort(), ['c0', 'c1', 'c2']);
    for (const c of Object.values(st.cameras)) assert.deepEqual([c.submitted, c.inferred, c.shed], [1, 1, 0]);
  } finally {
    manager.close();
  }
});

test('when inference falls behind, the oldest frames are shed per camera and counted', async () => {
  const { frames, manager } = await collectFrames(1, 6);
  try {
    const det = new TimedDetector(40);
    const got: number[] = [];
    const s = new InferenceScheduler(det, { queuePerCamera: 2, maxBatch: 1, onDetections: (r) => got.push(r.frameSequence) });
    for (const f of frames) s.submit(f); // the first starts at once; 5 arrive while it runs, the queue keeps 2
    await until(() => got.length === 3, 5000, 'results');
    const seqs = frames.map((f) => f.sequence);
    assert.deepEqual(got, [seqs[0], seqs[4], seqs[5]], 'the newest two waiting frames survive');
    const st = s.stats().cameras.c0!;
    assert.deepEqual([st.submitted, st.inferred, st.shed], [6, 3, 3]);
    assert.ok(frames.every((f) => f.released), 'shed frames were released too');
  } finally {
    manager.close();
  }
});

test('round-robin: a busy camera cannot starve the others; batch size 1 disables batching', async () => {
  const { frames, manager } = await collectFrames(2, 3);
  try {
    const det = new TimedDetector(10);
    const order: string[] = [];
    const s = new InferenceScheduler(det, { queuePerCamera: 3, maxBatch: 1, onDetections: (r) => order.push(r.cameraId) });
    const c0 = frames.filter((f) => f.cameraId === 'c0');
    const c1 = frames.filter((f) => f.cameraId === 'c1');
    for (const f of c0) s.submit(f);
    for (const f of c1) s.submit(f);
    await until(() => order.length === 6, 5000, 'results');
    assert.deepEqual(det.batches, [1, 1, 1, 1, 1, 1]);
    assert.deepEqual(order, ['c0', 'c1', 'c0', 'c1', 'c0', 'c1']);
    s.close();
  } finally {
    manager.close();
  }
});
