/**
 * A decoded frame kept for later (snapshots, embeddings, uploads): a copy of its planes in native memory, in the
 * decoder's own format, never a decoder-pool buffer. Captured from a live Frame before it is released
 * (Frame.captureSource), or made from pixels or a JPEG. JPEG encoding and tensor crops run natively on libuv
 * workers; the JS thread only validates arguments.
 *
 * Memory: every source frame counts against a process-wide retained-bytes budget (sourceFrameStats); live
 * captures past it are refused (null). Close a frame as soon as it is no longer needed: work already started on it
 * finishes first, then the memory is freed.
 */
import {
  loadAddon,
  type NativeAddon,
  type NativeRegion,
  type NativeSourceFrame,
  type NativeSourceFrameStats,
  type NativeSourceImage,
  type SourceFrameFormat,
} from '../../bindings/index.js';
import { expected, VigilArgumentError, VigilClosedError, VigilError } from '../errors.js';
import type { Box } from '../types.js';
import { validateTensorSpec, type TensorSpec } from './tensor.js';

export type { SourceFrameFormat };
export type SourceFrameStats = NativeSourceFrameStats;

const FORMATS: readonly SourceFrameFormat[] = ['I420', 'NV12', 'RGB', 'BGR', 'RGBA', 'BGRA', 'RGBx', 'BGRx'];
const MAX_SIDE = 16384;
/** decodeJpeg's default limit: 16 000 000 pixels (e.g. 4000x4000). */
export const DEFAULT_MAX_JPEG_PIXELS = 16_000_000;

/** Where a captured frame came from (the live Frame's metadata). */
export interface SourceFrameOrigin {
  cameraId: string;
  /** Per-pipeline frame sequence. */
  sequence: number;
  /** Stream time in ns, -1 if the source gave none. */
  ptsNs: number;
  /** Unix-epoch ns when the decoded frame reached the tensor stage. */
  wallClockNs: bigint;
}

export interface JpegOptions {
  /** 1-100 (default 85). */
  quality?: number;
  /**
   * Part of the frame to encode, in source pixels (x2, y2 exclusive edges; fractions widen to whole pixels), clamped
   * to the frame. I420/NV12 frames: the crop's x and y are rounded down to even pixels and its width and height
   * down to even (at least 2), since chroma is sampled 2x2. Omitted: the whole frame.
   */
  crop?: Box;
  /**
   * Widest JPEG wanted, in pixels: a wider picture (after the crop) is scaled down natively on the encode worker,
   * aspect kept (see scaledSize). Omitted: encoded at the crop's own size.
   */
  maxWidth?: number;
}

/**
 * The size a width x height picture is stored at when no wider than maxWidth: aspect kept, height rounded to the
 * nearest pixel (at least 1). Never scales up.
 */
export function scaledSize(width: number, height: number, maxWidth: number): { width: number; height: number } {
  if (width <= maxWidth) return { width, height };
  return { width: maxWidth, height: Math.max(1, Math.round((height * maxWidth) / width)) };
}

/** Raw pixels for SourceFrame.fromPixels: the native contract (bindings/native.d.ts), width and height 1-16384. */
export type SourceImage = NativeSourceImage;

let addonCache: NativeAddon | undefined;
/** The addon, checked once for the source-frame exports (E_ADDON_STALE when the loaded build predates them). */
function addon(): NativeAddon {
  if (addonCache) return addonCache;
  const a = loadAddon();
  for (const fn of ['sourceFrameFromPixels', 'decodeJpeg', 'sourceFrameStats', 'setSourceFrameBudget'] as const) {
    if (typeof a[fn] !== 'function') {
      throw new VigilError('E_ADDON_STALE', `Vigil's native addon has no ${fn}(): rebuild it with \`npm run build:addon\`.`);
    }
  }
  addonCache = a;
  return a;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function intIn(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw expected(`an integer from ${min} to ${max}`, name, v);
  }
  return v;
}

/**
 * A Box (source pixels, x2/y2 exclusive) as whole pixels inside a width x height frame: fractional edges widen to
 * the pixels they touch, the rest is clamped to the frame. Empty, inverted, non-finite or wholly outside: rejected.
 */
