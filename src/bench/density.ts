/**
 * `vigil bench density`: how many real-time cameras this machine carries with detection, measured through the real
 * server path (decode, motion gate, detector, tracker, store, WebSocket stream) — not estimated from parts.
 *
 * A configuration of N cameras (a share of them busy, the rest quiet) is real time when, over the measured window
 * after warm-up: every camera decodes at its frame rate, no camera's frames are shed by the scheduler for more than
 * 1 s in a row, the busy cameras' person tracks match those of the same clip run alone (>= 95 % of tracks longer
 * than 2 s found), and frame-to-WebSocket latency p99 is under 500 ms. The search raises N until a configuration
 * fails, then narrows between the last pass and the first failure. The float32 whole-frame path (the server's
 * path before motion-region crops, INT8 and adaptive rates) is measured on the same mix as the baseline.
 */
import { mkdtempSync, rmSync, statSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parseConfig } from '../config/index.js';
import { createServer, type VigilServer } from '../server.js';
import { readMessage } from '../stream/codec.js';
import { vigil_wire_DetectionBatch as WireBatch, vigil_wire_Payload as Payload, vigil_wire_Detection as WireDetection } from '../stream/generated/message_generated.js';
import { clipTimeOf, matchTracks, type ClipTimeLine, type ObservedTrack } from './match.js';
import type { Logger } from '../log.js';
import type { Frame } from '../camera/frame.js';

export type PathVariant = 'optimized' | 'fp32-baseline';

/**
 * The scene mix's clips (made by scripts/setup.d/25-bench-media.sh into .cache/media). With `busyMain` /
 * `quietMain`, each camera detects on the clip above (a substream) and records the main stream untouched.
 */
export interface SceneClips {
  busy: string;
  quiet: string;
  busyMain?: string;
  quietMain?: string;
  fps: number;
  /** Loop period of the busy clip, seconds. */
  busyPeriodS: number;
  /**
   * The quiet clip (and its main) started at other points of its loop, one per phase: quiet camera k plays phase
   * k mod length, so the walkers of different quiet cameras cross at different times, as on real sites. Empty:
   * every quiet camera plays `quiet` from its start.
   */
  quietPhases: Array<{ quiet: string; quietMain?: string }>;
}

/** `quiet`: the index among quiet cameras (selects the clip phase). */
function cameraFor(id: string, busy: boolean, clips: SceneClips, detectFps: number, quiet = 0): Record<string, unknown> {
  const phase = !busy && clips.quietPhases.length > 0 ? clips.quietPhases[quiet % clips.quietPhases.length]! : null;
  const detect = { kind: 'file', path: busy ? clips.busy : (phase?.quiet ?? clips.quiet), loop: true };
  const main = busy ? clips.busyMain : (phase?.quietMain ?? clips.quietMain);
  if (!main) return { id, source: detect, detectFps };
  return {
    id,
    inputs: [{ role: 'detect', source: detect }, { role: 'record', source: { kind: 'file', path: main, loop: true } }],
    detectFps,
    record: { mode: 'event', preRollS: 2, postRollS: 2 },
  };
}

export interface MixResult {
  variant: PathVariant;
  cameras: number;
  busy: number;
  quiet: number;
  realtime: boolean;
  /** Why the configuration is not real time (empty when it is). */
  failures: string[];
  /** Lowest decoded / expected frames over the window among the cameras. */
  decodeRatioMin: number;
  /** Longest run of scheduler-shed frames of any camera, ms. */
  maxShedStreakMs: number;
  shedFrames: number;
  sinkDroppedFrames: number;
  inferencesPerS: number;
  /** Share of the window with an inference call pending on the detector thread (0-1; NaN on the JS thread). */
  detectorBusyShare: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencySamples: number;
  /** Process CPU over the window, % of one core. */
  cpuPct: number;
  /**
   * Where that CPU went, % of one core (Linux; all 0 elsewhere): the JS thread (frame events, tracker, store,
   * stream), the inference thread, GStreamer's streaming threads (demux, decode, convert, motion, preprocessing;
   * named after their elements) and the rest (V8 helpers, libuv pool, ONNX Runtime's pool).
   */
  cpuThreads: ThreadCpu;
  trackMatch: { reference: number; found: number; ratio: number };
  /** Data folder growth over the window without recordings (detections, snapshots), bytes. */
  diskBytes: number;
  /** Recordings folder growth over the window, bytes. */
  recordingBytes: number;
  windowS: number;
}

