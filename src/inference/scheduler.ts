/**
 * Inference scheduling across cameras. Each camera has a bounded queue of ready frames (its analysis rate is
 * already applied natively, before conversion); when the detector is free, one session.run takes the oldest frame
 * of up to `maxBatch` cameras:
 *
 *  - cameras with live tracks come first: each camera has a priority ('tracking' > 'motion' > 'idle') that the
 *    caller sets (setPriority) from its tracker and motion state;
 *  - among cameras of one priority, the least recently served goes first: round robin that also places a camera
 *    that just joined the backlog fairly (deficit round robin with a unit cost per frame);
 *  - a starving camera jumps the queue: one whose current shed streak has reached `maxShedStreakMs` is served
 *    before any priority, so "no camera is shed for more than a second in a row" holds while lower-priority
 *    cameras share what the tracking ones leave;
 *  - one run only batches frames whose tensors have the same size (whole frames and motion-region crops differ):
 *    the first frame picked sets the size, and cameras whose oldest frame has another size wait for a later run.
 *
 * When inference falls behind, a camera's queue overflows and its oldest frame is shed: counted per camera, with
 * the longest run of consecutive shed frames in ms of stream time (from the first shed frame's capture to the
 * capture of the camera's next analysed frame). Frames are released to their pool as soon as the detections of
 * the run that read them have been handed on.
 */
import type { Frame } from '../camera/frame.js';
import { expected } from '../errors.js';
import type { Detection, DetectionBatch } from '../types.js';
import { frameInput, type DetectorInput } from './detector.js';

export interface DetectorLike {
  detect(inputs: DetectorInput[]): Promise<Detection[][]>;
}

/** What a camera's frames are for, most urgent first. */
export type CameraPriority = 'tracking' | 'motion' | 'idle';
const RANK: Record<CameraPriority, number> = { tracking: 0, motion: 1, idle: 2 };

/** One analysed frame: its detections (source-frame pixels) and how long the frame waited for them. */
export interface FrameDetections extends DetectionBatch {
  /** Frame reaching the tensor stage -> detections ready, ms. */
  latencyMs: number;
}

export interface SchedulerOptions {
  /** Frames waiting per camera before the oldest is shed (default 2). */
  queuePerCamera?: number;
  /** Cameras whose frames share one session.run (default 4; 1 disables batching). */
  maxBatch?: number;
  /**
   * Batches in flight at once (default 1). 2 keeps an inference worker busy while the JS thread handles the
   * previous batch's results; a camera never has two frames in flight, so its frames reach the tracker in order.
   */
  concurrency?: number;
  /**
   * A camera whose current run of shed frames has lasted this long (ms of stream time) is served before any
   * priority (default 750: under the 1 s a camera may go unanalysed). Infinity: strict priorities.
   */
  maxShedStreakMs?: number;
  /**
   * Capture time of a frame in ns, the clock of shed streaks (default: its stream time, or the wall clock where
   * the source gave none).
   */
  frameTimeNs?: (frame: Frame) => number;
  /** Priority of a camera that setPriority has not named (default 'motion'). */
  defaultPriority?: CameraPriority;
  /**
   * Called on the JS thread with each frame's detections, in completion order. `frame` is still leased during the
   * call (so its decoded source can be captured for snapshots) and released right after it returns.
   */
  onDetections: (result: FrameDetections, frame: Frame) => void;
  onError?: (err: unknown) => void;
}

export interface CameraInferenceStats {
  priority: CameraPriority;
  submitted: number;
  inferred: number;
  shed: number;
  /** Longest run of consecutive shed frames, ms of stream time (first shed capture -> next analysed capture). */
  maxShedStreakMs: number;
  /** The run of shed frames going on now (first shed capture -> newest frame's capture), 0 when none. */
  shedStreakMs: number;
  /** Inferred frames per second over the last stats() interval. */
  effectiveFps: number;
}

interface CameraQueue {
  id: string;
  /** Registration order: the tie-break of equal priority and equal service. */
  index: number;
  priority: CameraPriority | null;
  frames: Frame[];
  submitted: number;
  inferred: number;
  shed: number;
  lastInferred: number;
  /** Run counter when the camera was last served (-1: never). */
  servedAt: number;
  /** Capture time (ns) of the first frame of the current shed run; null when the last frame was not shed. */
  streakStartNs: number | null;
  maxShedStreakMs: number;
  /** Frames of this camera in a batch being inferred. */
  inFlight: number;
}

const LATENCY_WINDOW = 1024;

/** A frame's stream time in ns, or its wall-clock time where the source gave none. */
function streamTimeNs(f: Frame): number {
  return f.ptsNs >= 0 ? f.ptsNs : Number(f.wallClockNs);
}

export class InferenceScheduler {
  #detector: DetectorLike;
  #queues = new Map<string, CameraQueue>();
  /** Pump loops running (each has at most one batch in flight); at most #concurrency. */
  #active = 0;
  #pumps = new Set<Promise<void>>();
  #concurrency: number;
  #closed = false;
  #queuePerCamera: number;
  #maxBatch: number;
  #maxShedStreakNs: number;
  #defaultPriority: CameraPriority;
  #timeNs: (f: Frame) => number;
  #onDetections: SchedulerOptions['onDetections'];
  #onError: (err: unknown) => void;
  #runs = 0;
  #latencies: number[] = [];
  #lastStatsAt = performance.now();

