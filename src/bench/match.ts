/**
 * Track matching for the density benchmark: are a busy camera's person tracks, measured inside a loaded mix, the
 * same as those of the same clip run alone? Both runs play a looping clip, and times are on the clip's own time line
 * (loop index * period + the frame's stream time), so a moment of the clip has a phase (modulo the loop period).
 * The two runs are aligned by the small phase offset that best correlates their person counts (the runs sample
 * different frames of the clip), then each reference
 * track longer than `minTrackS` is looked for in the mix: found when tracked boxes of the same class (of any track
 * ids) cover at least half of its moments with a median IoU of at least 0.3.
 */
import type { Box } from '../types.js';

/** One observation of a track: seconds since its camera's first analysed frame. */
export interface TrackPoint {
  t: number;
  box: Box;
}

export interface ObservedTrack {
  trackId: number;
  className: string;
  points: TrackPoint[];
}

export interface MatchResult {
  /** Reference track occurrences (longer than minTrackS) inside the measured window. */
  reference: number;
  found: number;
  /** found / reference (1 when there was nothing to find). */
  ratio: number;
  /** Phase offset applied to the mix, seconds. */
  offsetS: number;
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const iy = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = ix * iy;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

const BIN_S = 0.2;

/**
 * Observations per phase bin, each split linearly between its two nearest bins: frames sampled at the bin width
 * (5 fps, 0.2 s) would otherwise land two in one bin and none in the next by timestamp jitter alone.
 */
function countSeries(tracks: ObservedTrack[], periodS: number): Float64Array {
  const n = Math.ceil(periodS / BIN_S);
  const bins = new Float64Array(n);
  for (const tr of tracks) {
    for (const p of tr.points) {
      const x = (((p.t % periodS) + periodS) % periodS) / BIN_S;
      const i = Math.floor(x);
      bins[i % n]! += 1 - (x - i);
      bins[(i + 1) % n]! += x - i;
    }
  }
  return bins;
}

/**
 * Phase offset (s) that, added to mix times, best lines the mix up with the reference (circular correlation),
 * searched within +-maxOffsetS of 0 (both time lines are the clip's own, so only the sampling phase differs).
 */
export function alignOffset(reference: ObservedTrack[], mix: ObservedTrack[], periodS: number, maxOffsetS = periodS): number {
  const a = countSeries(reference, periodS);
  const b = countSeries(mix, periodS);
  const n = a.length;
  const reach = Math.min(n, Math.ceil(maxOffsetS / BIN_S));
  let best = 0;
  let bestScore = -Infinity;
  for (let k = 0; k < n; k++) {
    if (k > reach && n - k > reach) continue;
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i]! * b[(i - k + n) % n]!;
    if (s > bestScore) {
      bestScore = s;
      best = k;
    }
  }
  return best * BIN_S;
}

function boxAt(track: ObservedTrack, t: number, toleranceS: number): Box | null {
  let bestBox: Box | null = null;
  let bestDt = toleranceS;
  for (const p of track.points) {
    const dt = Math.abs(p.t - t);
    if (dt <= bestDt) {
      bestDt = dt;
      bestBox = p.box;
    }
  }
  return bestBox;
}

/**
 * Reference tracks (one loop of the clip alone, times in [0, periodS)) against mix tracks observed over
 * [windowStartS, windowEndS) of the mix camera's own time line.
 */
export function matchTracks(
  reference: ObservedTrack[],
  mix: ObservedTrack[],
  options: { periodS: number; windowStartS: number; windowEndS: number; minTrackS?: number; className?: string; maxOffsetS?: number },
): MatchResult {
  const minTrackS = options.minTrackS ?? 2;
  const cls = options.className ?? 'person';
  const refs = reference.filter((r) => r.className === cls && r.points.length > 1 && r.points.at(-1)!.t - r.points[0]!.t > minTrackS);
  const mixes = mix.filter((m) => m.className === cls);
  const offset = alignOffset(refs, mixes, options.periodS, options.maxOffsetS);
  let total = 0;
  let found = 0;
  for (const r of refs) {
    const r0 = r.points[0]!.t;
    const r1 = r.points.at(-1)!.t;
    // Every occurrence of this reference track (one per loop) wholly inside the measured window.
    const kFrom = Math.floor((options.windowStartS - r1 + offset) / options.periodS) - 1;
    for (let k = kFrom; ; k++) {
      const shift = k * options.periodS - offset;
      const a = r0 + shift;
      const b = r1 + shift;
      if (a >= options.windowEndS) break;
      if (a < options.windowStartS || b > options.windowEndS) continue;
      total++;
      // Per moment of the reference track, the best-overlapping tracked box of the mix at that moment, whichever
      // track it belongs to: an object split into two ids under load is still found (ids are not the measure here;
      // the count of ids is reported apart), one missed or misplaced is not.
      const ious: number[] = [];
      for (const p of r.points) {
        let best = -1;
        for (const m of mixes) {
          const box = boxAt(m, p.t + shift, 0.35);
          if (box) best = Math.max(best, iou(box, p.box));
        }
        if (best >= 0) ious.push(best);
      }
      ious.sort((x, y) => x - y);
      if (ious.length >= r.points.length / 2 && ious[Math.floor(ious.length / 2)]! >= 0.3) found++;
    }
  }
  return { reference: total, found, ratio: total === 0 ? 1 : found / total, offsetS: offset };
}

/**
 * A looping clip's own time line for one camera: loop index * clip period + the frame's stream time. Wall-clock
 * capture times are no good for matching tracks between two runs: every loop restart (EOS reaching JS, then a
 * seek) adds a gap that differs between runs and grows under load, so a wall-clock offset lined up on one loop is
 * off by seconds a few loops later. The frame's PTS restarts at the clip's start on every loop.
 */
export interface ClipTimeLine {
  loop: number;
  lastPtsNs: number;
  /** Capture time (the batch's timestamp_ns) -> clip time, s. */
  byCapture: Map<bigint, number>;
  lastS: number;
}

export function clipTimeOf(line: ClipTimeLine, ptsNs: number, captureNs: bigint, periodS: number): void {
  // A PTS that goes back by more than a second is a new loop (or a rebuilt pipeline: the clip starts over too).
  if (line.lastPtsNs >= 0 && ptsNs < line.lastPtsNs - 1e9) line.loop++;
  line.lastPtsNs = ptsNs;
  line.lastS = line.loop * periodS + ptsNs / 1e9;
  line.byCapture.set(captureNs, line.lastS);
}
