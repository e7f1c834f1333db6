/** Model input settings for the native tensor stage, validated before they reach native code. */
import { expected } from '../errors.js';
import type { NativeTensorSpec, TensorLayout } from '../../bindings/index.js';
import { NANODET_INPUT } from '../inference/models.js';

export type TensorSpec = NativeTensorSpec;

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

/** A camera's tensor settings: missing keys take DEFAULT_TENSOR's values. */
export function parseTensorSpec(input: unknown, name = 'tensor'): TensorSpec {
  if (input === undefined) return { ...DEFAULT_TENSOR };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw expected('an object', name, input);
  return checkSpec({ ...DEFAULT_TENSOR, ...(input as Partial<TensorSpec>) }, name, ALL_LAYOUTS);
}

/** A complete tensor spec (every key given), any layout: crops for the embedder and other second-stage models. */
export function validateTensorSpec(input: unknown, name = 'spec'): TensorSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw expected('an object', name, input);
  return checkSpec(input as Record<string, unknown>, name, ALL_LAYOUTS);
}

/** Bytes of one tensor of this spec. */
export function tensorBytes(spec: TensorSpec): number {
  return spec.width * spec.height * 3 * (spec.layout === 'nhwc-u8' ? 1 : 4);
}
