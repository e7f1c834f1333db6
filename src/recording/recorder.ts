/**
 * Recording: turns the cameras' segment boundaries into indexed segments, keeps event-only cameras to the footage
 * around their events, and enforces retention by age per camera and by disk space across cameras (oldest first),
 * so recording never runs the disk out of space. Crash recovery at start-up: a segment left open is kept when it
 * is readable (fragmented MP4 / Matroska survive a kill up to their last fragment) and dropped otherwise.
 */
import type { DatabaseScope } from '../db/database.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import type { SegmentEvent } from '../camera/camera.js';
import { createLogger, type Logger } from '../log.js';
import { SegmentClock } from './clock.js';
import { SegmentIndex, type Segment } from './segment-index.js';

const execFileP = promisify(execFile);

export type RecordingMode = 'off' | 'continuous' | 'event';

export interface CameraRecordingPolicy {
  mode: RecordingMode;
  /** Keep footage this long (seconds); 0 = until the disk watermark needs the space. */
  maxAgeS: number;
  /** Event mode: seconds kept before and after each event. */
  preRollS: number;
  postRollS: number;
}

export interface RecorderOptions {
  /** Folder holding the LMDB index (segments live in per-camera folders chosen by the cameras' settings). */
  /** The `segments` scope of the server's Database (src/db/), or a path for an index of its own. */
  indexPath: string | DatabaseScope;
  /** Keep at least this many bytes free on the recordings' filesystem. */
  minFreeBytes: number;
  /** Never hold more than this many bytes of segments (a size-limited folder); 0 = no cap. */
  maxBytes: number;
  /** Folder whose filesystem the free-space floor applies to. */
  recordingsDir: string;
  log?: Logger;
  /** Free bytes on the recordings filesystem (a seam for tests of the watermark). */
  freeBytes?: () => number;
  now?: () => bigint;
}

export interface RecorderCounters {
  segmentsClosed: number;
  segmentsDeletedAge: number;
  segmentsDeletedSpace: number;
  segmentsDeletedEventMode: number;
  recoveredAtStart: number;
  droppedAtStart: number;
}

