/**
 * The live embedding flow: one vector per track, from the track's best frame, into the vector index.
 *
 *   offer(track, frame) ──► crop started at once (native, off the JS thread), frame closed when the crop is done
 *                      ──► bounded queue (maxPending) ──► one embedder run per up to maxBatch crops
 *                      ──► VectorIndex.addMany (one durable commit per batch)
 *
 * The crop starts as soon as a track is offered so the frame (a pooled native buffer) goes back to its pool after
 * one crop, not after the queue ahead of it has been embedded. `offer` never waits: when `maxPending` tracks are
 * in flight it closes the frame, counts a drop and returns false. One embedder run at a time (the session is one
 * CPU thread); the next batch's crops are already made while it runs. A failed crop, run or commit counts each of
 * its tracks as failed and the flow goes on.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { VigilClosedError, expected } from '../errors.js';
import type { EmbedCropSpec } from '../inference/embedder.js';
import type { Box } from '../types.js';
import type { TrackVector } from './vector-index.js';

/** A track's best observation: what gets embedded and stored with the vector. */
export interface TrackObservation {
  cameraId: string;
  trackId: number;
  classId: number;
  className: string;
  /** Capture time of the frame the box is in, ns since the Unix epoch. */
  timestampNs: bigint;
  /** In source-frame pixels. */
  box: Box;
}

/** A decoded frame that can cut out a box as a model tensor (SourceFrame in src/camera/source-frame.ts). */
export interface CroppableFrame {
  /** Resolves to cropHeight x cropWidth x 3 float32 values (NHWC, RGB 0..255, letterboxed). */
  cropTensor(box: Box, spec: EmbedCropSpec): Promise<ArrayBuffer>;
  close(): void;
}

/** The parts of Embedder this flow uses. */
export interface TrackEmbedder {
  readonly cropSpec: Readonly<EmbedCropSpec>;
  embed(crops: readonly Float32Array[]): Promise<Float32Array[]>;
}

/** The part of VectorIndex this flow uses. */
export interface TrackVectorSink {
  addMany(items: readonly { track: TrackVector; vector: Float32Array | number[] }[]): Promise<number[]>;
}

export interface TrackEmbeddingsOptions {
  embedder: TrackEmbedder;
  index: TrackVectorSink;
  /** Tracks offered and not yet stored (cropping, queued, embedding, committing). Default 64. */
  maxPending?: number;
  /** Crops per embedder run. Default 8. */
  maxBatch?: number;
  /** Told about each failed crop, run or commit (the counters say how many tracks it cost). */
  onError?: (err: unknown, tracks: readonly TrackObservation[]) => void;
}

export interface TrackEmbeddingStats {
  /** Vectors committed to the index. */
  embedded: number;
  /** Offers refused because maxPending tracks were in flight. */
  dropped: number;
  /** Tracks lost to a failed crop, embedder run or commit. */
  failed: number;
  /** Offered, not yet stored or failed. */
  pending: number;
}

interface Item {
  track: TrackObservation;
  /** The crop, or the reason it failed. */
  crop: Promise<Float32Array | { error: unknown }>;
}

export class TrackEmbeddings {
  readonly maxPending: number;
  readonly maxBatch: number;
  private readonly embedder: TrackEmbedder;
  private readonly index: TrackVectorSink;
  private readonly onError: TrackEmbeddingsOptions['onError'];
  private readonly queue: Item[] = [];
  private readonly commits = new Set<Promise<void>>();
  private running: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private counts = { embedded: 0, dropped: 0, failed: 0, pending: 0 };