export interface DensityOptions {
  clips: SceneClips;
  /** Measured window per configuration, s (default 120). */
  seconds: number;
  warmupSeconds: number;
  busyShare: number;
  /** Measure exactly this N instead of searching. */
  cameras?: number;
  /** Search bounds. */
  startCameras: number;
  maxCameras: number;
  step: number;
  baseline: boolean;
  detectFps: number;
  log: (line: string) => void;
  /**
   * Share of the reference's person tracks that a second run of the busy clip alone finds (1 until measured): the
   * track-match criterion is 95 % of it.
   */
  trackMatchFloor: number;
  /** Extra config merged into every server (e.g. detector options). */
  variantConfig: (variant: PathVariant) => Record<string, unknown>;
}

export interface ThreadCpu {
  js: number;
  inference: number;
  gstreamer: number;
  other: number;
}

/** CPU ticks per thread of this process (Linux /proc; empty elsewhere). */
function threadTicks(): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      // Fields after the command: state is [0], utime [11], stime [12] (proc(5)).
      out.set(Number(t), { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Ticks are USER_HZ, 100 on Linux. GStreamer names its threads after elements; Node's own are all "node". */
function threadCpu(before: Map<number, { comm: string; ticks: number }>, after: Map<number, { comm: string; ticks: number }>, windowS: number, inferenceTid: number | null): ThreadCpu {
  const out: ThreadCpu = { js: 0, inference: 0, gstreamer: 0, other: 0 };
  for (const [tid, a] of after) {
    const pct = ((a.ticks - (before.get(tid)?.ticks ?? 0)) / 100 / windowS) * 100;
    if (tid === process.pid) out.js += pct;
    else if (tid === inferenceTid) out.inference += pct;
    else if (a.comm !== 'node') out.gstreamer += pct;
    else out.other += pct;
  }
  return out;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return SILENT; } };

/**
 * Detections and snapshots on disk (the disk budget): the data folder without its recordings, which are
 * the camera's video (reported apart as recordingBytes).
 */
function dataBytes(dataDir: string): number {
  return dirBytes(dataDir) - dirBytes(join(dataDir, 'recordings'));
}

function dirBytes(path: string): number {
  if (!existsSync(path)) return 0;
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += statSync(p).blocks * 512;
  }
  return total;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0;
}

/** Prometheus text -> value per camera label for one metric name. */
function metricByCamera(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{camera="([^"]+)"\\} ([0-9.eE+-]+)$`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1]!, Number(m[2]));
  return out;
}

interface Probe {
  server: VigilServer;
  base: string;
  token: string;
  ws: WebSocket;
  /** Per camera: detection observations (track id -> points), times on the camera's clip time line (clipTimes). */
  tracks: Map<string, Map<number, ObservedTrack>>;
  /** Per camera: where each analysed frame lies in the looping clip (see clipTimeOf). */
  clipTimes: Map<string, ClipTimeLine>;
  firstBatchAt: Map<string, number>;
  latencies: number[];
  recording: boolean;
}

