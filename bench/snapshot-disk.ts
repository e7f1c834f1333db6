/**
 * Disk per busy camera (issue 16 item 7): bytes written per hour for detections + snapshots on the real frame path
 * (vtest 720p15 decoded natively, looping in real time, NanoDet at detectFps 5, InferenceScheduler, the server's
 * FramePath with its tracker, the DetectionStore with its event log, and the SnapshotService writing JPEG files
 * indexed in a sub-database of the store's environment), extrapolated to GB per busy camera-day.
 *
 * Baseline in the same run, on the same frames and tracks: the snapshot path before issue 16 (each ended track's
 * best frame kept natively, encoded whole at 1280x720 quality 85 and put into the detection LMDB, where a JPEG takes
 * whole overflow pages), replayed by a stage beside the real one; its bytes are the JPEGs rounded up to 4 KiB pages.
 * Variants of the new path (other quality / maxWidth) run beside it too, each into its own folder and index.
 *
 * Run: node --import tsx bench/snapshot-disk.ts [--seconds 300] [--warmup 15]   (writes bench/results/snapshot-disk.json)
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FramePath, motionBypassHook, type SnapshotStage } from '../src/analytics/index.js';
import type { Frame } from '../src/camera/frame.js';
import { CameraManager } from '../src/camera/manager.js';
import type { SourceFrame } from '../src/camera/source-frame.js';
import { parseConfig } from '../src/config/index.js';
import { Detector } from '../src/inference/detector.js';
import { nanodetPreset } from '../src/inference/models.js';
import { InferenceScheduler } from '../src/inference/scheduler.js';
import { SnapshotService } from '../src/media/snapshots.js';
import { DetectionStore } from '../src/store/index.js';
import { StoreEventLog } from '../src/stream/store-log.js';
import { TrackIdAllocator } from '../src/tracking/track-ids.js';
import type { TrackEvent, TrackerFrameResult } from '../src/tracking/tracker.js';
import type { Alert, Box } from '../src/types.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIP = join(ROOT, '.cache', 'media', 'vtest-720p15.mp4');
const PAGE = 4096;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pre-issue-16 snapshot path, for its byte count: best frame per track, whole-frame JPEG at q85 into LMDB. */
class LegacySnapshots implements SnapshotStage {
  readonly #live = new Map<number, { frame: Shared; confidence: number }>();
  jpegs = 0;
  jpegBytes = 0;
  /** What the JPEGs occupy as LMDB overflow pages (a value over a page's half is stored in whole pages). */
  pageBytes = 0;
  readonly #pending = new Set<Promise<void>>();

  observe(result: TrackerFrameResult, frame: Frame): void {
    let shared: Shared | null | undefined;
    for (const o of result.objects) {
      const kept = this.#live.get(o.trackId);
      if (kept && o.confidence <= kept.confidence) continue;
      if (shared === undefined) {
        const src = frame.captureSource();
        shared = src ? new Shared(src) : null;
      }
      if (!shared) break;
      kept?.frame.release();
      this.#live.set(o.trackId, { frame: shared.acquire(), confidence: o.confidence });
    }
    shared?.release();
  }

  trackEvents(events: TrackEvent[]): void {
    for (const e of events) {
      if (e.type !== 'end') continue;
      const kept = this.#live.get(e.trackId);
      if (!kept) continue;
      this.#live.delete(e.trackId);
      const p = kept.frame.frame
        .encodeJpeg({ quality: 85 })
        .then((jpeg) => {
          this.jpegs++;
          this.jpegBytes += jpeg.byteLength;
          this.pageBytes += Math.ceil((jpeg.byteLength + 64) / PAGE) * PAGE; // + the msgpack row around it
        })
        .catch(() => undefined)
        .finally(() => {
          kept.frame.release();
          this.#pending.delete(p);
        });
      this.#pending.add(p);
    }
  }

