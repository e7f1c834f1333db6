/** Model input settings for the native tensor stage, validated before they reach native code. */
import { expected } from '../errors.js';
import type { NativeTensorSpec } from '../../bindings/index.js';

export type TensorSpec = NativeTensorSpec;

/** NanoDet-style default: 416x416 BGR, NCHW float, ImageNet-in-pixels normalization. */
export const DEFAULT_TENSOR: TensorSpec = {
  width: 416,
  height: 416,
  layout: 'nchw-f32',
  colorOrder: 'bgr',
  mean: [103.53, 116.28, 123.675],
  std: [57.375, 57.12, 58.395],
  padColor: [114, 114, 114],
};

function triple(v: unknown, name: string, check: (n: number) => boolean, what: string): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3) throw expected('an array of 3 numbers', name, v);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || !check(x)) throw expected(what, `${name}[${i}]`, x);
  });
  return [v[0], v[1], v[2]];
}

export function parseTensorSpec(input: unknown, name = 'tensor'): TensorSpec {
  if (input === undefined) return { ...DEFAULT_TENSOR };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw expected('an object', name, input);
  const t = { ...DEFAULT_TENSOR, ...(input as Partial<TensorSpec>) };
  for (const dim of ['width', 'height'] as const) {
    const v = t[dim];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 8 || v > 8192) {
      throw expected('an integer from 8 to 8192', `${name}.${dim}`, v);
    }
  }
  if (t.layout !== 'nchw-f32' && t.layout !== 'nhwc-u8') throw expected('"nchw-f32" or "nhwc-u8"', `${name}.layout`, t.layout);
  if (t.colorOrder !== 'rgb' && t.colorOrder !== 'bgr') throw expected('"rgb" or "bgr"', `${name}.colorOrder`, t.colorOrder);
  return {
    width: t.width,
    height: t.height,
    layout: t.layout,
    colorOrder: t.colorOrder,
    mean: triple(t.mean, `${name}.mean`, () => true, 'a finite number'),
    std: triple(t.std, `${name}.std`, (n) => n > 0, 'a positive number'),
    padColor: triple(t.padColor, `${name}.padColor`, (n) => Number.isInteger(n) && n >= 0 && n <= 255, 'an integer from 0 to 255'),
  };
}

export function tensorBytes(spec: TensorSpec): number {
  return spec.width * spec.height * 3 * (spec.layout === 'nchw-f32' ? 4 : 1);
}
