/**
 * Track embeddings: vectors in LMDB (the source of truth) and an hnswlib-node HNSW index (cosine) beside it.
 *
 * - `vec` (uint32 label -> vector + track metadata) and `vectrack` ([cameraId, trackId] -> label) live in the
 *   store's LMDB environment; `add` resolves after the durable commit. One vector per track: adding a track again
 *   replaces its vector.
 * - The HNSW index is in memory and persisted as `<store>/vectors.hnsw` with `vectors.hnsw.meta.json` holding its
 *   SHA-256, dimensions and the next label. On open, a missing, unreadable or checksum-failing index file is
 *   rebuilt from LMDB with progress reported; a good one is caught up with vectors added or replaced after it was
 *   saved.
 * - hnswlib-node is synchronous (about 0.5-1 ms per insert): inserts happen in a background pump, `insertBatch`
 *   at a time, yielding to the event loop between batches. Vectors committed but not yet in the graph are searched
 *   exactly, so a search never misses them.
 * - Filtered search ('auto') picks the cheaper of two methods per query, by the filter's selectivity (measured
 *   costs, bench/store.ts). The matching tracks are enumerated from per-camera, time-ordered label lists (binary
 *   search on the time range; the class share is sampled), which gives their count M without a scan. The exact
 *   scan scores the M tracks from int8 copies in memory and re-scores the best 4k from the float vectors in LMDB.
 *   The over-fetch takes W = max(ef, 2k / selectivity) graph candidates without the filter (about 2k of them
 *   match), walking the graph with ef = W to 1.5 W (overfetchEf). Each is costed from measured per-row and per-ef
 *   times (COST_US, which depend on the dimensions) and the cheaper runs, except that an over-fetch deeper than
 *   500 candidates (filters under ~4% at k = 10) is never used: deep lists lose recall on large graphs. When at
 *   least k of the W candidates match they are the filtered top k (everything not fetched scores lower); when
 *   fewer match, hnswlib's filter callback searches the graph again (the walk still uses every node, so recall
 *   holds). `exactBelow` replaces the cost rule by a fixed threshold on M; 'exact', 'overfetch' and 'filter'
 *   force one method (bench/store.ts compares them).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import type { Database } from 'lmdb';
import { expected, VigilClosedError } from '../errors.js';
import type { DetectionStore } from './detection-store.js';
import { VigilStoreError } from './detection-store.js';

const { HierarchicalNSW } = hnswlib;
type HNSW = InstanceType<typeof HierarchicalNSW>;

export interface VectorIndexOptions {
  /** Vector dimensions (480 for the MobileNetV3 embedder), at most 4096. */
  dims: number;
  m?: number;
  efConstruction?: number;
  /**
   * Search breadth (raised to k when k is larger). Default: defaultEfSearch of the number of stored vectors, read at
   * each search (64 up to 100k, 255 at 1M). An explicit value always wins; a positive integer.
   */
  efSearch?: number;
  /** Index file; default `<store path>/vectors.hnsw`. */
  indexFile?: string;
  /** Inserts per event-loop turn in the background pump. Default 64. */
  insertBatch?: number;
  /**
   * Exact scan instead of the graph when a filter leaves fewer tracks than this. Default: chosen per query by
   * measured cost (see the module comment).
   */
  exactBelow?: number;
  /** Random seed of the graph (same seed + same order = same graph). Default 100. */
  seed?: number;
  onProgress?: (p: { phase: 'rebuild' | 'catch-up'; done: number; total: number }) => void;
}

export interface TrackVector {
  cameraId: string;
  trackId: number;
  classId: number;
  className: string;
  /** Time of the crop the vector was made from, ns since the Unix epoch. */
  timestampNs: bigint;
}

export interface SearchFilters {
  cameraIds?: readonly string[];
  /** Inclusive bounds on the track's timestamp. */
  startNs?: bigint;
  endNs?: bigint;
  className?: string;
}

export interface SearchRequest extends SearchFilters {
  /** Query vector (dims values), or the track whose stored vector is the example. */
  vector?: Float32Array | number[];
  track?: { cameraId: string; trackId: number };
  k: number;
  /** Leave the example track out of its own results (default true when searching by track). */
  excludeExample?: boolean;
  strategy?: 'auto' | 'exact' | 'filter' | 'overfetch';
  /** For 'overfetch': fetch k x this many candidates. Default 10. */
  overfetch?: number;
}

export interface SearchHit extends TrackVector {
  /** Cosine similarity, 1 = same direction. */
  score: number;
  snapshotUrl: string;
  label: number;
}

export interface OpenReport {
  /** 'loaded' (index file good), 'rebuilt' (missing or bad file), 'empty'. */
  source: 'loaded' | 'rebuilt' | 'empty';
  reason: string | null;
  count: number;
  caughtUp: number;
}

