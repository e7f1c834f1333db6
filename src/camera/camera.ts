/**
 * One supervised camera: owns its pipeline's lifecycle, a watchdog on monotonic time, and reconnection with
 * capped exponential backoff that never gives up while the camera is configured. Only errors that a retry cannot
 * fix (a damaged file, a missing element) end in `failed`.
 *
 * States: starting -> running -> (stalled | error | end of live stream) -> reconnecting -> starting ...;
 * stopped (by stop(), or a non-looping file at its end); failed.
 *
 * A camera with a separate record input (`recordSource`: e.g. the main stream beside a detect substream) runs a
 * second, record-only pipeline (no decoder) supervised the same way with its own backoff and watchdog (progress =
 * buffers reaching the recorder). The camera's state follows the detect input only; the record input's state is
 * `recordState` (and counters().record), so a failing recorder never takes detection down, nor the reverse.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { CameraStatus } from '../types.js';
import { VigilClosedError, VigilPipelineError, expected } from '../errors.js';
import { redactUrl } from '../redact.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { DecoderChoice, DecoderPreferences } from './decoders.js';
import type { Frame } from './frame.js';
import { CameraPipeline, RecordPipeline } from './pipeline.js';
import type { CameraSource } from './source.js';
import type { NativeLiveEvent, NativeMotionOptions, NativeSegmentEvent } from '../../bindings/index.js';
import type { RecordingBranch } from './templates.js';
import type { TensorSpec } from './tensor.js';

export interface CameraSettings {
  id: string;
  name: string;
  /** Where the camera is (free text shown in the API, e.g. "Gate A, north fence"); absent: not given. */
  location?: string;
  /** Where the camera was defined: the config file (default), the REST API (persisted), or a VMS sync. */
  origin?: CameraOrigin;
  source: CameraSource;
  tensor: TensorSpec;
  /** Frames per second handed on as tensors; 0 = every decoded frame. */
  detectFps: number;
  decoder: DecoderPreferences;
  /** No decoded frame for this long (ms, monotonic) while running: stalled, restart. */
  stallTimeoutMs: number;
  /** No first frame this long (ms) after a (re)start: restart. */
  startTimeoutMs: number;
  backoff: BackoffOptions;
  /** Running this long (ms) without trouble resets the backoff to its first step. */
  backoffResetMs: number;
  queueSize: number;
  poolSize: number;
  /** Motion gate settings; null: every frame goes on to inference. */
  motion: NativeMotionOptions | null;
  /** Recording branch (original stream into segments); null: not recorded. */
  recording: RecordingBranch | null;
  /**
   * A second stream of this camera to record instead of `source` (its own pipeline, no decoder); absent or null:
   * `source` is recorded (a tee in the detect pipeline). Used only when `recording` is set.
   */
  recordSource?: CameraSource | null;
}

export type CameraOrigin = 'config' | 'api' | 'vms';

export { publicCameraStatus, type PublicCameraStatus } from './status.js';

/** State of a camera's separate record input; 'off' when the camera has none. */
export type RecordInputState = 'off' | 'starting' | 'running' | 'reconnecting' | 'stopped' | 'failed';

export interface RecordInputCounters {
  state: RecordInputState;
  /** Encoded frames and bytes handed to the segment writer (all runs). */
  buffers: number;
  bytes: number;
  restarts: number;
  /** Times a looping file input started over (a new run each time, not counted in restarts). */
  loops: number;
  lastError: { code: string; message: string; atMs: number } | null;
}

/** A segment boundary, tagged with the pipeline run it came from (running times restart with each run). */
export interface SegmentEvent extends NativeSegmentEvent {
  cameraId: string;
  /** Increments each time the camera builds a new pipeline. */
  run: number;
}

