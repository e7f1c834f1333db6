/**
 * Where the converted models live and the presets that describe them. scripts/setup.d/30-models.sh makes them
 * (TF.js graph models from npm tarballs, converted by scripts/models/tfjs2onnx.py); they are never committed.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VigilError, expected } from '../errors.js';
import type { DetectorConfig } from './detector.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { NANODET_INPUT } from '../camera/tensor.js';

const root = PACKAGE_ROOT;

/** Folder of the converted ONNX models: $VIGIL_MODELS_DIR or <repo>/.cache/models. */
export function modelsDir(): string {
  return process.env.VIGIL_MODELS_DIR ? resolve(process.env.VIGIL_MODELS_DIR) : join(root, '.cache', 'models');
}

/** Folder of the original TF.js graph models the set-up extracted (used by the conversion test). */
export function tfjsModelsDir(): string {
  return join(root, '.cache', 'tfjs');
}

export type BuiltinModel = 'nanodet' | 'nanodet-int8' | 'nanodet-320' | 'nanodet-320-int8' | 'centernet' | 'embedder-mnv3';

/** NanoDet builds set-up makes: float32 as converted, or INT8 (QDQ, calibrated on vtest frames 0-399). */
export type NanodetPrecision = 'fp32' | 'int8';
export const NANODET_PRECISIONS: readonly NanodetPrecision[] = ['fp32', 'int8'];
/** 416: whole frames (the export's own size); 320: smaller inputs such as motion-region crops. */
export type NanodetInputSize = 416 | 320;
export const NANODET_INPUT_SIZES: readonly NanodetInputSize[] = [416, 320];

export interface NanodetOptions {
  /** Default 'fp32'. */
  precision?: NanodetPrecision;
  /** Square input side in pixels (default 416). */
  inputSize?: NanodetInputSize;
}

/** The built-in model file of a NanoDet precision and input size. */
export function nanodetModel(precision: NanodetPrecision = 'fp32', inputSize: NanodetInputSize = 416): BuiltinModel {
  if (!NANODET_PRECISIONS.includes(precision)) throw expected('"fp32" or "int8"', 'precision', precision);
  if (!NANODET_INPUT_SIZES.includes(inputSize)) throw expected('416 or 320', 'inputSize', inputSize);
  const size = inputSize === 416 ? '' : `-${inputSize}`;
  return `nanodet${size}${precision === 'int8' ? '-int8' : ''}` as BuiltinModel;
}

/** Path of a converted model; throws E_MODEL_MISSING with the set-up command when it is not there. */
export function modelPath(name: BuiltinModel): string {
  const p = join(modelsDir(), `${name}.onnx`);
  if (!existsSync(p)) {
    throw new VigilError('E_MODEL_MISSING', `Model ${name} is missing at ${p}: run \`bash scripts/setup.d/30-models.sh\` ` +
      '(it converts the pretrained TF.js models to ONNX).');
  }
  return p;
}

/** The 80 COCO class names in the order NanoDet and CenterNet (and YOLO exports) use. */
export const COCO_CLASSES: readonly string[] = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant',
  'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
  'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli',
  'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet',
  'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
  'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

export { NANODET_INPUT };

/**
 * NanoDet-m (COCO): NCHW float input, BGR, (pixel - mean) / std; six outputs (cls_S [N,n,80] sigmoid scores,
 * reg_S [N,n,44] box distributions, S = 8, 16, 32); batch dimension dynamic. `precision` and `inputSize` pick
 * the built-in file (nanodet, nanodet-int8, nanodet-320, nanodet-320-int8); the INT8 builds take the same float
 * input (they quantize inside the graph). An explicit modelPath / inputWidth / inputHeight wins.
 */
export function nanodetPreset(overrides: Partial<DetectorConfig> & NanodetOptions = {}): DetectorConfig {
  const { precision, inputSize, ...rest } = overrides;
  const size = inputSize ?? NANODET_INPUT.width as NanodetInputSize;
  const model = nanodetModel(precision ?? 'fp32', size);
  return {
    modelPath: rest.modelPath ?? modelPath(model),
    inputWidth: size,
    inputHeight: size,
    layout: 'nchw',
    colorOrder: NANODET_INPUT.colorOrder,
    mean: [...NANODET_INPUT.mean],
    std: [...NANODET_INPUT.std],
    classNames: COCO_CLASSES,
    decoder: 'nanodet',
    // 0.4: on vtest.avi every walking person scores 0.54-0.82; the false positives seen (a cone, a sign) 0.36-0.41.
    scoreThreshold: 0.4,
    iouThreshold: 0.5,
    ...rest,
  };
}

/**
 * MobileNetV3-CenterNet 512 (COCO): NHWC float input, RGB 0..255; output `detections` [1,100,6] (x1,y1,x2,y2 in
 * input pixels, score, class), already peak-filtered (3x3 max pool) and top-100 sorted. Batch dimension fixed at 1.
 */
export function centernetPreset(overrides: Partial<DetectorConfig> = {}): DetectorConfig {
  return {
    modelPath: overrides.modelPath ?? modelPath('centernet'),
    inputWidth: 512,
    inputHeight: 512,
    layout: 'nhwc',
    colorOrder: 'rgb',
    mean: [0, 0, 0],
    std: [1, 1, 1],
    classNames: COCO_CLASSES,
    decoder: 'centernet',
    scoreThreshold: 0.3,
    iouThreshold: 0.5,
    ...overrides,
  };
}
