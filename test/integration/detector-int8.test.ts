/**
 * Accuracy gate of the INT8 NanoDet builds (scripts/setup.d/30-models.sh, scripts/models/qdq.py): on 24 vtest
 * frames the calibration never saw (400-768), the INT8 model's boxes through the project's Detector
 * (scoreThreshold 0.4) match the float model's — same class, IoU >= 0.5 — for >= 95 % of the float boxes, with
 * mean |score difference| <= 0.05 over the matched boxes; for 416 and 320 inputs. And onnxruntime really runs the
 * integer kernels: every Conv of the INT8 graphs runs as QLinearConv.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { agreement, EVAL_FRAMES, FIRST_EVAL_FRAME, VTEST, evaluateInt8 } from '../../scripts/models/box-agreement.js';
import { kernelCounts } from '../../scripts/models/ort-kernels.js';
import { Detector } from '../../src/inference/detector.js';
import { decodeFrames } from '../helpers/frames.js';
import { modelPath, nanodetModel, nanodetPreset } from '../../src/inference/models.js';
import type { Detection } from '../../src/types.js';

test('evaluation frames are disjoint from the calibration frames', () => {
  assert.equal(EVAL_FRAMES.length, 24);
  assert.ok(EVAL_FRAMES.every((f) => f >= FIRST_EVAL_FRAME && f < 795));
  for (const size of [416, 320]) {
    const table = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'scripts', 'models', 'calib', `nanodet-${size}.json`), 'utf8'));
    assert.deepEqual(table.frames, { from: 0, to: FIRST_EVAL_FRAME, step: 10, count: 40 });
  }
});

for (const size of [416, 320] as const) {
  test(`INT8 NanoDet ${size} boxes agree with float32 on held-out vtest frames`, async () => {
    const a = await evaluateInt8(size);
    console.log(`nanodet-${size} int8 vs fp32 on ${EVAL_FRAMES.length} frames: ${a.matched}/${a.referenceBoxes} float boxes ` +
      `matched (agreement ${a.boxAgreement.toFixed(4)}), mean |score diff| ${a.meanScoreDiff.toFixed(4)}, ` +
      `max ${a.maxScoreDiff.toFixed(4)}, mean IoU ${a.meanIou.toFixed(4)}, int8 boxes ${a.candidateBoxes}`);
    // vtest has 4-9 people and two parked vehicles in every frame: far more than 20 boxes to judge.
    assert.ok(a.referenceBoxes >= 100, `only ${a.referenceBoxes} float boxes`);
    assert.ok(a.boxAgreement >= 0.95, `box agreement ${a.boxAgreement}`);
    assert.ok(a.meanScoreDiff <= 0.05, `mean score diff ${a.meanScoreDiff}`);
  });

  test(`onnxruntime runs every Conv of nanodet-${size} int8 as QLinearConv`, async () => {
    const k = await kernelCounts(modelPath(nanodetModel('int8', size)), size, 1);
    assert.equal(k.qlinearConv, 34);
    assert.equal(k.floatConv, 0);
    assert.equal(k.convInteger, 0);
    const fp = await kernelCounts(modelPath(nanodetModel('fp32', size)), size, 1);
    assert.equal(fp.qlinearConv, 0);
    assert.equal(fp.floatConv, 34);
  });
}

test('nanodet-320 (converter --input-size) finds the people nanodet-416 finds with score > 0.5', async () => {
  const decoded = decodeFrames(VTEST, [...EVAL_FRAMES], 'rgb24');
  const run = async (inputSize: 416 | 320): Promise<Detection[][]> => {
    const det = await Detector.create(nanodetPreset({ inputSize }));
    try {
      const out: Detection[][] = [];
      for (const f of decoded) out.push(await det.detectImage(f.pixels, { format: 'RGB', width: f.width, height: f.height }));
      return out;
    } finally {
      await det.close();
    }
  };
  const ref = (await run(416)).map((f) => f.filter((d) => d.className === 'person' && d.confidence > 0.5));
  const a = agreement(ref, await run(320));
  console.log(`nanodet-320 vs nanodet-416 fp32, people > 0.5: ${a.matched}/${a.referenceBoxes}, mean IoU ${a.meanIou.toFixed(3)}`);
  // Measured 125/126, mean IoU 0.895: a 320 input sees the same people, boxes a little coarser.
  assert.ok(a.referenceBoxes >= 100);
  assert.ok(a.boxAgreement >= 0.95, `agreement ${a.boxAgreement}`);
  assert.ok(a.meanIou >= 0.85, `mean IoU ${a.meanIou}`);
});

test('presets pick the built-in file by precision and input size; the 320 plan has 1600/400/100 cells', async () => {
  assert.equal(nanodetModel(), 'nanodet');
  assert.equal(nanodetModel('int8'), 'nanodet-int8');
  assert.equal(nanodetModel('fp32', 320), 'nanodet-320');
  assert.equal(nanodetModel('int8', 320), 'nanodet-320-int8');
  assert.throws(() => nanodetModel('int4' as never), /Expected "fp32" or "int8" for precision but received/);
  assert.throws(() => nanodetPreset({ inputSize: 300 as never }), /Expected 416 or 320 for inputSize but received 300/);
  const p = nanodetPreset({ precision: 'int8', inputSize: 320, scoreThreshold: 0.3 });
  assert.equal(p.inputWidth, 320);
  assert.equal(p.inputHeight, 320);
  assert.equal(p.scoreThreshold, 0.3);
  assert.equal(p.modelPath, modelPath('nanodet-320-int8'));
  assert.equal('precision' in p, false);
  const session = await ort.InferenceSession.create(p.modelPath);
  try {
    const cells = session.outputMetadata.map((m) => (m.isTensor ? [m.name, m.shape[1], m.shape[2]] : []));
    assert.deepEqual(cells, [['cls_8', 1600, 80], ['reg_8', 1600, 44], ['cls_16', 400, 80], ['reg_16', 400, 44],
      ['cls_32', 100, 80], ['reg_32', 100, 44]]);
  } finally {
    await session.release();
  }
  const det = await Detector.create(p);
  try {
    assert.deepEqual(det.tensorSpec().width, 320);
    // A uniform grey frame: nothing to find, and the 320 decoder plan accepts the output shapes.
    const pixels = new Uint8Array(640 * 480 * 3).fill(114);
    const dets: Detection[] = await det.detectImage(pixels, { format: 'RGB', width: 640, height: 480 });
    assert.deepEqual(dets, []);
  } finally {
    await det.close();
  }
});

test('INT8 models keep the dynamic batch: batched and unbatched runs give the same detections', async () => {
  const decoded = decodeFrames(VTEST, EVAL_FRAMES.slice(0, 4), 'rgb24');
  for (const inputSize of [416, 320] as const) {
    const det = await Detector.create(nanodetPreset({ precision: 'int8', inputSize }));
    try {
      assert.equal(det.batchSize, 8);
      const inputs = decoded.map((f) => det.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height }));
      const batched = await det.detect(inputs);
      const single: Detection[][] = [];
      for (const input of inputs) single.push((await det.detect([input]))[0]!);
      assert.deepEqual(batched, single);
      assert.ok(batched.every((f) => f.some((d) => d.className === 'person')));
    } finally {
      await det.close();
    }
  }
});

test('agreement() matches greedily by class and IoU', () => {
  const d = (classId: number, confidence: number, x1: number): Detection =>
    ({ classId, className: String(classId), confidence, box: { x1, y1: 0, x2: x1 + 10, y2: 10 } });
  const a = agreement([[d(0, 0.9, 0), d(0, 0.5, 100), d(1, 0.45, 200), d(0, 0.3, 300)]],
    [[d(0, 0.85, 1), d(1, 0.5, 100), d(1, 0.4, 202)]]);
  // 3 reference boxes >= 0.4; the second has only a box of another class; IoU(200..210, 202..212) = 8/12.
  assert.equal(a.referenceBoxes, 3);
  assert.equal(a.matched, 2);
  assert.ok(Math.abs(a.meanScoreDiff - (0.05 + 0.05) / 2) < 1e-9);
  assert.ok(Math.abs(a.meanIou - (9 / 11 + 8 / 12) / 2) < 1e-9);
});
