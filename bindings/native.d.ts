/**
 * Exact types of the C++ addon (native/). The addon checks argument types itself and throws TypeError; the
 * TypeScript layer validates first so users see VigilError messages.
 */

export type TensorLayout = 'nchw-f32' | 'nhwc-u8';
export type ColorOrder = 'rgb' | 'bgr';

export interface NativeTensorSpec {
  /** Model input size in pixels. */
  width: number;
  height: number;
  /** nchw-f32: Float32 [3,H,W] planes, (pixel - mean) / std. nhwc-u8: interleaved bytes [H,W,3], raw pixels. */
  layout: TensorLayout;
  colorOrder: ColorOrder;
  /** Per tensor channel (in colorOrder), in 0-255 pixel units. Ignored for nhwc-u8. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Letterbox border as R, G, B pixel values (0-255), before normalization. */
  padColor: [number, number, number];
}

/** Bus and frame events, delivered on the JS thread in the order they happened. */
export type NativePipelineEvent =
  | NativeFrameEvent
  | { type: 'error' | 'warning'; source: string; message: string; debug: string; domain: string; code: number }
  | { type: 'eos' }
  | NativeSegmentEvent
  | { type: 'state'; oldState: string; newState: string };

export interface NativeFrameEvent {
  type: 'frame';
  cameraId: string;
  /** Per-pipeline count of frames turned into tensors, from 0. */
  sequence: number;
  /** Buffer PTS in ns of stream time, -1 if the buffer had none. */
  ptsNs: number;
  /** Unix-epoch ns when the decoded frame reached the sink. */
  wallClockNs: bigint;
  /** Decoded frame size in pixels. */
  sourceWidth: number;
  sourceHeight: number;
  /** tensor_x = source_x * scale + padX; tensor_y = source_y * scale + padY (pixels). */
  scale: number;
  padX: number;
  padY: number;
  /** Pool slot and lease generation: pass both back to release(). */
  slot: number;
  generation: number;
  /**
   * External memory inside the pipeline's tensor pool. Valid until release() (which detaches it: byteLength 0
   * afterwards) or until it is garbage collected. Holding it keeps a pool slot busy: frames are dropped (counted)
   * while every slot is held.
   */
  tensor: ArrayBuffer;
  /** Motion gate verdict (true, with changedFraction -1, when no gate is configured). */
  motion: boolean;
  /** Changed share of the unmasked motion cells, 0..1; -1 without a gate. */
  changedFraction: number;
}

/** A recording segment opened or closed (splitmuxsink). */
export interface NativeSegmentEvent {
  type: 'segment';
  phase: 'opened' | 'closed';
  /** File path of the segment. */
  location: string;
  /** Running time of the boundary on the pipeline clock, ns (monotonic within one pipeline run). */
  runningTimeNs: number;
  /** Unix-epoch ns when the boundary was seen. */
  wallClockNs: bigint;
}

/** Motion gate on a downscaled luma plane: frames without change skip the tensor stage (counted). */
export interface NativeMotionOptions {
  /** Cell size in source pixels (1-64). */
  downscale: number;
  /** 0..1; 1 is most sensitive. */
  sensitivity: number;
  /** Changed share of cells (0..1) from which a frame has motion. */
  minChangedFraction: number;
  /** Background running-average weight of each new frame, 0..1. */
  learningRate: number;
  /** Polygons in source pixels whose cells are ignored. */
  masks: Array<Array<[number, number]>>;
}

export interface NativePipelineOptions {
  cameraId: string;
  /** gst-launch syntax; must contain `appsink name=sink`; a decoder named `dec` is counted for framesDecoded. */
  description: string;
  /** Element name -> property -> value, set after parsing (URLs, credentials, paths never enter `description`). */
  properties?: Record<string, Record<string, string | number | boolean>>;
  tensor: NativeTensorSpec;
  /** Samples waiting for conversion. */
  queueSize: number;
  /** Tensor buffers that can be out at once (converted, not yet released). */
  poolSize: number;
  /** true: a full queue / pool waits (lossless, for files); false: drop the oldest (live cameras). */
  block: boolean;
  motion?: NativeMotionOptions;
  /** Required when the description has a splitmuxsink named `rec`: where and how segments are named. */
  recording?: { directory: string; prefix: string; extension: string };
  onEvent: (event: NativePipelineEvent) => void;
}

export interface NativePipelineStats {
  framesDecoded: number;
  framesIn: number;
  framesDelivered: number;
  droppedQueue: number;
  droppedPool: number;
  droppedDelivery: number;
  droppedFormat: number;
  /** Frames the motion gate kept from the tensor stage. */
  skippedNoMotion: number;
  queueDepth: number;
  poolInUse: number;
  poolSize: number;
  /** Milliseconds (monotonic) since the last frame reached the sink; -1 before the first. */
  msSinceLastFrame: number;
  width: number;
  height: number;
}

export interface NativePipeline {
  /** Sets PLAYING; state changes and errors arrive as events. */
  start(): 'success' | 'async' | 'no-preroll' | 'failure';
  /** Sets NULL and joins the frame worker; can be started again. */
  stop(): void;
  /** Idempotent; the same path runs from the destructor and at env teardown. */
  close(): void;
  release(tensor: ArrayBuffer, slot: number, generation: number): void;
  stats(): NativePipelineStats;
  /** Flushing seek to the start (looping file cameras). */
  seekStart(): boolean;
  /** While true, frames pass the motion gate regardless (e.g. a tracked object is still active). */
  setMotionBypass(bypass: boolean): void;
  readonly closed: boolean;
}

export interface NativeElementInfo {
  name: string;
  rank: number;
  klass: string;
  description: string;
  plugin: string;
}

export interface NativeImage {
  format: 'RGB' | 'BGR' | 'RGBA' | 'BGRA' | 'I420' | 'NV12';
  width: number;
  height: number;
  matrix?: 'bt601' | 'bt709';
  fullRange?: boolean;
}

export interface NativeAddon {
  Pipeline: new (options: NativePipelineOptions) => NativePipeline;
  elementInfo(name: string): NativeElementInfo | null;
  gstVersion(): string;
  /** Pipelines created and not yet closed in this process. */
  openPipelines(): number;
  /** Synchronous, copying letterbox of one image (tests, tools, snapshots): the live path's code on the caller's thread. */
  preprocessImage(
    pixels: Uint8Array,
    image: NativeImage,
    tensor: NativeTensorSpec,
  ): { tensor: ArrayBuffer; scale: number; padX: number; padY: number };
  // Post-processing and motion functions are added by native/postprocess.cc and native/motion.cc.
  [key: string]: unknown;
}
