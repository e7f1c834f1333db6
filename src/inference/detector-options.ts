/**
 * The `detector:` section of the config: which model, at which precision and input size, with which thresholds,
 * on which execution providers. Parsed once (the config loader and Detector users call the same function) into a
 * DetectorConfig for the whole frame and, for NanoDet, one for motion-region crops.
 *
 *   detector:
 *     model: nanodet            # nanodet | centernet | yolo (a user's YOLOv5/v8 ONNX export)
 *     precision: int8           # int8 | fp32 (nanodet); fp32 for the others
 *     inputSize: 416            # nanodet: 416 | 320; yolo: the export's square size (default 640)
 *     path: models/yolov8n.onnx # yolo: required; others: replaces the built-in file
 *     classes: [person, car]    # yolo: the export's class names in order (or classesFile: one name per line)
 *     scoreThreshold: 0.4
 *     classThresholds: { car: 0.3 }
 *     only: [person, car, truck]          # report only these classes
 *     providers: [tensorrt, cuda, openvino, cpu]   # tried in order, unavailable ones fall back (one log line)
 *     threads: 1                # intra-op threads per session
 *     workers: 1                # inference threads (0: on the JS thread, which session.run then blocks)
 *     ingestNice: 0             # 1-19: decode/motion/preprocess threads this much nicer than inference
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expected } from '../errors.js';
import { onlyKeys } from '../validate.js';
import type { DetectorConfig } from './detector.js';
import { COCO_CLASSES, NANODET_INPUT, centernetPreset, modelsDir, nanodetModel, nanodetPreset, type NanodetInputSize } from './models.js';
import { PROVIDER_NAMES } from './providers.js';

export type DetectorModelKind = 'nanodet' | 'centernet' | 'yolo';
export const DETECTOR_MODELS: readonly DetectorModelKind[] = ['nanodet', 'centernet', 'yolo'];

export interface DetectorOptions {
  model: DetectorModelKind;
  precision: 'fp32' | 'int8';
  /** Square input side, pixels. */
  inputSize: number;
  /** A user's model file (absolute); null: the built-in file of model/precision/inputSize. */
  path: string | null;
  classNames: readonly string[];
  scoreThreshold: number;
  classThresholds: Record<string, number>;
  only: string[] | null;
  providers: string[];
  threads: number;
  /** Inference worker threads, each with its own sessions; 0 runs session.run on the JS thread. */
  workers: number;
  /** Ingest threads (decode, motion, preprocessing) run this much nicer (0-19): inference first under contention. */
  ingestNice: number;
}

const KEYS = ['model', 'precision', 'inputSize', 'path', 'classes', 'classesFile', 'scoreThreshold', 'classThresholds', 'only', 'providers', 'threads', 'workers', 'ingestNice', 'enabled', 'modelPath'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unit(v: unknown, path: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw expected('a number from 0 to 1', path, v);
  return v;
}

function names(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((n) => typeof n === 'string' && n !== '')) throw expected('a non-empty array of class names', path, v);
  return v as string[];
}

/**
 * `detector:` of the config -> options, or null when detection is off (`detector: false`). Every message names
 * the key's path. `baseDir` resolves relative file paths (the config file's folder).
 */
