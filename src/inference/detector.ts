/**
 * Object detector on onnxruntime-node: one session per model input size (the whole-frame model, and optionally a
 * smaller one for motion-region crops), batched runs of same-size inputs when the model's batch dimension is
 * dynamic, output decoding + class-wise NMS + letterbox undo in native code (native/postprocess.cc), then the crop
 * origin added (source_px = (tensor_px - pad) / scale + crop origin).
 *
 * Inputs are model-input tensors made by the native letterbox (the live pipeline's frame events, or
 * preprocessImage): Float32 NCHW planes already normalised, or NHWC bytes that are normalised here.
 */
import ort from 'onnxruntime-node';
import { loadAddon } from '../../bindings/index.js';
import type { NativeImage, NativeTensorSpec } from '../../bindings/index.js';
import { VigilClosedError, VigilError, expected } from '../errors.js';
import type { Detection } from '../types.js';
import type { Frame } from '../camera/frame.js';
import { inferenceAddon, type NativeDecodeOptions, type NativeLetterbox } from './native.js';
import { resolveProviders, type ProviderLogger, type ProviderName } from './providers.js';

export type DetectorDecoder = 'nanodet' | 'centernet' | 'yolo' | 'yolov8' | 'yolov5';
export const DETECTOR_DECODERS: readonly DetectorDecoder[] = ['nanodet', 'centernet', 'yolo', 'yolov8', 'yolov5'];

export interface DetectorConfig {
  modelPath: string;
  /** Model input size in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** Model input layout: NCHW float planes, or NHWC float interleaved. */
  layout: 'nchw' | 'nhwc';
  colorOrder: 'rgb' | 'bgr';
  /** Per channel in colorOrder, 0-255 pixel units: tensor = (pixel - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Letterbox border colour R, G, B (default 114, 114, 114). */
  padColor?: [number, number, number];
  classNames: readonly string[];
  /** nanodet | centernet | yolo (v8 [1,4+C,N] or v5 [1,N,5+C], picked from the output shape) | yolov8 | yolov5. */
  decoder: DetectorDecoder;
  /** 0..1; a detection is kept when its score >= its class's threshold. */
  scoreThreshold: number;
  /** Class name -> threshold overriding scoreThreshold. */
  classThresholds?: Record<string, number>;
  /** Only these class names are reported (absent = all). */
  classFilter?: string[];
  /** Same-class boxes with IoU above this are suppressed (default 0.5). */
  iouThreshold?: number;
  /** Per frame, after NMS (default 100). */
  maxDetections?: number;
  /** NanoDet distribution bins per side (default 11). */
  bins?: number;
  /** Tried in order; unavailable ones fall back to CPU with one log line (default ['cpu']). */
  executionProviders?: string[];
  /** Default 1 (measured fastest on small machines). */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /** Largest batch one session.run gets (default 8). */
  maxBatch?: number;
  /** Where the provider fallback line goes (default console.warn). */
  log?: ProviderLogger;
  /**
   * A second input size for motion-region crops (the camera's `regions.inputSize`), run in its own session: the
   * same model family, layout, normalisation, classes and thresholds. modelPath defaults to the main model (which
   * then must take that size: a dynamic spatial input). Inputs of each size are batched separately.
   */
  crop?: { modelPath?: string; inputWidth: number; inputHeight: number };
}