export interface CameraCounters {
  framesDecoded: number;
  framesHandedOn: number;
  framesDropped: number;
  /** Frames the motion gate kept from inference. */
  framesSkippedNoMotion: number;
  /** Frames skipped by the runtime analysis rate (setAnalysisRate) before any work. */
  skippedRate: number;
  /** Frames handed on as motion-region crops (part of framesHandedOn). */
  framesCropped: number;
  restarts: number;
  loops: number;
  lastError: { code: string; message: string; atMs: number } | null;
  /** Frames handed on per second over the last watchdog interval. */
  fps: number;
  /** The separate record input; null when the camera has none (recording, if on, copies the detect input). */
  record: RecordInputCounters | null;
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  reason: 'error' | 'stalled' | 'eos' | 'start-timeout';
}

export interface CameraEvents {
  state: [state: CameraStatus, previous: CameraStatus];
  frame: [frame: Frame];
  error: [error: VigilPipelineError];
  reconnecting: [info: ReconnectInfo];
  segment: [event: SegmentEvent];
  recordState: [state: RecordInputState, previous: RecordInputState];
  recordError: [error: VigilPipelineError];
  /** Encoded access units of the detect input while setLiveTap(true) (web console live view); `run` as in segment. */
  live: [sample: NativeLiveEvent, run: number];
}

const PERMANENT_ALWAYS = new Set(['E_ELEMENT_MISSING', 'E_DECODER_MISSING', 'E_PIPELINE_PARSE', 'E_ARGUMENT']);
const PERMANENT_FOR_FILES = new Set(['E_SOURCE_FORMAT', 'E_STREAM_FORMAT', 'E_STREAM_DECODE', 'E_STREAM_NEGOTIATION']);

