/**
 * The inference scheduler with real frames from real pipelines. The detector here is a recording wrapper with a
 * controllable run time, or one whose runs finish when the test says (the real NanoDet runs in
 * test/integration/detection-pipeline.test.ts), so batching, priorities, fair shedding, shed streaks and releasing
 * can be asserted exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CameraManager } from '../../src/camera/manager.js';
import type { Frame } from '../../src/camera/frame.js';
import { InferenceScheduler, type FrameDetections } from '../../src/inference/scheduler.js';
import type { DetectorInput } from '../../src/inference/detector.js';
import type { Detection } from '../../src/types.js';
import { cameraSettings } from '../helpers/camera.js';
import { DEFAULT_TENSOR } from '../../src/camera/tensor.js';
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

async function collectFrames(cameras: number, perCamera: number, tensorSize: (i: number) => number = () => 416): Promise<{ frames: Frame[]; manager: CameraManager }> {
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
    const size = tensorSize(i);
    const tensor = { ...DEFAULT_TENSOR, width: size, height: size };
    manager.add(cameraSettings(`c${i}`, { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 30, live: false }, { poolSize: perCamera + 1, tensor }));
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
    // Frames 1-3 shed in a row: from frame 1's capture to that of frame 4, the next one analysed (stream time).
    assert.equal(st.maxShedStreakMs, (frames[4]!.ptsNs - frames[1]!.ptsNs) / 1e6);
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

/** A detector whose runs finish when the test calls finish(): the order of service is then fully determined. */
class SteppedDetector {
  runs: { cameras: string[]; sizes: string[]; done: () => void }[] = [];
  #pending: (() => void)[] = [];
  constructor(private frames: Frame[]) {}
  detect(inputs: DetectorInput[]): Promise<Detection[][]> {
    return new Promise((resolve) => {
      const frames = inputs.map((i) => this.frames.find((f) => f.tensor === i.tensor)!);
      const done = () => resolve(inputs.map(() => []));
      this.runs.push({ cameras: frames.map((f) => `${f.cameraId}#${this.frames.filter((g) => g.cameraId === f.cameraId).indexOf(f)}`), sizes: inputs.map((i) => `${i.tensorWidth}`), done });
      this.#pending.push(done);
    });
  }
  /** Finishes the run in flight and lets the scheduler start the next one. */
  async finish(): Promise<void> {
    const done = this.#pending.shift();
    assert.ok(done, 'a run in flight');
    done();
    await new Promise((r) => setImmediate(r));
  }
  get inFlight(): number {
    return this.#pending.length;
  }
}

const framesOf = (frames: Frame[], cameraId: string) => frames.filter((f) => f.cameraId === cameraId);

test('cameras with live tracks are served first, then motion, then idle', async () => {
  const { frames, manager } = await collectFrames(3, 2);
  try {
    const det = new SteppedDetector(frames);
    const s = new InferenceScheduler(det, { queuePerCamera: 2, maxBatch: 1, onDetections: () => {} });
    s.setPriority('c2', 'tracking');
    s.setPriority('c1', 'idle'); // c0 keeps the default, 'motion'
    const [c0, c1, c2] = ['c0', 'c1', 'c2'].map((id) => framesOf(frames, id));
    s.submit(c0![0]!); // starts a run at once
    for (const f of [c0![1]!, ...c1!, ...c2!]) s.submit(f);
    while (det.inFlight) await det.finish();
    assert.deepEqual(det.runs.map((r) => r.cameras.join()), ['c0#0', 'c2#0', 'c2#1', 'c0#1', 'c1#0', 'c1#1']);
    assert.deepEqual(Object.fromEntries(Object.entries(s.stats().cameras).map(([id, c]) => [id, c.priority])), { c0: 'motion', c1: 'idle', c2: 'tracking' });
    assert.equal(s.priorityOf('c9'), 'motion');
    assert.throws(() => s.setPriority('c0', 'urgent' as never), { code: 'E_ARGUMENT', message: `Expected 'tracking', 'motion' or 'idle' for priority but received "urgent"` });
    assert.ok(frames.every((f) => f.released));
  } finally {
    manager.close();
  }
});

