/**
 * The frame path: one analysed frame's detections -> tracker (track ids) -> snapshots (best frame per track) ->
 * rules (alerts, pictured with this frame) -> store (bounded, durable) -> listeners (stream, queues) -> per-camera
 * hooks. The server and the tests drive the same object: `process(detections, frame)` per analysed frame,
 * `cameraStopped(id)` when a camera stops.
 *
 * Stages are narrow interfaces so each can be left out (no store in a replay, no snapshots when they are off).
 * Listeners run synchronously on the JS thread: they must hand work off (queues, promises), never block.
 */
import { EventEmitter } from 'node:events';
import type { Frame } from '../camera/frame.js';
import type { StoredSnapshot } from '../media/snapshots.js';
import type { AlertEvent, RuleDefinition } from '../rules/index.js';
import type { TrackEventData } from '../stream/events.js';
import { TrackerRegistry, type TrackEvent, type TrackerFrameResult, type TrackerOptions } from '../tracking/index.js';
import type { Alert, Box, DetectionBatch, TrackSummary } from '../types.js';

/** The rules stage: RuleService, or anything that evaluates tracked frames and reports alert transitions. */
export interface RuleStage {
  processFrame(frame: TrackerFrameResult): AlertEvent[];
  dropCamera(cameraId: string): AlertEvent[];
  onAlert(listener: (event: AlertEvent, rule: RuleDefinition | undefined) => void): () => void;
}

/** The storage stage: the detection store's bounded writer and its tracks collection. */
export interface DetectionSink {
  offer(batch: DetectionBatch): boolean;
  readonly tracks: { put(key: [string, number], summary: TrackSummary): Promise<unknown> };
}

/** The snapshot stage (src/media/snapshots.ts SnapshotService). */
export interface SnapshotStage {
  observe(result: TrackerFrameResult, frame: Frame): void;
  trackEvents(events: TrackEvent[]): void;
  alertRaised(alert: Alert, frame: Frame, box: Box | null): Promise<StoredSnapshot | null>;
}

/** What a frame hook sees after each analysed frame. */
export interface AnalysedFrame {
  /** The frame's detections with their track ids (what was offered to the store). */
  batch: DetectionBatch;
  tracked: TrackerFrameResult;
  /** Alert transitions this frame caused. */
  alerts: AlertEvent[];
}

/**
 * Per-camera policy after each analysed frame (motion-gate bypass while tracks are live, the adaptive analysis
 * rate, scheduler priorities). Hooks run in the order added, after the frame's outputs; a hook that throws is
 * reported through `onError` and does not stop the others.
 */
export interface FrameHook {
  /** `movingTracks`: the camera's live tracks that are not stationary (Tracker.moving). */
  onFrameAnalysed(cameraId: string, movingTracks: number, frame: AnalysedFrame): void;
  /** The camera stopped: forget its state. */
  onCameraStopped?(cameraId: string): void;
}

export interface FramePathEvents {
  /** Stored (offered) detections of a frame, with track ids. */
  detections: [batch: DetectionBatch];
  /** A track started or ended (per-frame updates travel in the detection batches). */
  track: [event: TrackEventData];
  /**
   * An alert transition. `snapshot`: for an alert raised by a frame this path analysed, the stored picture of that
   * frame (null when it could not be made within `alertSnapshotWaitMs`); null for other transitions.
   */
  alert: [event: AlertEvent, rule: RuleDefinition | undefined, snapshot: Promise<StoredSnapshot | null> | null];
}

export interface FramePathOptions {
  rules?: RuleStage | null;
  store?: DetectionSink | null;
  snapshots?: SnapshotStage | null;
  tracker?: TrackerOptions;
  /** Longest wait for an alert's picture before its listeners get null (default 3000 ms). */
  alertSnapshotWaitMs?: number;
  onError?: (err: unknown) => void;
}

export interface FramePathStats {
  framesAnalysed: number;
  /** Detections the store accepted. */
  detections: number;
  trackWriteErrors: number;
}

/** Smallest box holding the alert's tracked objects in this frame, or null. */
export function alertBox(alert: Alert, tracked: TrackerFrameResult): Box | null {
  const boxes = tracked.objects.filter((o) => alert.trackIds.includes(o.trackId)).map((o) => o.box);
  if (boxes.length === 0) return null;
  return {
    x1: Math.min(...boxes.map((b) => b.x1)),
    y1: Math.min(...boxes.map((b) => b.y1)),
    x2: Math.max(...boxes.map((b) => b.x2)),
    y2: Math.max(...boxes.map((b) => b.y2)),
  };
}

/** A tracker event as the stream and the queues carry it; null for per-frame updates. */
export function trackEventData(e: TrackEvent): TrackEventData | null {
  if (e.type === 'end' && e.summary) return { phase: 'end', track: e.summary, timestampNs: e.timestampNs };
  if (e.type === 'start' && e.observation) {
    const o = e.observation;
    return {
      phase: 'start',
      track: {
        trackId: e.trackId, cameraId: e.cameraId, classId: e.classId, className: e.className, startNs: e.timestampNs, endNs: null,
        bestConfidence: o.confidence, bestBox: o.box, bestFrameSequence: o.frameSequence, bestTimestampNs: o.timestampNs,
      },
      timestampNs: e.timestampNs,
      box: o.box,
      confidence: o.confidence,
    };
  }
  return null;
}

