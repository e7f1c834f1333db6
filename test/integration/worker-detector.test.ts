/**
 * The server's detector on its own thread (src/inference/worker-detector.ts): the same detections as the Detector
 * on the calling thread, the callers' tensors left alone, and the tensor copies' buffers coming back with each
 * answer to be reused (no buffer per frame for the thread's V8 to collect).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Detector, type DetectorInput } from '../../src/inference/detector.js';
import { WorkerDetector } from '../../src/inference/worker-detector.js';
import { nanodetPreset } from '../../src/inference/models.js';
import { decodeFrames } from '../helpers/frames.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');

let local: Detector;
let threaded: WorkerDetector;
let inputs: DetectorInput[];

before(async () => {
  const frames = decodeFrames(VTEST, [100, 250], 'rgb24');
  local = await Detector.create(nanodetPreset());
  threaded = await WorkerDetector.create(nanodetPreset());
  inputs = frames.map((f) => local.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height }));
});
after(async () => {
  await local.close();
  await threaded.close();
});

const bytesOf = (t: DetectorInput['tensor']) =>
  Buffer.from(t instanceof ArrayBuffer ? new Uint8Array(t) : new Uint8Array(t.buffer, t.byteOffset, t.byteLength));

test('the threaded detector finds what the local one finds, and leaves the callers\' tensors as they were', async () => {
  const before = inputs.map((i) => bytesOf(i.tensor));
  const want = await local.detect(inputs);
  const got = await threaded.detect(inputs);
  assert.deepEqual(got, want);
  assert.ok(want[0]!.length >= 6, `detections in frame 100: ${want[0]!.length}`);
  inputs.forEach((inp, k) => assert.ok(bytesOf(inp.tensor).equals(before[k]!), `inputs[${k}].tensor unchanged`));
});

test('tensor buffers come back from the thread and are reused: one per frame in flight, none per call', async () => {
  const s0 = threaded.stats();
  for (let k = 0; k < 12; k++) await threaded.detect([inputs[k % 2]!]);
  const s1 = threaded.stats();
  // The first test's call left two buffers of this size; sequential calls need one at a time.
  assert.equal(s1.buffersAllocated - s0.buffersAllocated, 0);
  assert.equal(s1.buffersReused - s0.buffersReused, 12);
  // Four calls of two frames in flight at once: eight buffers, six of them new.
  const results = await Promise.all([0, 1, 2, 3].map(() => threaded.detect(inputs)));
  const s2 = threaded.stats();
  assert.equal(s2.buffersAllocated - s1.buffersAllocated, 6);
  assert.equal(s2.buffersReused - s1.buffersReused, 2);
  for (const r of results) assert.deepEqual(r, results[0]);
  // Now eight spares: the same four calls again allocate nothing.
  await Promise.all([0, 1, 2, 3].map(() => threaded.detect(inputs)));
  const s3 = threaded.stats();
  assert.equal(s3.buffersAllocated - s2.buffersAllocated, 0);
  assert.equal(s3.buffersReused - s2.buffersReused, 8);
});

test('a tensor of the wrong type is refused by the thread\'s Detector, and the thread goes on', async () => {
  const bad = { ...inputs[0]!, tensor: 'pixels' as unknown as ArrayBuffer };
  await assert.rejects(threaded.detect([bad]), {
    code: 'E_ARGUMENT',
    message: 'Expected an ArrayBuffer, Float32Array or Uint8Array for inputs[0].tensor but received "pixels"',
  });
  const fn = { ...inputs[0]!, tensor: (() => 0) as unknown as ArrayBuffer };
  await assert.rejects(threaded.detect([fn]), {
    code: 'E_ARGUMENT',
    message: /^Expected inputs that can be sent to the inference thread for inputs but received one that cannot \(/,
  });
  assert.deepEqual(await threaded.detect([inputs[0]!]), await local.detect([inputs[0]!]));
});
