/**
 * Types of the addon's post-processing and motion exports (native/postprocess.cc, native/motion.cc) and the
 * accessor that checks they are there. Boxes travel as packed Float32Arrays: 6 floats per box,
 * [x1, y1, x2, y2, score, classId], highest score first after NMS.
 */
import { loadAddon } from '../../bindings/index.js';
import { VigilError } from '../errors.js';

export interface NativeLetterbox {
  /** tensor_x = source_x * scale + padX (the values preprocessImage / the frame events report). */
  scale: number;
  padX: number;
  padY: number;
  sourceWidth: number;
  sourceHeight: number;
}

export interface NativeDecodeOptions {
  numClasses: number;
  /** Default score threshold, 0..1; a class passes when score >= its threshold. */
  scoreThreshold: number;
  /** One entry per class; a negative entry means "use scoreThreshold". */
  classThresholds?: number[];
  /** Allowed class ids; absent = all classes. */
  classFilter?: number[];
  /** Same-class boxes with IoU > iouThreshold are suppressed. */
  iouThreshold: number;
  /** At most this many boxes after NMS (0 = no limit). */
  maxDetections: number;
  classAgnostic?: boolean;
  /** When given, boxes are mapped back to source pixels (clamped; boxes left empty are dropped). */
  letterbox?: NativeLetterbox;
}

export interface NativeNanodetLevel {
  /** [cells, numClasses] sigmoid scores. */
  scores: Float32Array;
  /** [cells, 4 * bins] distribution logits: left, top, right, bottom. */
  boxes: Float32Array;
  stride: number;
}

export interface NativeMotionConfig {
  /** Block size in source pixels (default 8). */
  downscale?: number;
  /** 0..1 (default 0.6): the per-cell threshold is round(4 + (1 - sensitivity) * 60) grey levels. */
  sensitivity?: number;
  /** Fraction of unmasked cells that must change for motion (default 0.002). */
  minChangedFraction?: number;
  /** Background running-average weight of each new frame (default 0.05). */
  learningRate?: number;
  /** Polygons in source pixels whose cells are ignored. */
  masks?: Array<Array<[number, number]>>;
  /** Changed cells within 2 x this many cells of each other form one region (0-16, default 1). */
  regionMergeCells?: number;
  /** Source pixels added on each side of a region, clamped to the frame (0-1024, default 16). */
  regionPadding?: number;
}

export interface NativeMotionResult {
  motion: boolean;
  changedFraction: number;
  changedCells: number;
  activeCells: number;
  /** This frame (re)initialised the background (first frame, after reset, or a new size): motion is reported. */
  initialized: boolean;
  /**
   * Disjoint rectangles (source pixels) around the changed cells, padded, largest first; empty when nothing changed
   * and on an initialising frame. More than 32 groups come back as one (their bounding box).
   */
  regions: Array<{ x: number; y: number; width: number; height: number }>;
  /** Total area of `regions` over the frame's, 0..1 (1 on an initialising frame). */
  regionShare: number;
}

export interface NativeMotionDetector {
  update(pixels: Uint8Array, image: { format: 'GRAY8' | 'I420' | 'NV12'; width: number; height: number; stride?: number }): NativeMotionResult;
  reset(): void;
  close(): void;
  readonly closed: boolean;
  readonly threshold: number;
}

export interface InferenceAddon {
  decodeNanodet(levels: NativeNanodetLevel[], options: NativeDecodeOptions & { inputWidth: number; inputHeight: number; bins?: number }): Float32Array;
  decodeCenternet(rows: Float32Array, options: NativeDecodeOptions): Float32Array;
  decodeYolo(data: Float32Array, layout: 'v8' | 'v5', options: NativeDecodeOptions): Float32Array;
  nms(boxes: Float32Array, options: { iouThreshold: number; maxDetections: number; classAgnostic?: boolean }): Float32Array;
  mapToSource(boxes: Float32Array, letterbox: NativeLetterbox): Float32Array;
  MotionDetector: new (config?: NativeMotionConfig) => NativeMotionDetector;
  /**
   * JPEG of a frame or a crop, encoded by GStreamer jpegenc on a libuv worker thread. `pixels` is read on that
   * thread: do not modify it until the promise settles. I420/NV12 crops are aligned to even pixels.
   * Rejects with code E_SNAPSHOT when encoding fails.
   */
  encodeJpeg(pixels: Uint8Array, image: NativeSnapshotImage, options?: { quality?: number; crop?: { x: number; y: number; width: number; height: number } }): Promise<Buffer>;
}

export interface NativeSnapshotImage {
  format: 'RGB' | 'BGR' | 'RGBA' | 'BGRA' | 'I420' | 'NV12' | 'GRAY8';
  width: number;
  height: number;
  /** Bytes per row of the first plane (default: tight). */
  stride?: number;
}

let cached: InferenceAddon | undefined;

/** The addon's inference exports; E_ADDON_STALE when the loaded build predates them. */
export function inferenceAddon(): InferenceAddon {
  if (cached) return cached;
  const addon = loadAddon() as unknown as Record<string, unknown>;
  for (const fn of ['decodeNanodet', 'decodeCenternet', 'decodeYolo', 'nms', 'mapToSource', 'MotionDetector', 'encodeJpeg']) {
    if (typeof addon[fn] !== 'function') {
      throw new VigilError('E_ADDON_STALE', `Vigil's native addon has no ${fn}(): rebuild it with \`npm run build:addon\`.`);
    }
  }
  cached = addon as unknown as InferenceAddon;
  return cached;
}