export class FramePath extends EventEmitter<FramePathEvents> {
  readonly trackers: TrackerRegistry;
  readonly #rules: RuleStage | null;
  readonly #store: DetectionSink | null;
  readonly #snapshots: SnapshotStage | null;
  readonly #hooks: FrameHook[] = [];
  readonly #waitMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #unsubscribe: () => void;
  /** The frame the rules are evaluating: an alert raised now is pictured with it. */
  #current: { frame: Frame; tracked: TrackerFrameResult } | null = null;
  #stats: FramePathStats = { framesAnalysed: 0, detections: 0, trackWriteErrors: 0 };

  constructor(options: FramePathOptions = {}) {
    super();
    this.trackers = new TrackerRegistry(options.tracker ?? {});
    this.#rules = options.rules ?? null;
    this.#store = options.store ?? null;
    this.#snapshots = options.snapshots ?? null;
    this.#waitMs = options.alertSnapshotWaitMs ?? 3000;
    this.#onError = options.onError ?? ((err) => console.error(err));
    // Every alert transition (frames, camera stops, API acknowledgements) leaves through this one listener.
    this.#unsubscribe = this.#rules?.onAlert((ev, rule) => this.#alert(ev, rule)) ?? (() => undefined);
  }

  /** Adds a per-camera hook; returns its removal. */
  addHook(hook: FrameHook): () => void {
    this.#hooks.push(hook);
    return () => {
      const i = this.#hooks.indexOf(hook);
      if (i >= 0) this.#hooks.splice(i, 1);
    };
  }

  /**
   * One analysed frame. `frame` (still leased by the caller during the call) is what snapshots capture; null when
   * there is no decoded frame (replays).
   */
  process(detections: DetectionBatch, frame: Frame | null): AnalysedFrame {
    this.#stats.framesAnalysed++;
    const batch: DetectionBatch = {
      cameraId: detections.cameraId,
      frameSequence: detections.frameSequence,
      timestampNs: detections.timestampNs,
      frameWidth: detections.frameWidth,
      frameHeight: detections.frameHeight,
      detections: detections.detections,
    };
    const tracked = this.trackers.update(batch);
    if (frame) this.#snapshots?.observe(tracked, frame);
    this.#trackEvents(tracked.events);
    let alerts: AlertEvent[] = [];
    if (this.#rules) {
      this.#current = frame ? { frame, tracked } : null;
      try {
        alerts = this.#rules.processFrame(tracked);
      } finally {
        this.#current = null;
      }
    }
    const out: DetectionBatch = { ...batch, detections: tracked.detections };
    if (this.#store?.offer(out)) this.#stats.detections += out.detections.length;
    this.emit('detections', out);
    const analysed: AnalysedFrame = { batch: out, tracked, alerts };
    // Hooks get the moving tracks: a stationary object needs neither full-rate analysis nor whole frames.
    const live = this.trackers.get(batch.cameraId)?.moving ?? 0;
    for (const h of this.#hooks) {
      try {
        h.onFrameAnalysed(batch.cameraId, live, analysed);
      } catch (err) {
        this.#onError(err);
      }
    }
    return analysed;
  }

  /** A camera stopped or failed: its open condition alerts clear, its tracks end, its hooks forget it. */
  cameraStopped(cameraId: string, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): void {
    this.#rules?.dropCamera(cameraId);
    this.#trackEvents(this.trackers.remove(cameraId, nowNs));
    for (const h of this.#hooks) {
      try {
        h.onCameraStopped?.(cameraId);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  stats(): FramePathStats {
    return { ...this.#stats };
  }

  /** Stops listening to the rules. Idempotent. */
  close(): void {
    this.#unsubscribe();
    this.removeAllListeners();
  }

  // Ended tracks: their summary into the store's tracks collection, their best frame to the snapshot service.
  #trackEvents(events: TrackEvent[]): void {
    for (const e of events) {
      if (e.type === 'end' && e.summary && this.#store) {
        this.#store.tracks.put([e.summary.cameraId, e.summary.trackId], e.summary).catch(() => this.#stats.trackWriteErrors++);
      }
      const data = trackEventData(e);
      if (data) this.emit('track', data);
    }
    this.#snapshots?.trackEvents(events);
  }

  #alert(ev: AlertEvent, rule: RuleDefinition | undefined): void {
    const at = this.#current;
    let snapshot: Promise<StoredSnapshot | null> | null = null;
    if (ev.type === 'raised' && this.#snapshots && at && at.frame.cameraId === ev.alert.cameraId) {
      // The picture is encoded natively, off this thread; listeners may wait for it, never for long.
      const snap = this.#snapshots.alertRaised(ev.alert, at.frame, alertBox(ev.alert, at.tracked)).catch(() => null);
      const timeout = new Promise<null>((resolve) => setTimeout(resolve, this.#waitMs, null).unref());
      snapshot = Promise.race([snap, timeout]);
    }
    this.emit('alert', ev, rule, snapshot);
  }
}