  constructor(detector: DetectorLike, options: SchedulerOptions) {
    this.#detector = detector;
    const o = options;
    const count = (v: unknown, name: string, dflt: number): number => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v) || (v as number) < 1) throw expected('an integer >= 1', `scheduler.${name}`, v);
      return v as number;
    };
    this.#queuePerCamera = count(o.queuePerCamera, 'queuePerCamera', 2);
    this.#maxBatch = count(o.maxBatch, 'maxBatch', 4);
    this.#concurrency = count(o.concurrency, 'concurrency', 1);
    const streak = o.maxShedStreakMs ?? 750;
    if (typeof streak !== 'number' || !(streak >= 0)) throw expected('a number >= 0 or Infinity', 'scheduler.maxShedStreakMs', streak);
    this.#maxShedStreakNs = streak * 1e6;
    const dp = o.defaultPriority ?? 'motion';
    if (!(dp in RANK)) throw expected("'tracking', 'motion' or 'idle'", 'scheduler.defaultPriority', dp);
    this.#defaultPriority = dp;
    if (o.frameTimeNs !== undefined && typeof o.frameTimeNs !== 'function') throw expected('a function', 'scheduler.frameTimeNs', o.frameTimeNs);
    this.#timeNs = o.frameTimeNs ?? streamTimeNs;
    if (typeof o.onDetections !== 'function') throw expected('a function', 'scheduler.onDetections', o.onDetections);
    this.#onDetections = o.onDetections;
    this.#onError = o.onError ?? ((err) => console.error(err));
  }

  #queue(cameraId: string): CameraQueue {
    let q = this.#queues.get(cameraId);
    if (!q) {
      q = {
        id: cameraId, index: this.#queues.size, priority: null, frames: [], submitted: 0, inferred: 0, shed: 0,
        lastInferred: 0, servedAt: -1, streakStartNs: null, maxShedStreakMs: 0, inFlight: 0,
      };
      this.#queues.set(cameraId, q);
    }
    return q;
  }

  /**
   * Sets what a camera's frames are for: 'tracking' while it has live tracks, 'motion' while it sees motion,
   * 'idle' otherwise. Takes effect from the next run; frames already queued keep their place in the queue.
   */
  setPriority(cameraId: string, priority: CameraPriority): void {
    if (typeof cameraId !== 'string' || cameraId === '') throw expected('a non-empty string', 'cameraId', cameraId);
    if (!(typeof priority === 'string' && priority in RANK)) throw expected("'tracking', 'motion' or 'idle'", 'priority', priority);
    this.#queue(cameraId).priority = priority;
  }

  priorityOf(cameraId: string): CameraPriority {
    return this.#queues.get(cameraId)?.priority ?? this.#defaultPriority;
  }

  /** Takes ownership of `frame` (it is released after inference, or when shed). */
  submit(frame: Frame): void {
    if (this.#closed) {
      frame.release();
      return;
    }
    const q = this.#queue(frame.cameraId);
    q.submitted++;
    q.frames.push(frame);
    while (q.frames.length > this.#queuePerCamera) {
      const f = q.frames.shift()!;
      if (q.streakStartNs === null) q.streakStartNs = this.#timeNs(f);
      f.release();
      q.shed++;
    }
    if (this.#active < this.#concurrency) {
      const p = this.#pump();
      this.#pumps.add(p);
      void p.finally(() => this.#pumps.delete(p));
    }
  }

  /** The current shed run of a camera, ns of stream time up to its newest frame (0 when none). */
  #streakNs(q: CameraQueue): number {
    if (q.streakStartNs === null || q.frames.length === 0) return 0;
    return Math.max(0, this.#timeNs(q.frames[q.frames.length - 1]!) - q.streakStartNs);
  }

  /**
   * Service order of the cameras with a frame waiting: starving ones first (longest streak first), then by
   * priority, then least recently served, then registration order.
   */
  #order(): CameraQueue[] {
    const ready = [...this.#queues.values()].filter((q) => q.frames.length > 0);
    const starving = new Map<CameraQueue, number>();
    for (const q of ready) {
      const s = this.#streakNs(q);
      if (s > 0 && s >= this.#maxShedStreakNs) starving.set(q, s);
    }
    return ready.sort((a, b) => {
      const sa = starving.get(a);
      const sb = starving.get(b);
      if (sa !== undefined || sb !== undefined) {
        if (sa === undefined) return 1;
        if (sb === undefined) return -1;
        if (sa !== sb) return sb - sa;
      }
      const pa = RANK[a.priority ?? this.#defaultPriority];
      const pb = RANK[b.priority ?? this.#defaultPriority];
      if (pa !== pb) return pa - pb;
      if (a.servedAt !== b.servedAt) return a.servedAt - b.servedAt;
      return a.index - b.index;
    });
  }

  /** Oldest frame of up to maxBatch cameras, in service order, all of the first one's tensor size. */
  #takeBatch(): Frame[] {
    const batch: Frame[] = [];
    let w = 0;
    let h = 0;
    for (const q of this.#order()) {
      if (batch.length >= this.#maxBatch) break;
      // With several batches in flight, a camera waits for its previous frame's results: frames reach the tracker in order.
      if (q.inFlight > 0) continue;
      const f = q.frames[0]!;
      if (batch.length === 0) {
        w = f.tensorWidth;
        h = f.tensorHeight;
      } else if (f.tensorWidth !== w || f.tensorHeight !== h) continue;
      q.frames.shift();
      q.servedAt = this.#runs;
      if (q.streakStartNs !== null) {
        q.maxShedStreakMs = Math.max(q.maxShedStreakMs, (this.#timeNs(f) - q.streakStartNs) / 1e6);
        q.streakStartNs = null;
      }
      batch.push(f);
    }
    return batch;
  }

  /** Marks the batch's cameras in flight and starts its run. */
  #start(batch: Frame[]): Promise<Detection[][]> {
    for (const f of batch) this.#queues.get(f.cameraId)!.inFlight++;
    try {
      return this.#detector.detect(batch.map(frameInput));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * One loop of runs. When a run's detections arrive, the next run is taken and started BEFORE the detections are
   * handed on (tracker, store, stream: the JS thread's share of a frame), so the inference thread has its next
   * input while this thread works; otherwise it idles for that share of every frame. A camera's frames still
   * reach the tracker in order: its in-flight mark is lifted and its detections handed on in one synchronous step,
   * so a later frame of it (in the next run of this or another loop) is handed on in a later tick.
   */
  async #pump(): Promise<void> {
    this.#active++;
    try {
      let batch = this.#takeBatch();
      let running = batch.length > 0 ? this.#start(batch) : null;
      while (running) {
        let results: Detection[][] | null = null;
        try {
          results = await running;
        } catch (err) {
          this.#onError(err);
        }
        this.#runs++;
        for (const f of batch) this.#queues.get(f.cameraId)!.inFlight--;
        const done = batch;
        batch = this.#takeBatch();
        running = batch.length > 0 ? this.#start(batch) : null;
        if (results) this.#handOn(done, results);
        else for (const f of done) f.release();
        if (!running) {
          // The hand-on may have queued frames (or freed cameras) that the take above could not see.
          batch = this.#takeBatch();
          running = batch.length > 0 ? this.#start(batch) : null;
        }
      }
    } finally {
      this.#active--;
    }
  }

  #handOn(batch: Frame[], results: Detection[][]): void {
    const doneNs = BigInt(Date.now()) * 1_000_000n;
    batch.forEach((f, k) => {
      const q = this.#queues.get(f.cameraId)!;
      q.inferred++;
      const latencyMs = Number(doneNs - f.wallClockNs) / 1e6;
      this.#latencies.push(latencyMs);
      if (this.#latencies.length > LATENCY_WINDOW) this.#latencies.shift();
      const result: FrameDetections = {
        cameraId: f.cameraId,
        frameSequence: f.sequence,
        timestampNs: f.wallClockNs,
        frameWidth: f.sourceWidth,
        frameHeight: f.sourceHeight,
        detections: results[k] ?? [],
        latencyMs,
      };
      try {
        this.#onDetections(result, f);
      } catch (err) {
        this.#onError(err);
      } finally {
        f.release();
      }
    });
  }

  /**
   * Starts a new measurement window for the per-camera longest shed streak (a streak in progress keeps counting
   * from its start): benchmarks read the longest streak of their window, not of the warm-up.
   */
  resetShedStreaks(): void {
    for (const q of this.#queues.values()) q.maxShedStreakMs = 0;
  }

  /** Per-camera counters; effective fps since the previous call. */
  stats(): { runs: number; cameras: Record<string, CameraInferenceStats>; latencyMs: { p50: number; p99: number } } {
    const now = performance.now();
    const dt = (now - this.#lastStatsAt) / 1000;
    this.#lastStatsAt = now;
    const cameras: Record<string, CameraInferenceStats> = {};
    for (const [id, q] of this.#queues) {
      const streakMs = this.#streakNs(q) / 1e6;
      cameras[id] = {
        priority: q.priority ?? this.#defaultPriority,
        submitted: q.submitted,
        inferred: q.inferred,
        shed: q.shed,
        maxShedStreakMs: Math.max(q.maxShedStreakMs, streakMs),
        shedStreakMs: streakMs,
        effectiveFps: dt > 0 ? (q.inferred - q.lastInferred) / dt : 0,
      };
      q.lastInferred = q.inferred;
    }
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
    return { runs: this.#runs, cameras, latencyMs: { p50: pct(0.5), p99: pct(0.99) } };
  }

  /**
   * Drops (releases) everything queued and resolves when the run in flight has finished (so the detector can be
   * closed after it); later submits are released at once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const q of this.#queues.values()) for (const f of q.frames.splice(0)) f.release();
    await Promise.all([...this.#pumps]);
  }
}
