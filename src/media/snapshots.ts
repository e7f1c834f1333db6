/**
 * Snapshots of tracks and alerts (issue #3 item 7, #5 item 5).
 *
 * While a track lives, the decoded source frame of its best observation (highest score so far) is kept natively
 * (a SourceFrame: a copy of the decoded planes, never a decoder-pool buffer). Frames are captured at most once per
 * analysed frame and shared by every track whose best it is. JPEG encoding happens natively on a libuv worker,
 * only when someone needs the picture:
 *  - a track ends -> its best frame is encoded once and kept in LMDB next to the detections (same retention), then
 *    handed to the embedder (search) before the copy is freed;
 *  - an alert is raised -> the frame that raised it is encoded, kept, and uploaded to the media store for links;
 *  - the API asks for a live track's snapshot -> encoded from the kept frame.
 * Memory is bounded twice: by the native retained-bytes budget (captures refused past it, counted) and by
 * `maxPendingEncodes` (work dropped past it, counted).
 */
import type { Database } from 'lmdb';
import type { Frame } from '../camera/frame.js';
import { SourceFrame } from '../camera/source-frame.js';
import { expected, VigilClosedError, VigilError } from '../errors.js';
import type { TrackEvent, TrackerFrameResult } from '../tracking/tracker.js';
import type { Alert, Box } from '../types.js';

/** What the embedder queue takes: it owns the handle and closes it when done (see src/store/track-embeddings.ts). */
export interface EmbeddingSink {
  offer(
    track: { cameraId: string; trackId: number; classId: number; className: string; timestampNs: bigint; box: Box },
    frame: { cropTensor: SourceFrame['cropTensor']; close(): void },
  ): boolean;
}

/** Where alert snapshots are uploaded for links (src/integrations: local folder or S3). */
export interface SnapshotUploader {
  /** Stores the JPEG and returns a link that opens without an API token (signed or public), or null. */
  upload(alert: Alert, jpeg: Buffer): Promise<string | null>;
}

export interface StoredSnapshot {
  /** JPEG of the whole source frame. */
  jpeg: Buffer;
  /** The object's box in that frame, source pixels. */
  box: Box;
  width: number;
  height: number;
  confidence: number;
  /** Capture time of the frame, ns since the Unix epoch. */
  timestampNs: bigint;
  /** Link from the media store (alerts only), or null. */
  url: string | null;
}

export interface SnapshotOptions {
  /** JPEG quality, 1-100 (default 85). */
  quality?: number;
  /** Encodes (and uploads) in flight or waiting at once; more are dropped and counted (default 32). */
  maxPendingEncodes?: number;
  /** Extra margin around a box for crops, as a share of the box size per side (default 0.15). */
  cropMargin?: number;
  embeddings?: EmbeddingSink | null;
  uploader?: SnapshotUploader | null;
}

export interface SnapshotStats {
  /** Source frames captured from live frames. */
  captured: number;
  /** Captures the native budget refused (frame not kept). */
  captureRefused: number;
  /** Tracks currently holding a kept frame. */
  liveTracks: number;
  /** JPEGs encoded (tracks, alerts and on-demand). */
  encoded: number;
  encodeFailed: number;
  /** Snapshot work dropped because maxPendingEncodes was reached. */
  dropped: number;
  /** Track and alert snapshots written to LMDB. */
  stored: number;
  uploaded: number;
  uploadFailed: number;
  /** Snapshots deleted by retention. */
  expired: number;
}

