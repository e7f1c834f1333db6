/**
 * NanoDet on real vtest.avi frames finds the walking people and the two parked vehicles with the boxes verified by
 * drawing them on the frames once (values committed here, not the pictures); batched and unbatched runs agree;
 * CenterNet agrees on the people of one frame.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Detector } from '../../src/inference/detector.js';
import { decodeFrames, type DecodedFrame } from '../helpers/frames.js';
import { centernetPreset, nanodetPreset } from '../../src/inference/models.js';
import type { Box, Detection } from '../../src/types.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');

function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}
const box = ([x1, y1, x2, y2]: number[]): Box => ({ x1: x1!, y1: y1!, x2: x2!, y2: y2! });

// People walking in each frame, checked by eye on the drawn frames (768x576 source pixels).
const PEOPLE: Record<number, number[][]> = {
  100: [[348, 197, 380, 272], [493, 149, 516, 220], [589, 153, 619, 236], [377, 180, 409, 258], [519, 151, 540, 220],
    [222, 61, 237, 97]],
  250: [[598, 253, 642, 355], [546, 190, 578, 264], [375, 232, 421, 325], [37, 173, 65, 244], [635, 120, 657, 183],
    [192, 152, 222, 224], [658, 128, 678, 182]],
  600: [[452, 302, 506, 421], [567, 200, 596, 290], [641, 304, 672, 411], [283, 430, 339, 576], [187, 145, 209, 212],
    [672, 208, 704, 296]],
};
// The parked white van (reported as car or truck) and the car at the right edge, in every frame.
const VEHICLES = [[650, 45, 722, 100], [735, 50, 768, 94]];

let detector: Detector;
let frames: DecodedFrame[];

before(async () => {
  frames = decodeFrames(VTEST, [100, 250, 600], 'rgb24');
  detector = await Detector.create(nanodetPreset());
});
after(async () => {
  await detector.close();
});

function checkFrame(index: number, dets: Detection[]): void {
  const people = dets.filter((d) => d.className === 'person');
  const expected = PEOPLE[index]!;
  assert.ok(people.length >= 4 && people.length <= 8, `frame ${index}: ${people.length} people`);
  // Every person is found (a false positive at most: a sign post scores 0.41 as a person in frame 600).
  assert.ok(people.length >= expected.length && people.length <= expected.length + 1,
    `frame ${index}: ${people.length} people, expected ${expected.length}`);
  for (const e of expected) {
    const best = Math.max(...people.map((p) => iou(p.box, box(e))));
    assert.ok(best >= 0.7, `frame ${index}: person ${JSON.stringify(e)} best IoU ${best.toFixed(3)}`);
  }
  for (const v of VEHICLES) {
    const best = Math.max(0, ...dets.filter((d) => d.className === 'car' || d.className === 'truck').map((d) => iou(d.box, box(v))));
    assert.ok(best >= 0.7, `frame ${index}: vehicle ${JSON.stringify(v)} best IoU ${best.toFixed(3)}`);
  }
  for (const d of dets) {
    assert.ok(d.box.x1 >= 0 && d.box.y1 >= 0 && d.box.x2 <= 768 && d.box.y2 <= 576 && d.box.x2 > d.box.x1 && d.box.y2 > d.box.y1);
    assert.ok(d.confidence >= 0.4 && d.confidence <= 1);
  }
}

test('nanodet finds the walking people and the parked vehicles on real vtest frames', async () => {
  assert.equal(detector.batchSize, 8);
  for (const f of frames) {
    const dets = await detector.detectImage(f.pixels, { format: 'RGB', width: f.width, height: f.height });
    checkFrame(f.index, dets);
  }
});

test('batched and unbatched inference give the same detections', async () => {
  const inputs = frames.map((f) => detector.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height }));
  const before = detector.stats();
  const batched = await detector.detect(inputs);
  assert.equal(detector.stats().runs - before.runs, 1, 'one session.run for three frames');
  const single: Detection[][] = [];
  for (const inp of inputs) single.push(...await detector.detect([inp]));
  assert.equal(batched.length, 3);
  for (let k = 0; k < 3; k++) {
    assert.equal(batched[k]!.length, single[k]!.length, `frame ${frames[k]!.index}`);
    batched[k]!.forEach((d, i) => {
      const s = single[k]![i]!;
      assert.equal(d.className, s.className);
      assert.ok(Math.abs(d.confidence - s.confidence) < 1e-4);
      for (const key of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(d.box[key] - s.box[key]) < 1e-2);
    });
    checkFrame(frames[k]!.index, batched[k]!);
  }
});

test('a fixed-batch model (centernet) runs frames one session.run each and finds the same people', async () => {
  const cn = await Detector.create(centernetPreset({ classFilter: ['person'], scoreThreshold: 0.5 }));
  try {
    assert.equal(cn.batchSize, 1);
    const f = frames[0]!;
    const inputs = [cn.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height })];
    inputs.push(inputs[0]!);
    const out = await cn.detect(inputs);
    assert.equal(cn.stats().runs, 2);
    assert.deepEqual(out[0], out[1]);
    assert.ok(out[0]!.every((d) => d.className === 'person'));
    assert.equal(out[0]!.length, 6);
    for (const e of PEOPLE[100]!) {
      const best = Math.max(...out[0]!.map((p) => iou(p.box, box(e))));
      assert.ok(best >= 0.6, `centernet: person ${JSON.stringify(e)} best IoU ${best.toFixed(3)}`);
    }
  } finally {
    await cn.close();
  }
});
