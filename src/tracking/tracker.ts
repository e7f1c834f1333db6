/**
 * Multi-object tracker, ByteTrack-style (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every
 * Detection Box", 2022), reimplemented here:
 *
 *  1. every live track predicts its box one step ahead with a constant-velocity model (an alpha-beta filter on
 *     centre, width and height; velocities per frame-sequence unit, so skipped frames are predicted further);
 *  2. high-score detections (>= highThreshold) are matched to confirmed tracks (active or lost) by IoU;
 *  3. low-score detections (lowThreshold..highThreshold) are matched to the still unmatched *active* tracks only,
 *     with a stricter IoU — this is ByteTrack's idea: occluded, low-scoring boxes keep their track alive instead of
 *     spawning new ids;
 *  4. tentative tracks (fewer than `minHits` matches) are matched to the remaining high-score detections;
 *  5. remaining high-score detections with score >= newTrackThreshold start tentative tracks;
 *  6. unmatched active tracks become lost; a track lost for more than `maxLostFrames` frame-sequence units ends.
 *
 * Matching is class-aware (a person never continues a car's track) and an optimal linear assignment on 1 - IoU
 * (Hungarian algorithm), as ByteTrack does with its LAP solver.
 *
 * Ids are per camera, increasing from 1, never reused. Events: `start` when a track is confirmed (its first
 * `minHits` observations are reported in the start event's observation: the latest), `update` for each later
 * match, `lost` when a confirmed track misses its first frame, `end` when it is dropped (or on `flush`). Each track
 * keeps its best observation (highest score: box, frame sequence, timestamp) for snapshots and embeddings.
 */
import { expected } from '../errors.js';
import type { Box, Detection, DetectionBatch, TrackSummary } from '../types.js';

export interface TrackerOptions {
  /** Detections at or above this score take part in the first association stage. Default 0.5. */
  highThreshold?: number;
  /** Detections below this score are ignored entirely. Default 0.1. */
  lowThreshold?: number;
  /** Unmatched high-score detections at or above this score start a new (tentative) track. Default 0.6. */
  newTrackThreshold?: number;
  /** Minimum IoU for a high-score match. Default 0.2 (ByteTrack's 0.8 cost). */
  matchIou?: number;
  /** Minimum IoU for a low-score match. Default 0.5. */
  lowMatchIou?: number;
  /** Minimum IoU for a tentative track's second match. Default 0.3. */
  tentativeMatchIou?: number;
  /** Matches needed before a track is confirmed and reported. Default 2. */
  minHits?: number;
  /** A lost track ends when it has not been matched for more than this many frame-sequence units. Default 30. */
  maxLostFrames?: number;
  /**
   * Also end a lost track unmatched for more than this many seconds of frame time (for pipelines whose sequence
   * numbers jump, e.g. behind a detect-fps cap). Default: no time limit.
   */
  maxLostSeconds?: number | null;
  /** Filter gains: how much of the innovation goes into position (alpha) and velocity (beta). Defaults 0.6 / 0.3. */
  alpha?: number;
  beta?: number;
  /**
   * Hands out the id of each newly confirmed track (a positive int32). Default: 1, 2, 3... per tracker, which
   * repeats after a restart; the server passes an allocator persisted in the store so ids stay unique per camera.
   */
  allocateId?: ((cameraId: string) => number) | null;
}

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
  classId: number;
  className: string;
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
}

const DEFAULTS: Required<TrackerOptions> = {
  highThreshold: 0.5,
  lowThreshold: 0.1,
  newTrackThreshold: 0.6,
  matchIou: 0.2,
  lowMatchIou: 0.5,
  tentativeMatchIou: 0.3,
  minHits: 2,
  maxLostFrames: 30,
  maxLostSeconds: null,
  allocateId: null,
  alpha: 0.6,
  beta: 0.3,
};