  alertRaised(): Promise<null> {
    return Promise.resolve(null);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    for (const k of this.#live.values()) k.frame.release();
    this.#live.clear();
  }
}

class Shared {
  #refs = 1;
  constructor(readonly frame: SourceFrame) {}
  acquire(): this {
    this.#refs++;
    return this;
  }
  release(): void {
    if (--this.#refs === 0) this.frame.close();
  }
}

/** Every stage sees every frame; alerts go to the first (the real service). */
class Tee implements SnapshotStage {
  constructor(readonly stages: SnapshotStage[]) {}
  observe(result: TrackerFrameResult, frame: Frame): void {
    for (const s of this.stages) s.observe(result, frame);
  }
  trackEvents(events: TrackEvent[]): void {
    for (const s of this.stages) s.trackEvents(events);
  }
  alertRaised(alert: Alert, frame: Frame, box: Box | null): ReturnType<SnapshotStage['alertRaised']> {
    return this.stages[0]!.alertRaised(alert, frame, box);
  }
}

function folderBytes(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile()) {
        files++;
        bytes += statSync(join(d, e.name)).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

interface Variant {
  name: string;
  quality: number;
  maxWidth: number;
  shareMinScoreRatio: number;
  service: SnapshotService;
  dir: string;
  indexName: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '300' }, warmup: { type: 'string', default: '15' } } });
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const root = mkdtempSync(join(tmpdir(), 'vigil-snapdisk-'));
  const store = DetectionStore.open({ path: join(root, 'detections') });
  const eventLog = new StoreEventLog(store);
  // The first is the service's defaults (the headline figure); the others show what each knob is worth.
  const settings = [
    { name: 'default', quality: 60, maxWidth: 640, shareMinScoreRatio: 0.8 },
    { name: 'q70-w640', quality: 70, maxWidth: 640, shareMinScoreRatio: 0.8 },
    { name: 'q70-w480', quality: 70, maxWidth: 480, shareMinScoreRatio: 0.8 },
    { name: 'q60-w640-share0.6', quality: 60, maxWidth: 640, shareMinScoreRatio: 0.6 },
  ];
  const variants: Variant[] = settings.map((s) => {
    const indexName = `snapshot-index-${s.name}`;
    const dir = join(root, `snapshots-${s.name}`);
    return {
      ...s,
      dir,
      indexName,
      service: new SnapshotService({ index: store.openDatabase(indexName, { keyEncoding: 'ordered-binary', encoding: 'msgpack' }), dir }, { quality: s.quality, maxWidth: s.maxWidth, shareMinScoreRatio: s.shareMinScoreRatio }),
    };
  });
  const legacy = new LegacySnapshots();
  const trackIds = new TrackIdAllocator(store.openDatabase('track-ids', { keyEncoding: 'ordered-binary', encoding: 'msgpack' }));
  const path = new FramePath({
    store,
    snapshots: new Tee([...variants.map((v) => v.service), legacy]),
    tracker: { allocateId: (cameraId) => trackIds.next(cameraId) },
    onError: (err) => console.error(err),
  });
  let tracksEnded = 0;
  path.on('track', (track) => {
    if (track.phase === 'end') tracksEnded++;
    eventLog.append({ kind: 'tracks', track });
  });
  const config = parseConfig({ dataDir: root, cameras: [{ id: 'busy', source: { kind: 'file', path: CLIP, loop: true }, detectFps: 5, record: { mode: 'off' } }] });
  const cameras = new CameraManager();
  path.addHook(motionBypassHook(cameras));
  const detector = await Detector.create(nanodetPreset());
  const scheduler = new InferenceScheduler(detector, { onDetections: (r, frame) => path.process(r, frame), onError: (err) => console.error(err) });
  cameras.on('frame', (frame) => scheduler.submit(frame));
  cameras.add(config.cameras[0]!);

  const indexBytes = (name: string): number => {
    const s = store.openDatabase(name, { keyEncoding: 'ordered-binary', encoding: 'msgpack' }).getStats() as { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; pageSize: number };
    return (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * (s.pageSize || PAGE);
  };
  const snapshotOf = () => ({
    used: store.spaceUsage().usedBytes,
    frames: path.stats().framesAnalysed,
    detections: path.stats().detections,
    tracks: tracksEnded,
    legacy: legacy.pageBytes,
    legacyJpegs: legacy.jpegs,
    legacyJpegBytes: legacy.jpegBytes,
    variants: variants.map((v) => ({ files: folderBytes(v.dir), index: indexBytes(v.indexName), stats: v.service.stats() })),
  });

  console.log(`warm-up ${warmup} s, then ${seconds} s of vtest 720p15 at detectFps 5 (real time)`);
  await sleep(warmup * 1000);
  await store.flush();
  const a = snapshotOf();
  const t0 = performance.now();
  for (let left = seconds; left > 0; left -= 30) {
    await sleep(Math.min(30, left) * 1000);
    const s = snapshotOf();
    console.log(`  ${Math.round((performance.now() - t0) / 1000)} s: ${s.frames - a.frames} frames, ${s.tracks - a.tracks} tracks ended, ${s.variants[0]!.files.files - a.variants[0]!.files.files} images`);
  }
  await store.flush();
  const elapsed = (performance.now() - t0) / 1000;
  const b = snapshotOf();

  cameras.close();
  await scheduler.close();
  await detector.close();
  for (const v of variants) await v.service.close();
  await legacy.close();
  eventLog.close();

  const perHour = (bytes: number): number => (bytes / elapsed) * 3600;
  const gbDay = (bytesPerHour: number): number => (bytesPerHour * 24) / 1e9;
  // The detection environment's growth holds every variant's index; the detections alone are that less them.
  const indexDelta = variants.reduce((n, _v, i) => n + (b.variants[i]!.index - a.variants[i]!.index), 0);
  const detectionsBytes = b.used - a.used - indexDelta;
  const detectionsPerHour = perHour(detectionsBytes);
  const rows = variants.map((v, i) => {
    const files = b.variants[i]!.files.bytes - a.variants[i]!.files.bytes;
    const index = b.variants[i]!.index - a.variants[i]!.index;
    const st = b.variants[i]!.stats;
    const st0 = a.variants[i]!.stats;
    const snapshotPerHour = perHour(files + index);
    return {
      name: v.name,
      quality: v.quality,
      max_width: v.maxWidth,
      share_min_score_ratio: v.shareMinScoreRatio,
      images: b.variants[i]!.files.files - a.variants[i]!.files.files,
      refs: st.stored - st0.stored,
      shared_refs: st.shared - st0.shared,
      image_bytes_mean: Math.round(files / Math.max(1, b.variants[i]!.files.files - a.variants[i]!.files.files)),
      snapshot_files_bytes_per_hour: Math.round(perHour(files)),
      snapshot_index_bytes_per_hour: Math.round(perHour(index)),
      disk_gb_per_busy_camera_day: +gbDay(detectionsPerHour + snapshotPerHour).toFixed(3),
    };
  });
  const legacyPerHour = perHour(b.legacy - a.legacy);
  const main = rows[0]!;
  const out = {
    disk_gb_per_busy_camera_day: main.disk_gb_per_busy_camera_day,
    baseline_disk_gb_per_busy_camera_day: +gbDay(detectionsPerHour + legacyPerHour).toFixed(3),
    goal_gb_per_day: 2,
    detections_bytes_per_hour: Math.round(detectionsPerHour),
    snapshot_bytes_per_hour: main.snapshot_files_bytes_per_hour + main.snapshot_index_bytes_per_hour,
    baseline_snapshot_bytes_per_hour: Math.round(legacyPerHour),
    baseline_jpeg_bytes_mean: Math.round((b.legacyJpegBytes - a.legacyJpegBytes) / Math.max(1, b.legacyJpegs - a.legacyJpegs)),
    tracks_ended: b.tracks - a.tracks,
    baseline_jpegs: b.legacyJpegs - a.legacyJpegs,
    frames_analysed: b.frames - a.frames,
    detections_stored: b.detections - a.detections,
    seconds: +elapsed.toFixed(1),
    variants: rows,
    clip: 'vtest-720p15.mp4 (1280x720, 15 fps), looping in real time, detectFps 5, NanoDet fp32',
    date: new Date().toISOString(),
    machine: `${cpus().length} vCPU ${cpus()[0]?.model ?? ''}`.trim(),
    command: `node --import tsx bench/snapshot-disk.ts --seconds ${seconds} --warmup ${warmup}`,
  };
  console.log(JSON.stringify(out, null, 2));
  writeFileSync(join(ROOT, 'bench', 'results', 'snapshot-disk.json'), `${JSON.stringify(out, null, 2)}\n`);
  await store.close();
  rmSync(root, { recursive: true, force: true });
}

await main();
process.exit(0);