test('overloaded cameras of one priority are served in turn and shed alike; shed streaks are counted in stream time', async () => {
  const N = 9;
  const { frames, manager } = await collectFrames(3, N);
  try {
    const det = new SteppedDetector(frames);
    // Strict round robin: with the starvation guard on, a test source slowed by a loaded machine can space its
    // stream times past the 750 ms guard and reorder service (the guard has its own test below).
    const s = new InferenceScheduler(det, { queuePerCamera: 1, maxBatch: 1, maxShedStreakMs: Infinity, onDetections: () => {} });
    const cams = ['c0', 'c1', 'c2'].map((id) => framesOf(frames, id));
    // Stream time: the test source's (30 fps, frames handed on as fast as the test takes them, so not evenly spaced).
    for (const c of cams) for (let k = 1; k < N; k++) assert.ok(c[k]!.ptsNs > c[k - 1]!.ptsNs);
    // Each tick every camera hands on a frame and one run finishes: demand is three times the capacity.
    for (let k = 0; k < N; k++) {
      for (const c of cams) s.submit(c[k]!);
      await det.finish();
    }
    while (det.inFlight) await det.finish();
    assert.deepEqual(det.runs.map((r) => r.cameras.join()), [
      'c0#0', 'c1#0', 'c2#1', 'c0#2', 'c1#3', 'c2#4', 'c0#5', 'c1#6', 'c2#7', 'c0#8', 'c1#8', 'c2#8',
    ]);
    const st = s.stats().cameras;
    assert.deepEqual(Object.entries(st).map(([id, c]) => [id, c.submitted, c.inferred, c.shed]), [['c0', 9, 4, 5], ['c1', 9, 4, 5], ['c2', 9, 4, 5]]);
    // Shed runs (first shed frame -> next analysed frame): c0 1->2, 3->5, 6->8; c1 1->3, 4->6, 7->8; c2 0->1,
    // 2->4, 5->7.
    const ms = (c: number, from: number, to: number) => (cams[c]![to]!.ptsNs - cams[c]![from]!.ptsNs) / 1e6;
    assert.deepEqual(Object.values(st).map((c) => c.maxShedStreakMs), [
      Math.max(ms(0, 1, 2), ms(0, 3, 5), ms(0, 6, 8)),
      Math.max(ms(1, 1, 3), ms(1, 4, 6), ms(1, 7, 8)),
      Math.max(ms(2, 0, 1), ms(2, 2, 4), ms(2, 5, 7)),
    ]);
    assert.deepEqual(Object.values(st).map((c) => c.shedStreakMs), [0, 0, 0]);
    assert.ok(frames.every((f) => f.released));
  } finally {
    manager.close();
  }
});

test('a camera starved by higher priorities is served once its shed streak reaches maxShedStreakMs', async () => {
  const N = 12;
  const { frames, manager } = await collectFrames(2, 2 * N);
  try {
    // Each run takes fresh frames: the first N of each camera, then the next N.
    const run = async (maxShedStreakMs: number | undefined, first: number) => {
      const det = new SteppedDetector(frames);
      // Streaks on a 5 fps clock: frame k of a camera was captured at k * 200 ms.
      const frameTimeNs = (f: Frame) => framesOf(frames, f.cameraId).indexOf(f) * 200e6;
      const s = new InferenceScheduler(det, { queuePerCamera: 1, maxBatch: 1, maxShedStreakMs, frameTimeNs, onDetections: () => {} });
      s.setPriority('c0', 'tracking'); // c1: 'motion'
      const cams = ['c0', 'c1'].map((id) => framesOf(frames, id).slice(first, first + N));
      for (let k = 0; k < N; k++) {
        for (const c of cams) s.submit(c[k]!);
        await det.finish();
      }
      const before = s.stats().cameras.c1!.shedStreakMs;
      while (det.inFlight) await det.finish();
      const st = s.stats().cameras;
      return { c1: det.runs.map((r) => r.cameras.join()).filter((r) => r.startsWith('c1')).map((r) => `c1#${Number(r.slice(3)) - first}`), shed: [st.c0!.shed, st.c1!.shed], streaks: [st.c0!.maxShedStreakMs, st.c1!.maxShedStreakMs], before };
    };
    // Default 750 ms: c1 sheds frames 1-4 (streak from 200 ms), and at frame 5 (1000 ms, a streak of 800) it is
    // served ahead of c0, whose frame 5 is then shed; again with frames 6-9 and 10.
    assert.deepEqual(await run(undefined, 0), { c1: ['c1#0', 'c1#5', 'c1#10', 'c1#11'], shed: [2, 8], streaks: [200, 800], before: 0 });
    // Strict priorities: c1 waits until c0 stops sending (frames 1-10 shed, 2 s of stream time).
    assert.deepEqual(await run(Infinity, N), { c1: ['c1#0', 'c1#11'], shed: [0, 10], streaks: [0, 2000], before: 2000 });
    assert.ok(frames.every((f) => f.released));
  } finally {
    manager.close();
  }
});