/** A captured frame shared by the tracks whose best it is; freed when the last holder lets go. */
class SharedFrame {
  #refs = 1;
  constructor(readonly frame: SourceFrame, readonly timestampNs: bigint) {}
  acquire(): this {
    this.#refs++;
    return this;
  }
  release(): void {
    if (--this.#refs === 0) this.frame.close();
  }
  /** A handle for a consumer that will close it exactly once. */
  handle(): { cropTensor: SourceFrame['cropTensor']; close(): void } {
    this.acquire();
    let open = true;
    return {
      cropTensor: (box, spec) => this.frame.cropTensor(box, spec),
      close: () => {
        if (!open) return;
        open = false;
        this.release();
      },
    };
  }
}

interface Kept {
  shared: SharedFrame;
  box: Box;
  confidence: number;
}

type Key = ['t', string, number] | ['a', string, string];
interface Row {
  jpeg: Uint8Array;
  box: Box;
  width: number;
  height: number;
  confidence: number;
  /** Decimal ns (MessagePack has no portable 64-bit bigint round trip). */
  timestampNs: string;
  url: string | null;
}

export class SnapshotError extends VigilError {}

export class SnapshotService {
  readonly #db: Database<Row, Key>;
  /** [cameraId, timestampMs, kind, id] -> null: the retention order. */
  readonly #times: Database<null, (string | number)[]>;
  readonly #quality: number;
  readonly #maxPending: number;
  readonly #margin: number;
  readonly #embeddings: EmbeddingSink | null;
  readonly #uploader: SnapshotUploader | null;
  readonly #live = new Map<string, Map<number, Kept>>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #alertReady = new Map<string, Promise<StoredSnapshot | null>>();
  #closed = false;
  #stats: SnapshotStats = { captured: 0, captureRefused: 0, liveTracks: 0, encoded: 0, encodeFailed: 0, dropped: 0, stored: 0, uploaded: 0, uploadFailed: 0, expired: 0 };

  constructor(
    dbs: { snapshots: Database<Row, Key>; times: Database<null, (string | number)[]> },
    options: SnapshotOptions = {},
  ) {
    const quality = options.quality ?? 85;
    if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) throw expected('an integer from 1 to 100', 'snapshots.quality', quality);
    const maxPending = options.maxPendingEncodes ?? 32;
    if (!(Number.isInteger(maxPending) && maxPending >= 1)) throw expected('a positive integer', 'snapshots.maxPendingEncodes', maxPending);
    const margin = options.cropMargin ?? 0.15;
    if (!(typeof margin === 'number' && margin >= 0 && margin <= 2)) throw expected('a number from 0 to 2', 'snapshots.cropMargin', margin);
    this.#db = dbs.snapshots;
    this.#times = dbs.times;
    this.#quality = quality;
    this.#maxPending = maxPending;
    this.#margin = margin;
    this.#embeddings = options.embeddings ?? null;
    this.#uploader = options.uploader ?? null;
  }