interface IndexMeta {
  format: 1;
  dims: number;
  m: number;
  efConstruction: number;
  seed: number;
  nextLabel: number;
  count: number;
  sha256: string;
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function encodeVec(dims: number, v: Float32Array, t: TrackVector): Buffer {
  const cam = Buffer.from(t.cameraId, 'utf8');
  const cls = Buffer.from(t.className, 'utf8');
  const b = Buffer.alloc(dims * 4 + 4 + 2 + 8 + 1 + cam.length + 1 + cls.length);
  Buffer.from(v.buffer, v.byteOffset, dims * 4).copy(b, 0);
  let o = dims * 4;
  b.writeInt32LE(t.trackId, o); o += 4;
  b.writeUInt16LE(t.classId, o); o += 2;
  b.writeBigUInt64LE(t.timestampNs, o); o += 8;
  b.writeUInt8(cam.length, o); o += 1;
  cam.copy(b, o); o += cam.length;
  b.writeUInt8(cls.length, o); o += 1;
  cls.copy(b, o);
  return b;
}

/** The vector of a stored record as a fresh, aligned Float32Array. */
function vecOf(dims: number, value: Uint8Array): Float32Array {
  return new Float32Array(value.buffer.slice(value.byteOffset, value.byteOffset + dims * 4));
}

/** A Float32Array over the record's vector without copying when it is 4-byte aligned (read before the next LMDB call). */
function vecView(dims: number, value: Uint8Array): Float32Array {
  return value.byteOffset % 4 === 0 ? new Float32Array(value.buffer, value.byteOffset, dims) : vecOf(dims, value);
}

function decodeTrack(dims: number, value: Uint8Array): TrackVector {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  let o = dims * 4;
  const trackId = b.readInt32LE(o); o += 4;
  const classId = b.readUInt16LE(o); o += 2;
  const timestampNs = b.readBigUInt64LE(o); o += 8;
  const camLen = b.readUInt8(o); o += 1;
  const cameraId = b.toString('utf8', o, o + camLen); o += camLen;
  const clsLen = b.readUInt8(o); o += 1;
  const className = b.toString('utf8', o, o + clsLen);
  return { cameraId, trackId, classId, className, timestampNs };
}

function decodeVec(dims: number, value: Uint8Array): { vector: Float32Array; track: TrackVector } {
  return { vector: vecOf(dims, value), track: decodeTrack(dims, value) };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function normalized(v: Float32Array | number[], dims: number): Float32Array {
  if (!((v instanceof Float32Array || Array.isArray(v)) && v.length === dims)) throw expected(`${dims} finite numbers`, 'vector', v);
  const out = new Float32Array(dims);
  let s = 0;
  for (let i = 0; i < dims; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw expected(`${dims} finite numbers`, 'vector', v);
    out[i] = x;
    s += x * x;
  }
  const n = Math.sqrt(s);
  if (n === 0) throw expected('a non-zero vector', 'vector', v);
  for (let i = 0; i < dims; i++) out[i] = out[i]! / n;
  return out;
}

/** One camera's labels ordered by timestamp (ms), for range enumeration without a scan of every label. */
class CamRows {
  ts = new Float64Array(256);
  labels = new Int32Array(256);
  n = 0;
  /** Labels in the lists whose vector is gone (replaced or removed); compacted when they are many. */
  dead = 0;

  insert(tsMs: number, label: number): void {
    if (this.n === this.ts.length) {
      const ts = new Float64Array(this.n * 2);
      ts.set(this.ts);
      const labels = new Int32Array(this.n * 2);
      labels.set(this.labels);
      this.ts = ts;
      this.labels = labels;
    }
    // live tracks arrive nearly in time order: usually an append
    let i = this.n;
    if (i > 0 && this.ts[i - 1]! > tsMs) i = this.upper(tsMs);
    if (i < this.n) {
      this.ts.copyWithin(i + 1, i, this.n);
      this.labels.copyWithin(i + 1, i, this.n);
    }
    this.ts[i] = tsMs;
    this.labels[i] = label;
    this.n++;
  }
  /** First index with ts >= v. */
  lower(v: number): number {
    let lo = 0, hi = this.n;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.ts[m]! < v) lo = m + 1;
      else hi = m;
    }
    return lo;
  }
  /** First index with ts > v. */
  upper(v: number): number {
    let lo = 0, hi = this.n;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.ts[m]! <= v) lo = m + 1;
      else hi = m;
    }
    return lo;
  }
  compact(alive: (label: number) => boolean): void {
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      const l = this.labels[r]!;
      if (!alive(l)) continue;
      this.labels[w] = l;
      this.ts[w] = this.ts[r]!;
      w++;
    }
    this.n = w;
    this.dead = 0;
  }
}

/** Label ranges (index ranges into per-camera lists) that hold every track passing a camera + time filter. */
interface Candidates {
  ranges: { rows: CamRows; from: number; to: number }[];
  /** Labels in the ranges (an upper bound on the matches: class and exact time bounds are not applied yet). */
  total: number;
}

/**
 * Int8 copies of the vectors (one scale per vector) for the exact path: scoring a matching track from memory costs
 * a fraction of an LMDB read, and the top candidates are re-scored from the float vectors in LMDB (the truth), so
 * results are exact. dims + 4 bytes per vector (a quarter of the float vector; the graph holds ~2 KB per vector).
 * Indexed by label - base, over the same label window as LabelMeta (which moves and resizes it).
 */
class Codes {
  codes: Int8Array;
  scale: Float32Array;
  /** The label at index 0 (LabelMeta's window). */
  base = 0;
  constructor(readonly dims: number, capacity: number) {
    this.codes = new Int8Array(capacity * dims);
    this.scale = new Float32Array(capacity);
  }
  /** The window moved to `base` with `capacity` slots; the entries of labels [from, to) are kept (the rest are dead). */
  rebase(base: number, capacity: number, from: number, to: number): void {
    const dims = this.dims;
    const s = from - this.base, n = to - from;
    if (capacity !== this.scale.length) {
      const c = new Int8Array(capacity * dims);
      c.set(this.codes.subarray(s * dims, (s + n) * dims));
      const sc = new Float32Array(capacity);
      sc.set(this.scale.subarray(s, s + n));
      this.codes = c;
      this.scale = sc;
    } else if (s !== 0) {
      this.codes.copyWithin(0, s * dims, (s + n) * dims);
      this.scale.copyWithin(0, s, s + n);
    }
    this.base = base;
  }
  /** Codes of a label inside the window (LabelMeta.set makes room first). */
  set(label: number, v: Float32Array): void {
    let max = 0;
    for (let d = 0; d < this.dims; d++) max = Math.max(max, Math.abs(v[d]!));
    const f = max > 0 ? 127 / max : 0;
    const i = label - this.base;
    const o = i * this.dims;
    for (let d = 0; d < this.dims; d++) this.codes[o + d] = Math.round(v[d]! * f);
    this.scale[i] = max > 0 ? max / 127 : 0;
  }
  /** The query as integers for dot(): small enough that a 4096-d int sum stays within 32 bits. */
  quantizeQuery(q: Float32Array): Int16Array {
    let max = 0;
    for (let d = 0; d < this.dims; d++) max = Math.max(max, Math.abs(q[d]!));
    const f = max > 0 ? 4095 / max : 0;
    const out = new Int16Array(this.dims);
    for (let d = 0; d < this.dims; d++) out[d] = Math.round(q[d]! * f);
    return out;
  }
  /**
   * Dot product of a quantized query with a label's vector, up to the query's constant scale (ranks labels).
   * Integer arithmetic: about twice as fast as float in V8 (measured 0.28 us per 480-d row). The label must be live
   * (inside the window): callers check it with the predicate first.
   */
  dot(q: Int16Array, label: number): number {
    const c = this.codes;
    const dims = this.dims;
    const i = label - this.base;
    const o = i * dims;
    let s = 0;
    for (let d = 0; d < dims; d++) s = (s + q[d]! * c[o + d]!) | 0;
    return s * this.scale[i]!;
  }
}