export class Recorder {
  readonly index: SegmentIndex;
  #options: RecorderOptions;
  #log: Logger;
  #policies = new Map<string, CameraRecordingPolicy>();
  #clocks = new Map<string, SegmentClock>();
  /** Open segments by file path. */
  #open = new Map<string, Segment>();
  #events = new Map<string, bigint[]>();
  #counters: RecorderCounters = {
    segmentsClosed: 0,
    segmentsDeletedAge: 0,
    segmentsDeletedSpace: 0,
    segmentsDeletedEventMode: 0,
    recoveredAtStart: 0,
    droppedAtStart: 0,
  };
  // Retention passes run one at a time (two overlapping passes would delete the same segment twice).
  #serial: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #now: () => bigint;

  constructor(options: RecorderOptions) {
    this.#options = options;
    this.#log = options.log ?? createLogger('vigil.recording');
    mkdirSync(options.recordingsDir, { recursive: true });
    this.index = new SegmentIndex(options.indexPath);
    this.#now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  /** Start-up: settle segments a crash left open, then sweep every `sweepIntervalMs`. */
  async start(sweepIntervalMs = 10_000): Promise<void> {
    for (const seg of this.index.open()) {
      const duration = existsSync(seg.path) ? await probeDurationNs(seg.path) : null;
      if (duration !== null && duration > 0n) {
        await this.index.put({ ...seg, endNs: seg.startNs + duration, sizeBytes: statSync(seg.path).size });
        this.#counters.recoveredAtStart++;
      } else {
        rmSync(seg.path, { force: true });
        await this.index.remove(seg);
        this.#counters.droppedAtStart++;
      }
    }
    this.#timer = setInterval(() => void this.sweep(), sweepIntervalMs);
    this.#timer.unref();
  }

  setPolicy(cameraId: string, policy: CameraRecordingPolicy): void {
    this.#policies.set(cameraId, policy);
  }

  /** The camera's recording policy; undefined: not recorded. */
  policy(cameraId: string): CameraRecordingPolicy | undefined {
    return this.#policies.get(cameraId);
  }

  counters(): RecorderCounters {
    return { ...this.#counters };
  }

  /** An event (alert, tracked object) on an event-mode camera: keeps [t - preRoll, t + postRoll]. */
  markEvent(cameraId: string, atNs: bigint): void {
    const list = this.#events.get(cameraId) ?? [];
    list.push(atNs);
    this.#events.set(cameraId, list);
  }

  #inFlight = new Set<Promise<void>>();
  #closed = false;

  /**
   * Feed of the cameras' segment boundaries (CameraManager 'segment' events). Boundaries are handled in arrival
   * order; close() waits for those in flight. Ignored after close().
   */
  onSegment(e: SegmentEvent): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const p = this.#handleSegment(e).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
    return p;
  }

  async #handleSegment(e: SegmentEvent): Promise<void> {
    let clock = this.#clocks.get(e.cameraId);
    if (!clock) this.#clocks.set(e.cameraId, (clock = new SegmentClock()));
    const running = BigInt(Math.max(0, e.runningTimeNs));
    if (e.phase === 'opened') {
      const startNs = clock.opened(e.run, running, e.wallClockNs, e.location);
      const seg: Segment = { cameraId: e.cameraId, path: e.location, startNs, endNs: null, sizeBytes: 0 };
      this.#open.set(e.location, seg);
      await this.index.put(seg);
      await this.#exclusive(() => this.#ensureSpace());
      return;
    }
    const open = this.#open.get(e.location);
    const times = clock.closed(running, e.location);
    if (!open || !times) return;
    this.#open.delete(e.location);
    const size = existsSync(e.location) ? statSync(e.location).size : 0;
    await this.index.put({ ...open, endNs: times.endNs, sizeBytes: size });
    this.#counters.segmentsClosed++;
    await this.sweep();
  }

  /** Segments of a camera overlapping [startNs, endNs). */
  recordings(cameraId: string, startNs: bigint, endNs: bigint): Segment[] {
    return this.index.range(cameraId, startNs, endNs);
  }

  /** One retention pass (serialised with every other). */
  sweep(): Promise<void> {
    return this.#exclusive(() => this.#sweep());
  }

  #exclusive(fn: () => Promise<void>): Promise<void> {
    const next = this.#serial.then(fn, fn);
    this.#serial = next.catch((err: unknown) => this.#log.error(`retention pass failed: ${(err as Error).message}`));
    return next;
  }

  async #delete(seg: Segment, reason: 'age' | 'space' | 'event'): Promise<void> {
    rmSync(seg.path, { force: true });
    await this.index.remove(seg);
    if (reason === 'age') this.#counters.segmentsDeletedAge++;
    else if (reason === 'space') this.#counters.segmentsDeletedSpace++;
    else this.#counters.segmentsDeletedEventMode++;
  }

  async #sweep(): Promise<void> {
    const now = this.#now();
    for (const seg of this.index.all()) {
      if (seg.endNs === null) continue;
      const policy = this.#policies.get(seg.cameraId);
      if (!policy) continue;
      if (policy.maxAgeS > 0 && seg.endNs < now - BigInt(policy.maxAgeS) * 1_000_000_000n) {
        await this.#delete(seg, 'age');
        continue;
      }
      if (policy.mode === 'event') {
        const pre = BigInt(Math.round(policy.preRollS * 1e9));
        const post = BigInt(Math.round(policy.postRollS * 1e9));
        // Too old to be pre-roll for a future event, and outside every event window: not needed.
        if (seg.endNs >= now - pre) continue;
        const events = this.#events.get(seg.cameraId) ?? [];
        const needed = events.some((t) => seg.startNs < t + post && seg.endNs! > t - pre);
        if (!needed) await this.#delete(seg, 'event');
      }
    }
    const horizon = now - 3_600_000_000_000n;
    for (const [id, list] of this.#events) this.#events.set(id, list.filter((t) => t > horizon));
    await this.#ensureSpace();
  }

  #freeBytes(): number {
    if (this.#options.freeBytes) return this.#options.freeBytes();
    try {
      const s = statfsSync(this.#options.recordingsDir);
      return s.bavail * s.bsize;
    } catch {
      return Number.POSITIVE_INFINITY; // folder gone (being torn down): nothing to reclaim
    }
  }

  /** Deletes the oldest closed segments, across cameras, until the free-space floor and the size cap hold. */
  async #ensureSpace(): Promise<void> {
    const { minFreeBytes, maxBytes } = this.#options;
    let total = maxBytes > 0 ? this.index.totalBytes() : 0;
    const over = () => this.#freeBytes() < minFreeBytes || (maxBytes > 0 && total > maxBytes);
    if (!over()) return;
    for (const seg of this.index.oldest()) {
      if (!over()) break;
      if (seg.endNs === null) continue; // never the segment being written
      await this.#delete(seg, 'space');
      total -= seg.sizeBytes;
    }
    if (over()) this.#log.warn('recordings are over the disk watermark with only open segments left');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#inFlight]);
    await this.#serial;
    await this.index.close();
  }
}

/** Duration of a media file, ns, read by ffprobe; null when it cannot be read. */
export async function probeDurationNs(path: string): Promise<bigint | null> {
  try {
    const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path]);
    const s = Number(stdout.trim());
    return Number.isFinite(s) && s > 0 ? BigInt(Math.round(s * 1e9)) : null;
  } catch {
    return null;
  }
}
