/**
 * Adaptive analysis rate: a quiet camera is analysed at a low rate when its motion gate lets frames through, and
 * at its full detect rate while it has live tracks; `holdMs` after its last track ended it falls back. The policy
 * owns no camera: it calls the setter it is given (the server passes Camera.setAnalysisRate) only when a camera's
 * rate changes, and, when given one, a priority setter for the inference scheduler ('tracking' while the rate is
 * full, 'motion' while motion was seen within the hold, else 'idle').
 *
 * Time comes from `now` (ms, injectable); hold expiry is checked on every event and by tick(), which the caller
 * runs every few hundred ms (start() does it with a timer) so a camera whose frames stopped still falls back.
 */
import { expected } from '../errors.js';
import type { CameraPriority } from './scheduler.js';

export interface RatePolicyOptions {
  /** Applies a camera's analysis rate (fps; 0 = no limit beyond detectFps, as Camera.setAnalysisRate). */
  setRate: (cameraId: string, fps: number) => void;
  /** Optional: tells the inference scheduler what the camera's frames are for. */
  setPriority?: ((cameraId: string, priority: CameraPriority) => void) | null;
  /** How long the full rate holds after the last live track ended, ms (default 3000). */
  holdMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

export interface RatePolicyCamera {
  /** The camera's configured detect rate (0 = every frame). */
  detectFps: number;
  /** The rate while it has no live tracks (default 1; capped at detectFps). */
  quietFps?: number;
}

export interface CameraRateStats {
  detectFps: number;
  quietFps: number;
  /** The rate last applied. */
  rateFps: number;
  mode: 'full' | 'quiet';
  priority: CameraPriority;
  liveTracks: number;
  /** Changes to the full rate, and back to the quiet one. */
  rises: number;
  falls: number;
}

interface CameraState {
  detectFps: number;
  quietFps: number;
  mode: 'full' | 'quiet';
  priority: CameraPriority;
  liveTracks: number;
  /** When the live track count last became 0 (ms), while in full mode. */
  quietSince: number | null;
  lastMotion: number | null;
  rises: number;
  falls: number;
}

export class AnalysisRatePolicy {
  #cameras = new Map<string, CameraState>();
  #setRate: RatePolicyOptions['setRate'];
  #setPriority: ((cameraId: string, priority: CameraPriority) => void) | null;
  #holdMs: number;
  #now: () => number;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: RatePolicyOptions) {
    if (typeof options?.setRate !== 'function') throw expected('a function', 'ratePolicy.setRate', options?.setRate);
    const sp = options.setPriority ?? null;
    if (sp !== null && typeof sp !== 'function') throw expected('a function or null', 'ratePolicy.setPriority', sp);
    const hold = options.holdMs ?? 3000;
    if (typeof hold !== 'number' || !(hold >= 0 && Number.isFinite(hold))) throw expected('a finite number >= 0', 'ratePolicy.holdMs', hold);
    const now = options.now ?? (() => performance.now());
    if (typeof now !== 'function') throw expected('a function', 'ratePolicy.now', now);
    this.#setRate = options.setRate;
    this.#setPriority = sp;
    this.#holdMs = hold;
    this.#now = now;
  }

  /** Starts a camera at its quiet rate (applied at once). Adding a camera twice replaces its settings. */
  addCamera(cameraId: string, camera: RatePolicyCamera): void {
    if (typeof cameraId !== 'string' || cameraId === '') throw expected('a non-empty string', 'cameraId', cameraId);
    const d = camera?.detectFps;
    if (typeof d !== 'number' || !(d >= 0 && Number.isFinite(d))) throw expected('a finite number >= 0', `${cameraId}.detectFps`, d);
    const q = camera.quietFps ?? 1;
    if (typeof q !== 'number' || !(q > 0 && Number.isFinite(q))) throw expected('a finite number > 0', `${cameraId}.quietFps`, q);
    const s: CameraState = {
      detectFps: d, quietFps: d > 0 ? Math.min(q, d) : q, mode: 'quiet', priority: 'idle', liveTracks: 0, quietSince: null,
      lastMotion: null, rises: 0, falls: 0,
    };
    this.#cameras.set(cameraId, s);
    this.#setRate(cameraId, s.quietFps);
    this.#setPriority?.(cameraId, 'idle');
  }

  removeCamera(cameraId: string): void {
    this.#cameras.delete(cameraId);
  }

  #camera(cameraId: string): CameraState {
    const s = this.#cameras.get(cameraId);
    if (!s) throw expected('a camera added to the rate policy', 'cameraId', cameraId);
    return s;
  }

  /** The camera's live (confirmed) track count, after each analysed frame or whenever it changes. */
  tracks(cameraId: string, liveTracks: number): void {
    if (!Number.isInteger(liveTracks) || liveTracks < 0) throw expected('an integer >= 0', 'liveTracks', liveTracks);
    const s = this.#camera(cameraId);
    const now = this.#now();
    s.liveTracks = liveTracks;
    if (liveTracks > 0) {
      s.quietSince = null;
      if (s.mode === 'quiet') {
        s.mode = 'full';
        s.rises++;
        this.#setRate(cameraId, s.detectFps);
      }
    } else if (s.mode === 'full' && s.quietSince === null) {
      s.quietSince = now;
    }
    this.#evaluate(cameraId, s, now);
  }

  /** The camera's motion gate saw motion (a frame passed it). */
  motion(cameraId: string): void {
    const s = this.#camera(cameraId);
    const now = this.#now();
    s.lastMotion = now;
    this.#evaluate(cameraId, s, now);
  }

  /** Applies the falls whose hold has run out. */
  tick(): void {
    const now = this.#now();
    for (const [id, s] of this.#cameras) this.#evaluate(id, s, now);
  }

  #evaluate(cameraId: string, s: CameraState, now: number): void {
    if (s.mode === 'full' && s.liveTracks === 0 && s.quietSince !== null && now - s.quietSince >= this.#holdMs) {
      s.mode = 'quiet';
      s.quietSince = null;
      s.falls++;
      this.#setRate(cameraId, s.quietFps);
    }
    const priority: CameraPriority =
      s.mode === 'full' ? 'tracking' : s.lastMotion !== null && now - s.lastMotion < this.#holdMs ? 'motion' : 'idle';
    if (priority !== s.priority) {
      s.priority = priority;
      this.#setPriority?.(cameraId, priority);
    }
  }

  /** Runs tick() every `intervalMs` on a timer that does not keep the process alive; close() stops it. */
  start(intervalMs = 250): void {
    if (!(typeof intervalMs === 'number' && intervalMs > 0)) throw expected('a number > 0', 'intervalMs', intervalMs);
    if (this.#timer) return;
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref?.();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  stats(): { cameras: Record<string, CameraRateStats>; changes: number; full: number } {
    const cameras: Record<string, CameraRateStats> = {};
    let changes = 0;
    let full = 0;
    for (const [id, s] of this.#cameras) {
      cameras[id] = {
        detectFps: s.detectFps, quietFps: s.quietFps, rateFps: s.mode === 'full' ? s.detectFps : s.quietFps, mode: s.mode,
        priority: s.priority, liveTracks: s.liveTracks, rises: s.rises, falls: s.falls,
      };
      changes += s.rises + s.falls;
      if (s.mode === 'full') full++;
    }
    return { cameras, changes, full };
  }
}