export function boxToRegion(box: unknown, name: string, width: number, height: number): NativeRegion {
  if (!isRecord(box)) throw expected('a box { x1, y1, x2, y2 } in source pixels', name, box);
  for (const k of ['x1', 'y1', 'x2', 'y2'] as const) {
    const v = box[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw expected('a finite number', `${name}.${k}`, v);
  }
  const { x1, y1, x2, y2 } = box as unknown as Box;
  if (!(x2 > x1)) throw expected(`a number greater than ${name}.x1 (${x1})`, `${name}.x2`, x2);
  if (!(y2 > y1)) throw expected(`a number greater than ${name}.y1 (${y1})`, `${name}.y2`, y2);
  const left = Math.max(0, Math.floor(x1));
  const top = Math.max(0, Math.floor(y1));
  const right = Math.min(width, Math.ceil(x2));
  const bottom = Math.min(height, Math.ceil(y2));
  if (right <= left || bottom <= top) {
    throw new VigilArgumentError(
      `Expected a box overlapping the ${width}x${height} frame for ${name} but received ` +
        `{ x1: ${x1}, y1: ${y1}, x2: ${x2}, y2: ${y2} }`,
    );
  }
  return { x: left, y: top, width: right - left, height: bottom - top };
}

export class SourceFrame {
  readonly format: SourceFrameFormat;
  /** Frame size in pixels. */
  readonly width: number;
  readonly height: number;
  /** Bytes of pixel data held natively. */
  readonly byteLength: number;
  /** The live frame this was captured from; null for frames made from pixels or a JPEG. */
  readonly origin: SourceFrameOrigin | null;
  #native: NativeSourceFrame;

  /** Wraps a native source frame (made by Frame.captureSource, fromPixels or decodeJpeg; not for direct use). */
  constructor(native: NativeSourceFrame, origin: SourceFrameOrigin | null = null) {
    this.#native = native;
    this.format = native.format;
    this.width = native.width;
    this.height = native.height;
    this.byteLength = native.byteLength;
    this.origin = origin;
  }

  get closed(): boolean {
    return this.#native.closed;
  }

  #check(method: string): void {
    if (this.#native.closed) throw new VigilClosedError('SourceFrame', method);
  }

  /**
   * JPEG of the frame or a crop (see JpegOptions), encoded natively on a libuv worker. Rejects with E_CLOSED after
   * close(), E_ARGUMENT for bad options, E_SNAPSHOT when encoding fails.
   */
  async encodeJpeg(options: JpegOptions = {}): Promise<Buffer> {
    this.#check('encodeJpeg');
    if (!isRecord(options)) throw expected('an object', 'options', options);
    const native: { quality?: number; crop?: NativeRegion; size?: { width: number; height: number } } = {};
    if (options.quality !== undefined) native.quality = intIn(options.quality, 'options.quality', 1, 100);
    if (options.crop !== undefined) native.crop = boxToRegion(options.crop, 'options.crop', this.width, this.height);
    if (options.maxWidth !== undefined) {
      const maxWidth = intIn(options.maxWidth, 'options.maxWidth', 1, MAX_SIDE);
      const w = native.crop?.width ?? this.width;
      const h = native.crop?.height ?? this.height;
      if (w > maxWidth) native.size = scaledSize(w, h, maxWidth);
    }
    return this.#native.encodeJpeg(native);
  }

  /**
   * The box (source pixels, clamped to the frame as in boxToRegion) letterboxed into a model tensor by the live
   * path's preprocessor (bilinear, aspect kept, padColor borders), on a libuv worker. The ArrayBuffer holds
   * TensorSpec-shaped data: Float32 for nchw-f32 / nhwc-f32, bytes for nhwc-u8.
   */
  async cropTensor(box: Box, spec: TensorSpec): Promise<ArrayBuffer> {
    this.#check('cropTensor');
    const region = boxToRegion(box, 'box', this.width, this.height);
    const checked = validateTensorSpec(spec, 'spec');
    return this.#native.cropTensor(region, checked);
  }

  /** Frees the pixels (once work in flight is done). Idempotent. */
  close(): void {
    this.#native.close();
  }

  /** Copies raw pixels into a new source frame (tests, tools, uploaded images). Not refused by the budget. */
  static fromPixels(pixels: Uint8Array, image: SourceImage): SourceFrame {
    if (!(pixels instanceof Uint8Array)) throw expected('a Uint8Array', 'pixels', pixels);
    if (!isRecord(image)) throw expected('an object', 'image', image);
    if (!FORMATS.includes(image.format as SourceFrameFormat)) {
      throw expected(`one of ${FORMATS.map((f) => `"${f}"`).join(', ')}`, 'image.format', image.format);
    }
    const width = intIn(image.width, 'image.width', 1, MAX_SIDE);
    const height = intIn(image.height, 'image.height', 1, MAX_SIDE);
    const yuv = image.format === 'I420' || image.format === 'NV12';
    const bpp = yuv ? 1 : image.format === 'RGB' || image.format === 'BGR' ? 3 : 4;
    const stride = image.stride === undefined ? width * bpp : intIn(image.stride, 'image.stride', width * bpp, 1 << 20);
    const ch = Math.ceil(height / 2);
    const cstride = image.format === 'I420' ? Math.ceil(stride / 2) : 2 * Math.ceil(stride / 2);
    const need = yuv ? stride * height + cstride * ch * (image.format === 'I420' ? 2 : 1) : stride * (height - 1) + width * bpp;
    if (pixels.byteLength < need) {
      throw new VigilArgumentError(`Expected at least ${need} bytes for pixels but received ${pixels.byteLength}`);
    }
    if (image.matrix !== undefined && image.matrix !== 'bt601' && image.matrix !== 'bt709') {
      throw expected('"bt601" or "bt709"', 'image.matrix', image.matrix);
    }
    if (image.fullRange !== undefined && typeof image.fullRange !== 'boolean') {
      throw expected('a boolean', 'image.fullRange', image.fullRange);
    }
    const native = addon().sourceFrameFromPixels(pixels, {
      format: image.format,
      width,
      height,
      stride,
      ...(image.matrix ? { matrix: image.matrix } : {}),
      ...(image.fullRange !== undefined ? { fullRange: image.fullRange } : {}),
    });
    return new SourceFrame(native);
  }

  /**
   * Decodes a JPEG (libjpeg-turbo on a libuv worker, native/jpeg_decode.cc) into a source frame: I420 for 4:2:0
   * colour JPEGs, RGB otherwise. The size is read from the JPEG header first: images over maxPixels (default
   * 16 000 000) are rejected before decoding. Hostile files cost bounded time: more than 100 scans, corrupt
   * entropy data, or 10 s of decoding are refused, and nothing is left running. Rejects with E_SNAPSHOT_DECODE for
   * data that is not a JPEG, a truncated, corrupt or oversized one, one over those limits, or a decoder error.
   */
  static async decodeJpeg(jpeg: Uint8Array, options: { maxPixels?: number } = {}): Promise<SourceFrame> {
    if (!(jpeg instanceof Uint8Array)) throw expected('a Uint8Array', 'jpeg', jpeg);
    if (!isRecord(options)) throw expected('an object', 'options', options);
    const maxPixels = options.maxPixels ?? DEFAULT_MAX_JPEG_PIXELS;
    if (typeof maxPixels !== 'number' || !Number.isSafeInteger(maxPixels) || maxPixels < 1) {
      throw expected('a positive integer', 'options.maxPixels', maxPixels);
    }
    return new SourceFrame(await addon().decodeJpeg(jpeg, { maxPixels }));
  }

  toString(): string {
    return `SourceFrame(${this.format} ${this.width}x${this.height}${this.closed ? ', closed' : ''})`;
  }
}

/** Source frames alive in this process, their bytes, the budget, and refused / stale capture counts. */
export function sourceFrameStats(): SourceFrameStats {
  return addon().sourceFrameStats();
}

/** Retained-bytes budget for live captures (default 256 MiB); frames already kept are not touched. */
export function setSourceFrameBudget(bytes: number): void {
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
    throw expected('a non-negative integer', 'bytes', bytes);
  }
  addon().setSourceFrameBudget(bytes);
}