/** A rectangle of source pixels (top-left x, y and size). */
export interface DetectorCrop {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One frame's model input plus the letterbox that made it. */
export interface DetectorInput {
  /** NCHW float32 [3,H,W] (normalised) or NHWC uint8 [H,W,3] (raw pixels, normalised here). */
  tensor: ArrayBuffer | Float32Array | Uint8Array;
  /**
   * Letterbox of the tensor's source rectangle (`crop`, else the whole frame): tensor_px = (source_px - crop
   * origin) * scale + pad. sourceWidth/sourceHeight are the whole frame's size.
   */
  letterbox: NativeLetterbox;
  /** The source rectangle in the tensor (source pixels); absent: the whole frame. Boxes are clamped to it. */
  crop?: DetectorCrop;
  /** Tensor size in pixels; absent: the detector's main input size. Selects the session. */
  tensorWidth?: number;
  tensorHeight?: number;
}

/** A camera Frame (whole or crop) as a detector input. */
export function frameInput(f: Frame): DetectorInput {
  return {
    tensor: f.tensor,
    letterbox: { scale: f.scale, padX: f.padX, padY: f.padY, sourceWidth: f.sourceWidth, sourceHeight: f.sourceHeight },
    crop: { ...f.crop },
    tensorWidth: f.tensorWidth,
    tensorHeight: f.tensorHeight,
  };
}

/** One session and what it needs to run and decode inputs of its size. */
interface Lane {
  session: ort.InferenceSession;
  modelPath: string;
  width: number;
  height: number;
  inputName: string;
  batchSize: number;
  plan: Plan;
  elementsPerFrame: number;
  runs: number;
  frames: number;
}

interface NanodetPlan {
  kind: 'nanodet';
  levels: Array<{ scores: string; boxes: string; stride: number; cells: number }>;
  bins: number;
}
interface SingleOutputPlan {
  kind: 'centernet' | 'yolov8' | 'yolov5';
  output: string;
}
type Plan = NanodetPlan | SingleOutputPlan;

function checkConfig(c: DetectorConfig): void {
  if (typeof c !== 'object' || c === null) throw expected('an object', 'config', c);
  if (typeof c.modelPath !== 'string' || c.modelPath === '') throw expected('a file path', 'config.modelPath', c.modelPath);
  for (const k of ['inputWidth', 'inputHeight'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1 || c[k] > 8192) throw expected('an integer from 1 to 8192', `config.${k}`, c[k]);
  }
  if (c.layout !== 'nchw' && c.layout !== 'nhwc') throw expected('"nchw" or "nhwc"', 'config.layout', c.layout);
  if (c.colorOrder !== 'rgb' && c.colorOrder !== 'bgr') throw expected('"rgb" or "bgr"', 'config.colorOrder', c.colorOrder);
  for (const k of ['mean', 'std'] as const) {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => Number.isFinite(x) && (k === 'mean' || x > 0))) {
      throw expected(k === 'mean' ? 'an array of 3 numbers' : 'an array of 3 positive numbers', `config.${k}`, v);
    }
  }
  if (!Array.isArray(c.classNames) || c.classNames.length === 0 || !c.classNames.every((n) => typeof n === 'string')) {
    throw expected('a non-empty array of class names', 'config.classNames', c.classNames);
  }
  if (!DETECTOR_DECODERS.includes(c.decoder)) {
    throw expected(DETECTOR_DECODERS.map((d) => `"${d}"`).join(', '), 'config.decoder', c.decoder);
  }
  const unit = (v: unknown, name: string): void => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw expected('a number from 0 to 1', name, v);
  };
  unit(c.scoreThreshold, 'config.scoreThreshold');
  if (c.iouThreshold !== undefined) unit(c.iouThreshold, 'config.iouThreshold');
  for (const [name, t] of Object.entries(c.classThresholds ?? {})) {
    if (!c.classNames.includes(name)) throw expected('a class name of the model', 'config.classThresholds key', name);
    unit(t, `config.classThresholds.${name}`);
  }
  if (c.classFilter !== undefined) {
    if (!Array.isArray(c.classFilter)) throw expected('an array of class names', 'config.classFilter', c.classFilter);
    for (const name of c.classFilter) {
      if (!c.classNames.includes(name)) throw expected('a class name of the model', 'config.classFilter entry', name);
    }
  }
  const int = (v: unknown, name: string, min: number, max: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min || (v as number) > max)) {
      throw expected(`an integer from ${min} to ${max}`, name, v);
    }
  };
  int(c.maxDetections, 'config.maxDetections', 0, 100000);
  int(c.bins, 'config.bins', 1, 1024);
  int(c.intraOpNumThreads, 'config.intraOpNumThreads', 0, 256);
  int(c.interOpNumThreads, 'config.interOpNumThreads', 0, 256);
  int(c.maxBatch, 'config.maxBatch', 1, 256);
  if (c.crop !== undefined) {
    if (typeof c.crop !== 'object' || c.crop === null) throw expected('an object', 'config.crop', c.crop);
    if (c.crop.modelPath !== undefined && (typeof c.crop.modelPath !== 'string' || c.crop.modelPath === '')) {
      throw expected('a file path', 'config.crop.modelPath', c.crop.modelPath);
    }
    for (const k of ['inputWidth', 'inputHeight'] as const) {
      if (!Number.isInteger(c.crop[k]) || c.crop[k] < 1 || c.crop[k] > 8192) {
        throw expected('an integer from 1 to 8192', `config.crop.${k}`, c.crop[k]);
      }
    }
  }
  if (c.executionProviders !== undefined &&
    (!Array.isArray(c.executionProviders) || !c.executionProviders.every((p) => typeof p === 'string'))) {
    throw expected('an array of provider names', 'config.executionProviders', c.executionProviders);
  }
}

