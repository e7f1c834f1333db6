/**
 * Multi-object tracker, ByteTrack-style (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every
 * Detection Box", 2022), reimplemented here, with buffered-IoU matching (C-BIoU) for low analysis rates:
 *
 *  1. every live track predicts its box one step ahead with a constant-velocity model (an alpha-beta filter on
 *     centre, width and height; velocities per frame-sequence unit, so skipped frames are predicted further);
 *  2. high-score detections (>= highThreshold) are matched to confirmed tracks (active or lost) by buffered IoU;
 *  3. low-score detections (lowThreshold..highThreshold) are matched to the still unmatched confirmed tracks with
 *     a stricter plain IoU — ByteTrack's idea: occluded, low-scoring boxes keep their track alive instead of
 *     spawning new ids; lost tracks take part too, so an object the detector only ever scores low (a parked van)
 *     is found again after a missed frame instead of starting over;
 *  4. tentative tracks are matched to the remaining high-score detections and to remaining low-score ones that
 *     may start tracks (>= the class's start threshold);
 *  5. remaining detections at or above their class's start threshold start tentative tracks;
 *  6. a tentative track is confirmed after `minHits` consecutive matches if it has scored `newTrackThreshold`,
 *     otherwise after `persistHits`: persistence, not one high score, is the evidence for steady low scorers;
 *  7. unmatched active tracks become lost; a track lost for more than `maxLostFrames` frame-sequence units ends.
 *
 * Matching is class-aware (a person never continues a car's track), with groups of classes a detector confuses
 * on one object (car / truck / bus) treated as one, and an optimal linear assignment (Hungarian algorithm).
 *
 * Ids are per camera, increasing from 1, never reused. Events: `start` when a track is confirmed (its first
 * observations are reported in the start event's observation: the latest), `update` for each later match, `lost`
 * when a confirmed track misses its first frame, `end` when it is dropped (or on `flush`). Each track keeps its
 * best observation (highest score: box, frame sequence, timestamp) for snapshots and embeddings.
 */
