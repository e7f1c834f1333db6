/**
 * Box association for the tracker: IoU, buffered IoU and an optimal linear assignment (Hungarian algorithm), as
 * ByteTrack does with its LAP solver.
 */
import type { Box, Detection } from '../types.js';

export function iou(a: Box, b: Box): number {
  const ix = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const iy = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Buffered IoU (C-BIoU: Yang et al., "Hard to Track Objects with Irregular Motions and Similar Appearances? Make It
 * Easier by Buffering the Matching Space", WACV 2023): both boxes grow by `buffer` times their width and height on
 * every side before the IoU. At a few analysed frames per second a walking person moves most of a box width
 * between frames, so plain IoU with the prediction drops to zero on any change of pace; the buffer keeps such a
 * pair matchable while two people side by side still compete in the assignment.
 */
export function bufferedIou(a: Box, b: Box, buffer: number): number {
  if (buffer === 0) return iou(a, b);
  const grow = (x: Box): Box => {
    const bw = (x.x2 - x.x1) * buffer;
    const bh = (x.y2 - x.y1) * buffer;
    return { x1: x.x1 - bw, y1: x.y1 - bh, x2: x.x2 + bw, y2: x.y2 + bh };
  };
  return iou(grow(a), grow(b));
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

/** What association needs of a track: its predicted box and whether a detection's class may continue it. */
export interface Associable {
  predicted: Box;
}

/**
 * IoU association as ByteTrack does it: a linear assignment minimizing total (1 - IoU), pairs below `minIou` (or
 * of classes `compatible` refuses) never matched. Optimal where greedy matching could steal a box from the track
 * it fits best when boxes overlap. Pairs come back in track order (deterministic event order).
 */
export function associate<T extends Associable>(
  tracks: T[],
  dets: Detection[],
  minIou: number,
  buffer: number,
  compatible: (t: T, d: Detection) => boolean,
): { pairs: [T, Detection][]; tracksLeft: T[]; detsLeft: Detection[] } {
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
      const v = compatible(t, d) ? bufferedIou(t.predicted, d.box, buffer) : 0;
      ious[ti * nd + di] = v;
      const c = v >= minIou && v > 0 ? 1 - v : BIG;
      if (transpose) cost[di * m + ti] = c;
      else cost[ti * m + di] = c;
    }
  }
  const assign = hungarian(cost, n, m);
  const usedT = new Uint8Array(nt);
  const usedD = new Uint8Array(nd);
  const pairs: [T, Detection][] = [];
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
  const order = new Map(tracks.map((t, i) => [t, i]));
  pairs.sort((a, b) => order.get(a[0])! - order.get(b[0])!);
  return { pairs, tracksLeft: tracks.filter((_, i) => !usedT[i]), detsLeft: dets.filter((_, i) => !usedD[i]) };
}