/**
 * Per-label metadata kept in memory for filter callbacks (typed arrays, no objects per label), and the int8 codes.
 *
 * Labels are never reused (LMDB keys; a saved graph is caught up by them), so arrays indexed by the label itself
 * would grow to the highest label ever issued: dims + 28 bytes for every vector ever stored, for as long as the
 * server runs, whatever retention keeps (the soak, issue 17). The arrays cover a window of labels
 * [base, base + capacity) instead, indexed by label - base. Vectors die roughly oldest-first (retention by age, a
 * track's vector replaced by a newer one), so when a new label does not fit, the window first moves past its leading
 * dead labels (camera -1) and the rest move down (copyWithin); the capacity doubles only when the span of live
 * labels would fill more than 3/4 of it (so a move is followed by at least capacity / 4 new labels before the next:
 * amortized O(1) per label), and halves when it is 4 times that span. Labels below base are dead by definition (every read checks). A lookup stays one
 * subtraction (the exact path scores many labels per query; a Map or hash per label would cost far more).
 *
 * The bound is the span from the oldest live label to the newest, not the live count: a camera kept much longer
 * than the others (or for ever: retention age null) keeps the window as wide as every label issued since its
 * oldest stored vector. A hole-free bound would need a label -> slot indirection on every graph-callback lookup.
 */
class LabelMeta {
  cam: Int32Array;
  cls: Int32Array;
  tsMs: Float64Array;
  tsRest: Int32Array;
  /** The label at index 0 of the arrays. */
  base = 0;
  /** One past the highest label set (labels come in increasing order). */
  private end = 0;
  private readonly camIds = new Map<string, number>();
  private readonly clsIds = new Map<string, number>();
  camNames: string[] = [];
  private readonly rows: CamRows[] = [];

  constructor(readonly codes: Codes, capacity = 1024) {
    this.cam = new Int32Array(capacity).fill(-1);
    this.cls = new Int32Array(capacity).fill(-1);
    this.tsMs = new Float64Array(capacity);
    this.tsRest = new Int32Array(capacity);
    codes.rebase(0, capacity, 0, 0);
  }

  get capacity(): number {
    return this.cam.length;
  }

  /** The camera index of a label, -1 when it is not stored (removed, replaced, below the window). */
  camOf(label: number): number {
    const i = label - this.base;
    return i >= 0 && i < this.cam.length ? this.cam[i]! : -1;
  }