import { expected } from '../errors.js';
import type { Box, Detection, DetectionBatch, TrackSummary } from '../types.js';
import { associate, iou } from './association.js';
import { resolveTrackerOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';

export { iou, bufferedIou } from './association.js';
export type { TrackerOptions } from './options.js';

export interface TrackObservation {
  box: Box;
  confidence: number;
  frameSequence: number;
  timestampNs: bigint;
}

/** A track matched in the current frame, as the rules engine and the store see it. */
export interface TrackedObject {
  trackId: number;
  classId: number;
  className: string;
  confidence: number;
  /** The detection's box (not the prediction) in source-frame pixels. */
  box: Box;
}

export type TrackEventType = 'start' | 'update' | 'lost' | 'end';

export interface TrackEvent {
  type: TrackEventType;
  cameraId: string;
  trackId: number;
  classId: number;
  className: string;
  frameSequence: number;
  timestampNs: bigint;
  /** The matched observation (start/update); absent for lost/end. */
  observation?: TrackObservation;
  /** For `end`: the finished track's summary (best observation included). */
  summary?: TrackSummary;
}

export interface TrackerFrameResult {
  cameraId: string;
  frameSequence: number;
  timestampNs: bigint;
  frameWidth: number;
  frameHeight: number;
  /** Confirmed tracks matched in this frame. */
  objects: TrackedObject[];
  /** Ids of tracks that ended in this frame. */
  endedTrackIds: number[];
  /** The input detections, copied, with `trackId` set where a confirmed track took them. */
  detections: Detection[];
  events: TrackEvent[];
}

type Phase = 'tentative' | 'active' | 'lost';

interface Track {
  id: number; // 0 while tentative
  /** The class with the highest total score among the track's matches (the reported class). */
  classId: number;
  className: string;
  /** Class-group key: a track continues over detections of the same key. */
  group: string;
  votes: Map<string, { classId: number; sum: number }>;
  phase: Phase;
  hits: number;
  // state: centre, size, and their velocities per sequence unit
  cx: number;
  cy: number;
  w: number;
  h: number;
  vx: number;
  vy: number;
  vw: number;
  vh: number;
  lastSeq: number;
  lastNs: bigint;
  startNs: bigint;
  best: TrackObservation;
  predicted: Box;
  /** Where the object was when it last moved (its box then, and when): stationary once it stays near it long enough. */
  anchor: Box;
  anchorNs: bigint;
}

/** Tracks the objects of one camera. */
export class Tracker {
  readonly cameraId: string;
  private readonly o: ResolvedTrackerOptions;
  private readonly groupOf: Map<string, string>;
  private tracks: Track[] = [];
  private nextId = 1;
  private lastSeq: number | null = null;
  private readonly stationaryNs: bigint;
  private readonly stationaryMaxLostNs: bigint;

  constructor(cameraId: string, options: TrackerOptions = {}) {
    if (typeof cameraId !== 'string' || cameraId === '') throw expected('a non-empty string', 'cameraId', cameraId);
    this.cameraId = cameraId;
    this.o = resolveTrackerOptions(options);
    this.stationaryNs = BigInt(Math.round(this.o.stationarySeconds * 1e9));
    this.stationaryMaxLostNs = BigInt(Math.round(this.o.stationaryMaxLostSeconds * 1e9));
    this.groupOf = new Map();
    this.o.classGroups.forEach((g, i) => {
      for (const n of g) this.groupOf.set(n, `group:${i}`);
    });
  }

  private newId(): number {
    const alloc = this.o.allocateId;
    if (!alloc) return this.nextId++;
    const id = alloc(this.cameraId);
    if (!(Number.isInteger(id) && id >= 1 && id <= 0x7fffffff)) throw expected('a positive int32 track id', 'allocateId()', id);
    return id;
  }

  private group(className: string): string {
    return this.groupOf.get(className) ?? `class:${className}`;
  }

  private startThreshold(className: string): number {
    return this.o.classThresholds[className] ?? this.o.startThreshold;
  }

  /** Matches a tentative track needs: few once it has scored high, more when only persistence speaks for it. */
  private hitsNeeded(t: Track): number {
    const fast = Math.max(this.o.newTrackThreshold, this.startThreshold(t.className));
    return t.best.confidence >= fast ? this.o.minHits : this.o.persistHits;
  }

  /** Number of live tracks (tentative, active and lost). */
  get size(): number {
    return this.tracks.length;
  }

  /**
   * Live tracks of objects that move (or have not been seen long enough to call still), and high-scoring new
   * ones: what needs frames at the full rate. Stationary objects (a parked car, a person standing) and low-score
   * tentative tracks stay tracked without it.
   */
  get moving(): number {
    let n = 0;
    for (const t of this.tracks) {
      // A tentative track that only persistence can confirm (it never scored high) is mostly detector flicker on
      // clutter; it confirms at whatever rate the camera runs and must not hold the camera at full rate meanwhile.
      if (t.phase === 'tentative' && this.hitsNeeded(t) > this.o.minHits) continue;
      if (!this.isStationary(t)) n++;
    }
    return n;
  }

  update(batch: DetectionBatch): TrackerFrameResult {
    if (batch.cameraId !== this.cameraId) throw expected(`camera "${this.cameraId}"`, 'batch.cameraId', batch.cameraId);
    const seq = batch.frameSequence;
    if (!Number.isInteger(seq)) throw expected('an integer', 'batch.frameSequence', seq);
    if (this.lastSeq !== null && seq <= this.lastSeq) {
      throw expected(`a frame sequence greater than ${this.lastSeq}`, 'batch.frameSequence', seq);
    }
    this.lastSeq = seq;
    const ns = batch.timestampNs;
    const events: TrackEvent[] = [];
    const o = this.o;

    for (const t of this.tracks) this.predict(t, seq);

    const outDets: Detection[] = batch.detections.map((d) => ({ ...d, box: { ...d.box } }));
    for (const d of outDets) delete d.trackId;
    const candidates = this.withoutGroupDuplicates(outDets.filter((d) => d.confidence >= o.lowThreshold));
    const high: Detection[] = [];
    const low: Detection[] = [];
    for (const d of candidates) (d.confidence >= o.highThreshold ? high : low).push(d);

    const confirmed = this.tracks.filter((t) => t.phase !== 'tentative');
    const tentative = this.tracks.filter((t) => t.phase === 'tentative');
    const compatible = (t: Track, d: Detection): boolean => t.group === this.group(d.className);

    // C-BIoU's cascade: a small buffer first, so close pairs are settled before the wider buffer, which reaches
    // the tracks whose object changed pace, gets a say.
    const s1a = associate(confirmed, high, o.matchIou, o.matchBuffer, compatible);
    const s1b = associate(s1a.tracksLeft, s1a.detsLeft, o.matchIou, o.wideMatchBuffer, compatible);
    const s1 = { pairs: [...s1a.pairs, ...s1b.pairs], tracksLeft: s1b.tracksLeft, detsLeft: s1b.detsLeft };
    const s2 = associate(s1.tracksLeft, low, o.lowMatchIou, 0, compatible);
    // Detection order, so that new ids follow the detector's output order.
    const left = new Set([...s1.detsLeft, ...s2.detsLeft]);
    const open = candidates.filter((d) => left.has(d) && (d.confidence >= o.highThreshold || d.confidence >= this.startThreshold(d.className)));
    const s3 = associate(tentative, open, o.tentativeMatchIou, o.matchBuffer, compatible);

    const objects: TrackedObject[] = [];
    const matched = new Set<Track>();
    const confirm = (t: Track, obs: TrackObservation): void => {
      t.phase = 'active';
      t.id = this.newId();
      events.push(this.event('start', t, seq, ns, obs));
    };
    const report = (t: Track, d: Detection): void => {
      d.trackId = t.id;
      objects.push({ trackId: t.id, classId: t.classId, className: t.className, confidence: d.confidence, box: { ...d.box } });
    };
    const apply = (t: Track, d: Detection): void => {
      matched.add(t);
      this.correct(t, d, seq, ns);
      const obs: TrackObservation = { box: { ...d.box }, confidence: d.confidence, frameSequence: seq, timestampNs: ns };
      if (t.phase === 'tentative') {
        if (t.hits >= this.hitsNeeded(t)) confirm(t, obs);
      } else {
        t.phase = 'active';
        events.push(this.event('update', t, seq, ns, obs));
      }
      if (t.phase === 'active') report(t, d);
    };
    for (const [t, d] of s1.pairs) apply(t, d);
    for (const [t, d] of s2.pairs) apply(t, d);
    // Confirmations are applied in detection order so new ids follow the detector's output order.
    const order = new Map<Detection, number>(outDets.map((d, i) => [d, i]));
    s3.pairs.sort((a, b) => order.get(a[1])! - order.get(b[1])!);
    for (const [t, d] of s3.pairs) apply(t, d);

    // New tentative tracks (or confirmed at once when one match is enough).
    for (const d of s3.detsLeft) {
      if (d.confidence < this.startThreshold(d.className)) continue;
      const t = this.create(d, seq, ns);
      this.tracks.push(t);
      matched.add(t);
      if (this.hitsNeeded(t) <= 1) {
        confirm(t, { box: { ...d.box }, confidence: d.confidence, frameSequence: seq, timestampNs: ns });
        report(t, d);
      }
    }

    const maxLostNs = o.maxLostSeconds === null ? null : BigInt(Math.round(o.maxLostSeconds * 1e9));
    // Unmatched: tentative tracks die silently, active ones become lost, lost ones end after maxLostFrames.
    const endedTrackIds: number[] = [];
    const keep: Track[] = [];
    for (const t of this.tracks) {
      if (matched.has(t)) {
        keep.push(t);
        continue;
      }
      if (t.phase === 'tentative') continue;
      if (t.phase === 'active') {
        t.phase = 'lost';
        events.push(this.event('lost', t, seq, ns));
      }
      // A stationary object is expected to go unseen between whole frames at a quiet camera's low analysis rate:
      // it ends only after stationaryMaxLostSeconds, however many frames went by.
      const ends = this.isStationary(t)
        ? ns - t.lastNs > this.stationaryMaxLostNs
        : seq - t.lastSeq > o.maxLostFrames || (maxLostNs !== null && ns - t.lastNs > maxLostNs);
      if (ends) {
        events.push(this.endEvent(t, seq, ns));
        endedTrackIds.push(t.id);
        continue;
      }
      keep.push(t);
    }
    this.tracks = keep;
    // Report in id order so consumers see a stable order.
    objects.sort((a, b) => a.trackId - b.trackId);
    return {
      cameraId: this.cameraId,
      frameSequence: seq,
      timestampNs: ns,
      frameWidth: batch.frameWidth,
      frameHeight: batch.frameHeight,
      objects,
      endedTrackIds,
      detections: outDets,
      events,
    };
  }

  /**
   * Of boxes of different classes of one class group that overlap by duplicateIou or more, keeps the
   * higher-scoring one: the detector's per-class NMS leaves both a "car" and a "truck" on one van.
   */
  private withoutGroupDuplicates(dets: Detection[]): Detection[] {
    if (this.o.classGroups.length === 0) return dets;
    const byScore = dets.filter((d) => this.groupOf.has(d.className)).sort((a, b) => b.confidence - a.confidence);
    const dropped = new Set<Detection>();
    for (let i = 0; i < byScore.length; i++) {
      const a = byScore[i]!;
      if (dropped.has(a)) continue;
      for (let j = i + 1; j < byScore.length; j++) {
        const b = byScore[j]!;
        if (dropped.has(b) || b.className === a.className || this.groupOf.get(b.className) !== this.groupOf.get(a.className)) continue;
        if (iou(a.box, b.box) >= this.o.duplicateIou) dropped.add(b);
      }
    }
    return dropped.size ? dets.filter((d) => !dropped.has(d)) : dets;
  }

  /** Ends every confirmed track (camera stopped); returns their end events. */
  /** The last frame sequence this tracker accepted (null before the first). */
  get lastSequence(): number | null {
    return this.lastSeq;
  }

  flush(timestampNs: bigint): TrackEvent[] {
    const seq = this.lastSeq ?? 0;
    const events = this.tracks.filter((t) => t.phase !== 'tentative').map((t) => this.endEvent(t, seq, timestampNs));
    this.tracks = [];
    return events;
  }

  /** Summaries of the confirmed live tracks (active and lost), in id order. */
  liveTracks(): TrackSummary[] {
    return this.tracks
      .filter((t) => t.phase !== 'tentative')
      .sort((a, b) => a.id - b.id)
      .map((t) => this.summary(t, null));
  }

  private create(d: Detection, seq: number, ns: bigint): Track {
    const b = d.box;
    const w = b.x2 - b.x1;
    const h = b.y2 - b.y1;
    return {
      id: 0,
      classId: d.classId,
      className: d.className,
      group: this.group(d.className),
      votes: new Map([[d.className, { classId: d.classId, sum: d.confidence }]]),
      phase: 'tentative',
      hits: 1,
      cx: b.x1 + w / 2,
      cy: b.y1 + h / 2,
      w,
      h,
      vx: 0,
      vy: 0,
      vw: 0,
      vh: 0,
      lastSeq: seq,
      lastNs: ns,
      startNs: ns,
      best: { box: { ...b }, confidence: d.confidence, frameSequence: seq, timestampNs: ns },
      predicted: { ...b },
      anchor: { ...b },
      anchorNs: ns,
    };
  }

  /** Stationary: matched within `stationaryIou` of where it last moved for at least `stationarySeconds`. */
  private isStationary(t: Track): boolean {
    return t.lastNs - t.anchorNs >= this.stationaryNs;
  }

  private predict(t: Track, seq: number): void {
    // Past maxPredictFrames the prediction stays put: people stop and turn, and a box extrapolated for seconds
    // ends up where the object never went (and a static object's jitter adds up to a drift).
    const dt = Math.min(seq - t.lastSeq, this.o.maxPredictFrames);
    const cx = t.cx + t.vx * dt;
    const cy = t.cy + t.vy * dt;
    const w = Math.max(1, t.w + t.vw * dt);
    const h = Math.max(1, t.h + t.vh * dt);
    t.predicted = { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
  }

  private correct(t: Track, d: Detection, seq: number, ns: bigint): void {
    const dt = Math.max(1, seq - t.lastSeq);
    const b = d.box;
    const mw = b.x2 - b.x1;
    const mh = b.y2 - b.y1;
    const mcx = b.x1 + mw / 2;
    const mcy = b.y1 + mh / 2;
    const p = t.predicted;
    const pcx = (p.x1 + p.x2) / 2;
    const pcy = (p.y1 + p.y2) / 2;
    const pw = p.x2 - p.x1;
    const ph = p.y2 - p.y1;
    const { alpha, beta } = this.o;
    if (t.hits === 1) {
      // Second observation: the velocity is the plain difference.
      t.vx = (mcx - t.cx) / dt;
      t.vy = (mcy - t.cy) / dt;
      t.vw = (mw - t.w) / dt;
      t.vh = (mh - t.h) / dt;
      t.cx = mcx;
      t.cy = mcy;
      t.w = mw;
      t.h = mh;
    } else {
      const rx = mcx - pcx;
      const ry = mcy - pcy;
      const rw = mw - pw;
      const rh = mh - ph;
      t.cx = pcx + alpha * rx;
      t.cy = pcy + alpha * ry;
      t.w = pw + alpha * rw;
      t.h = ph + alpha * rh;
      t.vx += (beta * rx) / dt;
      t.vy += (beta * ry) / dt;
      t.vw += (beta * rw) / dt;
      t.vh += (beta * rh) / dt;
    }
    t.hits++;
    // Only this class's total changed, so only it can overtake the reported class.
    const v = t.votes.get(d.className);
    if (v) v.sum += d.confidence;
    else t.votes.set(d.className, { classId: d.classId, sum: d.confidence });
    if (d.className !== t.className && t.votes.get(d.className)!.sum > t.votes.get(t.className)!.sum) {
      t.className = d.className;
      t.classId = d.classId;
    }
    t.lastSeq = seq;
    t.lastNs = ns;
    if (iou(b, t.anchor) < this.o.stationaryIou) {
      t.anchor = { ...b };
      t.anchorNs = ns;
    }
    if (d.confidence > t.best.confidence) {
      t.best = { box: { ...b }, confidence: d.confidence, frameSequence: seq, timestampNs: ns };
    }
  }

  private event(type: TrackEventType, t: Track, seq: number, ns: bigint, observation?: TrackObservation): TrackEvent {
    const e: TrackEvent = { type, cameraId: this.cameraId, trackId: t.id, classId: t.classId, className: t.className, frameSequence: seq, timestampNs: ns };
    if (observation) e.observation = observation;
    return e;
  }

  private endEvent(t: Track, seq: number, ns: bigint): TrackEvent {
    const e = this.event('end', t, seq, ns);
    e.summary = this.summary(t, t.lastNs);
    return e;
  }

  private summary(t: Track, endNs: bigint | null): TrackSummary {
    return {
      trackId: t.id,
      cameraId: this.cameraId,
      classId: t.classId,
      className: t.className,
      startNs: t.startNs,
      endNs,
      bestConfidence: t.best.confidence,
      bestBox: { ...t.best.box },
      bestFrameSequence: t.best.frameSequence,
      bestTimestampNs: t.best.timestampNs,
    };
  }
}

/** One tracker per camera, created on first use. */
export class TrackerRegistry {
  private readonly trackers = new Map<string, Tracker>();
  constructor(private readonly options: TrackerOptions = {}) {
    resolveTrackerOptions(options);
  }
  /**
   * A frame sequence at or below the camera's last one is a new pipeline run (a reconnected camera numbers its
   * frames from 0 again): the old run's tracks end (their events come first in the result) and a new tracker
   * starts. Detected here, not from the camera's state: frames of the old run may still be queued for inference
   * when the camera reconnects (found by bench/soak.ts restarting an RTSP server: every frame after a reconnect was
   * rejected until the new sequence passed the old one).
   */
  update(batch: DetectionBatch): TrackerFrameResult {
    let t = this.trackers.get(batch.cameraId);
    let ended: TrackEvent[] = [];
    if (t && t.lastSequence !== null && Number.isInteger(batch.frameSequence) && batch.frameSequence <= t.lastSequence) {
      ended = t.flush(batch.timestampNs);
      t = undefined;
    }
    if (!t) {
      t = new Tracker(batch.cameraId, this.options);
      this.trackers.set(batch.cameraId, t);
    }
    const result = t.update(batch);
    if (ended.length > 0) {
      result.events.unshift(...ended);
      // The rule engine forgets a track only through endedTrackIds: without these, every track alive at a reconnect
      // stayed in its per-track state for good (and kept a zone's presence alert raised).
      result.endedTrackIds.unshift(...ended.map((e) => e.trackId));
    }
    return result;
  }
  /** Ends a camera's tracks (camera stopped or removed) and forgets its tracker. */
  remove(cameraId: string, timestampNs: bigint): TrackEvent[] {
    const t = this.trackers.get(cameraId);
    if (!t) return [];
    this.trackers.delete(cameraId);
    return t.flush(timestampNs);
  }
  get(cameraId: string): Tracker | undefined {
    return this.trackers.get(cameraId);
  }
}
