/**
 * Snapshots of tracks and alerts (issue #3 item 7, #5 item 5, #16 item 7).
 *
 * While a track lives, the decoded source frame of its best observation (highest score so far) is kept natively
 * (a SourceFrame: a copy of the decoded planes, never a decoder-pool buffer). Frames are captured at most once per
 * analysed frame and shared by every track whose best it is. JPEG encoding happens natively on a libuv worker,
 * only when someone needs the picture:
 *  - a track ends -> it gets a frame image: an image already stored for its camera in which the track scored at
 *    least `shareMinScoreRatio` of its best (several tracks of one frame share one file), else its best frame,
 *    scaled to `maxWidth` and encoded once at `quality`; then the full-resolution frame goes to the embedder;
 *  - an alert is raised -> the frame that raised it is stored the same way (shared with the tracks of that frame)
 *    and that JPEG is uploaded to the media store for links;
 *  - the API asks for a live track's snapshot -> encoded from the kept frame.
 * Images are files (src/media/snapshot-files.ts) named by (camera, frame time), indexed in an LMDB sub-database
 * (src/media/snapshot-index.ts) with one reference per track and alert; retention removes references by age and an
 * image with its last one. Crops (`?crop=true`) of a stored image are cut from the stored pixels: the box scaled by
 * width / sourceWidth, so at maxWidth 640 a crop of a 1280-wide camera has half the source's linear resolution
 * (a live track's crop is cut from the kept source frame at full resolution).
 * Memory is bounded twice: by the native retained-bytes budget (captures refused past it, counted) and by
 * `maxPendingEncodes` (work dropped past it, counted).
 */
import { dirname, join } from 'node:path';
import type { Database } from 'lmdb';
import type { Frame } from '../camera/frame.js';
import { scaledSize, SourceFrame } from '../camera/source-frame.js';
import { expected, VigilClosedError, VigilError } from '../errors.js';
import type { TrackEvent, TrackerFrameResult } from '../tracking/tracker.js';
import type { Alert, Box } from '../types.js';
import { imageFile, SnapshotFiles, type FsyncPolicy } from './snapshot-files.js';
import { frameKey, SnapshotIndex, type ImageRow, type RefKind, type RefRow, type SnapshotIndexDb } from './snapshot-index.js';

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
  /** JPEG of the whole frame at its stored size. */
  jpeg: Buffer;
  /** The object's box in the source frame, source pixels. */
  box: Box;
  /** The JPEG's size in pixels. */
  width: number;
  height: number;
  /** The source frame's size in pixels (box's frame of reference). */
  sourceWidth: number;
  sourceHeight: number;
  confidence: number;
  /** Capture time of the frame, ns since the Unix epoch. */
  timestampNs: bigint;
  /** Link from the media store (alerts only), or null. */
  url: string | null;
}

export interface SnapshotOptions {
  /**
   * JPEG quality of stored images and on-demand JPEGs, 1-100 (default 60: with maxWidth 640 it keeps a busy 720p
   * camera under 2 GB a day with its detections, bench/snapshot-disk.ts).
   */
  quality?: number;
  /** Stored images are scaled down to at most this width, aspect kept (default 640; 0: the source's own width). */
  maxWidth?: number;
  /** A track shares an image already stored in which it scored at least this share of its best, 0-1 (default 0.8; 1: only its best frame). */
  shareMinScoreRatio?: number;
  /** Image files: 'always' fsync before the index names them (default), 'never' (see snapshot-files.ts). */
  fsync?: FsyncPolicy;
  /** Encodes (and uploads) in flight or waiting at once; more are dropped and counted (default 32). */
  maxPendingEncodes?: number;
  /** Extra margin around a box for crops, as a share of the box size per side (default 0.15). */
  cropMargin?: number;
  embeddings?: EmbeddingSink | null;
  uploader?: SnapshotUploader | null;
}