export class Detector {
  readonly config: Readonly<DetectorConfig>;
  /** Providers the sessions were created with (after fallback). */
  readonly providers: ProviderName[];
  /** Largest batch per session.run of the main (whole-frame) session: 1 when its batch dimension is fixed. */
  readonly batchSize: number;
  readonly inputName: string;
  /** Input sizes this detector runs, in pixels: the main one first, then the crop size when configured. */
  readonly inputSizes: ReadonlyArray<{ width: number; height: number }>;
  private readonly lanes: Map<string, Lane>;
  private readonly decodeOptions: NativeDecodeOptions;
  private closedFlag = false;

  private constructor(config: DetectorConfig, lanes: Lane[], providers: ProviderName[]) {
    this.config = config;
    this.providers = providers;
    this.lanes = new Map(lanes.map((l) => [sizeKey(l.width, l.height), l]));
    const main = lanes[0]!;
    this.inputName = main.inputName;
    this.batchSize = main.batchSize;
    this.inputSizes = lanes.map((l) => ({ width: l.width, height: l.height }));
    const names = config.classNames;
    const per = config.classThresholds;
    this.decodeOptions = {
      numClasses: names.length,
      scoreThreshold: config.scoreThreshold,
      classThresholds: per ? names.map((n) => per[n] ?? -1) : undefined,
      classFilter: config.classFilter ? config.classFilter.map((n) => names.indexOf(n)) : undefined,
      iouThreshold: config.iouThreshold ?? 0.5,
      maxDetections: config.maxDetections ?? 100,
    };
  }