test('one run batches only frames whose tensors have the same size', async () => {
  const { frames, manager } = await collectFrames(3, 2, (i) => (i === 1 ? 320 : 416));
  try {
    const det = new SteppedDetector(frames);
    const s = new InferenceScheduler(det, { queuePerCamera: 2, maxBatch: 4, onDetections: () => {} });
    const [c0, c1, c2] = ['c0', 'c1', 'c2'].map((id) => framesOf(frames, id));
    s.submit(c0![0]!);
    for (const f of [c1![0]!, c2![0]!, c0![1]!, c1![1]!, c2![1]!]) s.submit(f);
    while (det.inFlight) await det.finish();
    assert.deepEqual(det.runs.map((r) => [r.cameras.join(), r.sizes.join()]), [
      ['c0#0', '416'],
      ['c1#0', '320'], // c1 was served least recently: its size sets the run's
      ['c2#0,c0#1', '416,416'],
      ['c1#1', '320'],
      ['c2#1', '416'],
    ]);
    assert.ok(frames.every((f) => f.released));
    assert.throws(() => new InferenceScheduler(det, { maxBatch: 0, onDetections: () => {} }), { message: 'Expected an integer >= 1 for scheduler.maxBatch but received 0' });
  } finally {
    manager.close();
  }
});

test('the next run starts before a run\'s detections are handed on; a camera\'s frames are handed on in order', async () => {
  const { frames, manager } = await collectFrames(2, 3);
  try {
    const det = new SteppedDetector(frames);
    const handed: string[] = [];
    const s = new InferenceScheduler(det, {
      queuePerCamera: 3,
      maxBatch: 1,
      concurrency: 2,
      // Runs in flight while this frame's detections are handed on: the inference thread already has its next input.
      onDetections: (r, f) => handed.push(`${r.cameraId}#${framesOf(frames, r.cameraId).indexOf(f)}:${det.inFlight}`),
    });
    const [c0, c1] = ['c0', 'c1'].map((id) => framesOf(frames, id));
    for (const f of [...c0!, ...c1!]) s.submit(f);
    // Two loops: c0#0 and c1#0 in flight at once (a camera never has two frames in flight).
    assert.deepEqual(det.runs.map((r) => r.cameras.join()), ['c0#0', 'c1#0']);
    while (det.inFlight) await det.finish();
    assert.deepEqual(det.runs.map((r) => r.cameras.join()), ['c0#0', 'c1#0', 'c0#1', 'c1#1', 'c0#2', 'c1#2']);
    // Each hand-on sees the run that replaced it already started (2 in flight) until the queues run dry.
    assert.deepEqual(handed, ['c0#0:2', 'c1#0:2', 'c0#1:2', 'c1#1:2', 'c0#2:1', 'c1#2:0']);
    assert.ok(frames.every((f) => f.released));
  } finally {
    manager.close();
  }
});
