/** Model input settings for the native tensor stage, validated before they reach native code. */
import { expected } from '../errors.js';
import { onlyKeys } from '../validate.js';
import type { NativeRegionOptions, NativeTensorSpec, TensorLayout } from '../../bindings/index.js';

/**
 * Motion-region inference for one camera: frames whose motion is local are handed on as a crop around the motion
 * regions, letterboxed into a smaller square tensor (same layout and normalisation as the camera's tensor), instead
 * of the whole frame. Needs the camera's motion gate (without one every frame is whole). Whole frames still come
 * on the first frame, every `fullFrameEvery` frames, while the camera is asked for them (Camera.setFullFrame, e.g.
 * while tracks are live), and when the crop would cover `maxShare` of the frame or more.
 */
export interface RegionSettings {
  enabled: boolean;
  /** Crop tensor side in pixels (square, 8-8192): the input size of the detector's crop model. */
  inputSize: number;
  /** 0..1 (exclusive of 0): crops only while they cover less than this share of the frame. */
  maxShare: number;
  /** At most this many frames handed on between whole frames; 0: no periodic whole frame. */
  fullFrameEvery: number;
  /** Source pixels: a crop is at least this big on each side. */
  minSide: number;
}

export const DEFAULT_REGIONS: RegionSettings = { enabled: false, inputSize: 320, maxShare: 0.35, fullFrameEvery: 30, minSide: 160 };

/** The model input spec; cameras may add `regions` (ignored by code that only letterboxes). */
export type TensorSpec = NativeTensorSpec & { regions?: RegionSettings };

/**
 * NanoDet-m 416's input, written once: the cameras' default tensor below and the NanoDet preset (src/inference/models.ts)
 * both read it; it lives here so the camera layer imports nothing from inference. BGR, per-channel mean / std in 0-255 pixel units.
 */
export const NANODET_INPUT: {
  readonly width: number;
  readonly height: number;
  readonly colorOrder: 'bgr';
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
} = {
  width: 416,
  height: 416,
  colorOrder: 'bgr',
  mean: [103.53, 116.28, 123.675],
  std: [57.375, 57.12, 58.395],
};

/** NanoDet-m 416's input (NANODET_INPUT in src/inference/models.ts): 416x416 BGR, NCHW float, its normalization. */
export const DEFAULT_TENSOR: TensorSpec = {
  width: NANODET_INPUT.width,
  height: NANODET_INPUT.height,
  layout: 'nchw-f32',
  colorOrder: NANODET_INPUT.colorOrder,
  mean: [...NANODET_INPUT.mean],
  std: [...NANODET_INPUT.std],
  padColor: [114, 114, 114],
};

function triple(v: unknown, name: string, check: (n: number) => boolean, what: string): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3) throw expected('an array of 3 numbers', name, v);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || !check(x)) throw expected(what, `${name}[${i}]`, x);
  });
  return [v[0], v[1], v[2]];
}

const ALL_LAYOUTS: readonly TensorLayout[] = ['nchw-f32', 'nhwc-u8', 'nhwc-f32'];

function layoutList(layouts: readonly TensorLayout[]): string {
  const q = layouts.map((l) => `"${l}"`);
  return q.length === 2 ? `${q[0]} or ${q[1]}` : `one of ${q.join(', ')}`;
}

function checkSpec(t: Record<string, unknown>, name: string, layouts: readonly TensorLayout[]): TensorSpec {
  for (const dim of ['width', 'height'] as const) {
    const v = t[dim];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 8 || v > 8192) {
      throw expected('an integer from 8 to 8192', `${name}.${dim}`, v);
    }
  }
  if (!layouts.includes(t.layout as TensorLayout)) throw expected(layoutList(layouts), `${name}.layout`, t.layout);
  if (t.colorOrder !== 'rgb' && t.colorOrder !== 'bgr') throw expected('"rgb" or "bgr"', `${name}.colorOrder`, t.colorOrder);
  return {
    width: t.width as number,
    height: t.height as number,
    layout: t.layout as TensorLayout,
    colorOrder: t.colorOrder,
    mean: triple(t.mean, `${name}.mean`, () => true, 'a finite number'),
    std: triple(t.std, `${name}.std`, (n) => n > 0, 'a positive number'),
    padColor: triple(t.padColor, `${name}.padColor`, (n) => Number.isInteger(n) && n >= 0 && n <= 255, 'an integer from 0 to 255'),
  };
}

/** Motion-region settings: missing keys take DEFAULT_REGIONS' values (so `{ enabled: true }` is enough). */
export function parseRegionSettings(input: unknown, name = 'regions'): RegionSettings {
  if (input === undefined) return { ...DEFAULT_REGIONS };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw expected('an object', name, input);
  onlyKeys(input as Record<string, unknown>, name, Object.keys(DEFAULT_REGIONS));
  const r = { ...DEFAULT_REGIONS, ...(input as Partial<RegionSettings>) } as Record<string, unknown>;
  if (typeof r.enabled !== 'boolean') throw expected('a boolean', `${name}.enabled`, r.enabled);
  const int = (key: string, min: number, max: number): number => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw expected(`an integer from ${min} to ${max}`, `${name}.${key}`, v);
    }
    return v;
  };
  const inputSize = int('inputSize', 8, 8192);
  const fullFrameEvery = int('fullFrameEvery', 0, 1_000_000);
  const minSide = int('minSide', 1, 8192);
  const maxShare = r.maxShare;
  if (typeof maxShare !== 'number' || !(maxShare > 0 && maxShare <= 1)) {
    throw expected('a number above 0 and at most 1', `${name}.maxShare`, maxShare);
  }
  return { enabled: r.enabled, inputSize, maxShare, fullFrameEvery, minSide };
}

/** A camera's tensor settings: missing keys take DEFAULT_TENSOR's values; `regions` is kept when given. */
export function parseTensorSpec(input: unknown, name = 'tensor'): TensorSpec {
  if (input === undefined) return { ...DEFAULT_TENSOR };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw expected('an object', name, input);
  onlyKeys(input as Record<string, unknown>, name, [...Object.keys(DEFAULT_TENSOR), 'regions']);
  const spec = checkSpec({ ...DEFAULT_TENSOR, ...(input as Partial<TensorSpec>) }, name, ALL_LAYOUTS);
  const regions = (input as { regions?: unknown }).regions;
  return regions === undefined ? spec : { ...spec, regions: parseRegionSettings(regions, `${name}.regions`) };
}

/** The native pipeline's region options for a camera's spec; undefined when regions are off. */
export function nativeRegionOptions(spec: TensorSpec): NativeRegionOptions | undefined {
  const r = spec.regions;
  if (!r || !r.enabled) return undefined;
  return { tensorWidth: r.inputSize, tensorHeight: r.inputSize, maxShare: r.maxShare, fullFrameEvery: r.fullFrameEvery, minSide: r.minSide };
}

/** A complete tensor spec (every key given), any layout: crops for the embedder and other second-stage models. */
export function validateTensorSpec(input: unknown, name = 'spec'): TensorSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw expected('an object', name, input);
  return checkSpec(input as Record<string, unknown>, name, ALL_LAYOUTS);
}

/** Bytes of one tensor of this spec (a whole frame's; a crop's is tensorBytes({ ...spec, width, height })). */
export function tensorBytes(spec: NativeTensorSpec): number {
  return spec.width * spec.height * 3 * (spec.layout === 'nhwc-u8' ? 1 : 4);
}