export class Camera extends EventEmitter<CameraEvents> {
  readonly settings: CameraSettings;
  #state: CameraStatus = 'stopped';
  #pipeline: CameraPipeline | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #attempt = 0;
  #startedAt = 0;
  #runningSince = 0;
  #lastProgressAt = 0;
  #lastDecoded = 0;
  #lastHanded = 0;
  #lastTickAt = 0;
  #closed = false;
  // Totals of pipelines already closed; the live pipeline's stats are added on read.
  #base = { framesDecoded: 0, framesHandedOn: 0, framesDropped: 0, framesSkippedNoMotion: 0, skippedRate: 0, framesCropped: 0 };
  #motionBypass = false;
  #fullFrame = false;
  #liveTap = false;
  // Frames reach 'frame' listeners (detection) only while true; switched at run time (MQTT detect/set).
  #detect = true;
  // The decoded size of the last frame (the negotiated caps of the decoder's output) and when it arrived (wall
  // clock ms): kept after the camera stops, so the API shows the last known values.
  #frameWidth: number | null = null;
  #frameHeight: number | null = null;
  #lastSeenMs: number | null = null;
  #analysisIntervalMs = 0;
  #run = 0;
  // One past the last frame sequence handed on: where a looping file's next run (#nextFileRun) numbers from.
  #nextSequence = 0;
  #counters: CameraCounters = {
    framesDecoded: 0,
    framesHandedOn: 0,
    framesDropped: 0,
    framesSkippedNoMotion: 0,
    skippedRate: 0,
    framesCropped: 0,
    restarts: 0,
    loops: 0,
    lastError: null,
    fps: 0,
    record: null,
  };
  #rec = {
    state: 'off' as RecordInputState,
    pipeline: null as RecordPipeline | null,
    retryTimer: null as NodeJS.Timeout | null,
    attempt: 0,
    startedAt: 0,
    runningSince: 0,
    lastBuffers: 0,
    lastProgressAt: 0,
    base: { buffers: 0, bytes: 0 },
    restarts: 0,
    loops: 0,
    lastError: null as RecordInputCounters['lastError'],
  };

  constructor(settings: CameraSettings) {
    super();
    this.settings = settings;
  }

  get id(): string {
    return this.settings.id;
  }

  get state(): CameraStatus {
    return this.#state;
  }

  /** The separate record input's state ('off' without one). */
  get recordState(): RecordInputState {
    return this.#rec.state;
  }

  get #recordsSeparately(): boolean {
    return !!this.settings.recording && !!this.settings.recordSource;
  }

  get decoder(): DecoderChoice | null {
    return this.#pipeline?.decoder ?? null;
  }

  /** Decoded frame size (from the caps the decoder negotiated), null before the first frame. */
  get frameSize(): { width: number; height: number } | null {
    return this.#frameWidth === null || this.#frameHeight === null ? null : { width: this.#frameWidth, height: this.#frameHeight };
  }

  /** Wall-clock ms of the last decoded frame handed on; null before the first. */
  get lastSeenMs(): number | null {
    return this.#lastSeenMs;
  }

  /** Whether frames go on to detection ('frame' listeners); see setDetection. */
  get detection(): boolean {
    return this.#detect;
  }

  /**
   * Switches detection for this camera at run time: while off, frames are released as they arrive (the camera
   * keeps decoding, recording and reporting its state), so nothing of it reaches the detector.
   */
  setDetection(enabled: boolean): void {
    if (typeof enabled !== 'boolean') throw expected('true or false', 'enabled', enabled);
    this.#detect = enabled;
  }

  /**
   * Live tap on or off (kept across restarts): while on, every encoded access unit of the detect input is emitted
   * as 'live', copied at the decoder's input (no decode, no re-encode). Sources without an encoded stream (test
   * patterns) emit nothing.
   */
  setLiveTap(enabled: boolean): void {
    if (typeof enabled !== 'boolean') throw expected('true or false', 'enabled', enabled);
    this.#liveTap = enabled;
    if (this.#pipeline && !this.#pipeline.closed) this.#pipeline.setLiveTap(enabled);
  }

  /** The source as a URI for the API: credentials removed (`rtsp://***@host/...`), files as file:// URIs. */
  get streamUrl(): string {
    const s = this.settings.source;
    if (s.kind === 'rtsp') return redactUrl(s.url);
    if (s.kind === 'file') return pathToFileURL(s.path).href;
    return `test:${s.pattern}`;
  }

  /** Source for display: credentials removed. */
  get displaySource(): string {
    const s = this.settings.source;
    if (s.kind === 'rtsp') return redactUrl(s.url);
    if (s.kind === 'file') return s.path;
    return `test:${s.pattern}`;
  }

  counters(): CameraCounters {
    const c = { ...this.#counters, ...this.#base };
    if (this.#pipeline && !this.#pipeline.closed) {
      const s = this.#pipeline.stats();
      c.framesDecoded += s.framesDecoded;
      c.framesHandedOn += s.framesDelivered;
      c.framesDropped += s.droppedQueue + s.droppedPool + s.droppedDelivery + s.droppedFormat;
      c.framesSkippedNoMotion += s.skippedNoMotion;
      c.skippedRate += s.skippedRate;
      c.framesCropped += s.framesCropped;
    }
    if (this.#recordsSeparately) {
      const r = this.#rec;
      const live = r.pipeline && !r.pipeline.closed ? r.pipeline.stats() : null;
      c.record = {
        state: r.state,
        buffers: r.base.buffers + (live?.recordBuffers ?? 0),
        bytes: r.base.bytes + (live?.recordBytes ?? 0),
        restarts: r.restarts,
        loops: r.loops,
        lastError: r.lastError,
      };
    }
    return c;
  }

  /**
   * While true, frames skip the motion gate: the inference layer sets it while a tracked object is still active,
   * so a person standing still stays tracked.
   */
  setMotionBypass(bypass: boolean): void {
    this.#motionBypass = bypass;
    if (this.#pipeline && !this.#pipeline.closed) this.#pipeline.setMotionBypass(bypass);
  }

  /**
   * Runtime analysis rate (frames per second, stream time): frames closer together are skipped before any work
   * (counters().skippedRate), so a quiet camera can be analysed at e.g. 1 fps and rise to its detectFps while
   * tracks are live. 0, or a rate at or above detectFps, lifts the limit (detectFps alone applies).
   */
  setAnalysisRate(fps: number): void {
    if (typeof fps !== 'number' || !Number.isFinite(fps) || fps < 0 || (fps > 0 && fps < 1 / 86400)) {
      throw expected('a number of frames per second: 0 or from 1/86400', 'fps', fps);
    }
    const detect = this.settings.detectFps;
    this.#analysisIntervalMs = fps === 0 || (detect > 0 && fps >= detect) ? 0 : 1000 / fps;
    if (this.#pipeline && !this.#pipeline.closed) this.#pipeline.setAnalysisInterval(this.#analysisIntervalMs);
  }

  /** While true, every tensor is the whole frame (no motion-region crops): set while tracks are live. */
  setFullFrame(full: boolean): void {
    this.#fullFrame = full;
    if (this.#pipeline && !this.#pipeline.closed) this.#pipeline.setFullFrame(full);
  }

  start(): void {
    if (this.#closed) throw new VigilClosedError(`Camera ${this.id}`, 'start');
    if (this.#state !== 'stopped' && this.#state !== 'failed') return;
    this.#attempt = 0;
    this.#open();
    if (this.#recordsSeparately && !this.#rec.pipeline && !this.#rec.retryTimer) {
      this.#rec.attempt = 0;
      this.#openRecord();
    }
    if (this.#watchdog) clearInterval(this.#watchdog); // kept for a record input after the detect input ended
    this.#watchdog = setInterval(() => this.#tick(), Math.max(50, Math.min(1000, this.settings.stallTimeoutMs / 4)));
    this.#watchdog.unref();
  }

  stop(): void {
    if (this.#closed) return;
    this.#clearTimers();
    this.#closePipeline();
    this.#setState('stopped');
    this.#stopRecord('stopped');
  }

  /** Idempotent; a closed camera cannot be started again. */
  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.removeAllListeners();
  }

  #setState(next: CameraStatus): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.emit('state', next, prev);
  }

  /** The watchdog stays while a separate record input goes on after the detect input ended or failed. */
  #clearTimers(keepWatchdogForRecord = false): void {
    if (this.#watchdog && !(keepWatchdogForRecord && this.#recordsSeparately)) clearInterval(this.#watchdog);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (!(keepWatchdogForRecord && this.#recordsSeparately)) this.#watchdog = null;
    this.#retryTimer = null;
  }

  #closePipeline(): void {
    const p = this.#pipeline;
    if (!p) return;
    this.#pipeline = null;
    if (!p.closed) {
      const s = p.stats();
      this.#base.framesDecoded += s.framesDecoded;
      this.#base.framesHandedOn += s.framesDelivered;
      this.#base.framesDropped += s.droppedQueue + s.droppedPool + s.droppedDelivery + s.droppedFormat;
      this.#base.framesSkippedNoMotion += s.skippedNoMotion;
      this.#base.skippedRate += s.skippedRate;
      this.#base.framesCropped += s.framesCropped;
    }
    p.close();
  }

  #setRecordState(next: RecordInputState): void {
    const prev = this.#rec.state;
    if (prev === next) return;
    this.#rec.state = next;
    this.emit('recordState', next, prev);
  }

  #closeRecord(): void {
    const r = this.#rec;
    const p = r.pipeline;
    if (!p) return;
    r.pipeline = null;
    if (!p.closed) {
      const s = p.stats();
      r.base.buffers += s.recordBuffers;
      r.base.bytes += s.recordBytes;
    }
    // close() stops first: the open segment is finalised and its 'closed' boundary delivered.
    p.close();
  }

  #stopRecord(state: 'stopped' | 'failed'): void {
    if (this.#rec.retryTimer) clearTimeout(this.#rec.retryTimer);
    this.#rec.retryTimer = null;
    this.#closeRecord();
    if (this.#recordsSeparately) this.#setRecordState(state);
  }

  /** `loop`: the next run of a looping file (the state stays as it is: the input did not fail). */
  #openRecord(loop = false): void {
    const r = this.#rec;
    const recording = this.settings.recording!;
    r.retryTimer = null;
    if (!loop) this.#setRecordState('starting');
    r.startedAt = performance.now();
    r.lastProgressAt = r.startedAt;
    r.lastBuffers = 0;
    const run = ++this.#run;
    let pipeline: RecordPipeline;
    try {
      mkdirSync(recording.directory, { recursive: true });
      pipeline = new RecordPipeline({
        cameraId: this.id,
        source: this.settings.recordSource!,
        recording,
        onSegment: (e) => this.emit('segment', { ...e, cameraId: this.id, run }),
        onError: (err) => {
          if (pipeline === r.pipeline) this.#recordFail(err);
        },
        onEos: () => {
          if (pipeline === r.pipeline) this.#recordEos(pipeline);
        },
      });
    } catch (err) {
      this.#recordFail(
        err instanceof VigilPipelineError
          ? err
          : new VigilPipelineError('E_PIPELINE_START', `Camera ${this.id} (record input): ${(err as Error).message}`),
      );
      return;
    }
    r.pipeline = pipeline;
    pipeline.start();
  }

  #recordFail(err: VigilPipelineError): void {
    this.#rec.lastError = { code: err.code, message: err.message, atMs: Date.now() };
    if (this.listenerCount('recordError') > 0) this.emit('recordError', err);
    if (this.#isPermanent(err.code, this.settings.recordSource!)) this.#stopRecord('failed');
    else this.#restartRecord();
  }

  #recordEos(pipeline: RecordPipeline): void {
    const s = this.settings.recordSource!;
    if (s.kind === 'file' && pipeline.stats().recordBuffers === 0) {
      this.#recordFail(new VigilPipelineError('E_STREAM_FORMAT', `Camera ${this.id} (record input): the file ended before any frame was recorded`));
      return;
    }
    if (s.kind === 'file' && s.loop) {
      // A looping file starts a new record run at its end, not a rewind: splitmuxsink does not recover from end of
      // stream, so a flushing seek to the start let one keyframe through and ended again at once, a storm of
      // thousands of EOS, rewinds and 'closed' boundaries a second on the JS thread while nothing more was recorded
      // (bench/RESULTS.md, "Busy substream camera cost"). A new run is a new segment on a new clock anchor.
      this.#rec.loops++;
      this.#closeRecord();
      this.#openRecord(true);
      return;
    }
    if (s.kind === 'file') this.#stopRecord('stopped');
    else this.#restartRecord();
  }

  #restartRecord(): void {
    const r = this.#rec;
    if (r.retryTimer || this.#closed) return;
    this.#closeRecord();
    r.restarts++;
    r.attempt++;
    this.#setRecordState('reconnecting');
    r.retryTimer = setTimeout(() => this.#openRecord(), backoffDelay(r.attempt, this.settings.backoff));
    r.retryTimer.unref();
  }

  /** The record input's watchdog: progress is buffers reaching the segment writer. */
  #tickRecord(now: number): void {
    const r = this.#rec;
    const p = r.pipeline;
    if (!p || p.closed) return;
    const buffers = p.stats().recordBuffers;
    if (buffers !== r.lastBuffers) {
      r.lastBuffers = buffers;
      r.lastProgressAt = now;
      if (r.state === 'starting') {
        r.runningSince = now;
        this.#setRecordState('running');
      }
    }
    if (r.state === 'running' && r.attempt > 0 && now - r.runningSince >= this.settings.backoffResetMs) r.attempt = 0;
    if (r.state === 'starting' && now - r.startedAt > this.settings.startTimeoutMs) {
      r.lastError = { code: 'E_SOURCE_TIMEOUT', message: `Camera ${this.id} (record input): no data within ${this.settings.startTimeoutMs} ms of starting`, atMs: Date.now() };
      this.#restartRecord();
    } else if (r.state === 'running' && now - r.lastProgressAt > this.settings.stallTimeoutMs) {
      r.lastError = { code: 'E_SOURCE_STALLED', message: `Camera ${this.id} (record input): no data for ${Math.round(now - r.lastProgressAt)} ms`, atMs: Date.now() };
      this.#restartRecord();
    }
  }

  /**
   * `loop`: the next run of a looping file that records (#nextFileRun): the state stays 'running' (the input did
   * not fail) and frame sequences go on from the last run's.
   */
  #open(loop = false): void {
    this.#retryTimer = null;
    if (!loop) this.#setState('starting');
    this.#startedAt = performance.now();
    this.#lastProgressAt = this.#startedAt;
    this.#lastDecoded = 0;
    this.#lastHanded = 0;
    this.#lastTickAt = this.#startedAt;
    let pipeline: CameraPipeline;
    const run = ++this.#run;
    try {
      const tee = this.settings.recording && !this.#recordsSeparately ? this.settings.recording : null;
      if (tee) mkdirSync(tee.directory, { recursive: true });
      pipeline = new CameraPipeline({
        cameraId: this.id,
        source: this.settings.source,
        tensor: this.settings.tensor,
        detectFps: this.settings.detectFps,
        decoder: this.settings.decoder,
        queueSize: this.settings.queueSize,
        poolSize: this.settings.poolSize,
        motion: this.settings.motion,
        ...(tee ? { recording: tee } : {}),
        ...(loop ? { firstSequence: this.#nextSequence } : {}),
        onSegment: (e) => this.emit('segment', { ...e, cameraId: this.id, run }),
        onLive: (sample) => {
          if (pipeline === this.#pipeline) this.emit('live', sample, run);
        },
        onFrame: (frame) => this.#onFrame(pipeline, frame),
        onError: (err) => this.#onError(pipeline, err),
        onEos: () => this.#onEos(pipeline),
      });
    } catch (err) {
      const e =
        err instanceof VigilPipelineError
          ? err
          : new VigilPipelineError('E_PIPELINE_START', `Camera ${this.id}: ${(err as Error).message}`);
      this.#fail(e);
      return;
    }
    this.#pipeline = pipeline;
    if (this.#motionBypass) pipeline.setMotionBypass(true);
    if (this.#fullFrame) pipeline.setFullFrame(true);
    if (this.#liveTap) pipeline.setLiveTap(true);
    if (this.#analysisIntervalMs > 0) pipeline.setAnalysisInterval(this.#analysisIntervalMs);
    pipeline.start();
  }

  #onFrame(pipeline: CameraPipeline, frame: Frame): void {
    if (pipeline !== this.#pipeline) {
      frame.release();
      return;
    }
    this.#nextSequence = frame.sequence + 1;
    this.#frameWidth = frame.sourceWidth;
    this.#frameHeight = frame.sourceHeight;
    this.#lastSeenMs = Date.now();
    if (this.#state !== 'running') {
      this.#runningSince = performance.now();
      this.#setState('running');
    }
    if (!this.#detect || this.listenerCount('frame') === 0) frame.release();
    else this.emit('frame', frame);
  }

  #isPermanent(code: string, source: CameraSource = this.settings.source): boolean {
    return PERMANENT_ALWAYS.has(code) || (source.kind === 'file' && PERMANENT_FOR_FILES.has(code));
  }

  #fail(err: VigilPipelineError): void {
    this.#counters.lastError = { code: err.code, message: err.message, atMs: Date.now() };
    if (this.listenerCount('error') > 0) this.emit('error', err);
    if (this.#isPermanent(err.code)) {
      this.#clearTimers(true);
      this.#closePipeline();
      this.#setState('failed');
    } else {
      this.#restart('error');
    }
  }

  #onError(pipeline: CameraPipeline, err: VigilPipelineError): void {
    if (pipeline !== this.#pipeline) return;
    this.#fail(err);
  }

  #onEos(pipeline: CameraPipeline): void {
    if (pipeline !== this.#pipeline) return;
    const s = this.settings.source;
    if (s.kind === 'file' && pipeline.stats().framesDecoded === 0) {
      this.#fail(
        new VigilPipelineError('E_STREAM_FORMAT', `Camera ${this.id}: the file ended before any video frame was decoded`),
      );
      return;
    }
    if (s.kind === 'file' && s.loop) {
      this.#counters.loops++;
      if (this.settings.recording && !this.#recordsSeparately) {
        this.#nextFileRun();
        return;
      }
      if (pipeline.rewind()) return;
    }
    if (s.kind === 'file' || (s.kind === 'test' && s.numBuffers > 0)) {
      this.#clearTimers(true);
      this.#closePipeline();
      this.#setState('stopped');
      return;
    }
    this.#restart('eos');
  }

  /**
   * The next loop of a file whose detect pipeline also records (a tee into splitmuxsink): a new run at its end, not
   * a rewind (as for a record input, #recordEos). splitmuxsink does not recover from end of stream: after the
   * flushing seek it reopened the segment it had just closed, under the same name (truncated to 0 bytes), took one
   * keyframe and answered EOS upstream, which the tee handed back to the demuxer, so the detect branch ended early
   * too (at 1.8 s of a 3 s clip): each loop was followed by a partial one, counted as a loop (`loops` read double),
   * its later frames never decoded, until splitmuxsink failed ("Timestamping error on input streams") and the camera
   * reconnected. Stopping and restarting the same graph (NULL, then PLAYING) was tried and is no way out either:
   * splitmuxsink's file sink reopened the last segment's file (0 bytes again) and the demuxer's new pad was never
   * linked ("Internal data stream error"). So a new pipeline, its frames numbered on from the last run's: to the
   * tracker this is the same stream going on, as with a rewind (a sequence that goes back ends every track). It
   * costs about 10 ms of the JS thread per loop (close, build, start; a 360p clip), a rewind about 1 ms, so a
   * looping file that does not record keeps the rewind.
   *
   * Recording: one segment run per loop. Each run's running time starts at 0 and the segment clock anchors a new
   * run on the wall clock, never before footage already indexed (src/recording/clock.ts), so the loops lie back to
   * back in the index. A segment spanning loops would need the record branch to see one continuous timeline across
   * them (native work: a segment seek and timestamp offsets), for no gain in what is kept. Nothing is left to
   * finalise here: the segment closed at the end of stream ('closed' was queued before this 'eos').
   */
  #nextFileRun(): void {
    this.#closePipeline();
    this.#open(true);
  }

  #restart(reason: ReconnectInfo['reason']): void {
    if (this.#retryTimer) return;
    this.#closePipeline();
    this.#counters.restarts++;
    this.#attempt++;
    const delayMs = backoffDelay(this.#attempt, this.settings.backoff);
    this.#setState('reconnecting');
    this.emit('reconnecting', { attempt: this.#attempt, delayMs, reason });
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
    this.#retryTimer.unref();
  }

  #tick(): void {
    const p = this.#pipeline;
    const now = performance.now();
    this.#tickRecord(now);
    if (!p || p.closed) return;
    const s = p.stats();
    if (s.framesDecoded !== this.#lastDecoded) {
      this.#lastDecoded = s.framesDecoded;
      this.#lastProgressAt = now;
    }
    const dt = (now - this.#lastTickAt) / 1000;
    if (dt > 0) this.#counters.fps = (s.framesDelivered - this.#lastHanded) / dt;
    this.#lastHanded = s.framesDelivered;
    this.#lastTickAt = now;
    if (this.#state === 'running' && this.#attempt > 0 && now - this.#runningSince >= this.settings.backoffResetMs) {
      this.#attempt = 0;
    }
    if (this.#state === 'starting' && now - this.#startedAt > this.settings.startTimeoutMs) {
      this.#counters.lastError = {
        code: 'E_SOURCE_TIMEOUT',
        message: `Camera ${this.id}: no frame within ${this.settings.startTimeoutMs} ms of starting`,
        atMs: Date.now(),
      };
      this.#restart('start-timeout');
    } else if (this.#state === 'running' && now - this.#lastProgressAt > this.settings.stallTimeoutMs) {
      this.#counters.lastError = {
        code: 'E_SOURCE_STALLED',
        message: `Camera ${this.id}: no frame for ${Math.round(now - this.#lastProgressAt)} ms`,
        atMs: Date.now(),
      };
      this.#setState('stalled');
      this.#restart('stalled');
    }
  }
}

export const DEFAULT_CAMERA_TIMING = {
  stallTimeoutMs: 5000,
  startTimeoutMs: 15_000,
  backoff: DEFAULT_BACKOFF,
  backoffResetMs: 10_000,
  queueSize: 2,
  poolSize: 4,
  motion: null,
  recording: null,
};
