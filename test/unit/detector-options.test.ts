/**
 * `detector:` in the config: model, precision, input size, thresholds and providers, validated with path-aware
 * messages; a user's YOLO export runs from the parsed options.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModelFile, parseDetectorOptions, tensorFor, wholeFrameDetector } from '../../src/inference/detector-options.js';
import { Detector } from '../../src/inference/detector.js';
import { COCO_CLASSES, modelsDir } from '../../src/inference/models.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-detopts-'));
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, '..', '..', 'scripts', 'models', 'make-yolo-fixture.py'), dir]);
  writeFileSync(join(dir, 'names.txt'), `${COCO_CLASSES.join('\n')}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('defaults: INT8 NanoDet 416 on the CPU, one thread', () => {
  const o = parseDetectorOptions(undefined)!;
  assert.deepEqual(
    { ...o, classNames: o.classNames.length },
    { model: 'nanodet', precision: 'int8', inputSize: 416, path: null, classNames: 80, scoreThreshold: 0.4, classThresholds: {}, only: null, providers: ['cpu'], threads: 1, workers: 1, ingestNice: 0 },
  );
  assert.equal(builtinModelFile(o), join(modelsDir(), 'nanodet-int8.onnx'));
  assert.equal(builtinModelFile({ ...o, precision: 'fp32' }, 320), join(modelsDir(), 'nanodet-320.onnx'));
  assert.equal(parseDetectorOptions(false), null);
  assert.equal(parseDetectorOptions({ enabled: false }), null);
});

test('bad settings are refused with the path of the key', () => {
  const cases: Array<[unknown, string]> = [
    [{ model: 'ssd' }, 'Expected "nanodet", "centernet" or "yolo" for detector.model but received "ssd"'],
    [{ precision: 'int4' }, 'Expected "int8" or "fp32" for detector.precision but received "int4"'],
    [{ model: 'centernet', precision: 'int8' }, 'Expected "fp32" (an INT8 build exists for nanodet only) for detector.precision but received "int8"'],
    [{ inputSize: 512 }, 'Expected 416 or 320 for detector.inputSize but received 512'],
    [{ model: 'yolo' }, 'Expected a file path (the YOLOv5/v8 ONNX export) for detector.path but received undefined'],
    [{ model: 'yolo', path: '/nope.onnx', classes: ['a'] }, 'Expected an existing model file for detector.path but received "/nope.onnx"'],
    [{ classThresholds: { unicorn: 0.5 } }, 'Expected a class name of the model for detector.classThresholds key but received "unicorn"'],
    [{ classThresholds: { car: 2 } }, 'Expected a number from 0 to 1 for detector.classThresholds.car but received 2'],
    [{ only: ['person', 'dragon'] }, 'Expected a class name of the model for detector.only[1] but received "dragon"'],
    [{ providers: ['cuda', 'gpu'] }, 'Expected one of cpu, cuda, tensorrt, openvino, webgpu, dml, coreml, qnn for detector.providers[1] but received "gpu"'],
    [{ threads: 0 }, 'Expected an integer from 1 to 64 for detector.threads but received 0'],
    [{ workers: 9 }, 'Expected an integer from 0 to 8 for detector.workers but received 9'],
    [{ ingestNice: -1 }, 'Expected an integer from 0 to 19 for detector.ingestNice but received -1'],
    [{ scoreThresold: 0.3 }, 'Unknown key detector.scoreThresold (did you mean scoreThreshold?)'],
    ['fast', 'Expected an object or false for detector but received "fast"'],
  ];
  for (const [raw, message] of cases) assert.throws(() => parseDetectorOptions(raw), { name: 'VigilArgumentError', message });
});

test('a user YOLOv8 export with its class names from a file runs through the parsed options', async () => {
  const yoloErr = () => parseDetectorOptions({ model: 'yolo', path: 'yolov8.onnx', inputSize: 32 }, 'detector', dir);
  assert.throws(yoloErr, { message: 'Expected the export\'s class names (classes: [...] or classesFile) for detector.classes but received undefined' });
  const o = parseDetectorOptions({ model: 'yolo', path: 'yolov8.onnx', classesFile: 'names.txt', inputSize: 32, scoreThreshold: 0.5, providers: ['cuda', 'cpu'] }, 'detector', dir)!;
  assert.deepEqual([o.path, o.classNames, o.inputSize], [join(dir, 'yolov8.onnx'), COCO_CLASSES, 32]);
  const config = wholeFrameDetector(o);
  assert.deepEqual(tensorFor(config), { width: 32, height: 32, layout: 'nchw-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [255, 255, 255], padColor: [114, 114, 114] });
  const logs: string[] = [];
  const d = await Detector.create({ ...config, log: (l) => logs.push(l) });
  try {
    // cuda is not in this onnxruntime-node build: one line, then the CPU.
    assert.deepEqual(d.providers, ['cpu']);
    assert.equal(logs.length, 1);
    const out = await d.detect([{ tensor: new Float32Array(3 * 32 * 32), letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 32, sourceHeight: 32 } }]);
    assert.deepEqual(out[0]!.map((x) => [x.className, x.box]), [['person', { x1: 12, y1: 12, x2: 20, y2: 20 }]]);
  } finally {
    await d.close();
  }
});
