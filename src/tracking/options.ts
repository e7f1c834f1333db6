/**
 * Tracker options, their defaults and validation. Thresholds can follow the detector's own score threshold: a
 * fixed new-track score of 0.6 never tracks what a detector reports steadily at 0.45 (a parked car, a van seen
 * side-on), however long it stays. With `detectorThreshold` set, anything the detector reports may start a
 * tentative track, and persistence (consecutive matches) rather than a single high score confirms it.
 */
import { expected } from '../errors.js';

export interface TrackerOptions {
  /**
   * The score threshold the detector already applies (its `scoreThreshold`). When set, the defaults of
   * `highThreshold`, `newTrackThreshold` and `startThreshold` follow it (see those); null keeps them absolute.
   */
  detectorThreshold?: number | null;
  /** Detections at or above this score take part in the first association stage. Default 0.5, or detectorThreshold + 0.1. */
  highThreshold?: number;
  /** Detections below this score are ignored entirely. Default 0.1. */
  lowThreshold?: number;
  /**
   * A tentative track that has seen a score at or above this is confirmed after `minHits` matches.
   * Default 0.6, or detectorThreshold + 0.2.
   */
  newTrackThreshold?: number;
  /**
   * Unmatched detections at or above this score start a tentative track; one that never reaches
   * `newTrackThreshold` is confirmed after `persistHits` consecutive matches. Default: detectorThreshold, or
   * newTrackThreshold when that is null (only high scores start tracks).
   */
  startThreshold?: number;
  /** Class name -> start threshold for that class, overriding `startThreshold` (e.g. to keep a noisy class out). */
  classThresholds?: Record<string, number>;
  /** Minimum IoU for a high-score match (buffered by `matchBuffer`). Default 0.2 (ByteTrack's 0.8 cost). */
  matchIou?: number;
  /** Minimum plain IoU for a low-score match (active or lost tracks). Default 0.5. */
  lowMatchIou?: number;
  /** Minimum IoU for a tentative track's next match (buffered by `matchBuffer`). Default 0.3. */
  tentativeMatchIou?: number;
  /**
   * Buffer of the buffered IoU used for high-score and tentative matches (C-BIoU), as a share of the box size
   * added on every side. Default 0.3, the paper's first-stage buffer.
   */
  matchBuffer?: number;
  /**
   * Buffer of a second high-score stage for the tracks and detections the first left unmatched (C-BIoU's cascade).
   * Default 0.5, the paper's second-stage buffer.
   */
  wideMatchBuffer?: number;
  /**
   * A track's predicted box moves with its velocity for at most this many frame-sequence units after its last
   * match, then stays there. Default 5.
   */
  maxPredictFrames?: number;
  /** Matches needed before a track started by a high score (>= newTrackThreshold) is confirmed. Default 2. */
  minHits?: number;
  /** Consecutive matches needed before a track that never scored newTrackThreshold is confirmed. Default 5. */
  persistHits?: number;
  /**
   * Classes that a detector confuses with each other on the same object (a van is "car" one frame and "truck" the
   * next, often both in one frame): a track continues over any class of its group, reports the class with the
   * highest total score so far, and of two boxes of different classes of one group overlapping by `duplicateIou`
   * or more, only the higher-scoring one is tracked. Default [['car', 'truck', 'bus']].
   */
  classGroups?: string[][];
  /** IoU at which two boxes of one class group are one object. Default 0.7. */
  duplicateIou?: number;
  /** A lost track ends when it has not been matched for more than this many frame-sequence units. Default 30. */
  maxLostFrames?: number;
  /**
   * Also end a lost track unmatched for more than this many seconds of frame time (for pipelines whose sequence
   * numbers jump, e.g. behind a detect-fps cap). Default: no time limit.
   */
  maxLostSeconds?: number | null;
  /**
   * A track is stationary once it has stayed within `stationaryIou` of where it last moved for this many seconds of
   * frame time (default 3); it moves again when a match falls below that IoU. Stationary tracks do not count as
   * `moving` (cameras drop to their quiet analysis rate) and end only after `stationaryMaxLostSeconds`.
   */
  stationarySeconds?: number;
  /** Default 0.7. */
  stationaryIou?: number;
  /** A stationary track unmatched for longer than this (seconds of frame time) ends. Default 120. */
  stationaryMaxLostSeconds?: number;
  /** Filter gains: how much of the innovation goes into position (alpha) and velocity (beta). Defaults 0.6 / 0.3. */
  alpha?: number;
  beta?: number;
  /**
   * Hands out the id of each newly confirmed track (a positive int32). Default: 1, 2, 3... per tracker, which
   * repeats after a restart; the server passes an allocator persisted in the store so ids stay unique per camera.
   */
  allocateId?: ((cameraId: string) => number) | null;
}

/** The options with every default resolved. */
export type ResolvedTrackerOptions = Required<Omit<TrackerOptions, 'detectorThreshold'>> & { detectorThreshold: number | null };

const HIGH_MARGIN = 0.1;
const NEW_TRACK_MARGIN = 0.2;

const unit = (v: unknown, name: string): void => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw expected('a number from 0 to 1', `tracker.${name}`, v);
};