  /**
   * Called for every analysed frame while `frame` is still leased: keeps the source frame for each track whose
   * best observation this is. Ended tracks are finished by trackEvents().
   */
  observe(result: TrackerFrameResult, frame: Frame): void {
    if (this.#closed) return;
    let shared: SharedFrame | null | undefined;
    let cam = this.#live.get(result.cameraId);
    for (const o of result.objects) {
      const kept = cam?.get(o.trackId);
      if (kept && o.confidence <= kept.confidence) continue;
      if (shared === undefined) shared = this.#capture(frame);
      if (!shared) break;
      if (!cam) {
        cam = new Map();
        this.#live.set(result.cameraId, cam);
      }
      kept?.shared.release();
      cam.set(o.trackId, { shared: shared.acquire(), box: { ...o.box }, confidence: o.confidence });
    }
    shared?.release(); // the capture's own reference: tracks hold theirs
  }

  /** Finishes ended tracks: their kept frame is encoded, stored and handed to the embedder, then freed. */
  trackEvents(events: TrackEvent[]): void {
    for (const e of events) {
      if (e.type !== 'end') continue;
      const cam = this.#live.get(e.cameraId);
      const kept = cam?.get(e.trackId);
      if (!kept) continue;
      cam!.delete(e.trackId);
      if (this.#closed) {
        kept.shared.release();
        continue;
      }
      this.#finishTrack(e, kept);
    }
  }

  /**
   * An alert was raised on `frame` (still leased): encodes that frame, keeps it, uploads it. The promise resolves
   * with the stored snapshot (null when it could not be made); `alertSnapshot()` waits for it too.
   */
  alertRaised(alert: Alert, frame: Frame, box: Box | null): Promise<StoredSnapshot | null> {
    if (this.#closed) return Promise.resolve(null);
    if (this.#pending.size >= this.#maxPending) {
      this.#stats.dropped++;
      return Promise.resolve(null);
    }
    const shared = this.#capture(frame);
    if (!shared) return Promise.resolve(null);
    const work = (async (): Promise<StoredSnapshot | null> => {
      try {
        const jpeg = await this.#encode(shared.frame);
        if (!jpeg) return null;
        let url: string | null = null;
        if (this.#uploader) {
          try {
            url = await this.#uploader.upload(alert, jpeg);
            this.#stats.uploaded++;
          } catch {
            this.#stats.uploadFailed++;
          }
        }
        const snap: StoredSnapshot = {
          jpeg,
          box: box ?? { x1: 0, y1: 0, x2: shared.frame.width, y2: shared.frame.height },
          width: shared.frame.width,
          height: shared.frame.height,
          confidence: 0,
          timestampNs: alert.raisedNs,
          url,
        };
        await this.#put(['a', alert.cameraId, alert.alertId], snap);
        return snap;
      } finally {
        shared.release();
      }
    })();
    this.#alertReady.set(alert.alertId, work);
    this.#track(work).finally(() => this.#alertReady.delete(alert.alertId));
    return work;
  }

  /** The stored snapshot of an alert (waits for one still being made); null when there is none. */
  async alertSnapshot(alertId: string, cameraId: string): Promise<StoredSnapshot | null> {
    this.#assertOpen('alertSnapshot');
    const inFlight = this.#alertReady.get(alertId);
    if (inFlight) return inFlight;
    return this.#get(['a', cameraId, alertId]);
  }

  /**
   * JPEG of a track's best frame: encoded now from the kept frame while the track lives, else the stored one.
   * `crop`: the object's box with a margin instead of the whole frame. Null when the track has no snapshot.
   */
  async trackSnapshot(cameraId: string, trackId: number, options: { crop?: boolean } = {}): Promise<Buffer | null> {
    this.#assertOpen('trackSnapshot');
    const kept = this.#live.get(cameraId)?.get(trackId);
    if (kept) {
      kept.shared.acquire();
      try {
        return await this.#encode(kept.shared.frame, options.crop ? kept.box : null);
      } finally {
        kept.shared.release();
      }
    }
    const row = this.#get(['t', cameraId, trackId]);
    if (!row) return null;
    if (!options.crop) return row.jpeg;
    const decoded = await SourceFrame.decodeJpeg(row.jpeg);
    try {
      return await this.#encode(decoded, row.box);
    } finally {
      decoded.close();
    }
  }

  /**
   * Deletes snapshots of `cameras` older than each camera's cutoff (Unix ms; null keeps everything), at most
   * `maxRows` per call; returns how many were deleted.
   */
  async expire(cameras: Iterable<string>, cutoffMsFor: (cameraId: string) => number | null, maxRows = 1000): Promise<number> {
    if (this.#closed) return 0;
    const doomed: { time: (string | number)[]; key: Key }[] = [];
    for (const camera of cameras) {
      const cutoff = cutoffMsFor(camera);
      if (cutoff === null) continue;
      for (const key of this.#times.getKeys({ start: [camera], end: [camera, cutoff] })) {
        const [, , kind, id] = key as [string, number, 't' | 'a', number | string];
        doomed.push({ time: key, key: (kind === 't' ? ['t', camera, id as number] : ['a', camera, id as string]) as Key });
        if (doomed.length >= maxRows) break;
      }
      if (doomed.length >= maxRows) break;
    }
    if (doomed.length === 0) return 0;
    await this.#db.transaction(() => {
      for (const d of doomed) {
        this.#db.remove(d.key);
        this.#times.remove(d.time);
      }
    });
    this.#stats.expired += doomed.length;
    return doomed.length;
  }

  stats(): SnapshotStats {
    return { ...this.#stats, liveTracks: this.#countLive() };
  }

  /** Frees every kept frame and waits for the encodes in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cam of this.#live.values()) for (const k of cam.values()) k.shared.release();
    this.#live.clear();
    await Promise.allSettled([...this.#pending]);
  }

  #assertOpen(method: string): void {
    if (this.#closed) throw new VigilClosedError('SnapshotService', method);
  }

  #countLive(): number {
    let n = 0;
    for (const cam of this.#live.values()) n += cam.size;
    return n;
  }

  #capture(frame: Frame): SharedFrame | null {
    const src = frame.captureSource();
    if (!src) {
      this.#stats.captureRefused++;
      return null;
    }
    this.#stats.captured++;
    return new SharedFrame(src, frame.wallClockNs);
  }

  #finishTrack(e: TrackEvent, kept: Kept): void {
    if (this.#pending.size >= this.#maxPending) {
      this.#stats.dropped++;
      kept.shared.release();
      return;
    }
    const { shared } = kept;
    this.#track(
      (async () => {
        try {
          const jpeg = await this.#encode(shared.frame);
          if (jpeg) {
            await this.#put(['t', e.cameraId, e.trackId], {
              jpeg,
              box: kept.box,
              width: shared.frame.width,
              height: shared.frame.height,
              confidence: kept.confidence,
              timestampNs: shared.timestampNs,
              url: null,
            });
          }
          // The embedder takes its own handle (closed when it is done or drops the work).
          this.#embeddings?.offer(
            { cameraId: e.cameraId, trackId: e.trackId, classId: e.classId, className: e.className, timestampNs: shared.timestampNs, box: kept.box },
            shared.handle(),
          );
        } finally {
          shared.release();
        }
      })(),
    );
  }

  async #encode(frame: SourceFrame, box: Box | null = null): Promise<Buffer | null> {
    try {
      const crop = box ? this.#cropOf(box, frame.width, frame.height) : undefined;
      const jpeg = await frame.encodeJpeg({ quality: this.#quality, ...(crop ? { crop } : {}) });
      this.#stats.encoded++;
      return jpeg;
    } catch {
      this.#stats.encodeFailed++;
      return null;
    }
  }

  /** The box grown by the margin on each side, clamped to the frame (source pixels). */
  #cropOf(b: Box, width: number, height: number): Box {
    const mx = (b.x2 - b.x1) * this.#margin;
    const my = (b.y2 - b.y1) * this.#margin;
    return {
      x1: Math.max(0, Math.floor(b.x1 - mx)),
      y1: Math.max(0, Math.floor(b.y1 - my)),
      x2: Math.min(width, Math.ceil(b.x2 + mx)),
      y2: Math.min(height, Math.ceil(b.y2 + my)),
    };
  }

  /** Only called from tracked work, which close() waits for: the databases are still open here. */
  async #put(key: Key, s: StoredSnapshot): Promise<void> {
    const ms = Number(s.timestampNs / 1_000_000n);
    await this.#db.transaction(() => {
      this.#db.put(key, { jpeg: s.jpeg, box: s.box, width: s.width, height: s.height, confidence: s.confidence, timestampNs: String(s.timestampNs), url: s.url });
      this.#times.put([key[1], ms, key[0], key[2]], null);
    });
    this.#stats.stored++;
  }

  #get(key: Key): StoredSnapshot | null {
    const r = this.#db.get(key);
    if (!r) return null;
    return { ...r, timestampNs: BigInt(r.timestampNs), jpeg: Buffer.from(r.jpeg.buffer, r.jpeg.byteOffset, r.jpeg.byteLength) };
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    const done = (): void => {
      this.#pending.delete(p);
    };
    p.then(done, done);
    return p;
  }
}