/** Where the service keeps its data: an LMDB sub-database for the index and a folder for the JPEG files. */
export interface SnapshotStorage {
  // Any key/value typing of the caller's sub-database: the index owns what it writes there.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  index: Database<any, any>;
  dir: string;
}

/**
 * @deprecated The layout before issue 16 (JPEGs inside the detection environment). Accepted until the composition
 * root hands over `SnapshotStorage`: `snapshots` becomes the index (its old rows use other keys and are never read)
 * and the files go to `snapshots` beside that environment's folder.
 */
export interface LegacySnapshotDatabases {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  snapshots: Database<any, any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  times: Database<any, any>;
}

export interface SnapshotStats {
  /** Source frames captured from live frames. */
  captured: number;
  /** Captures the native budget refused (frame not kept). */
  captureRefused: number;
  /** Tracks currently holding a kept frame. */
  liveTracks: number;
  /** JPEGs encoded (stored images, crops and live pictures). */
  encoded: number;
  encodeFailed: number;
  /** Snapshot work dropped because maxPendingEncodes was reached. */
  dropped: number;
  /** Track and alert references written to the index. */
  stored: number;
  /** Of those, references to an image another reference already had (no new file). */
  shared: number;
  /** Image files written, and their bytes. */
  images: number;
  bytesWritten: number;
  writeFailed: number;
  uploaded: number;
  uploadFailed: number;
  /** References deleted by retention, and image files deleted with their last reference. */
  expired: number;
  imagesDeleted: number;
  /** Reads of an indexed image whose file was not there. */
  missing: number;
  /** Start-up sweep: orphan files and temporary files deleted, index entries of missing files dropped. */
  orphansSwept: number;
  danglingDropped: number;
}

export interface SweepResult {
  files: number;
  orphans: number;
  temporary: number;
  dangling: number;
}

interface Seen {
  box: Box;
  confidence: number;
}

