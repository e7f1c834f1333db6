/**
 * Exact types of the C++ addon (native/). The addon checks argument types itself and throws TypeError; the
 * TypeScript layer validates first so users see VigilError messages.
 */

export type TensorLayout = 'nchw-f32' | 'nhwc-u8' | 'nhwc-f32';
export type ColorOrder = 'rgb' | 'bgr';

export interface NativeTensorSpec {
  /** Model input size in pixels. */
  width: number;
  height: number;
  /**
   * nchw-f32: Float32 [3,H,W] planes, (pixel - mean) / std. nhwc-u8: interleaved bytes [H,W,3], raw pixels.
   * nhwc-f32: interleaved Float32 [H,W,3], (pixel - mean) / std (mean 0, std 1: raw 0-255 values).
   */
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
  | NativeLiveEvent
  | { type: 'state'; oldState: string; newState: string };

/**
 * One encoded access unit from the live tap (Pipeline.setLiveTap): the parsed stream at the decoder's input,
 * copied, never decoded. The first sample after enabling (always a keyframe) carries the pad's caps.
 */
export interface NativeLiveEvent {
  type: 'live';
  data: Buffer;
  /** Stream time in ns; -1 when the buffer had none. */
  ptsNs: number;
  dtsNs: number;
  durationNs: number;
  keyframe: boolean;
  /** Unix-epoch ns when the sample passed the tap. */
  wallClockNs: bigint;
  /** GStreamer caps string, e.g. `video/x-h264, stream-format=(string)avc, alignment=(string)au, ...`. */
  caps?: string;
  /** The caps' codec_data (avcC for stream-format=avc), empty when absent. */
  codecData?: Buffer;
}

export interface NativeFrameEvent {
  type: 'frame';
  cameraId: string;
  /** Per-pipeline count of frames turned into tensors, from 0 (src/camera/pipeline.ts adds its firstSequence). */
  sequence: number;
  /** Buffer PTS in ns of stream time, -1 if the buffer had none. */
  ptsNs: number;
  /** Unix-epoch ns when the decoded frame reached the sink. */
  wallClockNs: bigint;
  /** Decoded frame size in pixels. */
  sourceWidth: number;
  sourceHeight: number;
  /**
   * Letterbox of the cropped region into THIS frame's tensor (pixels):
   * tensor_x = (source_x - cropX) * scale + padX, so source_x = (tensor_x - padX) / scale + cropX (y likewise).
   * For a whole frame cropX = cropY = 0 and this is the plain letterbox.
   */
  scale: number;
  padX: number;
  padY: number;
  /**
   * Size in pixels of THIS frame's tensor: the pipeline's `tensor` size for whole frames, `regions.tensorWidth` x
   * `regions.tensorHeight` for crops. `tensor.byteLength` is exactly this tensor's bytes (3 x w x h, times 4 for
   * the float layouts).
   */
  tensorWidth: number;
  tensorHeight: number;
  /** True when the tensor holds a motion-region crop rather than the whole frame. */
  cropped: boolean;
  /** The source rectangle letterboxed into the tensor, in source pixels (0, 0, sourceWidth, sourceHeight if whole). */
  cropX: number;
  cropY: number;
  cropWidth: number;
  cropHeight: number;
  /**
   * Share of the frame (0..1) covered by the motion regions (disjoint, padded); 1 on a frame that initialised the
   * background; 0 when no cell changed (a frame let through by the bypass); -1 without a motion gate (or for packed
   * RGB sources, which the gate does not read).
   */
  regionShare: number;
  /** Number of disjoint motion regions (0 without a gate). */
  regionCount: number;
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
  /**
   * Unix-epoch ns of the boundary: its running time mapped through the pipeline clock to the wall clock (the
   * instant the first buffer of the segment was stamped by a live source, or played by a synced file).
   */
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
  /** Changed cells within 2 x this many cells of each other form one region (0-16, default 1). */
  regionMergeCells?: number;
  /** Source pixels added on each side of a region (0-1024, default 16). */
  regionPadding?: number;
}

/**
 * Motion-region inference: frames whose motion is local are letterboxed as one crop around all their motion
 * regions into a smaller tensor (same layout, colour order, normalisation and border as `tensor`). Whole frames
 * still come: on a frame that (re)initialises the motion background, while setFullFrame(true) is on, when the
 * periodic whole frame is due, and whenever the crop would cover maxShare of the frame or more.
 */
export interface NativeRegionOptions {
  /** Crop tensor size in pixels (8-8192); the pool's slots hold the larger of this and `tensor`. */
  tensorWidth: number;
  tensorHeight: number;
  /** 0..1: a crop is used only while its rectangle (and the regions) cover less than this share of the frame. */
  maxShare: number;
  /** At most this many frames handed on between whole frames (so static objects are re-seen); 0: no periodic one. */
  fullFrameEvery: number;
  /** Source pixels: a crop is grown to at least this size on each side (1-8192). */
  minSide: number;
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
  /**
   * How long stop()/close() wait for the graph to reach state NULL (default 5000 ms). Past it the teardown is left
   * to finish on a thread of its own and the pipeline is abandoned (counted by abandonedPipelines(); start()
   * throws E_PIPELINE_STUCK): a deadlock inside an element must not hang the JS thread.
   */
  closeTimeoutMs?: number;
  motion?: NativeMotionOptions;
  /** Motion-region crops; requires `motion` (E_ARGUMENT otherwise). Absent: every tensor is the whole frame. */
  regions?: NativeRegionOptions;
  /** Required when the description has a splitmuxsink named `rec`: where and how segments are named. */
  recording?: { directory: string; prefix: string; extension: string };
  onEvent: (event: NativePipelineEvent) => void;
}

/** A record input: a graph with a splitmuxsink named `rec` and no appsink (no decoder, no tensor stage). */
export interface NativeRecordPipelineOptions {
  cameraId: string;
  description: string;
  properties?: Record<string, Record<string, string | number | boolean>>;
  recordOnly: true;
  recording: { directory: string; prefix: string; extension: string };
  /** As NativePipelineOptions.closeTimeoutMs. */
  closeTimeoutMs?: number;
  onEvent: (event: NativePipelineEvent) => void;
}

/** Stats of a record-only pipeline: the recorder's input only. */
export interface NativeRecordStats {
  /** Buffers (encoded frames) and bytes that reached the splitmuxsink named `rec`. */
  recordBuffers: number;
  recordBytes: number;
  /** Milliseconds (monotonic) since the last buffer reached the recorder; -1 before the first. */
  msSinceLastRecordBuffer: number;
  /** Live-tap samples delivered to JS and dropped (queue full) since the pipeline was made. */
  liveSamples: number;
  liveDropped: number;
}

export interface NativePipelineStats extends NativeRecordStats {
  framesDecoded: number;
  framesIn: number;
  framesDelivered: number;
  droppedQueue: number;
  droppedPool: number;
  droppedDelivery: number;
  droppedFormat: number;
  /** Frames the motion gate kept from the tensor stage. */
  skippedNoMotion: number;
  /**
   * Frames that reached the sink sooner than the analysis interval allows (setAnalysisInterval), skipped in the
   * streaming thread before any queueing or conversion. Counted in framesIn.
   */
  skippedRate: number;
  /** Frames handed on as a motion-region crop (counted in framesDelivered too). */
  framesCropped: number;
  /** Current analysis interval in milliseconds (0: none). */
  analysisIntervalMs: number;
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
  /** While true, every tensor is the whole frame (no motion-region crops), e.g. while tracks are live. */
  setFullFrame(full: boolean): void;
  /**
   * At run time: frames arriving less than `intervalMs` milliseconds after the last frame let through (by buffer
   * PTS, else arrival time; 2 ms early still passes) are skipped before any work (stats().skippedRate). 0 lifts
   * the limit (the pipeline's detectFps still applies). 0 to 86 400 000.
   */
  setAnalysisInterval(intervalMs: number): void;
  /**
   * Deep copy of the decoded frame a leased tensor (slot, generation) was made from, on the JS thread (one memcpy
   * per plane). Null, counted in sourceFrameStats(), when the lease is gone (`stale`: released, slot reused,
   * pipeline stopped or closed) or the retained-bytes budget would be exceeded (`refused`).
   */
  captureSource(slot: number, generation: number): NativeSourceFrame | null;
  /**
   * While true, each encoded access unit reaching the decoder is delivered as a 'live' event (bounded: 256 waiting
   * for JS, then dropped up to the next keyframe, counted in stats().liveDropped). Pipelines without a decoder
   * (record-only) never deliver any.
   */
  setLiveTap(enabled: boolean): void;
  readonly closed: boolean;
}

/** Pixel formats a source frame keeps (GStreamer names): the decoder's own output, or what was given. */
export type SourceFrameFormat = 'I420' | 'NV12' | 'RGB' | 'BGR' | 'RGBA' | 'BGRA' | 'RGBx' | 'BGRx';

/** A rectangle of whole source pixels: top-left (x, y), size (width, height) > 0, inside the frame. */
export interface NativeRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * One decoded frame copied into native memory (tight planes, its own format). Metadata stays readable after
 * close(); the methods throw a TypeError for bad arguments and an Error with code E_CLOSED after close().
 * Work already queued keeps the memory alive until it finishes, close() or not.
 */
export interface NativeSourceFrame {
  readonly format: SourceFrameFormat;
  /** Pixels. */
  readonly width: number;
  readonly height: number;
  /** Bytes of pixel data held (counted in sourceFrameStats().bytes until closed and no work holds it). */
  readonly byteLength: number;
  readonly closed: boolean;
  /**
   * JPEG (jpegenc on a libuv worker) of the frame or a crop. quality 1-100 (default 85). I420/NV12 crops: x and y
   * rounded down to even pixels, width and height down to even (at least 2). Rejects with code E_SNAPSHOT.
   */
  encodeJpeg(options?: { quality?: number; crop?: NativeRegion; size?: { width: number; height: number } }): Promise<Buffer>;
  /** The region letterboxed into a model tensor (the live path's preprocessor) on a libuv worker. */
  cropTensor(box: NativeRegion, spec: NativeTensorSpec): Promise<ArrayBuffer>;
  /** Idempotent; the finalizer runs the same path. */
  close(): void;
}

/** Raw pixels handed to sourceFrameFromPixels. */
export interface NativeSourceImage {
  format: SourceFrameFormat;
  width: number;
  height: number;
  /**
   * Bytes per row of the first plane (default tight). I420/NV12 chroma rows follow the luma plane with a stride of
   * ceil(stride / 2) (I420: U plane, then V) or 2 * ceil(stride / 2) (NV12), ceil(height / 2) rows.
   */
  stride?: number;
  /** YUV only (default bt601, limited range). */
  matrix?: 'bt601' | 'bt709';
  fullRange?: boolean;
}

export interface NativeSourceFrameStats {
  /** Source frames alive (open, or closed while a worker still uses them), process-wide. */
  frames: number;
  /** Their pixel bytes. */
  bytes: number;
  /** Live captures are refused past this many retained bytes (default 256 MiB). */
  budgetBytes: number;
  /** Captures refused by the budget (or for lack of memory). */
  refused: number;
  /** Captures asked for a lease that was gone. */
  stale: number;
  /**
   * Freed pixel buffers kept for reuse by the next captures of the same size (at most 8 and 32 MiB), some touched
   * ahead of time off the JS thread, so a capture does not pay for fresh pages. Not part of `bytes`.
   */
  cachedBytes: number;
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
  Pipeline: new (options: NativePipelineOptions | NativeRecordPipelineOptions) => NativePipeline;
  elementInfo(name: string): NativeElementInfo | null;
  gstVersion(): string;
  /** Pipelines created and not yet closed in this process. */
  openPipelines(): number;
  /**
   * Closed pipelines whose stop/close did not reach state NULL within their closeTimeoutMs and have not been
   * released since, in this process: each keeps its graph, frame sink and tensor pool (a teardown that never ends,
   * e.g. a deadlock inside rtspsrc, keeps them for good).
   */
  abandonedPipelines(): number;
  /**
   * Releases what abandoned pipelines no longer need. `finished`: those whose teardown has finished since (their
   * graph reached state NULL late): the graph, frame sink, tensor pool and the object's pin go, as close() would
   * have released them, and they no longer count as abandoned. `sinksReleased`: of those still tearing down, the
   * ones whose frame sink and tensor pool were released because no streaming thread can reach them any more (the
   * appsink and the decoder at READY or below). JS thread only; cheap (a lock and a few state reads per abandoned
   * pipeline), so callers poll it.
   */
  reapAbandonedPipelines(): { finished: number; sinksReleased: number };
  /**
   * Teardown kicks so far, in this process. A pipeline whose NULL transition runs past a second sends every
   * rtpjitterbuffer in its graph a flush-start (again each second, up to 5 times), which ends a deadlock of
   * GStreamer 1.22's rtspsrc/rtpjitterbuffer teardown (native/teardown_kick.h). `kicks`: kicks that reached at
   * least one jitterbuffer; `teardownsKicked`: teardowns that got one; `finishedAfterKick`: of those, the ones that
   * have reached state NULL since; `jitterbuffersStuck`: jitterbuffers a kick found in the deadlock's state (the
   * source pad's task already taken by a stop that still waits for its stream lock), as opposed to a teardown
   * that was merely slow.
   */
  teardownKicks(): { kicks: number; teardownsKicked: number; finishedAfterKick: number; jitterbuffersStuck: number };
  /** Abandoned pipelines released by reapAbandonedPipelines() so far, in this process. */
  reapedPipelines(): number;
  /**
   * Ingest threads (decode, motion, preprocessing) run `nice` (0-19) nicer than they started, applied by each at its
   * next frame, so the inference thread keeps its core under contention (Linux; no effect elsewhere). Returns it.
   */
  setIngestNice(nice: number): number;
  /**
   * The allocator's heaps now, bytes. glibc (mallinfo2): `heapBytes` in the heaps (main + arenas), `freeBytes` of
   * those free, `mmapBytes` / `mmapBlocks` served by mappings of their own (blocks of at least the mmap threshold,
   * which the addon fixes at 128 KiB at load unless MALLOC_MMAP_THRESHOLD_ is set). jemalloc (the process started
   * with it preloaded): `heapBytes` its resident pages, `freeBytes` of those not allocated (dirty pages not yet given
   * back, fragmentation, its metadata), no own mappings (0). null with any other allocator.
   */
  heapStats(): { allocator: 'glibc' | 'jemalloc'; heapBytes: number; freeBytes: number; mmapBytes: number; mmapBlocks: number } | null;
  /**
   * Gives the allocator's free pages back to the kernel on a libuv worker thread: glibc malloc_trim(0), jemalloc a
   * purge of every arena. `supported` false with any other allocator (nothing done); resident set sizes in bytes,
   * `ms` the trim's own time.
   */
  trimHeap(): Promise<{ supported: boolean; released: boolean; rssBeforeBytes: number; rssAfterBytes: number; ms: number }>;
  /**
   * Makes V8's next old-space collection one that reduces memory (a memory-pressure notification): fragmented pages
   * evacuated, pooled pages released, the compilation cache cleared. 'moderate' starts it as incremental marking and
   * returns at once; 'critical' collects before returning (a full pause on the calling thread). Throws a TypeError
   * for any other level.
   */
  reduceV8Heap(level: 'moderate' | 'critical'): void;
  /**
   * GStreamer objects and mini objects alive now, counted by type name (e.g. GstBuffer, GstRtpJitterBuffer), of
   * those created since the addon loaded; null unless the process started with VIGIL_GST_OBJECT_COUNTS=1 (the
   * counting costs a mutex per object created and destroyed: for soak runs and leak hunts).
   */
  gstLiveObjects(): Record<string, number> | null;
  /** Synchronous, copying letterbox of one image (tests, tools, snapshots): the live path's code on the caller's thread. */
  preprocessImage(
    pixels: Uint8Array,
    image: NativeImage,
    tensor: NativeTensorSpec,
  ): { tensor: ArrayBuffer; scale: number; padX: number; padY: number };
  /** The class of source frames, for instanceof only: instances come from the functions below. */
  SourceFrame: abstract new () => NativeSourceFrame;
  /** Copies the pixels (counted, never refused by the budget). */
  sourceFrameFromPixels(pixels: Uint8Array, image: NativeSourceImage): NativeSourceFrame;
  /**
   * jpegdec on a libuv worker: I420 for 4:2:0 colour JPEGs, RGB otherwise. The bytes are copied first. Rejects
   * with code E_SNAPSHOT_DECODE for data that is not a JPEG, a truncated one, or one over maxPixels (default
   * 16 000 000, checked from the header before decoding).
   */
  decodeJpeg(jpeg: Uint8Array, options?: { maxPixels?: number }): Promise<NativeSourceFrame>;
  sourceFrameStats(): NativeSourceFrameStats;
  /** Retained-bytes budget for live captures; frames already kept are not touched. */
  setSourceFrameBudget(bytes: number): void;
  // Post-processing and motion functions are added by native/postprocess.cc and native/motion.cc.
  [key: string]: unknown;
}