  intern(map: Map<string, number>, s: string, names?: string[]): number {
    let i = map.get(s);
    if (i === undefined) {
      i = map.size;
      map.set(s, i);
      names?.push(s);
    }
    return i;
  }
  /** Makes room for `label` (>= every label set before): moves the window past its leading dead labels, resizes. */
  private ensure(label: number): void {
    const cap = this.cam.length;
    if (label < this.base) throw new Error(`label ${label} below the window (${this.base})`);
    if (label - this.base < cap) return;
    // the first live label: the new base (the new label itself when none is live)
    let from = this.base;
    const end = Math.min(this.end, this.base + cap);
    while (from < end && this.cam[from - this.base]! < 0) from++;
    const keep = from < end ? end : from; // live span [from, end) kept
    const base = from < end ? from : label;
    const span = label + 1 - base;
    // at least a quarter free after a move (so the next is capacity / 4 labels away); halved at 4 x the span
    let n = cap;
    while (n * 3 < span * 4) n *= 2;
    while (n > 1024 && n >= 4 * span) n /= 2;
    const s = from - this.base, len = keep - from;
    const move = <T extends Int32Array | Float64Array>(a: T, fill: number): T => {
      if (n !== a.length) {
        const b = new (a.constructor as new (n: number) => T)(n);
        if (fill !== 0) b.fill(fill);
        b.set(a.subarray(s, s + len));
        return b;
      }
      a.copyWithin(0, s, s + len);
      a.fill(fill, len);
      return a;
    };
    this.cam = move(this.cam, -1);
    this.cls = move(this.cls, -1);
    this.tsMs = move(this.tsMs, 0);
    this.tsRest = move(this.tsRest, 0);
    this.codes.rebase(base, n, from, keep);
    this.base = base;
  }
  /** A label's metadata and codes; labels come in increasing order (addMany; LMDB's key order on load). */
  set(label: number, t: TrackVector, v: Float32Array): void {
    this.ensure(label);
    const i = label - this.base;
    const cam = this.intern(this.camIds, t.cameraId, this.camNames);
    this.cam[i] = cam;
    this.cls[i] = this.intern(this.clsIds, t.className);
    const ms = Number(t.timestampNs / 1_000_000n);
    this.tsMs[i] = ms;
    this.tsRest[i] = Number(t.timestampNs % 1_000_000n);
    this.codes.set(label, v);
    if (label >= this.end) this.end = label + 1;
    (this.rows[cam] ??= new CamRows()).insert(ms, label);
  }
  clear(label: number): void {
    const cam = this.camOf(label);
    if (cam < 0) return;
    this.cam[label - this.base] = -1;
    const rows = this.rows[cam];
    if (rows && ++rows.dead > 1024 && rows.dead * 2 > rows.n) rows.compact((l) => this.camOf(l) === cam);
  }
  /** The per-camera label ranges that can pass `f`'s camera and time bounds (ms granularity, widened). */
  candidates(f: SearchFilters): Candidates {
    const cams: number[] = [];
    if (f.cameraIds && f.cameraIds.length > 0) {
      for (const c of new Set(f.cameraIds)) {
        const i = this.camIds.get(c);
        if (i !== undefined) cams.push(i);
      }
    } else for (let i = 0; i < this.rows.length; i++) cams.push(i);
    const lo = f.startNs !== undefined ? Number(f.startNs / 1_000_000n) : -Infinity;
    const hi = f.endNs !== undefined ? Number(f.endNs / 1_000_000n) : Infinity;
    const out: Candidates = { ranges: [], total: 0 };
    for (const c of cams) {
      const rows = this.rows[c];
      if (!rows || rows.n === 0) continue;
      const from = lo === -Infinity ? 0 : rows.lower(lo);
      const to = hi === Infinity ? rows.n : rows.upper(hi);
      if (to > from) {
        out.ranges.push({ rows, from, to });
        out.total += to - from;
      }
    }
    return out;
  }
  /** A predicate over labels for the filters, or null when there are none. */
  predicate(f: SearchFilters, exclude: number): ((label: number) => boolean) | null {
    const cams = f.cameraIds && f.cameraIds.length > 0 ? new Set(f.cameraIds.map((c) => this.camIds.get(c) ?? -2)) : null;
    const cls = f.className !== undefined ? (this.clsIds.get(f.className) ?? -2) : null;
    const sMs = f.startNs !== undefined ? Number(f.startNs / 1_000_000n) : null;
    const sRest = f.startNs !== undefined ? Number(f.startNs % 1_000_000n) : 0;
    const eMs = f.endNs !== undefined ? Number(f.endNs / 1_000_000n) : null;
    const eRest = f.endNs !== undefined ? Number(f.endNs % 1_000_000n) : 0;
    if (!cams && cls === null && sMs === null && eMs === null && exclude < 0) return null;
    // the arrays and base of now: a predicate is used within one synchronous search, before any set() moves them
    const cam = this.cam, clsA = this.cls, ms = this.tsMs, rest = this.tsRest, base = this.base;
    return (label: number): boolean => {
      if (label === exclude) return false;
      const i = label - base;
      if (i < 0) return false; // below the window: dead
      const c = cam[i];
      if (c === undefined || c < 0) return false;
      if (cams && !cams.has(c)) return false;
      if (cls !== null && clsA[i] !== cls) return false;
      if (sMs !== null) {
        const t = ms[i]!;
        if (t < sMs || (t === sMs && rest[i]! < sRest)) return false;
      }
      if (eMs !== null) {
        const t = ms[i]!;
        if (t > eMs || (t === eMs && rest[i]! > eRest)) return false;
      }
      return true;
    };
  }
}

/** Expected matches among the over-fetched graph candidates, in units of k. */
const OVERFETCH_MARGIN = 2;
/**
 * Deepest over-fetch (candidates) the default uses; a filter that needs more is scanned exactly. Deep lists lose
 * recall on a large graph: at 1M x 480 a 2% filter over-fetched 1000 candidates at recall@10 0.84 (ef 1500), where
 * the exact scan is exact at 38 vs 83 QPS.
 */
const OVERFETCH_MAX = 500;
/**
 * Search breadth (ef) of an over-fetch of W candidates. With ef = W the tail of a long list is less accurate, and
 * sparse matches sit there: recall@10 of a 2% filter (W = 1000) was 0.96-0.98 at ef = W and 0.98-0.99 at 1.5 W
 * (100k x 480, 1M x 32), while a 12.5% filter (W = 160) kept 0.996 at ef = W. So ef grows from W to 1.5 W as W
 * goes to 1000.
 */
function overfetchEf(w: number): number {
  return Math.ceil(w * (1 + 0.5 * Math.min(1, w / 1000)));
}
/**
 * Costs in microseconds on the bench machine (bench/store.ts; 100k x 480 and 1M x 32): the filter check of one
 * enumerated row, the int8 score of one matching row (0.08 us at 32 dims, 0.85 us at 480), and one unit of ef of an
 * unfiltered graph walk (1.4 us at 32 dims, 3.2 us at 480). Only their ratios matter.
 */
const COST_US = { rowCheck: 0.03, rowBase: 0.025, rowPerDim: 0.0017, efBase: 1.27, efPerDim: 0.004 };

/** Share of up to `n` labels spread evenly over the candidate ranges that pass `pred`. */
function sampleShare(c: Candidates, pred: (label: number) => boolean, n: number): number {
  const step = Math.max(1, c.total / n);
  let seen = 0, pass = 0, base = 0;
  for (const r of c.ranges) {
    const len = r.to - r.from;
    // positions base + j*step that fall in this range
    for (let p = Math.ceil(base / step) * step; p < base + len; p += step) {
      seen++;
      if (pred(r.rows.labels[r.from + Math.floor(p - base)]!)) pass++;
    }
    base += len;
  }
  return seen === 0 ? 0 : pass / seen;
}

function* candidateLabels(c: Candidates, pred: (label: number) => boolean): Generator<number> {
  for (const r of c.ranges) {
    const labels = r.rows.labels;
    for (let i = r.from; i < r.to; i++) {
      const l = labels[i]!;
      if (pred(l)) yield l;
    }
  }
}

/**
 * Default search breadth for an index of `count` vectors: 64 up to 100k, then 64 x (count / 100k)^0.6 (97 at 200k,
 * 168 at 500k, 255 at 1M), at most 512 (reached at ~4.6M; not measured beyond 1M). A fixed ef loses recall as the
 * graph grows. Measured recall@10 / QPS, unfiltered, clustered 480-d vectors, M 16, efConstruction 100, 200 queries,
 * 2 vCPU VM (bench/store.ts with BENCH_EF; bench/RESULTS.md):
 *
 *   vectors   ef 64          ef 128         ef 256         ef 400
 *   100k      1.000 / 2,930  1.000 / 1,788
 *   1M        0.832 / 1,337  0.931 / 860    0.976 / 500    0.986 / 375
 *
 * So 64 stays at 100k (more ef costs 40% of the QPS for no recall), and 1M needs ~256 for recall@10 >= 0.95.
 * Filtered searches mostly over-fetch or scan exactly, where this breadth matters less (12.5% filter at 1M:
 * recall@10 0.962 at ef 64, 0.967 at 256).
 */
