/**
 * The appearance embedder (the one embedder module: the store, the live track flow, POST /search and the bench use
 * this class).
 *
 * Default model `.cache/models/embedder-mnv3.onnx`: CenterNet's MobileNetV3 backbone (to tower_0/extern1) + global
 * average pool + L2 norm, converted by scripts/setup.d/30-models.sh. Contract: input float32 NHWC [N, H, W, 3],
 * RGB 0..255 (128 wide, 256 tall); output float32 [N, D] (D = 480). Input and output names, crop size and D are read
 * from the model, so another model with the same NHWC-in / [N, D]-out shape (a face embedder) drops in. Outputs are
 * L2-normalized here again, so cosine similarity = dot product whatever the model does.
 *
 * Crops: a source-frame box is cut out and letterboxed (aspect kept, grey 114 border) to the model's size by the
 * native preprocessor, the same code SourceFrame.cropTensor runs on live frames, so a crop made here from an RGB
 * buffer and one made from a live frame give the same vector.
 */
import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { loadAddon } from '../../bindings/index.js';
import { VigilClosedError, VigilError, expected } from '../errors.js';
import type { Box } from '../types.js';
import { modelPath as builtinModelPath } from './models.js';
import { resolveProviders, type ProviderLogger } from './providers.js';

/** Crop size (pixels) and vector size of the default model. */
export const EMBED_WIDTH = 128;
export const EMBED_HEIGHT = 256;
export const EMBED_DIM = 480;

export interface EmbedderOptions {
  /** Default: the built-in embedder-mnv3 model ($VIGIL_MODELS_DIR or .cache/models). */
  modelPath?: string;
  /** Default ['cpu']; unavailable providers fall back to cpu with one log line. */
  executionProviders?: string[];
  /** onnxruntime intra-op threads (1 is fastest per core on a small machine). Default 1. */
  intraOpNumThreads?: number;
  /** Crop size when the model's input shape leaves it symbolic. Default 128 x 256. */
  cropWidth?: number;
  cropHeight?: number;
  log?: ProviderLogger;
}

/** What SourceFrame.cropTensor takes to produce this embedder's input for one box. */
export interface EmbedCropSpec {
  width: number;
  height: number;
  layout: 'nhwc-f32';
  colorOrder: 'rgb';
  mean: [number, number, number];
  std: [number, number, number];
  padColor: [number, number, number];
}

export class Embedder {
  private session: ort.InferenceSession | undefined;
  /** The crop spec for SourceFrame.cropTensor (model size, NHWC float RGB 0..255, grey letterbox). */
  readonly cropSpec: Readonly<EmbedCropSpec>;

  private constructor(
    session: ort.InferenceSession,
    readonly modelPath: string,
    readonly inputName: string,
    readonly outputName: string,
    readonly cropWidth: number,
    readonly cropHeight: number,
    readonly dims: number,
  ) {
    this.session = session;
    this.cropSpec = Object.freeze({
      width: cropWidth, height: cropHeight, layout: 'nhwc-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [114, 114, 114],
    } as EmbedCropSpec);
  }

