/**
 * Embedder session (onnxruntime-node): one vector per track's best crop.
 *
 * Model contract (default `.cache/models/embedder-mnv3.onnx`, the MobileNetV3 backbone taken from CenterNet with a
 * global average pool and L2 normalization): input float32 NHWC [N, 256, 128, 3], RGB 0..255, a 128x256 (w x h)
 * crop; output float32 [N, D] (D = 480). Input and output names, crop size and D are read from the model, so
 * another model with the same NHWC-in / [N, D]-out shape (a face embedder, for example) drops in. Outputs are
 * L2-normalized again here, so the cosine index can rely on it whatever the model does.
 */
import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { expected, VigilClosedError, VigilError } from '../errors.js';
import type { Box } from '../types.js';

export const DEFAULT_EMBEDDER_MODEL = '.cache/models/embedder-mnv3.onnx';

export interface EmbedderOptions {
  modelPath?: string;
  /** onnxruntime intra-op threads (1 is fastest per core on a small machine). Default 1. */
  intraOpThreads?: number;
  /** Crop size when the model's input shape leaves it symbolic. Default 128 x 256. */
  cropWidth?: number;
  cropHeight?: number;
}

export class Embedder {
  private closed = false;
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly modelPath: string,
    readonly inputName: string,
    readonly outputName: string,
    readonly cropWidth: number,
    readonly cropHeight: number,
    readonly dims: number,
  ) {}

  static async open(options: EmbedderOptions = {}): Promise<Embedder> {
    const modelPath = options.modelPath ?? DEFAULT_EMBEDDER_MODEL;
    if (typeof modelPath !== 'string' || modelPath === '') throw expected('a model file path', 'options.modelPath', modelPath);
    if (!existsSync(modelPath)) throw new VigilError('E_MODEL_MISSING', `Embedder model not found at ${modelPath}`);
    const threads = options.intraOpThreads ?? 1;
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) throw expected('an integer from 1 to 64', 'options.intraOpThreads', threads);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    } catch (cause) {
      throw new VigilError('E_MODEL_LOAD', `Could not load embedder model ${modelPath}: ${(cause as Error).message}`, { cause });
    }
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    if (!inputName || !outputName) throw new VigilError('E_MODEL_SHAPE', `Embedder model ${modelPath} has no input or no output`);
    const meta = (session as unknown as { inputMetadata?: { shape?: (number | string)[] }[]; outputMetadata?: { shape?: (number | string)[] }[] });
    const inShape = meta.inputMetadata?.[0]?.shape ?? [];
    const outShape = meta.outputMetadata?.[0]?.shape ?? [];
    const num = (v: unknown, d: number): number => (typeof v === 'number' && v > 0 ? v : d);
    const cropHeight = num(inShape[1], options.cropHeight ?? 256);
    const cropWidth = num(inShape[2], options.cropWidth ?? 128);
    if (inShape.length === 4 && num(inShape[3], 3) !== 3) throw new VigilError('E_MODEL_SHAPE', `Embedder model ${modelPath}: expected NHWC input with 3 channels, got [${inShape.join(', ')}]`);
    let dims = num(outShape[1], 0);
    const e = new Embedder(session, modelPath, inputName, outputName, cropWidth, cropHeight, dims);
    if (dims === 0) {
      dims = (await e.embed(new Float32Array(cropWidth * cropHeight * 3), 1))[0]!.length;
      (e as { dims: number }).dims = dims;
    }
    return e;
  }

  /** Embeds n crops already laid out NHWC (n x cropHeight x cropWidth x 3, RGB 0..255). L2-normalized vectors. */
  async embed(crops: Float32Array, n: number): Promise<Float32Array[]> {
    if (this.closed) throw new VigilClosedError('Embedder');
    const per = this.cropWidth * this.cropHeight * 3;
    if (!(Number.isInteger(n) && n >= 1)) throw expected('a positive integer', 'n', n);
    if (!(crops instanceof Float32Array) || crops.length !== n * per) throw expected(`a Float32Array of ${n * per} values (${n} x ${this.cropHeight} x ${this.cropWidth} x 3)`, 'crops', crops);
    const out = await this.session.run({ [this.inputName]: new ort.Tensor('float32', crops, [n, this.cropHeight, this.cropWidth, 3]) });
    const t = out[this.outputName];
    if (!t || !(t.data instanceof Float32Array) || t.data.length % n !== 0) throw new VigilError('E_MODEL_SHAPE', `Embedder output ${this.outputName} is not float32 [${n}, D]`);
    const d = t.data.length / n;
    const vectors: Float32Array[] = [];
    for (let i = 0; i < n; i++) vectors.push(l2normalize(t.data.slice(i * d, (i + 1) * d)));
    return vectors;
  }

  /** Crops `box` from an RGB frame (width x height x 3 bytes), resizes it bilinearly to the model's size, embeds it. */
  async embedCrop(rgb: Uint8Array, width: number, height: number, box: Box): Promise<Float32Array> {
    const v = await this.embed(cropToTensor(rgb, width, height, box, this.cropWidth, this.cropHeight), 1);
    return v[0]!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}

export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/**
 * Bilinear crop-and-resize of a packed RGB frame into an NHWC float32 tensor (values 0..255). The box is clamped
 * to the frame; a box of zero area yields the nearest pixel repeated.
 */
export function cropToTensor(rgb: Uint8Array, width: number, height: number, box: Box, outW = 128, outH = 256, out?: Float32Array): Float32Array {
  if (!(rgb instanceof Uint8Array) || rgb.length !== width * height * 3) throw expected(`an RGB buffer of ${width * height * 3} bytes`, 'rgb', rgb);
  const dst = out ?? new Float32Array(outW * outH * 3);
  const x1 = Math.min(Math.max(box.x1, 0), width - 1);
  const y1 = Math.min(Math.max(box.y1, 0), height - 1);
  const x2 = Math.min(Math.max(box.x2, x1), width - 1);
  const y2 = Math.min(Math.max(box.y2, y1), height - 1);
  const sx = outW > 1 ? (x2 - x1) / (outW - 1) : 0;
  const sy = outH > 1 ? (y2 - y1) / (outH - 1) : 0;
  for (let oy = 0; oy < outH; oy++) {
    const fy = y1 + oy * sy;
    const y0 = Math.floor(fy);
    const yb = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let ox = 0; ox < outW; ox++) {
      const fx = x1 + ox * sx;
      const x0 = Math.floor(fx);
      const xb = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      const o = (oy * outW + ox) * 3;
      const p00 = (y0 * width + x0) * 3;
      const p01 = (y0 * width + xb) * 3;
      const p10 = (yb * width + x0) * 3;
      const p11 = (yb * width + xb) * 3;
      for (let c = 0; c < 3; c++) {
        const top = rgb[p00 + c]! * (1 - wx) + rgb[p01 + c]! * wx;
        const bot = rgb[p10 + c]! * (1 - wx) + rgb[p11 + c]! * wx;
        dst[o + c] = top * (1 - wy) + bot * wy;
      }
    }
  }
  return dst;
}
