/**
 * A camera's native pipeline, typed: builds the graph from its template, turns native events into Frames and
 * VigilPipelineErrors (with secrets scrubbed), and keeps one close path.
 */
import { loadAddon, type NativeLiveEvent, type NativeMotionOptions, type NativeSegmentEvent, type NativePipeline, type NativePipelineEvent, type NativePipelineStats, type NativeRecordStats, type NativeSourceFrame } from '../../bindings/index.js';
import { VigilClosedError, VigilPipelineError } from '../errors.js';
import { redactText } from '../redact.js';
import type { DecoderChoice, DecoderPreferences } from './decoders.js';
import { Frame } from './frame.js';
import type { CameraSource } from './source.js';
import { nativeRegionOptions, type TensorSpec } from './tensor.js';
import { buildPipeline, buildRecordPipeline, type RecordingBranch } from './templates.js';

export interface CameraPipelineOptions {
  cameraId: string;
  source: CameraSource;
  tensor: TensorSpec;
  /** Frames per second converted to tensors; 0 = every decoded frame. */
  detectFps: number;
  decoder: DecoderPreferences;
  /** Decoded samples waiting for conversion (default 2). */
  queueSize?: number;
  /** Tensor buffers out at once (default 4). */
  poolSize?: number;
  /** Lossless back-pressure instead of dropping (default: true for files read as fast as possible). */
  block?: boolean;
  /** Motion gate; omitted or null: every frame goes to the tensor stage. */
  motion?: NativeMotionOptions | null;
  /** Recording branch (stream copy into segments); omitted: none. */
  recording?: RecordingBranch;
  /** Sequence of the first frame handed on (default 0): a looping file's next run numbers on from the last. */
  firstSequence?: number;
  onSegment?: (event: NativeSegmentEvent) => void;
  onFrame: (frame: Frame) => void;
  onError: (error: VigilPipelineError) => void;
  onEos: () => void;
  onState?: (state: string) => void;
  /** Encoded access units from the live tap, while setLiveTap(true) (web console live view). */
  onLive?: (sample: NativeLiveEvent) => void;
}

// GStreamer error domains and codes (gst/gsterror.h) -> stable Vigil codes.
const RESOURCE: Record<number, string> = {
  3: 'E_SOURCE_NOT_FOUND',
  5: 'E_SOURCE_UNREACHABLE',
  7: 'E_SOURCE_UNREACHABLE',
  9: 'E_SOURCE_READ',
  15: 'E_SOURCE_AUTH',
};
const STREAM: Record<number, string> = {
  4: 'E_STREAM_FORMAT',
  5: 'E_STREAM_FORMAT',
  6: 'E_DECODER_MISSING',
  7: 'E_STREAM_DECODE',
  9: 'E_STREAM_FORMAT',
  11: 'E_STREAM_FORMAT',
};

export function errorCode(domain: string, code: number, debug: string): string {
  if (domain === 'gst-resource-error-quark') return RESOURCE[code] ?? 'E_SOURCE';
  if (domain === 'gst-stream-error-quark') {
    if (/not-negotiated/.test(debug)) return 'E_STREAM_NEGOTIATION';
    return STREAM[code] ?? 'E_STREAM';
  }
  if (domain === 'gst-core-error-quark') return 'E_PIPELINE_CORE';
  return 'E_PIPELINE';
}

function pipelineError(
  cameraId: string,
  event: Extract<NativePipelineEvent, { type: 'error' | 'warning' }>,
  redact: (text: string) => string,
): VigilPipelineError {
  const err = new VigilPipelineError(errorCode(event.domain, event.code, event.debug), redact(`Camera ${cameraId}: ${event.message} (${event.source})`));
  Object.defineProperty(err, 'debug', { value: redact(event.debug), enumerable: false });
  return err;
}

export class CameraPipeline {
  readonly cameraId: string;
  readonly decoder: DecoderChoice | null;
  readonly description: string;
  #native: NativePipeline;
  #secrets: string[];
  #closed = false;