  constructor(options: TrackEmbeddingsOptions) {
    if (typeof options !== 'object' || options === null) throw expected('an options object', 'options', options);
    const { embedder, index } = options;
    if (typeof embedder?.embed !== 'function' || typeof embedder.cropSpec !== 'object') throw expected('an Embedder', 'options.embedder', embedder);
    if (typeof index?.addMany !== 'function') throw expected('a VectorIndex', 'options.index', index);
    const maxPending = options.maxPending ?? 64;
    const maxBatch = options.maxBatch ?? 8;
    if (!(Number.isInteger(maxPending) && maxPending >= 1 && maxPending <= 65536)) throw expected('an integer from 1 to 65536', 'options.maxPending', options.maxPending);
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1 && maxBatch <= 256)) throw expected('an integer from 1 to 256', 'options.maxBatch', options.maxBatch);
    this.embedder = embedder;
    this.index = index;
    this.maxPending = maxPending;
    this.maxBatch = maxBatch;
    this.onError = options.onError;
  }

  get stats(): TrackEmbeddingStats {
    return { ...this.counts };
  }

  /**
   * Queues the track's crop of `frame` for embedding. Takes ownership of `frame`: it is closed exactly once, when
   * its crop is made or when the offer is refused. Returns false (and counts a drop) when maxPending tracks are in
   * flight. Throws on a malformed track or after close() (the frame is closed first).
   */
  offer(track: TrackObservation, frame: CroppableFrame): boolean {
    if (typeof frame?.cropTensor !== 'function' || typeof frame.close !== 'function') throw expected('a frame with cropTensor() and close()', 'frame', frame);
    let bad: Error | null = null;
    if (this.closing) bad = new VigilClosedError('TrackEmbeddings', 'offer');
    else bad = checkTrack(track);
    if (bad) {
      frame.close();
      throw bad;
    }
    if (this.counts.pending >= this.maxPending) {
      frame.close();
      this.counts.dropped++;
      return false;
    }
    this.counts.pending++;
    const spec = this.embedder.cropSpec;
    let crop: Promise<ArrayBuffer>;
    try {
      crop = frame.cropTensor(track.box, spec);
    } catch (err) {
      crop = Promise.reject(err);
    }
    const item: Item = {
      track,
      crop: crop.then(
        (ab) => {
          frame.close();
          const values = spec.width * spec.height * 3;
          if (!(ab instanceof ArrayBuffer) || ab.byteLength !== values * 4) return { error: expected(`an ArrayBuffer of ${values * 4} bytes`, 'cropTensor result', ab) };
          return new Float32Array(ab);
        },
        (error: unknown) => {
          frame.close();
          return { error };
        },
      ),
    };
    this.queue.push(item);
    this.pump();
    return true;
  }

  /** Resolves when everything offered so far is stored or has failed. */
  async flush(): Promise<void> {
    while (this.running || this.commits.size > 0) {
      if (this.running) await this.running;
      await Promise.all([...this.commits]);
    }
  }

  /** Refuses new offers, finishes what was offered (the run in flight and the queue), then resolves. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.flush();
    return this.closing;
  }

  private pump(): void {
    if (this.running) return;
    this.running = (async () => {
      while (this.queue.length > 0) {
        // wait for the oldest crop first: the offers made meanwhile join its batch
        await this.queue[0]!.crop;
        await this.runBatch(this.queue.splice(0, this.maxBatch));
      }
      this.running = null;
    })();
  }

  private fail(err: unknown, tracks: readonly TrackObservation[]): void {
    this.counts.failed += tracks.length;
    this.counts.pending -= tracks.length;
    if (this.onError) {
      try {
        this.onError(err, tracks);
      } catch {
        // a throwing listener must not stop the flow
      }
    }
  }

  private async runBatch(batch: Item[]): Promise<void> {
    const crops = await Promise.all(batch.map((b) => b.crop));
    const ok: { track: TrackObservation; crop: Float32Array }[] = [];
    crops.forEach((c, i) => {
      if (c instanceof Float32Array) ok.push({ track: batch[i]!.track, crop: c });
      else this.fail(c.error, [batch[i]!.track]);
    });
    if (ok.length === 0) return;
    let vectors: Float32Array[];
    try {
      vectors = await this.embedder.embed(ok.map((o) => o.crop));
    } catch (err) {
      this.fail(err, ok.map((o) => o.track));
      return;
    }
    const tracks = ok.map((o) => o.track);
    // the commit (durable fsync) overlaps the next embedder run
    const commit = Promise.resolve()
      .then(() => this.index.addMany(ok.map((o, i) => ({ track: vectorTrack(o.track), vector: vectors[i]! }))))
      .then(
        () => {
          this.counts.embedded += tracks.length;
          this.counts.pending -= tracks.length;
        },
        (err: unknown) => this.fail(err, tracks),
      )
      .finally(() => this.commits.delete(commit));
    this.commits.add(commit);
  }
}

function vectorTrack(t: TrackObservation): TrackVector {
  return { cameraId: t.cameraId, trackId: t.trackId, classId: t.classId, className: t.className, timestampNs: t.timestampNs };
}

function checkTrack(t: TrackObservation): Error | null {
  if (typeof t !== 'object' || t === null) return expected('a track observation', 'track', t);
  if (typeof t.cameraId !== 'string' || t.cameraId === '') return expected('a camera id', 'track.cameraId', t.cameraId);
  if (!Number.isInteger(t.trackId)) return expected('an integer', 'track.trackId', t.trackId);
  if (!(Number.isInteger(t.classId) && t.classId >= 0)) return expected('a non-negative integer', 'track.classId', t.classId);
  if (typeof t.className !== 'string') return expected('a class name', 'track.className', t.className);
  if (typeof t.timestampNs !== 'bigint' || t.timestampNs < 0n) return expected('a bigint timestamp in ns', 'track.timestampNs', t.timestampNs);
  const b = t.box;
  if (typeof b !== 'object' || b === null || ![b.x1, b.y1, b.x2, b.y2].every((v) => typeof v === 'number' && Number.isFinite(v)) || b.x2 <= b.x1 || b.y2 <= b.y1) {
    return expected('a box {x1, y1, x2, y2} in pixels with x2 > x1 and y2 > y1', 'track.box', b);
  }
  return null;
}

/** Exposes the flow's counters on a prom-client registry (read at scrape time: nothing on the per-track path). */
export function registerTrackEmbeddingMetrics(registry: Registry, te: TrackEmbeddings): void {
  const counter = (name: string, help: string, key: keyof TrackEmbeddingStats): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(te.stats[key]);
      },
    });
  };
  counter('vigil_track_embeddings_total', 'Track vectors embedded and committed to the vector index', 'embedded');
  counter('vigil_track_embeddings_dropped_total', 'Track offers refused because the embedding queue was full', 'dropped');
  counter('vigil_track_embeddings_failed_total', 'Tracks lost to a failed crop, embedder run or index commit', 'failed');
  new Gauge({
    name: 'vigil_track_embeddings_pending',
    help: 'Tracks offered and not yet stored',
    registers: [registry],
    collect() {
      this.set(te.stats.pending);
    },
  });
}