export function defaultEfSearch(count: number): number {
  return Math.min(512, Math.max(64, Math.round(64 * (count / 100_000) ** 0.6)));
}

export class VectorIndex {
  readonly dims: number;
  readonly indexFile: string;
  readonly metaFile: string;
  private readonly vec: Database<Buffer, number>;
  private readonly byTrack: Database<number, [string, number]>;
  private readonly m: number;
  private readonly efConstruction: number;
  private efSearchOption: number | undefined;
  private readonly insertBatch: number;
  private readonly exactBelow: number | undefined;
  private readonly seed: number;
  private readonly onProgress: VectorIndexOptions['onProgress'];
  private hnsw: HNSW;
  private readonly meta: LabelMeta;
  private readonly codes: Codes;
  private nextLabel = 0;
  private live = 0;
  /** Slots of deleted vectors in the graph, reused by the next inserts (addPoint with replaceDeleted). */
  private vacant = 0;
  /** Labels committed to LMDB, not yet in the graph. */
  private pending: number[] = [];
  private pendingSet = new Set<number>();
  private pumping: Promise<void> | null = null;
  private closed = false;
  private dirty = false;
  report: OpenReport = { source: 'empty', reason: null, count: 0, caughtUp: 0 };
  /**
   * Searches by the method that answered them: exact scans, filtered over-fetches answered from the graph list,
   * filter-callback walks (forced, or after an over-fetch with fewer than k matches), unfiltered graph searches.
   */
  readonly methods = { exact: 0, overfetch: 0, filter: 0, unfiltered: 0 };

  private constructor(private readonly store: DetectionStore, o: VectorIndexOptions) {
    if (!(Number.isInteger(o.dims) && o.dims >= 1 && o.dims <= 4096)) throw expected('an integer from 1 to 4096', 'options.dims', o.dims);
    this.dims = o.dims;
    this.m = o.m ?? 16;
    this.efConstruction = o.efConstruction ?? 100;
    if (o.efSearch !== undefined && !(Number.isInteger(o.efSearch) && o.efSearch >= 1)) throw expected('a positive integer', 'options.efSearch', o.efSearch);
    this.efSearchOption = o.efSearch;
    this.insertBatch = o.insertBatch ?? 64;
    if (o.exactBelow !== undefined && !(Number.isInteger(o.exactBelow) && o.exactBelow >= 0)) throw expected('a non-negative integer', 'options.exactBelow', o.exactBelow);
    this.exactBelow = o.exactBelow;
    this.seed = o.seed ?? 100;
    this.onProgress = o.onProgress;
    this.indexFile = o.indexFile ?? join(store.path, 'vectors.hnsw');
    this.metaFile = `${this.indexFile}.meta.json`;
    this.codes = new Codes(this.dims, 1024);
    this.meta = new LabelMeta(this.codes);
    this.vec = store.openDatabase<Buffer, number>('vec', { keyEncoding: 'uint32', encoding: 'binary' });
    this.byTrack = store.openDatabase<number, [string, number]>('vectrack', {});
    this.hnsw = this.newGraph(1024);
  }

  private newGraph(capacity: number): HNSW {
    const h = new HierarchicalNSW('cosine', this.dims);
    h.initIndex({ maxElements: capacity, m: this.m, efConstruction: this.efConstruction, randomSeed: this.seed, allowReplaceDeleted: true });
    h.setEf(this.efSearch);
    return h;
  }

  /** Opens the index: loads the file when its checksum holds, else rebuilds from LMDB (progress via onProgress). */
  static async open(store: DetectionStore, options: VectorIndexOptions): Promise<VectorIndex> {
    const ix = new VectorIndex(store, options);
    await ix.load();
    return ix;
  }

  private async readSavedGraph(): Promise<{ graph: HNSW; meta: IndexMeta } | string> {
    if (!existsSync(this.indexFile) || !existsSync(this.metaFile)) return 'index file missing';
    let meta: IndexMeta;
    try {
      meta = JSON.parse(await readFile(this.metaFile, 'utf8')) as IndexMeta;
    } catch {
      return 'index metadata unreadable';
    }
    if (meta.format !== 1 || meta.dims !== this.dims || meta.m !== this.m || meta.efConstruction !== this.efConstruction || meta.seed !== this.seed) return 'index parameters changed';
    if ((await sha256File(this.indexFile)) !== meta.sha256) return 'index checksum mismatch';
    try {
      const graph = new HierarchicalNSW('cosine', this.dims);
      graph.readIndexSync(this.indexFile, true);
      if (graph.getNumDimensions() !== this.dims) return 'index dimensions differ';
      graph.setEf(this.efSearch);
      return { graph, meta };
    } catch (e) {
      return `index unreadable: ${(e as Error).message}`;
    }
  }