export function resolveTrackerOptions(o: TrackerOptions): ResolvedTrackerOptions {
  const det = o.detectorThreshold ?? null;
  if (det !== null) unit(det, 'detectorThreshold');
  const highThreshold = o.highThreshold ?? (det === null ? 0.5 : Math.min(1, det + HIGH_MARGIN));
  const newTrackThreshold = o.newTrackThreshold ?? (det === null ? 0.6 : Math.min(1, det + NEW_TRACK_MARGIN));
  const r: ResolvedTrackerOptions = {
    detectorThreshold: det,
    highThreshold,
    lowThreshold: o.lowThreshold ?? 0.1,
    newTrackThreshold,
    startThreshold: o.startThreshold ?? det ?? newTrackThreshold,
    classThresholds: o.classThresholds ?? {},
    matchIou: o.matchIou ?? 0.2,
    lowMatchIou: o.lowMatchIou ?? 0.5,
    tentativeMatchIou: o.tentativeMatchIou ?? 0.3,
    matchBuffer: o.matchBuffer ?? 0.3,
    wideMatchBuffer: o.wideMatchBuffer ?? 0.5,
    maxPredictFrames: o.maxPredictFrames ?? 5,
    minHits: o.minHits ?? 2,
    persistHits: o.persistHits ?? 5,
    classGroups: o.classGroups ?? [['car', 'truck', 'bus']],
    duplicateIou: o.duplicateIou ?? 0.7,
    maxLostFrames: o.maxLostFrames ?? 30,
    maxLostSeconds: o.maxLostSeconds ?? null,
    stationarySeconds: o.stationarySeconds ?? 3,
    stationaryIou: o.stationaryIou ?? 0.7,
    stationaryMaxLostSeconds: o.stationaryMaxLostSeconds ?? 120,
    alpha: o.alpha ?? 0.6,
    beta: o.beta ?? 0.3,
    allocateId: o.allocateId ?? null,
  };
  for (const k of ['stationarySeconds', 'stationaryMaxLostSeconds'] as const) {
    if (typeof r[k] !== 'number' || !(r[k] > 0 && Number.isFinite(r[k]))) throw expected('a positive number of seconds', `tracker.${k}`, r[k]);
  }
  for (const k of ['highThreshold', 'lowThreshold', 'newTrackThreshold', 'startThreshold', 'matchIou', 'lowMatchIou', 'tentativeMatchIou', 'duplicateIou', 'stationaryIou', 'alpha', 'beta'] as const) {
    unit(r[k], k);
  }
  for (const k of ['matchBuffer', 'wideMatchBuffer'] as const) {
    if (typeof r[k] !== 'number' || !(r[k] >= 0 && r[k] <= 2)) throw expected('a number from 0 to 2', `tracker.${k}`, r[k]);
  }
  if (r.wideMatchBuffer < r.matchBuffer) throw expected(`a number >= matchBuffer (${r.matchBuffer})`, 'tracker.wideMatchBuffer', r.wideMatchBuffer);
  if (!Number.isInteger(r.maxPredictFrames) || r.maxPredictFrames < 0) throw expected('an integer >= 0', 'tracker.maxPredictFrames', r.maxPredictFrames);
  if (!Number.isInteger(r.minHits) || r.minHits < 1) throw expected('an integer >= 1', 'tracker.minHits', r.minHits);
  if (!Number.isInteger(r.persistHits) || r.persistHits < r.minHits) throw expected(`an integer >= minHits (${r.minHits})`, 'tracker.persistHits', r.persistHits);
  if (!Number.isInteger(r.maxLostFrames) || r.maxLostFrames < 0) throw expected('an integer >= 0', 'tracker.maxLostFrames', r.maxLostFrames);
  if (r.maxLostSeconds !== null && !(typeof r.maxLostSeconds === 'number' && r.maxLostSeconds >= 0)) throw expected('a number >= 0 or null', 'tracker.maxLostSeconds', r.maxLostSeconds);
  if (r.allocateId !== null && typeof r.allocateId !== 'function') throw expected('a function or null', 'tracker.allocateId', r.allocateId);
  if (r.lowThreshold > r.highThreshold) throw expected(`a number <= highThreshold (${r.highThreshold})`, 'tracker.lowThreshold', r.lowThreshold);
  if (typeof r.classThresholds !== 'object' || r.classThresholds === null || Array.isArray(r.classThresholds)) {
    throw expected('an object of class name -> threshold', 'tracker.classThresholds', r.classThresholds);
  }
  for (const [name, t] of Object.entries(r.classThresholds)) unit(t, `classThresholds.${name}`);
  if (!Array.isArray(r.classGroups)) throw expected('an array of arrays of class names', 'tracker.classGroups', r.classGroups);
  const grouped = new Set<string>();
  r.classGroups.forEach((g, i) => {
    if (!Array.isArray(g) || g.length === 0 || !g.every((n) => typeof n === 'string' && n !== '')) {
      throw expected('a non-empty array of class names', `tracker.classGroups[${i}]`, g);
    }
    for (const n of g) {
      if (grouped.has(n)) throw expected('a class name in one group only', `tracker.classGroups[${i}]`, n);
      grouped.add(n);
    }
  });
  return r;
}