/** A captured frame shared by the tracks whose best it is; freed when the last holder lets go. */
class SharedFrame {
  #refs = 1;
  /** The stored image of this frame, once asked for (one file however many tracks and alerts refer to it). */
  stored: Promise<StoredImage | null> | null = null;
  constructor(
    readonly frame: SourceFrame,
    readonly cameraId: string,
    readonly timestampNs: bigint,
    /** Every tracked object of this frame (what an image of it can stand for). */
    readonly objects: ReadonlyMap<number, Seen>,
    readonly onFree: (f: SharedFrame) => void,
  ) {}
  acquire(): this {
    this.#refs++;
    return this;
  }
  release(): void {
    if (--this.#refs === 0) {
      this.frame.close();
      this.onFree(this);
    }
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

interface StoredImage {
  frame: string;
  row: Omit<ImageRow, 'refs'>;
  jpeg: Buffer;
}

/** An image stored lately (or being stored), with the objects it shows: later-ending tracks may share it. */
interface RecentImage {
  frame: string;
  /** Its index row only, never its JPEG: RECENT_PER_CAMERA JPEGs per camera (~90 KB each at maxWidth 640) would
   * keep ~11 MB per camera alive for nothing (the soak of issue 17 saw that as steady growth). */
  image: Promise<Pick<StoredImage, 'frame' | 'row'> | null>;
  objects: ReadonlyMap<number, Seen>;
  /** Set once written: retention drops the entry with its file. */
  file: string | null;
}

interface Kept {
  shared: SharedFrame;
  box: Box;
  confidence: number;
}

/** Stored images remembered per camera for sharing: tracks rarely outlive this many images of their camera. */
const RECENT_PER_CAMERA = 128;

export class SnapshotError extends VigilError {}

export class SnapshotService {
  readonly #index: SnapshotIndex;
  readonly #files: SnapshotFiles;
  readonly #quality: number;
  readonly #maxWidth: number;
  readonly #shareRatio: number;
  readonly #maxPending: number;
  readonly #margin: number;
  readonly #embeddings: EmbeddingSink | null;
  readonly #uploader: SnapshotUploader | null;
  readonly #live = new Map<string, Map<number, Kept>>();
  /** Captured frames alive now, by camera and frame time (an alert on a frame a track kept reuses its capture). */
  readonly #byFrame = new Map<string, SharedFrame>();
  readonly #recent = new Map<string, RecentImage[]>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #alertReady = new Map<string, Promise<StoredSnapshot | null>>();
  readonly #ready: Promise<SweepResult>;
  #closed = false;
  #stats: SnapshotStats = {
    captured: 0, captureRefused: 0, liveTracks: 0, encoded: 0, encodeFailed: 0, dropped: 0, stored: 0, shared: 0, images: 0,
    bytesWritten: 0, writeFailed: 0, uploaded: 0, uploadFailed: 0, expired: 0, imagesDeleted: 0, missing: 0, orphansSwept: 0,
    danglingDropped: 0,
  };

  /**
   * `storage.index`: an LMDB sub-database the service owns (any environment: the shared one of the server);
   * `storage.dir`: the folder of the image files (made on first write). Orphan files are swept from it before the
   * first write (see ready()).
   */
  constructor(storage: SnapshotStorage | LegacySnapshotDatabases, options: SnapshotOptions = {}) {
    const quality = options.quality ?? 60;
    if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) throw expected('an integer from 1 to 100', 'snapshots.quality', quality);
    const maxWidth = options.maxWidth ?? 640;
    if (!(Number.isInteger(maxWidth) && (maxWidth === 0 || (maxWidth >= 16 && maxWidth <= 16384)))) {
      throw expected('0 or an integer from 16 to 16384', 'snapshots.maxWidth', maxWidth);
    }
    const ratio = options.shareMinScoreRatio ?? 0.8;
    if (!(typeof ratio === 'number' && ratio >= 0 && ratio <= 1)) throw expected('a number from 0 to 1', 'snapshots.shareMinScoreRatio', ratio);
    const fsync = options.fsync ?? 'always';
    if (fsync !== 'always' && fsync !== 'never') throw expected('"always" or "never"', 'snapshots.fsync', fsync);
    const maxPending = options.maxPendingEncodes ?? 32;
    if (!(Number.isInteger(maxPending) && maxPending >= 1)) throw expected('a positive integer', 'snapshots.maxPendingEncodes', maxPending);
    const margin = options.cropMargin ?? 0.15;
    if (!(typeof margin === 'number' && margin >= 0 && margin <= 2)) throw expected('a number from 0 to 2', 'snapshots.cropMargin', margin);
    const { index, dir } = SnapshotService.#storageOf(storage);
    this.#index = new SnapshotIndex(index as SnapshotIndexDb);
    this.#files = new SnapshotFiles(dir, fsync);
    this.#quality = quality;
    this.#maxWidth = maxWidth;
    this.#shareRatio = ratio;
    this.#maxPending = maxPending;
    this.#margin = margin;
    this.#embeddings = options.embeddings ?? null;
    this.#uploader = options.uploader ?? null;
    this.#ready = this.#sweep();
  }