export function iou(a: Box, b: Box): number {
  const ix = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const iy = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

function validateOptions(o: TrackerOptions): Required<TrackerOptions> {
  const r = { ...DEFAULTS, ...o };
  for (const k of ['highThreshold', 'lowThreshold', 'newTrackThreshold', 'matchIou', 'lowMatchIou', 'tentativeMatchIou', 'alpha', 'beta'] as const) {
    const v = r[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw expected('a number from 0 to 1', `tracker.${k}`, v);
  }
  if (!Number.isInteger(r.minHits) || r.minHits < 1) throw expected('an integer >= 1', 'tracker.minHits', r.minHits);
  if (!Number.isInteger(r.maxLostFrames) || r.maxLostFrames < 0) throw expected('an integer >= 0', 'tracker.maxLostFrames', r.maxLostFrames);
  if (r.maxLostSeconds !== null && !(typeof r.maxLostSeconds === 'number' && r.maxLostSeconds >= 0)) throw expected('a number >= 0 or null', 'tracker.maxLostSeconds', r.maxLostSeconds);
  if (r.allocateId !== null && typeof r.allocateId !== 'function') throw expected('a function or null', 'tracker.allocateId', r.allocateId);
  if (r.lowThreshold > r.highThreshold) throw expected(`a number <= highThreshold (${r.highThreshold})`, 'tracker.lowThreshold', r.lowThreshold);
  return r;
}

/**
 * Minimum-cost assignment (Hungarian algorithm with potentials, O(n^2 m)) for an n x m cost matrix, n <= m.
 * Returns, for each row, the assigned column.
 */
function hungarian(cost: Float64Array, n: number, m: number): Int32Array {
  const INF = Number.POSITIVE_INFINITY;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row (1-based) assigned to column j
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = INF;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[(i0 - 1) * m + (j - 1)]! - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]!] = u[p[j]!]! + delta;
          v[j] = v[j]! - delta;
        } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0);
  }
  const rowCol = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j]! > 0) rowCol[p[j]! - 1] = j - 1;
  return rowCol;
}

/**
 * Class-aware IoU association as ByteTrack does it: a linear assignment minimizing total (1 - IoU), pairs below
 * `minIou` (or of different classes) never matched. Optimal where greedy matching could steal a box from the
 * track it fits best when boxes overlap.
 */
function associate(tracks: Track[], dets: Detection[], minIou: number): { pairs: [Track, Detection][]; tracksLeft: Track[]; detsLeft: Detection[] } {
  const nt = tracks.length;
  const nd = dets.length;
  if (nt === 0 || nd === 0) return { pairs: [], tracksLeft: tracks.slice(), detsLeft: dets.slice() };
  const transpose = nt > nd; // rows must be the smaller side
  const n = transpose ? nd : nt;
  const m = transpose ? nt : nd;
  const BIG = 1e6;
  const cost = new Float64Array(n * m);
  const ious = new Float64Array(nt * nd);
  for (let ti = 0; ti < nt; ti++) {
    for (let di = 0; di < nd; di++) {
      const t = tracks[ti]!;
      const d = dets[di]!;
      const v = d.classId === t.classId ? iou(t.predicted, d.box) : 0;
      ious[ti * nd + di] = v;
      const c = v >= minIou && v > 0 ? 1 - v : BIG;
      if (transpose) cost[di * m + ti] = c;
      else cost[ti * m + di] = c;
    }
  }
  const assign = hungarian(cost, n, m);
  const usedT = new Uint8Array(nt);
  const usedD = new Uint8Array(nd);
  const pairs: [Track, Detection][] = [];
  for (let r = 0; r < n; r++) {
    const c = assign[r]!;
    if (c < 0) continue;
    const ti = transpose ? c : r;
    const di = transpose ? r : c;
    const v = ious[ti * nd + di]!;
    if (!(v >= minIou && v > 0)) continue;
    usedT[ti] = 1;
    usedD[di] = 1;
    pairs.push([tracks[ti]!, dets[di]!]);
  }
  // Apply in track order: deterministic event order.
  const order = new Map(tracks.map((t, i) => [t, i]));
  pairs.sort((a, b) => order.get(a[0])! - order.get(b[0])!);
  return { pairs, tracksLeft: tracks.filter((_, i) => !usedT[i]), detsLeft: dets.filter((_, i) => !usedD[i]) };
}

/** Tracks the objects of one camera. */
export class Tracker {
  readonly cameraId: string;
  private readonly o: Required<TrackerOptions>;
  private tracks: Track[] = [];
  private nextId = 1;
  private lastSeq: number | null = null;