export function parseDetectorOptions(raw: unknown, path = 'detector', baseDir = process.cwd()): DetectorOptions | null {
  if (raw === false) return null;
  if (raw === undefined || raw === null) raw = {};
  if (!isObject(raw)) throw expected('an object or false', path, raw);
  if (raw.enabled === false) return null;
  onlyKeys(raw, path, KEYS);
  const model = (raw.model ?? 'nanodet') as DetectorModelKind;
  if (!DETECTOR_MODELS.includes(model)) throw expected('"nanodet", "centernet" or "yolo"', `${path}.model`, raw.model);
  const precision = raw.precision ?? (model === 'nanodet' ? 'int8' : 'fp32');
  if (precision !== 'fp32' && precision !== 'int8') throw expected('"int8" or "fp32"', `${path}.precision`, raw.precision);
  if (precision === 'int8' && model !== 'nanodet') throw expected(`"fp32" (an INT8 build exists for nanodet only)`, `${path}.precision`, raw.precision);

  const filePath = raw.path ?? raw.modelPath;
  if (filePath !== undefined && (typeof filePath !== 'string' || filePath === '')) throw expected('a file path', `${path}.path`, filePath);
  const file = typeof filePath === 'string' ? resolve(baseDir, filePath) : null;
  if (model === 'yolo' && !file) throw expected('a file path (the YOLOv5/v8 ONNX export)', `${path}.path`, filePath);
  if (file && !existsSync(file)) throw expected('an existing model file', `${path}.path`, filePath);

  let inputSize: number;
  if (model === 'nanodet') {
    inputSize = (raw.inputSize ?? 416) as number;
    if (inputSize !== 416 && inputSize !== 320) throw expected('416 or 320', `${path}.inputSize`, raw.inputSize);
  } else if (model === 'centernet') {
    inputSize = (raw.inputSize ?? 512) as number;
    if (inputSize !== 512) throw expected('512 (the CenterNet export is fixed)', `${path}.inputSize`, raw.inputSize);
  } else {
    inputSize = (raw.inputSize ?? 640) as number;
    if (!Number.isInteger(inputSize) || inputSize < 32 || inputSize > 4096 || inputSize % 32 !== 0) {
      throw expected('a multiple of 32 from 32 to 4096', `${path}.inputSize`, raw.inputSize);
    }
  }

  let classNames: readonly string[] = COCO_CLASSES;
  if (raw.classes !== undefined && raw.classesFile !== undefined) throw expected('either classes or classesFile', `${path}.classes`, raw.classes);
  if (raw.classes !== undefined) classNames = names(raw.classes, `${path}.classes`);
  else if (raw.classesFile !== undefined) {
    if (typeof raw.classesFile !== 'string') throw expected('a file path', `${path}.classesFile`, raw.classesFile);
    const f = resolve(baseDir, raw.classesFile);
    if (!existsSync(f)) throw expected('an existing file of class names', `${path}.classesFile`, raw.classesFile);
    classNames = names(readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== ''), `${path}.classesFile`);
  } else if (model === 'yolo') {
    throw expected('the export\'s class names (classes: [...] or classesFile)', `${path}.classes`, raw.classes);
  }

  const scoreThreshold = raw.scoreThreshold === undefined ? (model === 'centernet' ? 0.3 : 0.4) : unit(raw.scoreThreshold, `${path}.scoreThreshold`);
  const classThresholds: Record<string, number> = {};
  if (raw.classThresholds !== undefined) {
    if (!isObject(raw.classThresholds)) throw expected('an object of class name -> threshold', `${path}.classThresholds`, raw.classThresholds);
    for (const [name, t] of Object.entries(raw.classThresholds)) {
      if (!classNames.includes(name)) throw expected('a class name of the model', `${path}.classThresholds key`, name);
      classThresholds[name] = unit(t, `${path}.classThresholds.${name}`);
    }
  }
  let only: string[] | null = null;
  if (raw.only !== undefined) {
    only = names(raw.only, `${path}.only`);
    only.forEach((n, i) => {
      if (!classNames.includes(n)) throw expected('a class name of the model', `${path}.only[${i}]`, n);
    });
  }
  let providers = ['cpu'];
  if (raw.providers !== undefined) {
    providers = names(raw.providers, `${path}.providers`);
    providers.forEach((p, i) => {
      if (!(PROVIDER_NAMES as readonly string[]).includes(p)) throw expected(`one of ${PROVIDER_NAMES.join(', ')}`, `${path}.providers[${i}]`, p);
    });
  }
  const threads = raw.threads ?? 1;
  if (!Number.isInteger(threads) || (threads as number) < 1 || (threads as number) > 64) throw expected('an integer from 1 to 64', `${path}.threads`, raw.threads);

  const workers = raw.workers ?? 1;
  if (!Number.isInteger(workers) || (workers as number) < 0 || (workers as number) > 8) throw expected('an integer from 0 to 8', `${path}.workers`, raw.workers);
  const ingestNice = raw.ingestNice ?? 0;
  if (!Number.isInteger(ingestNice) || (ingestNice as number) < 0 || (ingestNice as number) > 19) throw expected('an integer from 0 to 19', `${path}.ingestNice`, raw.ingestNice);
  return { model, precision, inputSize, path: file, classNames, scoreThreshold, classThresholds, only, providers, threads: threads as number, workers: workers as number, ingestNice: ingestNice as number };
}