async function startProbe(cameras: unknown[], variant: PathVariant, opts: DensityOptions, dataDir: string): Promise<Probe> {
  let password = '';
  const config = parseConfig({
    dataDir,
    server: { host: '127.0.0.1', port: 0 },
    recording: { minFreeGb: 0 },
    search: false,
    ...opts.variantConfig(variant),
    cameras,
  });
  config.auth = { announceInitialAdmin: (_u: string, p: string) => (password = p) };
  const server = await createServer(config, { log: SILENT });
  const base = `http://127.0.0.1:${server.http!.port}`;
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (login.status !== 200) throw new Error(`bench: login failed with HTTP ${login.status}`);
  const { access_token: token } = (await login.json()) as { access_token: string };
  const ws = new WebSocket(`ws://127.0.0.1:${server.http!.port}/ws`, ['vigil.v1'], { headers: { authorization: `Bearer ${token}` } });
  ws.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const probe: Probe = { server, base, token, ws, tracks: new Map(), clipTimes: new Map(), firstBatchAt: new Map(), latencies: [], recording: false };
  server.cameras.on('frame', (f: Frame) => {
    if (f.ptsNs < 0) return;
    let line = probe.clipTimes.get(f.cameraId);
    if (!line) probe.clipTimes.set(f.cameraId, (line = { loop: 0, lastPtsNs: -1, byCapture: new Map(), lastS: 0 }));
    clipTimeOf(line, f.ptsNs, f.wallClockNs, opts.clips.busyPeriodS);
  });
  const det = new WireDetection();
  ws.on('message', (data: Buffer) => {
    const arrivedNs = (performance.timeOrigin + performance.now()) * 1e6;
    const msg = readMessage(data);
    if (msg.payloadType() !== Payload.DetectionBatch) return;
    const b = msg.payload(new WireBatch()) as WireBatch;
    const cam = b.cameraId()!;
    const captureNs = b.timestampNs();
    const ts = Number(captureNs);
    if (!probe.firstBatchAt.has(cam)) probe.firstBatchAt.set(cam, ts);
    const line = probe.clipTimes.get(cam);
    const t = line?.byCapture.get(captureNs);
    line?.byCapture.delete(captureNs);
    if (!probe.recording) return;
    probe.latencies.push((arrivedNs - ts) / 1e6);
    if (t === undefined) return;
    let perCam = probe.tracks.get(cam);
    if (!perCam) probe.tracks.set(cam, (perCam = new Map()));
    const names = new Map<number, string>();
    for (let i = 0; i < b.classesLength(); i++) {
      const c = b.classes(i)!;
      names.set(c.id(), c.name()!);
    }
    for (let i = 0; i < b.detectionsLength(); i++) {
      b.detections(i, det);
      const id = det.trackId();
      if (id < 0) continue;
      let tr = perCam.get(id);
      if (!tr) perCam.set(id, (tr = { trackId: id, className: names.get(det.classId()) ?? String(det.classId()), points: [] }));
      const box = det.box()!;
      tr.points.push({ t, box: { x1: box.x1(), y1: box.y1(), x2: box.x2(), y2: box.y2() } });
    }
  });
  ws.send(JSON.stringify({ type: 'subscribe', id: 'bench', kinds: ['detections'] }));
  return probe;
}

async function metrics(p: Probe): Promise<string> {
  const res = await fetch(`${p.base}/metrics`, { headers: { authorization: `Bearer ${p.token}` } });
  return res.text();
}

function detectorBusyMs(server: VigilServer): number {
  const d = server.detector;
  return d && 'busyMs' in d.stats() ? (d.stats() as { busyMs: number }).busyMs : Number.NaN;
}

