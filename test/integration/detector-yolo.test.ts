/**
 * The detector's YOLO path on tiny YOLO-shaped ONNX models (made by scripts/models/make-yolo-fixture.py; no real
 * YOLO export ships in a package): v8 [N,84,A] and v5 [N,A,85] picked from the output shape, batched runs,
 * per-frame outputs, letterbox undo.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector, type DetectorConfig } from '../../src/inference/detector.js';
import { COCO_CLASSES } from '../../src/inference/models.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-yolo-'));
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, '..', '..', 'scripts', 'models', 'make-yolo-fixture.py'), dir]);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const cfg = (file: string, patch: Partial<DetectorConfig> = {}): DetectorConfig => ({
  modelPath: join(dir, file), inputWidth: 32, inputHeight: 32, layout: 'nchw', colorOrder: 'rgb', mean: [0, 0, 0],
  std: [255, 255, 255], classNames: COCO_CLASSES, decoder: 'yolo', scoreThreshold: 0.5, ...patch,
});
const identity = { scale: 1, padX: 0, padY: 0, sourceWidth: 32, sourceHeight: 32 };
const zeros = new Float32Array(3 * 32 * 32);
const ones = new Float32Array(3 * 32 * 32).fill(1);

for (const [file, label] of [['yolov8.onnx', 'v8 [N,84,A]'], ['yolov5.onnx', 'v5 [N,A,85]']] as const) {
  test(`yolo ${label}: detections per frame, batched in one run`, async () => {
    const d = await Detector.create(cfg(file));
    try {
      assert.equal(d.batchSize, 8);
      const out = await d.detect([{ tensor: zeros, letterbox: identity }, { tensor: ones, letterbox: identity }]);
      assert.equal(d.stats().runs, 1);
      const person = { classId: 0, className: 'person', box: { x1: 12, y1: 12, x2: 20, y2: 20 } };
      assert.deepEqual(out[0]!.map(({ confidence, ...rest }) => rest), [person]);
      assert.ok(Math.abs(out[0]![0]!.confidence - 0.9) < 1e-6);
      // Frame of ones: anchor 1 (class 2 "car") rises to 0.8 (v8) / 0.5 (v5).
      assert.deepEqual(out[1]!.map(({ confidence, ...rest }) => rest),
        [person, { classId: 2, className: 'car', box: { x1: 2, y1: 2, x2: 6, y2: 6 } }]);
      assert.ok(Math.abs(out[1]![1]!.confidence - (file === 'yolov8.onnx' ? 0.8 : 0.5)) < 1e-6);
      // The same frames one by one give the same detections.
      assert.deepEqual([...await d.detect([{ tensor: zeros, letterbox: identity }]), ...await d.detect([{ tensor: ones, letterbox: identity }])], out);
      // A letterbox (source 64x48 shown at scale 0.5 with 4 px top border) maps boxes back to source pixels.
      const lb = await d.detect([{ tensor: zeros, letterbox: { scale: 0.5, padX: 0, padY: 4, sourceWidth: 64, sourceHeight: 48 } }]);
      assert.deepEqual(lb[0]![0]!.box, { x1: 24, y1: 16, x2: 40, y2: 32 });
    } finally {
      await d.close();
    }
  });
}

test('yolo: explicit layout, class filter and per-class thresholds', async () => {
  const v5 = await Detector.create(cfg('yolov5.onnx', { decoder: 'yolov5', classFilter: ['car'] }));
  const v8 = await Detector.create(cfg('yolov8.onnx', { decoder: 'yolov8', classThresholds: { person: 0.95, car: 0.1 } }));
  try {
    assert.deepEqual((await v5.detect([{ tensor: ones, letterbox: identity }]))[0]!.map((x) => x.className), ['car']);
    assert.deepEqual((await v8.detect([{ tensor: zeros, letterbox: identity }]))[0]!.map((x) => x.className), ['car']);
  } finally {
    await v5.close();
    await v8.close();
  }
  await assert.rejects(Detector.create(cfg('yolov5.onnx', { classNames: COCO_CLASSES.slice(0, 10) })), {
    code: 'E_MODEL_OUTPUT',
    message: `Model ${join(dir, 'yolov5.onnx')} does not fit decoder yolo: expected [1, 14, N] (v8) or [1, N, 15] (v5) (outputs: output0["N",3,85])`,
  });
});