  /** Validates the config, picks providers (fallback to CPU, one log line) and creates the session(s). */
  static async create(config: DetectorConfig): Promise<Detector> {
    checkConfig(config);
    const log = config.log ?? ((line: string) => console.warn(line));
    const wanted = resolveProviders(config.executionProviders ?? ['cpu'], log, `detector ${config.modelPath}`);
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: wanted,
      intraOpNumThreads: config.intraOpNumThreads ?? 1,
      interOpNumThreads: config.interOpNumThreads ?? 1,
      graphOptimizationLevel: 'all',
    };
    const { session, providers } = await openSession(config.modelPath, opts, wanted, log);
    const lanes: Lane[] = [];
    try {
      lanes.push(makeLane(config, session, config.modelPath, config.inputWidth, config.inputHeight));
      const crop = config.crop;
      if (crop && (crop.inputWidth !== config.inputWidth || crop.inputHeight !== config.inputHeight)) {
        const path = crop.modelPath ?? config.modelPath;
        const cropSession = (await openSession(path, { ...opts, executionProviders: providers }, providers, log)).session;
        try {
          lanes.push(makeLane(config, cropSession, path, crop.inputWidth, crop.inputHeight));
        } catch (err) {
          await cropSession.release();
          throw err;
        }
      }
      return new Detector(config, lanes, providers);
    } catch (err) {
      for (const l of lanes) await l.session.release();
      if (lanes.length === 0) await session.release();
      throw err;
    }
  }

  /** The letterbox spec the ingest pipeline should produce for this model (feed its frame tensors to detect()). */
  tensorSpec(): NativeTensorSpec {
    const c = this.config;
    return {
      width: c.inputWidth, height: c.inputHeight,
      layout: c.layout === 'nchw' ? 'nchw-f32' : 'nhwc-u8',
      colorOrder: c.colorOrder, mean: [...c.mean], std: [...c.std],
      padColor: c.padColor ? [...c.padColor] : [114, 114, 114],
    };
  }

  /** The crop model's tensor spec (the camera's `regions.inputSize` must equal its size); null without `crop`. */
  cropTensorSpec(): NativeTensorSpec | null {
    const crop = this.config.crop;
    return crop ? { ...this.tensorSpec(), width: crop.inputWidth, height: crop.inputHeight } : null;
  }

  /** Counters: session.run calls and frames they covered, in total and per input size ("WxH"). */
  stats(): { runs: number; frames: number; batchSize: number; bySize: Record<string, { runs: number; frames: number }> } {
    let runs = 0;
    let frames = 0;
    const bySize: Record<string, { runs: number; frames: number }> = {};
    for (const [key, l] of this.lanes) {
      runs += l.runs;
      frames += l.frames;
      bySize[key] = { runs: l.runs, frames: l.frames };
    }
    return { runs, frames, batchSize: this.batchSize, bySize };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private toFloat(lane: Lane, t: DetectorInput['tensor'], name: string): Float32Array {
    const n = lane.elementsPerFrame;
    if (t instanceof Float32Array) {
      if (t.length !== n) throw expected(`a Float32Array of ${n} values`, name, t);
      return t;
    }
    let bytes: Uint8Array;
    if (t instanceof ArrayBuffer) {
      if (t.byteLength === n * 4) return new Float32Array(t);
      bytes = new Uint8Array(t);
    } else if (t instanceof Uint8Array) {
      bytes = t;
    } else {
      throw expected('an ArrayBuffer, Float32Array or Uint8Array', name, t);
    }
    if (bytes.length !== n || this.config.layout !== 'nhwc') {
      throw expected(`a tensor of ${n} floats${this.config.layout === 'nhwc' ? ` or ${n} bytes` : ''}`, name, t);
    }
    // NHWC bytes in colorOrder -> float, (pixel - mean) / std per channel.
    const out = new Float32Array(n);
    const [m0, m1, m2] = this.config.mean;
    const [s0, s1, s2] = this.config.std;
    for (let i = 0; i < n; i += 3) {
      out[i] = (bytes[i]! - m0) / s0;
      out[i + 1] = (bytes[i + 1]! - m1) / s1;
      out[i + 2] = (bytes[i + 2]! - m2) / s2;
    }
    return out;
  }

  private laneOf(input: DetectorInput, k: number): Lane {
    if (typeof input !== 'object' || input === null) throw expected('an object', `inputs[${k}]`, input);
    const w = input.tensorWidth ?? this.config.inputWidth;
    const h = input.tensorHeight ?? this.config.inputHeight;
    const lane = this.lanes.get(sizeKey(w, h));
    if (!lane) {
      throw expected(`a tensor size of ${[...this.lanes.keys()].join(' or ')}`, `inputs[${k}].tensorWidth x tensorHeight`, `${w}x${h}`);
    }
    const c = input.crop;
    if (c !== undefined && (typeof c !== 'object' || c === null || ![c.x, c.y, c.width, c.height].every(Number.isFinite) ||
      !(c.width > 0 && c.height > 0))) {
      throw expected('a rectangle { x, y, width, height } of source pixels', `inputs[${k}].crop`, c);
    }
    return lane;
  }

  /**
   * Detects objects in each input (one result per input, in order). Inputs are grouped by tensor size (one
   * session each) and split into batches of at most that session's batch size, one session.run per batch.
   */
  async detect(inputs: DetectorInput[]): Promise<Detection[][]> {
    if (this.closedFlag) throw new VigilClosedError('Detector');
    if (!Array.isArray(inputs)) throw expected('an array of inputs', 'inputs', inputs);
    const groups = new Map<Lane, number[]>();
    inputs.forEach((inp, k) => {
      const lane = this.laneOf(inp, k);
      const g = groups.get(lane);
      if (g) g.push(k);
      else groups.set(lane, [k]);
    });
    const results: Detection[][] = new Array<Detection[]>(inputs.length);
    for (const [lane, indices] of groups) {
      for (let start = 0; start < indices.length; start += lane.batchSize) {
        const chunk = indices.slice(start, start + lane.batchSize);
        const out = await this.runBatch(lane, chunk.map((k) => inputs[k]!), chunk);
        chunk.forEach((k, j) => { results[k] = out[j]!; });
      }
    }
    return results;
  }

  private async runBatch(lane: Lane, chunk: DetectorInput[], indices: number[]): Promise<Detection[][]> {
    if (this.closedFlag) throw new VigilClosedError('Detector');
    const n = lane.elementsPerFrame;
    let data: Float32Array;
    if (chunk.length === 1) {
      data = this.toFloat(lane, chunk[0]!.tensor, `inputs[${indices[0]}].tensor`);
    } else {
      data = new Float32Array(n * chunk.length);
      chunk.forEach((inp, k) => data.set(this.toFloat(lane, inp.tensor, `inputs[${indices[k]}].tensor`), k * n));
    }
    const dims = this.config.layout === 'nchw' ? [chunk.length, 3, lane.height, lane.width] : [chunk.length, lane.height, lane.width, 3];
    const out = await lane.session.run({ [lane.inputName]: new ort.Tensor('float32', data, dims) });
    lane.runs += 1;
    lane.frames += chunk.length;
    const addon = inferenceAddon();
    const slice = (name: string, k: number): Float32Array => {
      const t = out[name];
      if (!t) throw new VigilError('E_MODEL_OUTPUT', `Model output ${name} is missing`);
      const all = t.data as Float32Array;
      const per = all.length / (t.dims[0] ?? 1);
      return all.subarray(k * per, (k + 1) * per);
    };
    const results: Detection[][] = [];
    for (let k = 0; k < chunk.length; k++) {
      const inp = chunk[k]!;
      const crop = inp.crop;
      // A crop's boxes are mapped (and clamped) within the crop, then moved by its origin.
      const letterbox: NativeLetterbox = crop
        ? { ...inp.letterbox, sourceWidth: crop.width, sourceHeight: crop.height }
        : inp.letterbox;
      const opts = { ...this.decodeOptions, letterbox };
      let packed: Float32Array;
      const plan = lane.plan;
      if (plan.kind === 'nanodet') {
        packed = addon.decodeNanodet(plan.levels.map((l) => ({ scores: slice(l.scores, k), boxes: slice(l.boxes, k), stride: l.stride })),
          { ...opts, inputWidth: lane.width, inputHeight: lane.height, bins: plan.bins });
      } else if (plan.kind === 'centernet') {
        packed = addon.decodeCenternet(slice(plan.output, k), opts);
      } else {
        packed = addon.decodeYolo(slice(plan.output, k), plan.kind === 'yolov8' ? 'v8' : 'v5', opts);
      }
      results.push(this.unpack(packed, crop?.x ?? 0, crop?.y ?? 0));
    }
    return results;
  }

  private unpack(p: Float32Array, dx: number, dy: number): Detection[] {
    const out: Detection[] = [];
    for (let i = 0; i < p.length; i += 6) {
      const classId = p[i + 5]!;
      out.push({
        classId, className: this.config.classNames[classId] ?? String(classId), confidence: p[i + 4]!,
        box: { x1: p[i]! + dx, y1: p[i + 1]! + dy, x2: p[i + 2]! + dx, y2: p[i + 3]! + dy },
      });
    }
    return out;
  }

  /** Letterboxes a decoded image with the native preprocessor and detects (tools, tests, snapshots). */
  async detectImage(pixels: Uint8Array, image: NativeImage): Promise<Detection[]> {
    const input = this.prepare(pixels, image);
    return (await this.detect([input]))[0]!;
  }

  /** The model input for one decoded image (the same letterbox the live pipeline uses). */
  prepare(pixels: Uint8Array, image: NativeImage): DetectorInput {
    const pre = loadAddon().preprocessImage(pixels, image, this.tensorSpec());
    return {
      tensor: pre.tensor,
      letterbox: { scale: pre.scale, padX: pre.padX, padY: pre.padY, sourceWidth: image.width, sourceHeight: image.height },
    };
  }

  /** Releases the sessions; idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const l of this.lanes.values()) await l.session.release();
  }
}

function sizeKey(width: number, height: number): string {
  return `${width}x${height}`;
}

/** Creates a session with the providers, falling back to CPU (one log line) when a listed provider fails to start. */
async function openSession(path: string, opts: ort.InferenceSession.SessionOptions, providers: ProviderName[],
  log: ProviderLogger): Promise<{ session: ort.InferenceSession; providers: ProviderName[] }> {
  try {
    return { session: await ort.InferenceSession.create(path, opts), providers };
  } catch (err) {
    if (providers.length > 1) {
      // A provider that looked installed failed to initialise (driver, device): CPU only, said once.
      log(`detector ${path}: execution providers ${providers.join(', ')} failed ` +
        `(${err instanceof Error ? err.message.split('\n')[0] : String(err)}); falling back to cpu`);
      try {
        return { session: await ort.InferenceSession.create(path, { ...opts, executionProviders: ['cpu'] }), providers: ['cpu'] };
      } catch (err2) {
        throw new VigilError('E_MODEL_LOAD', `Could not load model ${path}: ${String(err2)}`, { cause: err2 });
      }
    }
    throw new VigilError('E_MODEL_LOAD', `Could not load model ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err });
  }
}

/** Checks the session's input against the size and layout, and plans the output decoding for that size. */
function makeLane(config: DetectorConfig, session: ort.InferenceSession, modelPath: string, width: number, height: number): Lane {
  const meta = session.inputMetadata[0];
  const shape = meta && meta.isTensor ? meta.shape : [];
  const expectShape = config.layout === 'nchw' ? [3, height, width] : [height, width, 3];
  if (shape.length !== 4 || expectShape.some((d, i) => typeof shape[i + 1] === 'number' && shape[i + 1] !== d)) {
    throw new VigilError('E_MODEL_INPUT', `Model ${modelPath} takes input ${JSON.stringify(shape)}, ` +
      `which does not match the configured ${config.layout} ${width}x${height}`);
  }
  const dynamicBatch = typeof shape[0] === 'string' || (shape[0] as number) < 1;
  return {
    session, modelPath, width, height,
    inputName: session.inputNames[0]!,
    batchSize: dynamicBatch ? (config.maxBatch ?? 8) : 1,
    plan: makePlan(config, session, modelPath, width, height),
    elementsPerFrame: 3 * width * height,
    runs: 0,
    frames: 0,
  };
}

/** How the model's outputs are decoded for inputs of width x height. */
function makePlan(config: DetectorConfig, session: ort.InferenceSession, modelPath: string, width: number, height: number): Plan {
  const outputs = session.outputMetadata.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape : [] }));
  const nc = config.classNames.length;
  const fail = (why: string): never => {
    throw new VigilError('E_MODEL_OUTPUT', `Model ${modelPath} does not fit decoder ${config.decoder}: ${why} ` +
      `(outputs: ${outputs.map((o) => `${o.name}${JSON.stringify(o.shape)}`).join(', ')})`);
  };
  if (config.decoder === 'nanodet') {
    const bins = config.bins ?? 11;
    const byCells = new Map<number, { scores?: string; boxes?: string }>();
    for (const o of outputs) {
      const cells = o.shape[1], ch = o.shape[2];
      if (o.shape.length !== 3 || typeof cells !== 'number' || typeof ch !== 'number') fail(`output ${o.name} is not [N, cells, channels]`);
      const entry = byCells.get(cells as number) ?? {};
      if (ch === nc) entry.scores = o.name;
      else if (ch === 4 * bins) entry.boxes = o.name;
      else fail(`output ${o.name} has ${ch} channels, expected ${nc} scores or ${4 * bins} box bins`);
      byCells.set(cells as number, entry);
    }
    const levels: NanodetPlan['levels'] = [];
    for (const [cells, e] of byCells) {
      if (!e.scores || !e.boxes) fail(`the ${cells}-cell level lacks its scores or boxes`);
      const stride = [4, 8, 16, 32, 64, 128].find((s) =>
        Math.ceil(width / s) * Math.ceil(height / s) === cells);
      if (stride === undefined) fail(`no stride gives ${cells} cells for a ${width}x${height} input`);
      levels.push({ scores: e.scores!, boxes: e.boxes!, stride: stride!, cells });
    }
    levels.sort((a, b) => a.stride - b.stride);
    return { kind: 'nanodet', levels, bins };
  }
  if (config.decoder === 'centernet') {
    const o = outputs.find((x) => x.name === 'detections') ??
      outputs.find((x) => x.shape.length === 3 && x.shape[2] === 6);
    if (!o) fail('no [N, K, 6] detections output');
    return { kind: 'centernet', output: o!.name };
  }
  const o = outputs[0];
  if (!o || o.shape.length !== 3) return fail('the first output is not rank 3');
  let kind: 'yolov8' | 'yolov5';
  if (config.decoder === 'yolo') {
    if (o.shape[1] === 4 + nc) kind = 'yolov8';
    else if (o.shape[2] === 5 + nc) kind = 'yolov5';
    else return fail(`expected [1, ${4 + nc}, N] (v8) or [1, N, ${5 + nc}] (v5)`);
  } else {
    kind = config.decoder as 'yolov8' | 'yolov5';
  }
  return { kind, output: o.name };
}