  private async load(): Promise<void> {
    // metadata of every stored vector (LMDB is the truth)
    let total = 0;
    for (const { key, value } of this.vec.getRange({})) {
      this.meta.set(key, decodeTrack(this.dims, value), vecView(this.dims, value));
      this.nextLabel = key + 1;
      total++;
    }
    this.live = total;
    if (total === 0) {
      this.report = { source: 'empty', reason: null, count: 0, caughtUp: 0 };
      return;
    }
    const saved = await this.readSavedGraph();
    if (typeof saved !== 'string') {
      this.hnsw = saved.graph;
      if (saved.meta.nextLabel > this.nextLabel) this.nextLabel = saved.meta.nextLabel;
      // catch up: vectors added after the save go in; labels the file holds that LMDB no longer has are deleted
      // (the in-memory metadata was just loaded from LMDB: camera -1 = not stored)
      const inGraph = new Set(this.hnsw.getIdsList());
      this.vacant = 0;
      for (const label of inGraph) {
        if (this.meta.camOf(label) >= 0) continue;
        this.vacant++; // deleted now or already in the saved file: a slot to reuse either way
        try {
          this.hnsw.markDelete(label);
        } catch {
          // already marked deleted in the saved file
        }
      }
      const missing: number[] = [];
      for (const key of this.vec.getKeys({})) if (!inGraph.has(key)) missing.push(key);
      await this.insertLabels(missing, 'catch-up');
      this.report = { source: 'loaded', reason: null, count: total, caughtUp: missing.length };
      this.dirty = missing.length > 0;
      return;
    }
    this.hnsw = this.newGraph(Math.max(1024, total));
    this.vacant = 0;
    const labels = [...this.vec.getKeys({})];
    await this.insertLabels(labels, 'rebuild');
    this.report = { source: 'rebuilt', reason: saved, count: total, caughtUp: 0 };
    this.dirty = true;
    await this.save();
  }

  private async insertLabels(labels: number[], phase: 'rebuild' | 'catch-up'): Promise<void> {
    const total = labels.length;
    for (let i = 0; i < total; i += this.insertBatch) {
      for (const label of labels.slice(i, i + this.insertBatch)) this.insertOne(label);
      this.onProgress?.({ phase, done: Math.min(total, i + this.insertBatch), total });
      await yieldTurn();
    }
  }

  private insertOne(label: number): void {
    const raw = this.vec.getBinary(label);
    if (raw === undefined) return;
    const point = Array.from(vecView(this.dims, raw));
    // A deleted vector's slot (retention, a track's replaced vector) takes the new one: without reuse the graph keeps
    // a slot per vector ever stored and grows for as long as the server runs, whatever retention keeps (the soak).
    if (this.vacant > 0) {
      this.hnsw.addPoint(point, label, true);
      this.vacant--;
      return;
    }
    if (this.hnsw.getCurrentCount() >= this.hnsw.getMaxElements()) this.hnsw.resizeIndex(Math.max(1024, this.hnsw.getMaxElements() * 2));
    this.hnsw.addPoint(point, label);
  }

  get count(): number {
    return this.live;
  }

