/**
 * Clustered synthetic embeddings for recall tests and benchmarks (uniform random vectors are a pathological case
 * for HNSW and say nothing about real embeddings): unit centres, points = centre + Gaussian noise, normalized.
 */
import type { TrackVector } from '../../src/store/vector-index.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export interface ClusteredSet {
  dims: number;
  vectors: Float32Array[];
  tracks: TrackVector[];
  queries: Float32Array[];
}

export const CLUSTER_T0 = 1_800_000_000_000_000_000n;
export const CLUSTER_CLASSES = ['person', 'car', 'bicycle'];

/** n points in `clusters` clusters over `cameras` cameras, 3 classes, timestamps one second apart. */
export function clustered(n: number, dims: number, clusters: number, cameras: number, nQueries: number, seed = 1, noise = 0.35): ClusteredSet {
  const r = mulberry32(seed);
  const unit = (v: Float32Array): Float32Array => {
    const s = Math.hypot(...v);
    return v.map((x) => x / s);
  };
  const centres = Array.from({ length: clusters }, () => unit(Float32Array.from({ length: dims }, () => gaussian(r))));
  const point = (): Float32Array => {
    const c = centres[Math.floor(r() * clusters)]!;
    const sigma = noise / Math.sqrt(dims);
    return unit(c.map((x) => x + sigma * gaussian(r)));
  };
  const vectors: Float32Array[] = [];
  const tracks: TrackVector[] = [];
  for (let i = 0; i < n; i++) {
    vectors.push(point());
    const cls = Math.floor(r() * 3);
    tracks.push({ cameraId: `cam-${i % cameras}`, trackId: i, classId: cls, className: CLUSTER_CLASSES[cls]!, timestampNs: CLUSTER_T0 + BigInt(i) * 1_000_000_000n });
  }
  const queries = Array.from({ length: nQueries }, point);
  return { dims, vectors, tracks, queries };
}
