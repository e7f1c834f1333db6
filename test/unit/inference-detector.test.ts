/**
 * Detector configuration, execution-provider fallback and model/decoder checks (real nanodet model; this
 * onnxruntime-node install has no CUDA/TensorRT provider libraries, as on every machine of this project).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector, type DetectorConfig } from '../../src/inference/detector.js';
import { COCO_CLASSES, nanodetPreset } from '../../src/inference/models.js';
import { listProviders, resolveProviders } from '../../src/inference/providers.js';

const CUDA_REASON = 'libonnxruntime_providers_cuda.so is not installed next to the onnxruntime-node binding';
const TRT_REASON = 'libonnxruntime_providers_tensorrt.so is not installed next to the onnxruntime-node binding';

test('listProviders reports what this build offers', () => {
  const p = Object.fromEntries(listProviders().map((x) => [x.name, x]));
  assert.deepEqual(p.cpu, { name: 'cpu', available: true, reason: '' });
  assert.deepEqual(p.cuda, { name: 'cuda', available: false, reason: CUDA_REASON });
  assert.deepEqual(p.tensorrt, { name: 'tensorrt', available: false, reason: TRT_REASON });
  assert.deepEqual(p.dml, { name: 'dml', available: false, reason: 'not built into this onnxruntime-node package' });
  assert.deepEqual(p.openvino, { name: 'openvino', available: false, reason: 'not built into this onnxruntime-node package' });
});

test('resolveProviders: unavailable providers fall back to cpu with exactly one log line', () => {
  const lines: string[] = [];
  assert.deepEqual(resolveProviders(['tensorrt', 'cuda', 'cpu'], (l) => lines.push(l), 'detector cam1'), ['cpu']);
  assert.deepEqual(lines, [
    `detector cam1: execution provider tensorrt (${TRT_REASON}), cuda (${CUDA_REASON}) unavailable; falling back to cpu`,
  ]);
  lines.length = 0;
  assert.deepEqual(resolveProviders(['cpu'], (l) => lines.push(l)), ['cpu']);
  assert.deepEqual(resolveProviders([], (l) => lines.push(l)), ['cpu']);
  assert.equal(lines.length, 0);
  assert.deepEqual(resolveProviders(['npu'], (l) => lines.push(l), 'x'), ['cpu']);
  assert.deepEqual(lines, ['x: execution provider npu (unknown provider) unavailable; falling back to cpu']);
});

test('a detector configured for cuda runs on cpu after one log line', async () => {
  const lines: string[] = [];
  const cfg = nanodetPreset({ executionProviders: ['cuda', 'cpu'], log: (l) => lines.push(l) });
  const d = await Detector.create(cfg);
  try {
    assert.deepEqual(d.providers, ['cpu']);
    assert.deepEqual(lines, [`detector ${cfg.modelPath}: execution provider cuda (${CUDA_REASON}) unavailable; falling back to cpu`]);
    assert.equal(d.batchSize, 8);
    assert.deepEqual(d.tensorSpec(), {
      width: 416, height: 416, layout: 'nchw-f32', colorOrder: 'bgr', mean: [103.53, 116.28, 123.675],
      std: [57.375, 57.12, 58.395], padColor: [114, 114, 114],
    });
    // An empty frame (all padding grey) has no detections.
    const grey = new Uint8Array(64 * 48 * 3).fill(114);
    assert.deepEqual(await d.detectImage(grey, { format: 'RGB', width: 64, height: 48 }), []);
    await assert.rejects(d.detect([{ tensor: new Float32Array(10), letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 416, sourceHeight: 416 } }]), {
      code: 'E_ARGUMENT', message: 'Expected a Float32Array of 519168 values for inputs[0].tensor but received an object of type Float32Array',
    });
  } finally {
    await d.close();
    await d.close();
  }
  assert.equal(d.closed, true);
  await assert.rejects(d.detect([]), { code: 'E_CLOSED', message: 'Detector is closed' });
});

test('a provider that is present but has no device (webgpu without an adapter here) falls back at session start', async () => {
  const lines: string[] = [];
  const cfg = nanodetPreset({ executionProviders: ['webgpu', 'cpu'], log: (l) => lines.push(l) });
  const d = await Detector.create(cfg);
  try {
    assert.deepEqual(d.providers, ['cpu']);
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.startsWith(`detector ${cfg.modelPath}: execution providers webgpu, cpu failed (`), lines[0]);
    assert.ok(lines[0]!.endsWith('; falling back to cpu'), lines[0]);
  } finally {
    await d.close();
  }
});

test('config validation: the one message shape', async () => {
  const ok = nanodetPreset();
  const cases: Array<[Partial<DetectorConfig>, string]> = [
    [{ inputWidth: 0 }, 'Expected an integer from 1 to 8192 for config.inputWidth but received 0'],
    [{ layout: 'chw' as 'nchw' }, 'Expected "nchw" or "nhwc" for config.layout but received "chw"'],
    [{ decoder: 'ssd' as 'yolo' }, 'Expected "nanodet", "centernet", "yolo", "yolov8", "yolov5" for config.decoder but received "ssd"'],
    [{ scoreThreshold: 1.2 }, 'Expected a number from 0 to 1 for config.scoreThreshold but received 1.2'],
    [{ std: [1, 0, 1] }, 'Expected an array of 3 positive numbers for config.std but received an array of length 3'],
    [{ classFilter: ['person', 'unicorn'] }, 'Expected a class name of the model for config.classFilter entry but received "unicorn"'],
    [{ classThresholds: { person: 2 } }, 'Expected a number from 0 to 1 for config.classThresholds.person but received 2'],
    [{ maxBatch: 0 }, 'Expected an integer from 1 to 256 for config.maxBatch but received 0'],
  ];
  for (const [patch, message] of cases) {
    await assert.rejects(Detector.create({ ...ok, ...patch }), { code: 'E_ARGUMENT', message });
  }
});

test('model checks: input size and decoder must fit the model', async () => {
  const ok = nanodetPreset();
  await assert.rejects(Detector.create({ ...ok, inputWidth: 320, inputHeight: 320 }), {
    code: 'E_MODEL_INPUT',
    message: `Model ${ok.modelPath} takes input ["N",3,416,416], which does not match the configured nchw 320x320`,
  });
  await assert.rejects(Detector.create({ ...ok, decoder: 'yolo' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_MODEL_OUTPUT');
    assert.match(err.message, /^Model .*nanodet\.onnx does not fit decoder yolo: expected \[1, 84, N\] \(v8\) or \[1, N, 85\] \(v5\) \(outputs: cls_8\[/);
    return true;
  });
  await assert.rejects(Detector.create({ ...ok, classNames: COCO_CLASSES.slice(0, 79) }), { code: 'E_MODEL_OUTPUT' });
  await assert.rejects(Detector.create({ ...ok, modelPath: '/nonexistent/model.onnx' }), { code: 'E_MODEL_LOAD' });
});