  static #storageOf(storage: SnapshotStorage | LegacySnapshotDatabases): SnapshotStorage {
    if (typeof storage !== 'object' || storage === null) throw expected('{ index, dir }', 'storage', storage);
    if ('index' in storage) {
      if (typeof storage.index?.get !== 'function') throw expected('an LMDB database', 'storage.index', storage.index);
      if (typeof storage.dir !== 'string' || storage.dir === '') throw expected('a folder path', 'storage.dir', storage.dir);
      return storage;
    }
    const db = (storage as LegacySnapshotDatabases).snapshots as { get?: unknown; path?: unknown } | undefined;
    if (typeof db?.get !== 'function' || typeof db.path !== 'string') throw expected('{ index, dir }', 'storage', storage);
    return { index: (storage as LegacySnapshotDatabases).snapshots, dir: join(dirname(db.path), 'snapshots') };
  }

  /** The start-up sweep's outcome; writes and retention wait for it. */
  ready(): Promise<SweepResult> {
    return this.#ready;
  }

  /** The folder of the image files. */
  get dir(): string {
    return this.#files.dir;
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
      if (shared === undefined) {
        const objects = new Map<number, Seen>();
        for (const x of result.objects) objects.set(x.trackId, { box: { ...x.box }, confidence: x.confidence });
        shared = this.#capture(frame, objects);
      }
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

  /** Finishes ended tracks: each gets a stored image (shared where it can), then its kept frame is freed. */
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
   * An alert was raised on `frame` (still leased): stores that frame's image (shared with its tracks), uploads it,
   * and refers the alert to it. The promise resolves with the stored snapshot (null when it could not be made);
   * `alertSnapshot()` waits for it too.
   */
  alertRaised(alert: Alert, frame: Frame, box: Box | null): Promise<StoredSnapshot | null> {
    if (this.#closed) return Promise.resolve(null);
    if (this.#pending.size >= this.#maxPending) {
      this.#stats.dropped++;
      return Promise.resolve(null);
    }
    const shared = this.#byFrame.get(frameId(frame.cameraId, frame.wallClockNs))?.acquire() ?? this.#capture(frame, new Map());
    if (!shared) return Promise.resolve(null);
    const work = (async (): Promise<StoredSnapshot | null> => {
      try {
        await this.#ready;
        const img = await this.#storeImage(shared);
        if (!img) return null;
        let url: string | null = null;
        if (this.#uploader) {
          try {
            url = await this.#uploader.upload(alert, img.jpeg);
            this.#stats.uploaded++;
          } catch {
            this.#stats.uploadFailed++;
          }
        }
        const ref: RefRow = { frame: img.frame, box: box ?? { x1: 0, y1: 0, x2: img.row.sourceWidth, y2: img.row.sourceHeight }, confidence: 0, url };
        if (!(await this.#link('alr', alert.cameraId, alert.alertId, ref, img.row))) return null;
        return snapshotOf(img.jpeg, img.row, ref);
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
    return this.#read('alr', cameraId, alertId);
  }

  /**
   * JPEG of a track's picture: while the track lives, encoded now from its kept frame (whole: at the stored size;
   * crop: at source resolution); after it ended, its stored image (crop: cut from the stored pixels).
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
    const snap = await this.#read('trk', cameraId, trackId);
    if (!snap) return null;
    if (!options.crop) return snap.jpeg;
    const decoded = await SourceFrame.decodeJpeg(snap.jpeg);
    try {
      // The box from source pixels into the stored image's pixels.
      const sx = decoded.width / snap.sourceWidth;
      const sy = decoded.height / snap.sourceHeight;
      const b = snap.box;
      return await this.#encode(decoded, { x1: b.x1 * sx, y1: b.y1 * sy, x2: b.x2 * sx, y2: b.y2 * sy });
    } finally {
      decoded.close();
    }
  }

  /**
   * Deletes track and alert references of `cameras` to frames older than each camera's cutoff (Unix ms; null keeps
   * everything), at most `maxRows` per call, and the image files left without references; returns how many
   * references were deleted.
   */
  async expire(cameras: Iterable<string>, cutoffMsFor: (cameraId: string) => number | null, maxRows = 1000): Promise<number> {
    if (this.#closed) return 0;
    await this.#ready;
    const { refs, files } = await this.#index.expire(cameras, cutoffMsFor, maxRows);
    if (files.length > 0) {
      for (const list of this.#recent.values()) {
        const gone = new Set(files);
        for (let i = list.length - 1; i >= 0; i--) if (list[i]!.file !== null && gone.has(list[i]!.file!)) list.splice(i, 1);
      }
      this.#stats.imagesDeleted += await this.#files.remove(files);
    }
    this.#stats.expired += refs;
    return refs;
  }

  /**
   * `expire` in batches of `batchRows` until a batch comes back short or `maxBatches` ran (the rest waits for the
   * next pass), yielding to the event loop between batches; returns how many references were deleted. One batch a
   * pass could not keep up: busy cameras make hundreds of references a minute (a soak's index grew ~330 a minute
   * with one batch of 1000 every 10 minutes).
   */
  async expireAll(cameras: Iterable<string>, cutoffMsFor: (cameraId: string) => number | null, opts: { batchRows?: number; maxBatches?: number } = {}): Promise<number> {
    const batchRows = opts.batchRows ?? 1000;
    const maxBatches = opts.maxBatches ?? 50;
    if (!Number.isInteger(batchRows) || batchRows < 1) throw expected('a positive integer', 'opts.batchRows', opts.batchRows);
    if (!Number.isInteger(maxBatches) || maxBatches < 1) throw expected('a positive integer', 'opts.maxBatches', opts.maxBatches);
    const ids = [...cameras];
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.expire(ids, cutoffMsFor, batchRows);
      total += n;
      if (n < batchRows) break;
      await new Promise((r) => setImmediate(r));
    }
    return total;
  }

  stats(): SnapshotStats {
    return { ...this.#stats, liveTracks: this.#countLive() };
  }

  /** Frees every kept frame and waits for the work in flight (and the start-up sweep). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cam of this.#live.values()) for (const k of cam.values()) k.shared.release();
    this.#live.clear();
    await Promise.allSettled([...this.#pending, this.#ready]);
  }

  #assertOpen(method: string): void {
    if (this.#closed) throw new VigilClosedError('SnapshotService', method);
  }

  #countLive(): number {
    let n = 0;
    for (const cam of this.#live.values()) n += cam.size;
    return n;
  }

  async #sweep(): Promise<SweepResult> {
    const indexed = this.#index.files();
    const onDisk = new Set<string>();
    const r = await this.#files.sweep((rel) => {
      if (!indexed.has(rel)) return false;
      onDisk.add(rel);
      return true;
    });
    const dangling = await this.#index.dropImages((file) => !onDisk.has(file));
    this.#stats.orphansSwept += r.orphans + r.temporary;
    this.#stats.danglingDropped += dangling;
    return { ...r, dangling };
  }

  #capture(frame: Frame, objects: ReadonlyMap<number, Seen>): SharedFrame | null {
    const src = frame.captureSource();
    if (!src) {
      this.#stats.captureRefused++;
      return null;
    }
    this.#stats.captured++;
    const id = frameId(frame.cameraId, frame.wallClockNs);
    const shared = new SharedFrame(src, frame.cameraId, frame.wallClockNs, objects, (f) => {
      if (this.#byFrame.get(id) === f) this.#byFrame.delete(id);
    });
    this.#byFrame.set(id, shared);
    return shared;
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
          await this.#ready;
          // An image that already shows this track well enough saves a file; its own best frame otherwise.
          const recent = shared.stored ? null : this.#recentFor(e.cameraId, e.trackId, kept.confidence);
          let linked = false;
          if (recent) {
            const img = await recent.image;
            if (img) {
              linked = await this.#link('trk', e.cameraId, e.trackId, { frame: img.frame, box: recent.seen.box, confidence: recent.seen.confidence, url: null }, img.row);
            }
          }
          if (!linked) {
            const img = await this.#storeImage(shared);
            if (img) await this.#link('trk', e.cameraId, e.trackId, { frame: img.frame, box: kept.box, confidence: kept.confidence, url: null }, img.row);
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

  /** The recent image of the camera in which the track scored best, when that is at least the share ratio of its best. */
  #recentFor(cameraId: string, trackId: number, best: number): { image: RecentImage['image']; seen: Seen } | null {
    let pick: { image: RecentImage['image']; seen: Seen } | null = null;
    for (const r of this.#recent.get(cameraId) ?? []) {
      const seen = r.objects.get(trackId);
      if (seen && seen.confidence >= best * this.#shareRatio && (!pick || seen.confidence > pick.seen.confidence)) pick = { image: r.image, seen };
    }
    return pick;
  }

  /** The frame's image: encoded (scaled) and written once however many tracks and alerts ask for it. */
  #storeImage(shared: SharedFrame): Promise<StoredImage | null> {
    if (shared.stored) return shared.stored;
    const frame = frameKey(shared.timestampNs);
    const recent: RecentImage = { frame, image: null as unknown as RecentImage['image'], objects: shared.objects, file: null };
    shared.stored = (async (): Promise<StoredImage | null> => {
      const f = shared.frame;
      const jpeg = await this.#encode(f, null);
      if (!jpeg) return null;
      const file = imageFile(shared.cameraId, shared.timestampNs);
      let bytes: number;
      try {
        bytes = await this.#files.write(file, jpeg);
      } catch {
        this.#stats.writeFailed++;
        return null;
      }
      this.#stats.images++;
      this.#stats.bytesWritten += bytes;
      const size = this.#maxWidth > 0 ? scaledSize(f.width, f.height, this.#maxWidth) : { width: f.width, height: f.height };
      const row = { file, width: size.width, height: size.height, sourceWidth: f.width, sourceHeight: f.height, bytes };
      recent.file = file;
      return { frame, row, jpeg };
    })();
    recent.image = shared.stored.then((img) => (img ? { frame: img.frame, row: img.row } : null));
    // Listed before it is written, so that tracks ending meanwhile wait for this image instead of making their own.
    if (shared.objects.size > 0) {
      let list = this.#recent.get(shared.cameraId);
      if (!list) this.#recent.set(shared.cameraId, (list = []));
      list.push(recent);
      if (list.length > RECENT_PER_CAMERA) list.shift();
    }
    return shared.stored;
  }

  /** Only called from tracked work, which close() waits for: the database is still open here. */
  async #link(kind: RefKind, cameraId: string, id: string | number, ref: RefRow, image?: Omit<ImageRow, 'refs'>): Promise<boolean> {
    const r = await this.#index.link(kind, cameraId, id, ref, image);
    if (r.unreferenced.length > 0) this.#stats.imagesDeleted += await this.#files.remove(r.unreferenced);
    if (!r.linked) return false;
    this.#stats.stored++;
    if (!r.created) this.#stats.shared++;
    return true;
  }

  async #read(kind: RefKind, cameraId: string, id: string | number): Promise<StoredSnapshot | null> {
    const ref = this.#index.ref(kind, cameraId, id);
    if (!ref) return null;
    const img = this.#index.image(cameraId, ref.frame);
    const jpeg = img ? await this.#files.read(img.file) : null;
    if (!img || !jpeg) {
      this.#stats.missing++;
      return null;
    }
    return snapshotOf(jpeg, img, ref);
  }

  async #encode(frame: SourceFrame, box: Box | null): Promise<Buffer | null> {
    try {
      const crop = box ? this.#cropOf(box, frame.width, frame.height) : undefined;
      const jpeg = await frame.encodeJpeg({
        quality: this.#quality,
        ...(crop ? { crop } : this.#maxWidth > 0 ? { maxWidth: this.#maxWidth } : {}),
      });
      this.#stats.encoded++;
      return jpeg;
    } catch {
      this.#stats.encodeFailed++;
      return null;
    }
  }

  /** The box grown by the margin on each side, clamped to the frame (pixels of that frame). */
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

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    const done = (): void => {
      this.#pending.delete(p);
    };
    p.then(done, done);
    return p;
  }
}

function frameId(cameraId: string, ns: bigint): string {
  return `${cameraId}\u0000${ns}`;
}

function snapshotOf(jpeg: Buffer, img: Omit<ImageRow, 'refs'>, ref: RefRow): StoredSnapshot {
  return {
    jpeg,
    box: ref.box,
    width: img.width,
    height: img.height,
    sourceWidth: img.sourceWidth,
    sourceHeight: img.sourceHeight,
    confidence: ref.confidence,
    timestampNs: BigInt(ref.frame),
    url: ref.url,
  };
}