function sum(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

/** Runs one configuration: `busy` busy cameras and `quiet` quiet ones, warm-up, then the measured window. */
export async function runMix(busy: number, quiet: number, variant: PathVariant, opts: DensityOptions, reference?: ObservedTrack[]): Promise<MixResult & { busyTracks: ObservedTrack[][] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const cams: unknown[] = [];
  const busyIds: string[] = [];
  for (let i = 0; i < busy + quiet; i++) {
    const isBusy = i < busy;
    const id = `${isBusy ? 'busy' : 'quiet'}-${i}`;
    if (isBusy) busyIds.push(id);
    cams.push(cameraFor(id, isBusy, opts.clips, opts.detectFps, i - busy));
  }
  const debug = process.env.VIGIL_BENCH_DEBUG ? (m: string) => opts.log(`  [${new Date().toISOString()}] ${m}`) : () => {};
  debug(`starting ${busy} busy + ${quiet} quiet (${variant})`);
  const probe = await startProbe(cams, variant, opts, dataDir);
  debug('started');
  try {
    await new Promise((r) => setTimeout(r, opts.warmupSeconds * 1000));
    probe.server.scheduler?.resetShedStreaks();
    const m0 = await metrics(probe);
    const disk0 = dataBytes(dataDir);
    const rec0 = dirBytes(join(dataDir, 'recordings'));
    const t0 = performance.now();
    const busy0 = detectorBusyMs(probe.server);
    const cpu0 = process.cpuUsage();
    const threads0 = threadTicks();
    const windowStartS = new Map<string, number>();
    for (const id of busyIds) windowStartS.set(id, probe.clipTimes.get(id)?.lastS ?? 0);
    probe.recording = true;
    await new Promise((r) => setTimeout(r, opts.seconds * 1000));
    probe.recording = false;
    const windowEndS = new Map<string, number>();
    for (const id of busyIds) windowEndS.set(id, probe.clipTimes.get(id)?.lastS ?? 0);
    debug('window done');
    const windowS = (performance.now() - t0) / 1000;
    const detectorBusyShare = (detectorBusyMs(probe.server) - busy0) / (windowS * 1000);
    const cpu = process.cpuUsage(cpu0);
    const det = probe.server.detector;
    const cpuThreads = threadCpu(threads0, threadTicks(), windowS, det && 'osThreadId' in det ? det.osThreadId : null);
    const m1 = await metrics(probe);
    await probe.server.store.flush();
    const disk1 = dataBytes(dataDir);
    const rec1 = dirBytes(join(dataDir, 'recordings'));

    // Frames that reached the decoder's output (with substreams: the detect input's; the record input is never decoded).
    const decoded0 = metricByCamera(m0, 'vigil_camera_frames_decoded');
    const decoded1 = metricByCamera(m1, 'vigil_camera_frames_decoded');
    let decodeRatioMin = Infinity;
    for (const [id, v1] of decoded1) decodeRatioMin = Math.min(decodeRatioMin, (v1 - (decoded0.get(id) ?? 0)) / (opts.clips.fps * windowS));
    if (!Number.isFinite(decodeRatioMin)) decodeRatioMin = 0;
    const streaks = metricByCamera(m1, 'vigil_inference_shed_streak_max_ms');
    const maxShedStreakMs = Math.max(0, ...streaks.values());
    const shedFrames = sum(metricByCamera(m1, 'vigil_inference_shed_frames')) - sum(metricByCamera(m0, 'vigil_inference_shed_frames'));
    const sinkDroppedFrames = sum(metricByCamera(m1, 'vigil_camera_frames_dropped')) - sum(metricByCamera(m0, 'vigil_camera_frames_dropped'));
    const inferred = sum(metricByCamera(m1, 'vigil_inference_frames')) - sum(metricByCamera(m0, 'vigil_inference_frames'));
    const lat = [...probe.latencies].sort((a, b) => a - b);

    const busyTracks = busyIds.map((id) => [...(probe.tracks.get(id)?.values() ?? [])]);
    let ref = 0;
    let found = 0;
    if (reference) {
      busyIds.forEach((id, k) => {
        const w0 = windowStartS.get(id) ?? 0;
        const r = matchTracks(reference, busyTracks[k]!, { periodS: opts.clips.busyPeriodS, windowStartS: w0, windowEndS: windowEndS.get(id) ?? w0, maxOffsetS: 1 });
        ref += r.reference;
        found += r.found;
      });
    }
    const result: MixResult = {
      variant,
      cameras: busy + quiet,
      busy,
      quiet,
      realtime: true,
      failures: [],
      decodeRatioMin,
      maxShedStreakMs,
      shedFrames,
      sinkDroppedFrames,
      inferencesPerS: inferred / windowS,
      detectorBusyShare,
      latencyP50Ms: percentile(lat, 0.5),
      latencyP99Ms: percentile(lat, 0.99),
      latencySamples: lat.length,
      cpuPct: ((cpu.user + cpu.system) / 1e6 / windowS) * 100,
      cpuThreads,
      trackMatch: { reference: ref, found, ratio: ref === 0 ? 1 : found / ref },
      diskBytes: Math.max(0, disk1 - disk0),
      recordingBytes: Math.max(0, rec1 - rec0),
      windowS,
    };
    if (decodeRatioMin < 0.97) result.failures.push(`decode ratio ${decodeRatioMin.toFixed(3)} < 0.97`);
    if (maxShedStreakMs > 1000) result.failures.push(`shed streak ${maxShedStreakMs.toFixed(0)} ms > 1000`);
    // Two runs of the same clip alone already differ (5 fps sampling lands on other frames): the bar is 95 % of
    // what a second run alone finds (opts.trackMatchFloor), not of an ideal 100 %.
    const bar = 0.95 * opts.trackMatchFloor;
    if (result.trackMatch.ratio < bar) result.failures.push(`busy person tracks found ${found}/${ref} < ${(bar * 100).toFixed(1)} %`);
    if (result.latencyP99Ms >= 500) result.failures.push(`latency p99 ${result.latencyP99Ms.toFixed(0)} ms >= 500`);
    if (lat.length === 0 && busy > 0) result.failures.push('no detection batch reached the WebSocket client');
    result.realtime = result.failures.length === 0;
    return { ...result, busyTracks };
  } finally {
    probe.ws.close();
    debug('stopping');
    await probe.server.stop();
    debug('stopped');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function split(n: number, share: number): { busy: number; quiet: number } {
  const busy = Math.max(1, Math.round(n * share));
  return { busy: Math.min(n, busy), quiet: Math.max(0, n - busy) };
}

function fmt(r: MixResult): string {
  return [
    String(r.cameras).padStart(4),
    `${r.busy}/${r.quiet}`.padStart(7),
    r.decodeRatioMin.toFixed(3).padStart(7),
    r.maxShedStreakMs.toFixed(0).padStart(7),
    r.inferencesPerS.toFixed(1).padStart(7),
    r.latencyP50Ms.toFixed(1).padStart(7),
    r.latencyP99Ms.toFixed(1).padStart(7),
    `${r.trackMatch.found}/${r.trackMatch.reference}`.padStart(7),
    r.cpuPct.toFixed(0).padStart(6),
    [r.cpuThreads.js, r.cpuThreads.inference, r.cpuThreads.gstreamer, r.cpuThreads.other].map((v) => v.toFixed(0)).join('/').padStart(15),
    (r.detectorBusyShare * 100).toFixed(0).padStart(5),
    r.realtime ? 'yes' : `no (${r.failures.join('; ')})`,
  ].join(' ');
}

export const TABLE_HEADER = '   N  busy/q  decode  shed ms  inf/s  p50 ms  p99 ms  tracks  cpu %  js/inf/gst/oth  inf %  real time';

/** Largest N that stays real time for one path variant, searched upward by `step`, then narrowed. */
export async function searchMax(variant: PathVariant, opts: DensityOptions, reference: ObservedTrack[], start: number, step: number): Promise<{ max: number; atMax: MixResult | null; trials: MixResult[] }> {
  const trials: MixResult[] = [];
  const run = async (n: number): Promise<MixResult> => {
    const { busy, quiet } = split(n, opts.busyShare);
    const { busyTracks: _t, ...r } = await runMix(busy, quiet, variant, opts, reference);
    opts.log(`${variant.padEnd(14)} ${fmt(r)}`);
    trials.push(r);
    return r;
  };
  if (opts.cameras !== undefined) {
    const r = await run(opts.cameras);
    return { max: r.realtime ? opts.cameras : 0, atMax: r.realtime ? r : null, trials };
  }
  let ok: MixResult | null = null;
  let fail: number | null = null;
  for (let n = start; n <= opts.maxCameras; n += step) {
    const r = await run(n);
    if (r.realtime) ok = r;
    else {
      fail = n;
      break;
    }
  }
  if (ok === null && fail !== null) {
    // Even the start failed: walk down.
    for (let n = fail - 1; n >= 1; n = Math.min(n - 1, Math.floor(n / 2))) {
      const r = await run(n);
      if (r.realtime) {
        ok = r;
        break;
      }
    }
  }
  let lo = ok?.cameras ?? 0;
  let hi = fail ?? lo;
  while (ok && fail !== null && hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await run(mid);
    if (r.realtime) {
      lo = mid;
      ok = r;
    } else hi = mid;
  }
  return { max: lo, atMax: ok, trials };
}

export function machineDescription(): string {
  const c = cpus();
  return `${c.length} vCPU ${c[0]?.model.trim() ?? 'unknown CPU'}, ${process.platform} ${process.arch}, Node ${process.versions.node}`;
}