/** The built-in file a NanoDet option set names (whether or not set-up has made it yet). */
export function builtinModelFile(o: DetectorOptions, inputSize: number = o.inputSize): string {
  return resolve(modelsDir(), `${nanodetModel(o.precision, inputSize as NanodetInputSize)}.onnx`);
}

function common(o: DetectorOptions): Partial<DetectorConfig> {
  return {
    scoreThreshold: o.scoreThreshold,
    ...(Object.keys(o.classThresholds).length ? { classThresholds: o.classThresholds } : {}),
    ...(o.only ? { classFilter: o.only } : {}),
    executionProviders: o.providers,
    intraOpNumThreads: o.threads,
  };
}

/** DetectorConfig of the whole-frame model. Throws E_MODEL_MISSING when a built-in file has not been made. */
export function wholeFrameDetector(o: DetectorOptions): DetectorConfig {
  if (o.model === 'nanodet') {
    return nanodetPreset({ precision: o.precision, inputSize: o.inputSize as NanodetInputSize, ...(o.path ? { modelPath: o.path } : {}), ...common(o) });
  }
  if (o.model === 'centernet') return centernetPreset({ ...(o.path ? { modelPath: o.path } : {}), ...common(o) });
  return {
    modelPath: o.path!,
    inputWidth: o.inputSize,
    inputHeight: o.inputSize,
    layout: 'nchw',
    colorOrder: 'rgb',
    mean: [0, 0, 0],
    std: [255, 255, 255],
    padColor: [114, 114, 114],
    classNames: o.classNames,
    decoder: 'yolo',
    iouThreshold: 0.45,
    ...common(o),
    scoreThreshold: o.scoreThreshold,
  };
}

/**
 * DetectorConfig for motion-region crops: NanoDet at 320 of the same precision (the built-in pair), or null when
 * the model has no smaller variant (crops then go through the whole-frame model's input size).
 */
export function cropDetector(o: DetectorOptions): DetectorConfig | null {
  if (o.model !== 'nanodet' || o.path) return null;
  const file = builtinModelFile(o, 320);
  if (!existsSync(file)) return null;
  return nanodetPreset({ precision: o.precision, inputSize: 320, ...common(o) });
}

/** The camera tensor a detector needs (layout and normalisation of its input). */
export function tensorFor(c: DetectorConfig): { width: number; height: number; layout: 'nchw-f32' | 'nhwc-f32'; colorOrder: 'rgb' | 'bgr'; mean: [number, number, number]; std: [number, number, number]; padColor: [number, number, number] } {
  return {
    width: c.inputWidth,
    height: c.inputHeight,
    layout: c.layout === 'nchw' ? 'nchw-f32' : 'nhwc-f32',
    colorOrder: c.colorOrder,
    mean: [...c.mean],
    std: [...c.std],
    padColor: c.padColor ?? [114, 114, 114],
  };
}

/**
 * The camera tensor for a detector option set, without touching model files: the whole-frame input, plus motion
 * regions at 320 when the model is the built-in NanoDet and set-up has made its 320 build (crops need a session of
 * their size).
 */
export function cameraTensorFor(o: DetectorOptions): Record<string, unknown> {
  if (o.model === 'nanodet') {
    const crop = !o.path && existsSync(builtinModelFile(o, 320));
    return {
      width: o.inputSize, height: o.inputSize, layout: 'nchw-f32', colorOrder: NANODET_INPUT.colorOrder,
      mean: [...NANODET_INPUT.mean], std: [...NANODET_INPUT.std], padColor: [114, 114, 114],
      ...(crop ? { regions: { enabled: true, inputSize: 320 } } : {}),
    };
  }
  if (o.model === 'centernet') {
    return { width: 512, height: 512, layout: 'nhwc-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [114, 114, 114] };
  }
  return { width: o.inputSize, height: o.inputSize, layout: 'nchw-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [255, 255, 255], padColor: [114, 114, 114] };
}