  static async create(options: EmbedderOptions = {}): Promise<Embedder> {
    if (typeof options !== 'object' || options === null) throw expected('an options object', 'options', options);
    const path = options.modelPath ?? builtinModelPath('embedder-mnv3');
    if (typeof path !== 'string' || path === '') throw expected('a model file path', 'options.modelPath', path);
    if (!existsSync(path)) throw new VigilError('E_MODEL_MISSING', `Embedder model not found at ${path}`);
    const threads = options.intraOpNumThreads ?? 1;
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) throw expected('an integer from 1 to 64', 'options.intraOpNumThreads', threads);
    const providers = resolveProviders(options.executionProviders ?? ['cpu'], options.log ?? ((l) => console.warn(l)), `embedder ${path}`);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        executionProviders: providers, intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      });
    } catch (cause) {
      throw new VigilError('E_MODEL_LOAD', `Could not load embedder model ${path}: ${(cause as Error).message}`, { cause });
    }
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    if (!inputName || !outputName) {
      await session.release();
      throw new VigilError('E_MODEL_SHAPE', `Embedder model ${path} has no input or no output`);
    }
    const meta = session as unknown as { inputMetadata?: { shape?: (number | string)[] }[]; outputMetadata?: { shape?: (number | string)[] }[] };
    const inShape = meta.inputMetadata?.[0]?.shape ?? [];
    const outShape = meta.outputMetadata?.[0]?.shape ?? [];
    const num = (v: unknown, d: number): number => (typeof v === 'number' && v > 0 ? v : d);
    if (inShape.length === 4 && num(inShape[3], 3) !== 3) {
      await session.release();
      throw new VigilError('E_MODEL_SHAPE', `Embedder model ${path}: expected NHWC input with 3 channels, got [${inShape.join(', ')}]`);
    }
    const cropHeight = num(inShape[1], options.cropHeight ?? EMBED_HEIGHT);
    const cropWidth = num(inShape[2], options.cropWidth ?? EMBED_WIDTH);
    const e = new Embedder(session, path, inputName, outputName, cropWidth, cropHeight, num(outShape[1], 0));
    if (e.dims === 0) {
      // symbolic output width: one run on a blank crop tells it
      const [v] = await e.embed([new Float32Array(cropWidth * cropHeight * 3)]);
      (e as { dims: number }).dims = v!.length;
    }
    return e;
  }

  /** Values in one crop: cropHeight x cropWidth x 3. */
  get cropValues(): number {
    return this.cropWidth * this.cropHeight * 3;
  }

  /**
   * A source-frame box of a packed RGB24 frame as this embedder's input (letterboxed to the model's size by the
   * native preprocessor, float RGB 0..255). For live frames use SourceFrame.cropTensor(box, cropSpec) instead.
   */
  crop(rgb: Uint8Array, width: number, height: number, box: Box): Float32Array {
    if (!(Number.isInteger(width) && width >= 1 && Number.isInteger(height) && height >= 1)) throw expected('positive integer frame dimensions', 'width, height', `${width}x${height}`);
    if (!(rgb instanceof Uint8Array) || rgb.length !== width * height * 3) throw expected(`an RGB buffer of ${width * height * 3} bytes`, 'rgb', rgb);
    if (typeof box !== 'object' || box === null || ![box.x1, box.y1, box.x2, box.y2].every((v) => typeof v === 'number' && Number.isFinite(v))) throw expected('a box {x1, y1, x2, y2} in pixels', 'box', box);
    const x1 = Math.max(0, Math.min(width - 1, Math.floor(box.x1)));
    const y1 = Math.max(0, Math.min(height - 1, Math.floor(box.y1)));
    const x2 = Math.max(x1 + 1, Math.min(width, Math.ceil(box.x2)));
    const y2 = Math.max(y1 + 1, Math.min(height, Math.ceil(box.y2)));
    const cw = x2 - x1, ch = y2 - y1;
    const sub = new Uint8Array(cw * ch * 3);
    for (let y = 0; y < ch; y++) sub.set(rgb.subarray(((y1 + y) * width + x1) * 3, ((y1 + y) * width + x2) * 3), y * cw * 3);
    return new Float32Array(loadAddon().preprocessImage(sub, { format: 'RGB', width: cw, height: ch }, { ...this.cropSpec }).tensor);
  }

  /** Embeds N crops (each cropHeight x cropWidth x 3 floats, RGB 0..255) in one session run; unit vectors. */
  async embed(crops: readonly Float32Array[]): Promise<Float32Array[]> {
    const s = this.session;
    if (!s) throw new VigilClosedError('Embedder');
    if (!Array.isArray(crops)) throw expected('an array of crops', 'crops', crops);
    if (crops.length === 0) return [];
    const per = this.cropValues;
    crops.forEach((c, k) => {
      if (!(c instanceof Float32Array) || c.length !== per) throw expected(`a Float32Array of ${per} values`, `crops[${k}]`, c);
    });
    let data: Float32Array;
    if (crops.length === 1) data = crops[0]!;
    else {
      data = new Float32Array(per * crops.length);
      crops.forEach((c, k) => data.set(c, k * per));
    }
    const out = await s.run({ [this.inputName]: new ort.Tensor('float32', data, [crops.length, this.cropHeight, this.cropWidth, 3]) });
    const t = out[this.outputName];
    if (!t || !(t.data instanceof Float32Array) || t.data.length % crops.length !== 0 || (this.dims > 0 && t.data.length !== crops.length * this.dims)) {
      throw new VigilError('E_MODEL_SHAPE', `Embedder output ${this.outputName} is not float32 [${crops.length}, D]`);
    }
    const d = t.data.length / crops.length;
    const vectors: Float32Array[] = [];
    for (let i = 0; i < crops.length; i++) vectors.push(l2normalize(t.data.slice(i * d, (i + 1) * d)));
    return vectors;
  }

  /** Crops `box` from an RGB24 frame and embeds it. */
  async embedCrop(rgb: Uint8Array, width: number, height: number, box: Box): Promise<Float32Array> {
    return (await this.embed([this.crop(rgb, width, height, box)]))[0]!;
  }

  get closed(): boolean {
    return this.session === undefined;
  }

  /** Releases the session. Idempotent; embed() after close rejects with E_CLOSED. */
  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.release();
  }
}

/** Scales `v` to unit length in place (a zero vector stays zero). */
export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}
