/**
 * Appearance embedder: CenterNet's MobileNetV3 backbone (to tower_0/extern1) + global average pool + L2 norm,
 * converted by scripts/setup.d/30-models.sh. Contract: input float32 NHWC [N, 256, 128, 3], RGB 0..255 (a crop
 * 128 wide and 256 tall); output [N, 480], unit length. Cosine similarity = dot product.
 */
import ort from 'onnxruntime-node';
import { loadAddon } from '../../bindings/index.js';
import { VigilClosedError, expected } from '../errors.js';
import type { Box } from '../types.js';
import { modelPath } from './models.js';
import { resolveProviders, type ProviderLogger } from './providers.js';

export const EMBED_WIDTH = 128;
export const EMBED_HEIGHT = 256;
export const EMBED_DIM = 480;

export class Embedder {
  private session: ort.InferenceSession | undefined;
  private constructor(session: ort.InferenceSession) {
    this.session = session;
  }

  static async create(options: { modelPath?: string; executionProviders?: string[]; intraOpNumThreads?: number; log?: ProviderLogger } = {}): Promise<Embedder> {
    const path = options.modelPath ?? modelPath('embedder-mnv3');
    const providers = resolveProviders(options.executionProviders ?? ['cpu'], options.log ?? ((l) => console.warn(l)), `embedder ${path}`);
    const session = await ort.InferenceSession.create(path, {
      executionProviders: providers, intraOpNumThreads: options.intraOpNumThreads ?? 1, interOpNumThreads: 1,
    });
    return new Embedder(session);
  }

  /**
   * A source-frame box of an RGB24 frame as the embedder's input: the box is cut out and letterboxed to 128x256
   * by the native preprocessor (grey border), as float RGB 0..255.
   */
  static crop(rgb: Uint8Array, width: number, height: number, box: Box): Float32Array {
    const x1 = Math.max(0, Math.min(width - 1, Math.floor(box.x1)));
    const y1 = Math.max(0, Math.min(height - 1, Math.floor(box.y1)));
    const x2 = Math.max(x1 + 1, Math.min(width, Math.ceil(box.x2)));
    const y2 = Math.max(y1 + 1, Math.min(height, Math.ceil(box.y2)));
    const cw = x2 - x1, ch = y2 - y1;
    const sub = new Uint8Array(cw * ch * 3);
    for (let y = 0; y < ch; y++) sub.set(rgb.subarray(((y1 + y) * width + x1) * 3, ((y1 + y) * width + x2) * 3), y * cw * 3);
    const pre = loadAddon().preprocessImage(sub, { format: 'RGB', width: cw, height: ch }, {
      width: EMBED_WIDTH, height: EMBED_HEIGHT, layout: 'nhwc-u8', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1],
      padColor: [114, 114, 114],
    });
    return Float32Array.from(new Uint8Array(pre.tensor));
  }

  /** Embeds N crops (each EMBED_HEIGHT x EMBED_WIDTH x 3 floats) in one session.run. */
  async embed(crops: Float32Array[]): Promise<Float32Array[]> {
    const s = this.session;
    if (!s) throw new VigilClosedError('Embedder');
    const per = EMBED_WIDTH * EMBED_HEIGHT * 3;
    if (crops.length === 0) return [];
    const data = new Float32Array(per * crops.length);
    crops.forEach((c, k) => {
      if (!(c instanceof Float32Array) || c.length !== per) throw expected(`a Float32Array of ${per} values`, `crops[${k}]`, c);
      data.set(c, k * per);
    });
    const out = await s.run({ input: new ort.Tensor('float32', data, [crops.length, EMBED_HEIGHT, EMBED_WIDTH, 3]) });
    const emb = out.embedding!.data as Float32Array;
    return crops.map((_, k) => emb.slice(k * EMBED_DIM, (k + 1) * EMBED_DIM));
  }

  get closed(): boolean {
    return this.session === undefined;
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.release();
  }
}
