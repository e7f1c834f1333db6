/**
 * One decoded frame turned into a model tensor: the whole frame, or (motion-region inference) a crop of it, see
 * `crop`. The tensor lives in the camera pipeline's native pool: it is
 * valid until release() — call it as soon as the tensor has been consumed (e.g. after session.run) — and reading
 * it afterwards sees a detached, zero-length buffer rather than a reused one.
 */
import type { NativeFrameEvent, NativeSourceFrame, TensorLayout, ColorOrder } from '../../bindings/index.js';
import { VigilError } from '../errors.js';
import { SourceFrame } from './source-frame.js';

/** Copies the decoded frame of a lease (slot, generation); null when the lease is gone or the budget refuses. */
export type CaptureSource = (slot: number, generation: number) => NativeSourceFrame | null;

/** A rectangle of source pixels: top-left (x, y) and size. */
export interface FrameCrop {
  x: number;
  y: number;
  width: number;
  height: number;
}

export class Frame {
  readonly cameraId: string;
  /** Sequence of frames handed on: restarts at 0 when the camera reconnects (a rebuilt pipeline), but carries on across a looping file's next run (CameraPipelineOptions.firstSequence). */
  readonly sequence: number;
  /** Stream time of the frame in ns (-1 if the source gave none). */
  readonly ptsNs: number;
  /** Unix-epoch ns when the decoded frame reached the tensor stage. */
  readonly wallClockNs: bigint;
  /** Decoded frame size, pixels. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /**
   * Letterbox of `crop` into this frame's tensor (pixels): tensor_px = (source_px - crop origin) * scale + pad, so
   * source_px = (tensor_px - pad) / scale + crop origin. For a whole frame the crop origin is 0, 0.
   */
  readonly scale: number;
  readonly padX: number;
  readonly padY: number;
  /** Size of THIS frame's tensor in pixels: the camera's tensor size, or the regions' inputSize for a crop. */
  readonly tensorWidth: number;
  readonly tensorHeight: number;
  /** The source rectangle in the tensor (source pixels): the whole frame unless `cropped`. */
  readonly crop: Readonly<FrameCrop>;
  /** True when the tensor holds a motion-region crop. */
  readonly cropped: boolean;
  /** Motion regions' share of the frame, 0..1 (1 on a background (re)initialisation); -1 without a motion gate. */
  readonly regionShare: number;
  readonly layout: TensorLayout;
  readonly colorOrder: ColorOrder;
  /** Motion gate verdict: false only for frames let through while a bypass was on. */
  readonly motion: boolean;
  /** Changed share of motion cells, 0..1; -1 without a gate. */
  readonly changedFraction: number;
  #tensor: ArrayBuffer;
  #slot: number;
  #generation: number;
  #release: ((tensor: ArrayBuffer, slot: number, generation: number) => void) | null;
  #capture: CaptureSource | null;

  constructor(
    event: NativeFrameEvent,
    spec: { width: number; height: number; layout: TensorLayout; colorOrder: ColorOrder },
    release: (tensor: ArrayBuffer, slot: number, generation: number) => void,
    capture: CaptureSource | null = null,
  ) {
    this.cameraId = event.cameraId;
    this.sequence = event.sequence;
    this.ptsNs = event.ptsNs;
    this.wallClockNs = event.wallClockNs;
    this.sourceWidth = event.sourceWidth;
    this.sourceHeight = event.sourceHeight;
    this.scale = event.scale;
    this.padX = event.padX;
    this.padY = event.padY;
    // Events from an addon that predates crops carry no per-frame size: the camera's spec then holds.
    this.tensorWidth = event.tensorWidth ?? spec.width;
    this.tensorHeight = event.tensorHeight ?? spec.height;
    this.cropped = event.cropped ?? false;
    this.crop = Object.freeze(event.cropWidth > 0
      ? { x: event.cropX, y: event.cropY, width: event.cropWidth, height: event.cropHeight }
      : { x: 0, y: 0, width: event.sourceWidth, height: event.sourceHeight });
    this.regionShare = event.regionShare ?? -1;
    this.layout = spec.layout;
    this.colorOrder = spec.colorOrder;
    this.motion = event.motion;
    this.changedFraction = event.changedFraction;
    this.#tensor = event.tensor;
    this.#slot = event.slot;
    this.#generation = event.generation;
    this.#release = release;
    this.#capture = capture;
  }

  /** The tensor bytes (external memory). Valid until release(). */
  get tensor(): ArrayBuffer {
    return this.#tensor;
  }

  /** Float32 view for nchw-f32 ([3][height][width]) and nhwc-f32 ([height][width][3]) tensors. Valid until release(). */
  asFloat32(): Float32Array {
    return new Float32Array(this.#tensor);
  }

  /** Byte view for nhwc-u8 tensors: [height][width][3]. Valid until release(). */
  asUint8(): Uint8Array {
    return new Uint8Array(this.#tensor);
  }

  /**
   * A copy of the decoded source frame (full resolution, the decoder's own format) that outlives this Frame and
   * its pipeline: for snapshots and crops. Cheap enough for the JS thread: one memcpy per plane into a recycled or
   * pre-touched native buffer, p50 about 0.13 ms at 720p and 0.3 ms at 1080p I420 (bench/source-frame.ts). Only
   * before release(): afterwards the decoded frame is gone and this throws
   * E_CLOSED. Null when the pipeline has stopped since (the frame is stale) or the process-wide retained-bytes
   * budget refuses the copy (both counted in sourceFrameStats()), and for frames made without a pipeline.
   */
  captureSource(): SourceFrame | null {
    if (this.#release === null) {
      throw new VigilError(
        'E_CLOSED',
        `Frame ${this.sequence} of camera ${this.cameraId} was released: captureSource() must be called before release()`,
      );
    }
    const native = this.#capture?.(this.#slot, this.#generation) ?? null;
    if (!native) return null;
    return new SourceFrame(native, {
      cameraId: this.cameraId,
      sequence: this.sequence,
      ptsNs: this.ptsNs,
      wallClockNs: this.wallClockNs,
    });
  }

  get released(): boolean {
    return this.#release === null;
  }

  /** Returns the buffer to the pool. Idempotent. */
  release(): void {
    const release = this.#release;
    if (!release) return;
    this.#release = null;
    release(this.#tensor, this.#slot, this.#generation);
  }
}