  constructor(options: CameraPipelineOptions) {
    this.cameraId = options.cameraId;
    const built = buildPipeline(options.source, {
      detectFps: options.detectFps,
      decoder: options.decoder,
      ...(options.recording ? { recording: options.recording } : {}),
    });
    this.decoder = built.decoder;
    this.description = built.description;
    this.#secrets = built.secrets;
    const spec = options.tensor;
    const firstSequence = options.firstSequence ?? 0;
    const block = options.block ?? (options.source.kind === 'file' && !options.source.realtime);
    const release = (tensor: ArrayBuffer, slot: number, generation: number): void => {
      if (!this.#closed) this.#native.release(tensor, slot, generation);
    };
    // A closed native pipeline answers null (and counts the stale capture) itself.
    const capture = (slot: number, generation: number): NativeSourceFrame | null => this.#native.captureSource(slot, generation);
    const onEvent = (event: NativePipelineEvent): void => {
      switch (event.type) {
        case 'frame':
          // The event is this call's own object: a looping file's next run numbers on from the last (Camera).
          if (firstSequence > 0) event.sequence += firstSequence;
          options.onFrame(new Frame(event, spec, release, capture));
          return;
        case 'error':
          options.onError(pipelineError(this.cameraId, event, (t) => this.#redact(t)));
          return;
        case 'eos':
          options.onEos();
          return;
        case 'state':
          options.onState?.(event.newState);
          return;
        case 'segment':
          options.onSegment?.(event);
          return;
        case 'live':
          options.onLive?.(event);
          return;
        case 'warning':
          return;
      }
    };
    try {
      this.#native = new (loadAddon().Pipeline)({
        cameraId: options.cameraId,
        description: built.description,
        properties: built.properties,
        tensor: spec,
        queueSize: options.queueSize ?? 2,
        poolSize: options.poolSize ?? 4,
        block,
        ...(options.motion ? { motion: options.motion } : {}),
        // Regions come from the motion gate: without one, every frame is whole.
        ...(options.motion && nativeRegionOptions(spec) ? { regions: nativeRegionOptions(spec) } : {}),
        ...(built.recording ? { recording: built.recording } : {}),
        onEvent,
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'E_PIPELINE_START';
      throw new VigilPipelineError(code, this.#redact(`Camera ${this.cameraId}: ${(err as Error).message}`), {
        cause: err,
      });
    }
  }

  #redact(text: string): string {
    return redactText(text, this.#secrets);
  }

  #check(method: string): void {
    if (this.#closed) throw new VigilClosedError(`Camera pipeline ${this.cameraId}`, method);
  }

  start(): void {
    this.#check('start');
    this.#native.start();
  }

  stop(): void {
    this.#check('stop');
    this.#native.stop();
  }

  /** Back to the first frame (looping file cameras). */
  rewind(): boolean {
    this.#check('rewind');
    return this.#native.seekStart();
  }

  setMotionBypass(bypass: boolean): void {
    this.#check('setMotionBypass');
    this.#native.setMotionBypass(bypass);
  }

  /** While true, every tensor is the whole frame (no motion-region crops). */
  setFullFrame(full: boolean): void {
    this.#check('setFullFrame');
    this.#native.setFullFrame(full);
  }

  /** Frames closer than this (ms, stream time) to the last one analysed are skipped before any work; 0: no limit. */
  setAnalysisInterval(intervalMs: number): void {
    this.#check('setAnalysisInterval');
    this.#native.setAnalysisInterval(intervalMs);
  }

  /** Live tap on/off: encoded access units to onLive, nothing decoded (native/pipeline.cc OnLiveBuffer). */
  setLiveTap(enabled: boolean): void {
    this.#check('setLiveTap');
    this.#native.setLiveTap(enabled);
  }

  stats(): NativePipelineStats {
    this.#check('stats');
    return this.#native.stats();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent. Frames still held stay readable until released or collected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}

export interface RecordPipelineOptions {
  cameraId: string;
  /** The camera's record input (file or RTSP). */
  source: CameraSource;
  recording: RecordingBranch;
  onSegment: (event: NativeSegmentEvent) => void;
  onError: (error: VigilPipelineError) => void;
  onEos: () => void;
}

/**
 * A camera's record input: the stream copied into segments with no decoder and no tensor stage
 * (gst-pipelines/*-record.pipeline on the native Pipeline's recordOnly option).
 */
export class RecordPipeline {
  readonly cameraId: string;
  readonly description: string;
  #native: NativePipeline;
  #secrets: string[];
  #closed = false;

  constructor(options: RecordPipelineOptions) {
    this.cameraId = options.cameraId;
    const built = buildRecordPipeline(options.source, options.recording);
    this.description = built.description;
    this.#secrets = built.secrets;
    const onEvent = (event: NativePipelineEvent): void => {
      if (event.type === 'segment') options.onSegment(event);
      else if (event.type === 'error') options.onError(pipelineError(this.cameraId, event, (t) => redactText(t, this.#secrets)));
      else if (event.type === 'eos') options.onEos();
    };
    try {
      this.#native = new (loadAddon().Pipeline)({
        cameraId: options.cameraId,
        description: built.description,
        properties: built.properties,
        recordOnly: true,
        recording: built.recording!,
        onEvent,
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'E_PIPELINE_START';
      throw new VigilPipelineError(code, redactText(`Camera ${this.cameraId} (record input): ${(err as Error).message}`, this.#secrets), {
        cause: err,
      });
    }
  }

  #check(method: string): void {
    if (this.#closed) throw new VigilClosedError(`Record pipeline ${this.cameraId}`, method);
  }

  start(): void {
    this.#check('start');
    this.#native.start();
  }

  /** Ends the open segment (finalised, 'closed' delivered before this returns) and sets NULL. */
  stop(): void {
    this.#check('stop');
    this.#native.stop();
  }

  // No rewind(): splitmuxsink does not recover from end of stream, so a looping file starts a new pipeline run
  // (Camera); a flushing seek after EOS let one keyframe through and ended again, in a loop.

  stats(): NativeRecordStats {
    this.#check('stats');
    const s = this.#native.stats();
    return { recordBuffers: s.recordBuffers, recordBytes: s.recordBytes, msSinceLastRecordBuffer: s.msSinceLastRecordBuffer, liveSamples: s.liveSamples, liveDropped: s.liveDropped };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
