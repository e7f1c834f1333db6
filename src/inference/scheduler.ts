/**
 * Inference scheduling across cameras. Each camera has a bounded queue of ready frames (its detect rate is already
 * applied natively, before conversion); when the detector is free, one session.run takes the oldest frame of up to
 * `maxBatch` cameras (round-robin, so a busy camera cannot starve the others). When inference falls behind, a
 * camera's queue overflows and its oldest frame is shed — counted, and visible as that camera's effective fps.
 * Frames are released to their pool as soon as the detections of the run that read them have been handed on.
 */
import type { Frame } from '../camera/frame.js';
import type { Detection, DetectionBatch } from '../types.js';
import type { DetectorInput } from './detector.js';

export interface DetectorLike {
  detect(inputs: DetectorInput[]): Promise<Detection[][]>;
}

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
   * Called on the JS thread with each frame's detections, in completion order. `frame` is still leased during the
   * call (so its decoded source can be captured for snapshots) and released right after it returns.
   */
  onDetections: (result: FrameDetections, frame: Frame) => void;
  onError?: (err: unknown) => void;
}

export interface CameraInferenceStats {
  submitted: number;
  inferred: number;
  shed: number;
  /** Inferred frames per second over the last stats() interval. */
  effectiveFps: number;
}

interface CameraQueue {
  frames: Frame[];
  submitted: number;
  inferred: number;
  shed: number;
  lastInferred: number;
}

const LATENCY_WINDOW = 1024;

export class InferenceScheduler {
  #detector: DetectorLike;
  #queues = new Map<string, CameraQueue>();
  #order: string[] = [];
  #next = 0;
  #running = false;
  #pumping: Promise<void> = Promise.resolve();
  #closed = false;
  #queuePerCamera: number;
  #maxBatch: number;
  #onDetections: SchedulerOptions['onDetections'];
  #onError: (err: unknown) => void;
  #runs = 0;
  #latencies: number[] = [];
  #lastStatsAt = performance.now();

  constructor(detector: DetectorLike, options: SchedulerOptions) {
    this.#detector = detector;
    this.#queuePerCamera = options.queuePerCamera ?? 2;
    this.#maxBatch = options.maxBatch ?? 4;
    this.#onDetections = options.onDetections;
    this.#onError = options.onError ?? ((err) => console.error(err));
  }

  /** Takes ownership of `frame` (it is released after inference, or when shed). */
  submit(frame: Frame): void {
    if (this.#closed) {
      frame.release();
      return;
    }
    let q = this.#queues.get(frame.cameraId);
    if (!q) {
      q = { frames: [], submitted: 0, inferred: 0, shed: 0, lastInferred: 0 };
      this.#queues.set(frame.cameraId, q);
      this.#order.push(frame.cameraId);
    }
    q.submitted++;
    q.frames.push(frame);
    while (q.frames.length > this.#queuePerCamera) {
      q.frames.shift()!.release();
      q.shed++;
    }
    if (!this.#running) this.#pumping = this.#pump();
  }

  /** Oldest frame of up to maxBatch cameras, round-robin from where the last batch stopped. */
  #takeBatch(): Frame[] {
    const batch: Frame[] = [];
    const n = this.#order.length;
    const start = n ? this.#next % n : 0;
    for (let i = 0; i < n && batch.length < this.#maxBatch; i++) {
      const id = this.#order[(start + i) % n]!;
      const f = this.#queues.get(id)!.frames.shift();
      if (f) {
        batch.push(f);
        // The next batch starts after the last camera served (taken modulo the camera count then).
        this.#next = start + i + 1;
      }
    }
    return batch;
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      for (;;) {
        const batch = this.#takeBatch();
        if (batch.length === 0) return;
        let results: Detection[][];
        try {
          results = await this.#detector.detect(
            batch.map((f) => ({
              tensor: f.tensor,
              letterbox: { scale: f.scale, padX: f.padX, padY: f.padY, sourceWidth: f.sourceWidth, sourceHeight: f.sourceHeight },
            })),
          );
        } catch (err) {
          for (const f of batch) f.release();
          this.#onError(err);
          continue;
        } finally {
          this.#runs++;
        }
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
    } finally {
      this.#running = false;
    }
  }

  /** Per-camera counters; effective fps since the previous call. */
  stats(): { runs: number; cameras: Record<string, CameraInferenceStats>; latencyMs: { p50: number; p99: number } } {
    const now = performance.now();
    const dt = (now - this.#lastStatsAt) / 1000;
    this.#lastStatsAt = now;
    const cameras: Record<string, CameraInferenceStats> = {};
    for (const [id, q] of this.#queues) {
      cameras[id] = { submitted: q.submitted, inferred: q.inferred, shed: q.shed, effectiveFps: dt > 0 ? (q.inferred - q.lastInferred) / dt : 0 };
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
    await this.#pumping;
  }
}
