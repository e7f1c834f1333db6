/**
 * Writes a tiny ONNX embedder for tests, encoded by hand (protobuf wire format; no python onnx package here):
 * input float32 NHWC [N, H, W, 3] -> ReduceMean over H, W -> [N, 3] -> MatMul W [3, D] -> Add b [D] ->
 * LpNormalization(p=2) -> "embedding" [N, D]. Same contract as the real embedder (NHWC crop in, L2-normalized out).
 */
import { writeFileSync } from 'node:fs';

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
const int = (field: number, v: number | bigint): number[] => [...tag(field, 0), ...varint(v)];
const bytes = (field: number, b: Uint8Array | number[]): number[] => [...tag(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string): number[] => bytes(field, [...Buffer.from(s, 'utf8')]);

function dim(v: number | string): number[] {
  return typeof v === 'number' ? int(1, v) : str(2, v);
}
function valueInfo(name: string, shape: (number | string)[]): number[] {
  const shapeMsg = shape.flatMap((d) => bytes(1, dim(d)));
  const tensorType = [...int(1, 1), ...bytes(2, shapeMsg)];
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}
function tensor(name: string, dims: number[], data: Float32Array): number[] {
  return [...dims.flatMap((d) => int(1, d)), ...int(2, 1), ...str(8, name), ...bytes(9, [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)])];
}
function attrInts(name: string, values: number[]): number[] {
  return [...str(1, name), ...values.flatMap((v) => int(8, v)), ...int(20, 7)];
}
function attrInt(name: string, v: number): number[] {
  return [...str(1, name), ...int(3, v), ...int(20, 2)];
}
function node(op: string, inputs: string[], outputs: string[], attrs: number[][] = []): number[] {
  return [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(3, `${op}_0`), ...str(4, op), ...attrs.flatMap((a) => bytes(5, a))];
}

export function writeTinyEmbedder(path: string, dims: number, height = 256, width = 128): { weights: Float32Array; bias: Float32Array } {
  const weights = new Float32Array(3 * dims);
  const bias = new Float32Array(dims);
  for (let i = 0; i < weights.length; i++) weights[i] = Math.sin(i * 1.7) * 0.01;
  for (let i = 0; i < dims; i++) bias[i] = Math.cos(i) * 0.1;
  const graph = [
    ...bytes(1, node('ReduceMean', ['input'], ['pooled'], [attrInts('axes', [1, 2]), attrInt('keepdims', 0)])),
    ...bytes(1, node('MatMul', ['pooled', 'W'], ['projected'])),
    ...bytes(1, node('Add', ['projected', 'B'], ['biased'])),
    ...bytes(1, node('LpNormalization', ['biased'], ['embedding'], [attrInt('axis', 1), attrInt('p', 2)])),
    ...str(2, 'tiny_embedder'),
    ...bytes(5, tensor('W', [3, dims], weights)),
    ...bytes(5, tensor('B', [dims], bias)),
    ...bytes(11, valueInfo('input', ['N', height, width, 3])),
    ...bytes(12, valueInfo('embedding', ['N', dims])),
  ];
  const model = [...int(1, 7), ...str(2, 'vigil-test'), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 13)])];
  writeFileSync(path, Uint8Array.from(model));
  return { weights, bias };
}

/** What the tiny model computes, in plain JS, for checking its outputs. */
export function tinyEmbedderReference(crop: Float32Array, weights: Float32Array, bias: Float32Array, dims: number): Float32Array {
  const px = crop.length / 3;
  const mean = [0, 0, 0];
  for (let i = 0; i < px; i++) for (let c = 0; c < 3; c++) mean[c]! += crop[i * 3 + c]!;
  for (let c = 0; c < 3; c++) mean[c]! /= px;
  const out = new Float32Array(dims);
  for (let d = 0; d < dims; d++) out[d] = mean[0]! * weights[d]! + mean[1]! * weights[dims + d]! + mean[2]! * weights[2 * dims + d]! + bias[d]!;
  const n = Math.hypot(...out);
  return out.map((v) => v / n);
}