  constructor(cameraId: string, options: TrackerOptions = {}) {
    if (typeof cameraId !== 'string' || cameraId === '') throw expected('a non-empty string', 'cameraId', cameraId);
    this.cameraId = cameraId;
    this.o = validateOptions(options);
  }

  private newId(): number {
    const alloc = this.o.allocateId;
    if (!alloc) return this.nextId++;
    const id = alloc(this.cameraId);
    if (!(Number.isInteger(id) && id >= 1 && id <= 0x7fffffff)) throw expected('a positive int32 track id', 'allocateId()', id);
    return id;
  }

  /** Number of live tracks (tentative, active and lost). */
  get size(): number {
    return this.tracks.length;
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

    const high: Detection[] = [];
    const low: Detection[] = [];
    const outDets: Detection[] = batch.detections.map((d) => ({ ...d, box: { ...d.box } }));
    for (const d of outDets) {
      delete d.trackId;
      if (d.confidence >= o.highThreshold) high.push(d);
      else if (d.confidence >= o.lowThreshold) low.push(d);
    }

    const confirmed = this.tracks.filter((t) => t.phase !== 'tentative');
    const tentative = this.tracks.filter((t) => t.phase === 'tentative');

    const s1 = associate(confirmed, high, o.matchIou);
    const activeLeft = s1.tracksLeft.filter((t) => t.phase === 'active');
    const s2 = associate(activeLeft, low, o.lowMatchIou);
    const s3 = associate(tentative, s1.detsLeft, o.tentativeMatchIou);

    const objects: TrackedObject[] = [];
    const matched = new Set<Track>();
    const apply = (t: Track, d: Detection): void => {
      matched.add(t);
      this.correct(t, d, seq, ns);
      const obs: TrackObservation = { box: { ...d.box }, confidence: d.confidence, frameSequence: seq, timestampNs: ns };
      if (t.phase === 'tentative') {
        if (t.hits >= o.minHits) {
          t.phase = 'active';
          t.id = this.newId();
          events.push(this.event('start', t, seq, ns, obs));
        }
      } else {
        t.phase = 'active';
        events.push(this.event('update', t, seq, ns, obs));
      }
      if (t.phase === 'active') {
        d.trackId = t.id;
        objects.push({ trackId: t.id, classId: t.classId, className: t.className, confidence: d.confidence, box: { ...d.box } });
      }
    };
    for (const [t, d] of s1.pairs) apply(t, d);
    for (const [t, d] of s2.pairs) apply(t, d);
    // Confirmations are applied in detection order so new ids follow the detector's output order.
    const order = new Map<Detection, number>(outDets.map((d, i) => [d, i]));
    s3.pairs.sort((a, b) => order.get(a[1])! - order.get(b[1])!);
    for (const [t, d] of s3.pairs) apply(t, d);

    // New tentative tracks (or confirmed at once when minHits is 1).
    for (const d of s3.detsLeft) {
      if (d.confidence < o.newTrackThreshold) continue;
      const t = this.create(d, seq, ns);
      this.tracks.push(t);
      matched.add(t);
      if (o.minHits <= 1) {
        t.phase = 'active';
        t.id = this.newId();
        const obs: TrackObservation = { box: { ...d.box }, confidence: d.confidence, frameSequence: seq, timestampNs: ns };
        events.push(this.event('start', t, seq, ns, obs));
        d.trackId = t.id;
        objects.push({ trackId: t.id, classId: t.classId, className: t.className, confidence: d.confidence, box: { ...d.box } });
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
      if (seq - t.lastSeq > o.maxLostFrames || (maxLostNs !== null && ns - t.lastNs > maxLostNs)) {
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

  /** Ends every confirmed track (camera stopped); returns their end events. */
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
    };
  }

  private predict(t: Track, seq: number): void {
    const dt = seq - t.lastSeq;
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
    t.lastSeq = seq;
    t.lastNs = ns;
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
    validateOptions(options);
  }
  update(batch: DetectionBatch): TrackerFrameResult {
    let t = this.trackers.get(batch.cameraId);
    if (!t) {
      t = new Tracker(batch.cameraId, this.options);
      this.trackers.set(batch.cameraId, t);
    }
    return t.update(batch);
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