  /** The search breadth in use: options.efSearch, else defaultEfSearch of the stored vector count. */
  get efSearch(): number {
    return this.efSearchOption ?? defaultEfSearch(this.live);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * The window of labels the per-label arrays (int8 codes, metadata) cover: [base, base + capacity). The capacity
   * follows the span of live labels (see LabelMeta), not the number of labels ever issued.
   */
  get labelArrays(): { base: number; capacity: number } {
    return { base: this.meta.base, capacity: this.meta.capacity };
  }

  /**
   * The graph's slots: `slots` used (live vectors in the graph + `vacant` ones of deleted vectors, which the next
   * inserts reuse) out of `capacity` allocated (it doubles when every slot is used).
   */
  get graphSlots(): { slots: number; vacant: number; capacity: number } {
    return { slots: this.hnsw.getCurrentCount(), vacant: this.vacant, capacity: this.hnsw.getMaxElements() };
  }

  /**
   * Stores the vector of a track (replacing the track's previous one) durably, then queues it for the graph.
   * Resolves to the label once committed.
   */
  async add(track: TrackVector, vector: Float32Array | number[]): Promise<number> {
    return (await this.addMany([{ track, vector }]))[0]!;
  }

  /** `add` for many tracks in one durable commit. Resolves to their labels, in order. */
  async addMany(items: readonly { track: TrackVector; vector: Float32Array | number[] }[]): Promise<number[]> {
    if (this.closed) throw new VigilClosedError('VectorIndex');
    const prepared = items.map(({ track, vector }, i) => {
      if (typeof track !== 'object' || track === null || typeof track.cameraId !== 'string' || track.cameraId === '' || Buffer.byteLength(track.cameraId) > 255) throw expected('a track with a camera id of 1-255 bytes', `items[${i}].track`, track);
      if (!(Number.isInteger(track.trackId) && Math.abs(track.trackId) <= 0x7fffffff)) throw expected('a 32-bit integer track id', `items[${i}].track.trackId`, track.trackId);
      if (!(Number.isInteger(track.classId) && track.classId >= 0 && track.classId <= 65535)) throw expected('an integer from 0 to 65535', `items[${i}].track.classId`, track.classId);
      if (typeof track.className !== 'string' || Buffer.byteLength(track.className) > 255) throw expected('a class name of up to 255 bytes', `items[${i}].track.className`, track.className);
      if (typeof track.timestampNs !== 'bigint' || track.timestampNs < 0n) throw expected('a bigint timestamp in ns', `items[${i}].track.timestampNs`, track.timestampNs);
      return { track, v: normalized(vector, this.dims), label: 0, previous: undefined as number | undefined };
    });
    await this.store.env.transaction(() => {
      for (const p of prepared) {
        p.label = this.nextLabel++;
        const key: [string, number] = [p.track.cameraId, p.track.trackId];
        p.previous = this.byTrack.get(key);
        if (p.previous !== undefined) this.vec.removeSync(p.previous);
        this.vec.putSync(p.label, encodeVec(this.dims, p.v, p.track));
        this.byTrack.putSync(key, p.label);
      }
    });
    for (const p of prepared) {
      const previous = p.previous;
      if (previous !== undefined) {
        this.meta.clear(previous);
        if (this.pendingSet.delete(previous)) this.pending = this.pending.filter((l) => l !== previous);
        else {
          try {
            this.hnsw.markDelete(previous);
            this.vacant++;
          } catch {
            // not in the graph
          }
        }
        this.live--;
      }
      this.meta.set(p.label, p.track, p.v);
      this.live++;
      this.pending.push(p.label);
      this.pendingSet.add(p.label);
    }
    this.dirty = true;
    this.startPump();
    return prepared.map((p) => p.label);
  }

  private startPump(): void {
    if (this.pumping) return;
    this.pumping = (async () => {
      // First a turn: `this.pumping` must be assigned before the loop can end and clear it (a loop that ended at
      // once, or threw on its first insert, left a settled promise there for good, and drain() awaited it for ever).
      await yieldTurn();
      try {
        while (this.pending.length > 0 && !this.closed) {
          const batch = this.pending.splice(0, this.insertBatch);
          for (const label of batch) {
            this.pendingSet.delete(label);
            this.insertOne(label);
          }
          await yieldTurn();
        }
      } finally {
        this.pumping = null;
      }
    })();
  }

  /** Resolves when every added vector is in the graph. */
  async drain(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** The stored vector and metadata of a track. */
  getTrack(cameraId: string, trackId: number): { label: number; vector: Float32Array; track: TrackVector } | undefined {
    const label = this.byTrack.get([cameraId, trackId]);
    if (label === undefined) return undefined;
    const raw = this.vec.getBinary(label);
    if (!raw) return undefined;
    return { label, ...decodeVec(this.dims, raw) };
  }

  private hit(label: number, score: number): SearchHit | null {
    const raw = this.vec.getBinary(label);
    if (!raw) return null;
    const track = decodeTrack(this.dims, raw);
    return { ...track, score, label, snapshotUrl: this.store.snapshotPath(track.cameraId, track.trackId) };
  }

  /**
   * Exact top k over `labels`: scored from the int8 codes in memory, the best max(4k, 40) re-scored from the float
   * vectors in LMDB. (A vector near the cut-off could in principle be misranked by the int8 score by more than the
   * re-scored margin; with unit vectors the int8 error is ~1e-3, far below the gap the margin leaves.)
   */
  private exactCoded(q: Float32Array, k: number, cand: Candidates, pred: (label: number) => boolean): { label: number; score: number }[] {
    const r = Math.max(4 * k, 40);
    // bounded min-heap of the r best approximate scores
    const hl = new Int32Array(r);
    const hs = new Float64Array(r);
    let n = 0;
    const codes = this.codes;
    const qi = codes.quantizeQuery(q);
    for (const range of cand.ranges) for (let j = range.from; j < range.to; j++) {
      const label = range.rows.labels[j]!;
      if (!pred(label)) continue;
      const s = codes.dot(qi, label);
      if (n < r) {
        let i = n++;
        while (i > 0) {
          const p = (i - 1) >> 1;
          if (hs[p]! <= s) break;
          hs[i] = hs[p]!;
          hl[i] = hl[p]!;
          i = p;
        }
        hs[i] = s;
        hl[i] = label;
      } else if (s > hs[0]!) {
        let i = 0;
        for (;;) {
          const a = 2 * i + 1;
          if (a >= n) break;
          const b = a + 1;
          const c = b < n && hs[b]! < hs[a]! ? b : a;
          if (hs[c]! >= s) break;
          hs[i] = hs[c]!;
          hl[i] = hl[c]!;
          i = c;
        }
        hs[i] = s;
        hl[i] = label;
      }
    }
    return this.exact(q, k, hl.subarray(0, n));
  }

  private exact(q: Float32Array, k: number, labels: Iterable<number>): { label: number; score: number }[] {
    const top: { label: number; score: number }[] = [];
    for (const label of labels) {
      // getBinaryFast reuses one buffer: the dot product is taken before the next read
      const raw = this.vec.getBinaryFast(label);
      if (!raw) continue;
      const s = dot(q, vecView(this.dims, raw));
      if (top.length < k) {
        top.push({ label, score: s });
        top.sort((a, c) => c.score - a.score);
      } else if (s > top[k - 1]!.score) {
        top[k - 1] = { label, score: s };
        top.sort((a, c) => c.score - a.score);
      }
    }
    return top;
  }

  /**
   * k most similar tracks to the example, with filters. Exact over the matching tracks when few match; graph search
   * with hnswlib's filter callback otherwise; never misses vectors still waiting for the graph.
   */
  search(req: SearchRequest): SearchHit[] {
    if (this.closed) throw new VigilClosedError('VectorIndex');
    if (!(Number.isInteger(req.k) && req.k >= 1 && req.k <= 1000)) throw expected('an integer from 1 to 1000', 'k', req.k);
    let q: Float32Array;
    let exclude = -1;
    if (req.track) {
      const t = this.getTrack(req.track.cameraId, req.track.trackId);
      if (!t) throw new VigilStoreError('E_NOT_FOUND', `No embedding stored for track ${req.track.trackId} of camera ${req.track.cameraId}`);
      q = t.vector;
      if (req.excludeExample ?? true) exclude = t.label;
    } else if (req.vector !== undefined) q = normalized(req.vector, this.dims);
    else throw expected('a vector or a track', 'example', undefined);
    const k = req.k;
    const pred = this.meta.predicate(req, exclude);
    const strategy = req.strategy ?? 'auto';
    if (!pred && strategy === 'exact') {
      this.methods.exact++;
      return this.bruteForce(q, k);
    }
    let found: { label: number; score: number }[] = [];
    const inGraph = this.hnsw.getCurrentCount();
    let selectivity = 0;
    if (pred && (strategy === 'auto' || strategy === 'exact')) {
      const cand = this.meta.candidates(req);
      // matches expected: the camera + time rows, times the sampled share that passes the rest of the filter
      let matches = cand.total;
      if (matches > 0 && req.className !== undefined) matches *= sampleShare(cand, pred, 256);
      selectivity = matches / Math.max(1, this.live);
      // the over-fetch would walk the graph with ef = W..1.5 W (W: candidates that should hold ~2k matches)
      const efOver = selectivity > 0 ? overfetchEf(Math.max(this.efSearch, Math.ceil((OVERFETCH_MARGIN * k) / selectivity))) : Infinity;
      const exactUs = cand.total * COST_US.rowCheck + matches * (COST_US.rowBase + COST_US.rowPerDim * this.dims);
      const overfetchUs = efOver * (COST_US.efBase + COST_US.efPerDim * this.dims);
      const exact =
        strategy === 'exact' || inGraph === 0 ||
        (this.exactBelow !== undefined ? matches < this.exactBelow : exactUs <= overfetchUs || efOver > overfetchEf(OVERFETCH_MAX));
      if (exact) {
        this.methods.exact++;
        return this.exactCoded(q, k, cand, pred).map((x) => this.hit(x.label, x.score)).filter((h): h is SearchHit => h !== null);
      }
    }
    if (inGraph > 0) {
      const qa = Array.from(q);
      const ef = Math.max(this.efSearch, k);
      this.hnsw.setEf(ef);
      let done = false;
      if (pred && (strategy === 'overfetch' || strategy === 'auto')) {
        // Over-fetch without the filter, keep the matches. When at least k match, they are the filtered top k
        // (everything not fetched scores lower than everything fetched); otherwise fall back to the filter callback.
        const factor = strategy === 'auto' ? Math.max(this.efSearch / k, OVERFETCH_MARGIN / selectivity) : (req.overfetch ?? 10);
        const want = Math.min(inGraph, Math.ceil(k * factor));
        // auto: a wider walk than the list, so the list's tail (where sparse matches sit) is accurate too
        this.hnsw.setEf(Math.max(ef, strategy === 'auto' ? overfetchEf(want) : want));
        const r = this.hnsw.searchKnn(qa, want);
        r.neighbors.forEach((label, i) => {
          if (found.length < k && pred(label)) found.push({ label, score: 1 - r.distances[i]! });
        });
        done = strategy === 'overfetch' || found.length >= k;
        if (done) this.methods.overfetch++;
        this.hnsw.setEf(ef);
      }
      if (!done) {
        if (pred) this.methods.filter++;
        else this.methods.unfiltered++;
        const r = pred ? this.hnsw.searchKnn(qa, Math.min(k, inGraph), pred) : this.hnsw.searchKnn(qa, Math.min(k, inGraph));
        found = r.neighbors.map((label, i) => ({ label, score: 1 - r.distances[i]! }));
      }
      this.hnsw.setEf(this.efSearch);
    }
    if (this.pending.length > 0) {
      const extra = this.exact(q, k, pred ? this.pending.filter(pred) : this.pending);
      found = found.concat(extra).sort((a, b) => b.score - a.score).slice(0, k);
    }
    return found.map((x) => this.hit(x.label, x.score)).filter((h): h is SearchHit => h !== null);
  }

  /** Exact k nearest by scanning every stored vector (the baseline peers use; for benchmarks and tests). */
  bruteForce(vector: Float32Array | number[], k: number, filters: SearchFilters = {}): SearchHit[] {
    const q = normalized(vector, this.dims);
    const pred = this.meta.predicate(filters, -1);
    const labels: number[] = [];
    for (const key of this.vec.getKeys({})) if (!pred || pred(key)) labels.push(key);
    return this.exact(q, k, labels).map((x) => this.hit(x.label, x.score)).filter((h): h is SearchHit => h !== null);
  }

  /**
   * Retention: removes up to `maxRows` vectors of one camera whose timestamp is before `cutoffNs` (from LMDB, then
   * marked deleted in the graph). Resolves to the number removed.
   */
  async removeOlderThan(cameraId: string, cutoffNs: bigint, maxRows: number): Promise<number> {
    if (this.closed) throw new VigilClosedError('VectorIndex');
    const pred = this.meta.predicate({ cameraIds: [cameraId], endNs: cutoffNs - 1n }, -1);
    if (!pred || cutoffNs <= 0n) return 0;
    const labels: number[] = [];
    for (const l of candidateLabels(this.meta.candidates({ cameraIds: [cameraId], endNs: cutoffNs - 1n }), pred)) {
      if (labels.length >= maxRows) break;
      labels.push(l);
    }
    if (labels.length === 0) return 0;
    await this.store.env.transaction(() => {
      for (const label of labels) {
        const raw = this.vec.getBinary(label);
        if (!raw) continue;
        const t = decodeTrack(this.dims, raw);
        this.vec.removeSync(label);
        if (this.byTrack.get([t.cameraId, t.trackId]) === label) this.byTrack.removeSync([t.cameraId, t.trackId]);
      }
    });
    for (const label of labels) {
      this.meta.clear(label);
      if (this.pendingSet.delete(label)) this.pending = this.pending.filter((l) => l !== label);
      else {
        try {
          this.hnsw.markDelete(label);
          this.vacant++;
        } catch {
          // not in the graph
        }
      }
      this.live--;
    }
    this.dirty = true;
    return labels.length;
  }

  /** Saves the graph every `intervalMs` when it changed (the timer does not keep the process alive). */
  startAutosave(intervalMs = 600_000): void {
    if (this.autosave) return;
    this.autosave = setInterval(() => {
      if (this.dirty && !this.closed) this.save().catch(() => undefined);
    }, intervalMs);
    this.autosave.unref();
  }

  private autosave: NodeJS.Timeout | null = null;

  /** Writes the graph and its checksum (temp files, then rename; the metadata last). */
  async save(): Promise<void> {
    if (this.closed) throw new VigilClosedError('VectorIndex');
    await this.drain();
    if (this.live === 0) return;
    const tmp = `${this.indexFile}.tmp`;
    this.hnsw.writeIndexSync(tmp);
    const meta: IndexMeta = { format: 1, dims: this.dims, m: this.m, efConstruction: this.efConstruction, seed: this.seed, nextLabel: this.nextLabel, count: this.live, sha256: await sha256File(tmp) };
    await rm(this.metaFile, { force: true });
    await rename(tmp, this.indexFile);
    await writeFile(`${this.metaFile}.tmp`, JSON.stringify(meta));
    await rename(`${this.metaFile}.tmp`, this.metaFile);
    this.dirty = false;
  }

  /** Saves when there are unsaved changes, then refuses further use. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.autosave) clearInterval(this.autosave);
    this.autosave = null;
    await this.drain();
    if (this.dirty) await this.save();
    this.closed = true;
  }
}
