/**
 * Decode cost of one camera (issue 16, item 6): where the CPU of a 720p15 H.264 camera goes, stage by stage, with
 * today's template (the baseline) in the same run, and what a camera with inputs by role (detect on a 360p
 * substream, record the 720p main stream with no decoder) costs instead.
 *
 * Every measurement is its own child process on the same clip (vtest at 720p15, 2 Mb/s, 795 frames). Vigil stages
 * measure the process's own CPU (process.cpuUsage: getrusage, every native thread included) from start to end,
 * node start-up excluded; gst-launch stages use bash `times` minus a one-frame run.
 *   A. as fast as possible (lossless, no clock): CPU per frame of each stage, cumulative;
 *   B. realtime: one camera at its 15 fps for SECONDS, % of a core (what a deployed camera costs: wake-ups and
 *      cold caches between frames included), against gst-launch decoding alone at the same pace (the floor).
 * Both include the template with `decodeDeblock: false` (vigildec, the addon's libavcodec decoder without the in-loop
 * deblocking filter) beside the standard one.
 * Run: node --import tsx bench/decode-cost.ts   (ROUNDS=3 SECONDS=20; writes bench/results/decode-cost.json)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon, type NativePipelineEvent, type NativeMotionOptions } from '../bindings/index.js';
import { buildPipeline, buildRecordPipeline } from '../src/camera/templates.js';
import { parseSource } from '../src/camera/source.js';
import { DEFAULT_TENSOR } from '../src/camera/tensor.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIP = join(ROOT, '.cache', 'media', 'vtest-720p15.mp4');
const FRAMES = 795;
const FPS = 15;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 20);
const DETECT_FPS = 5;
const MOTION: NativeMotionOptions = { downscale: 8, sensitivity: 0.6, minChangedFraction: 0.002, learningRate: 0.05, masks: [] };

/** Today's file template (before this change), filled as templates.ts filled it: the baseline. */
function baselineDescription(sync: boolean): string {
  return (
    'filesrc name=src ! qtdemux name=demux demux.video_0 ! h264parse ! tee name=t t. ! queue max-size-buffers=16 ' +
    'max-size-bytes=0 max-size-time=0 ! avdec_h264 name=dec max-threads=1 ! ' +
    `videorate drop-only=true max-rate=${DETECT_FPS} ! videoconvert ! ` +
    'video/x-raw,format={I420,NV12,RGB,BGR,RGBA,BGRA,RGBx,BGRx} ! ' +
    `appsink name=sink sync=${sync} max-buffers=1 enable-last-sample=false`
  );
}

/** The template as it is now (src/camera/templates.ts); deblock false: vigildec without the in-loop filter. */
function currentDescription(sync: boolean, deblock = true): string {
  return buildPipeline(parseSource({ kind: 'file', path: CLIP, realtime: sync }), {
    detectFps: DETECT_FPS,
    decoder: { threads: 1, allow: ['software'], deblock },
  }).description;
}

// ---------------------------------------------------------------------------------------------------------------
// Worker: native pipelines in one process, measured from inside.

interface PipelineSpec {
  description: string;
  clip: string;
  motion: boolean;
  /** Record-only (a camera's record input): segments into this folder. */
  recordDir?: string;
}

interface WorkerResult {
  /** Frames decoded by the first pipeline (the detect input). */
  frames: number;
  handed: number;
  recorded: number;
  cpuMs: number;
  wallMs: number;
}

function worker(specs: PipelineSpec[], seconds: number): void {
  const { Pipeline } = loadAddon();
  let handed = 0;
  let open = specs.length;
  let t0 = 0;
  let c0 = process.cpuUsage();
  const finish = () => {
    const c = process.cpuUsage(c0);
    const result: WorkerResult = {
      frames: pipelines[0]!.stats().framesDecoded,
      handed,
      recorded: pipelines.reduce((n, p) => n + p.stats().recordBuffers, 0),
      cpuMs: (c.user + c.system) / 1000,
      wallMs: performance.now() - t0,
    };
    for (const p of pipelines) p.close();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  };
  const onEvent = (p: () => ReturnType<typeof make>) => (e: NativePipelineEvent) => {
    if (e.type === 'frame') {
      handed++;
      p().release(e.tensor, e.slot, e.generation);
    } else if (e.type === 'error') {
      process.stderr.write(`${e.message} ${e.debug}\n`);
      process.exit(1);
    } else if (e.type === 'eos' && --open === 0) {
      finish();
    }
  };
  function make(spec: PipelineSpec) {
    let self: InstanceType<typeof Pipeline>;
    const common = { cameraId: 'bench', description: spec.description, properties: { src: { location: spec.clip } }, onEvent: onEvent(() => self) };
    self = spec.recordDir
      ? new Pipeline({ ...common, recordOnly: true, recording: { directory: spec.recordDir, prefix: 'bench', extension: 'mp4' } })
      : new Pipeline({
          ...common,
          tensor: DEFAULT_TENSOR,
          queueSize: 2,
          poolSize: 4,
          block: seconds === 0,
          ...(spec.motion ? { motion: MOTION } : {}),
        });
    return self;
  }
  const pipelines = specs.map(make);
  t0 = performance.now();
  c0 = process.cpuUsage();
  for (const p of pipelines) p.start();
  if (seconds > 0) setTimeout(finish, seconds * 1000);
}

// ---------------------------------------------------------------------------------------------------------------
// Driver.

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
    p.on('error', reject);
  });
}

async function vigil(specs: PipelineSpec[], seconds = 0): Promise<WorkerResult> {
  const out = await run(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'worker', JSON.stringify({ specs, seconds })]);
  return JSON.parse(out.trim().split('\n').pop()!) as WorkerResult;
}

/** CPU ms of a gst-launch run (children's user+sys from bash `times`); `seconds` > 0 interrupts it then. */
async function gstCpuMs(graph: string, seconds = 0): Promise<number> {
  const launch = seconds > 0 ? `timeout -s INT ${seconds} gst-launch-1.0 -q ${graph}` : `gst-launch-1.0 -q ${graph}`;
  const out = await run('bash', ['-c', `${launch} >/dev/null 2>&1; times`]);
  const last = out.trim().split('\n').pop()!;
  const [u, s] = last.split(' ').map((t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t)!;
    return Number(m[1]) * 60 + Number(m[2]);
  });
  return (u! + s!) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The detect substream of the role-split camera: the same footage at 640x360, 15 fps (made once, not committed). */
function substreamClip(): string {
  const out = join(ROOT, '.cache', 'media', 'vtest-360p15.mp4');
  if (!existsSync(out)) {
    execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', join(ROOT, '.cache', 'media', 'vtest.avi'),
      '-vf', 'scale=640:360:flags=bicubic,setpts=PTS/1.5', '-r', '15', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high',
      '-pix_fmt', 'yuv420p', '-g', '30', '-bf', '0', '-b:v', '500k', '-an', out]);
  }
  return out;
}

function recordDescription(sync: boolean): string {
  return buildRecordPipeline(parseSource({ kind: 'file', path: CLIP, realtime: sync }), {
    directory: '/unused', prefix: 'bench', format: 'mp4', segmentSeconds: 10,
  }).description;
}

async function main(): Promise<void> {
  const sub = substreamClip();
  const recDir = mkdtempSync(join(tmpdir(), 'vigil-decode-cost-'));
  const src = `filesrc location=${CLIP} ! qtdemux ! h264parse`;
  const dec = 'avdec_h264 max-threads=1';
  const caps = "'video/x-raw,format=(string){I420,NV12}'";
  const tail = `videorate drop-only=true max-rate=${DETECT_FPS} ! videoconvert ! ${caps}`;
  const gstStages: Array<[string, string]> = [
    ['gst-launch: demux + parse', `${src} ! fakesink`],
    ['gst-launch: + decode (avdec_h264, 1 thread): pure decode', `${src} ! ${dec} ! fakesink`],
    ['gst-launch: + tee + queue before the decoder (the baseline graph)', `${src} ! tee ! queue max-size-buffers=16 max-size-bytes=0 max-size-time=0 ! ${dec} ! fakesink`],
    ['gst-launch: + videorate 5 fps + videoconvert (the baseline graph up to its sink)', `${src} ! tee ! queue max-size-buffers=16 max-size-bytes=0 max-size-time=0 ! ${dec} ! ${tail} ! fakesink`],
  ];
  const detect = (description: string, motion: boolean, clip = CLIP): PipelineSpec => ({ description, clip, motion });
  const roleSplit = (sync: boolean): PipelineSpec[] => [
    detect(currentDescription(sync).replace(CLIP, sub), true, sub),
    { description: recordDescription(sync), clip: CLIP, motion: false, recordDir: recDir },
  ];
  const vigilStages: Array<[string, PipelineSpec[]]> = [
    ['vigil: baseline template -> appsink -> tensor 416 f32 at 5 fps, no motion gate', [detect(baselineDescription(false), false)]],
    ['vigil: baseline template + motion gate (BASELINE: today)', [detect(baselineDescription(false), true)]],
    ['vigil: new template + motion gate', [detect(currentDescription(false), true)]],
    ['vigil: new template + motion gate, decodeDeblock: false (vigildec)', [detect(currentDescription(false, false), true)]],
    ['vigil: roles: 360p detect substream (new template + motion) + 720p record-only main stream', roleSplit(false)],
    ['vigil: 720p record-only pipeline alone (demux, parse, mux, write)', roleSplit(false).slice(1)],
  ];
  const realtimeRuns: Array<[string, () => Promise<number>]> = [
    ['gst-launch pure decode, synced to the clock (the floor)', async () => (100 * (await gstCpuMs(`${src} ! ${dec} ! fakesink sync=true`, SECONDS))) / (SECONDS * 1000)],
    ['vigil baseline template + motion (BASELINE: today)', async () => { const r = await vigil([detect(baselineDescription(true), true)], SECONDS); return (100 * r.cpuMs) / r.wallMs; }],
    ['vigil new template + motion', async () => { const r = await vigil([detect(currentDescription(true), true)], SECONDS); return (100 * r.cpuMs) / r.wallMs; }],
    ['vigil new template + motion, decodeDeblock: false (vigildec)', async () => { const r = await vigil([detect(currentDescription(true, false), true)], SECONDS); return (100 * r.cpuMs) / r.wallMs; }],
    ['vigil roles: 360p detect + 720p record-only', async () => { const r = await vigil(roleSplit(true), SECONDS); return (100 * r.cpuMs) / r.wallMs; }],
  ];
  const startup = await gstCpuMs(`${src} ! fakesink num-buffers=1`);
  const batch = [...gstStages, ...vigilStages].map(([name]) => ({ name, runs: [] as number[] }));
  const realtime = realtimeRuns.map(([name]) => ({ name, runs: [] as number[] }));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      let i = 0;
      for (const [, graph] of gstStages) batch[i++]!.runs.push(Math.max(0, (await gstCpuMs(graph)) - startup) / FRAMES);
      for (const [name, specs] of vigilStages) {
        const r = await vigil(specs);
        const frames = specs[0]!.recordDir ? r.recorded : r.frames;
        if (frames !== FRAMES) throw new Error(`${name}: ${frames} frames of ${FRAMES}`);
        batch[i++]!.runs.push(r.cpuMs / FRAMES);
      }
      for (let k = 0; k < realtimeRuns.length; k++) realtime[k]!.runs.push(await realtimeRuns[k]![1]());
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    rmSync(recDir, { recursive: true, force: true });
  }
  const base = median(batch.find((b) => b.name.includes('BASELINE'))!.runs);
  const rows = batch.map((s) => ({
    stage: s.name,
    ms_per_frame: r3(median(s.runs)),
    pct_core_at_15fps: r3((median(s.runs) * FPS) / 10),
    vs_baseline: r3(median(s.runs) / base),
    runs: s.runs.map(r3),
  }));
  const rtBase = median(realtime.find((b) => b.name.includes('BASELINE'))!.runs);
  const rtRows = realtime.map((s) => ({ run: s.name, pct_core: r3(median(s.runs)), vs_baseline: r3(median(s.runs) / rtBase), runs: s.runs.map(r3) }));
  console.log('A. as fast as possible, CPU per frame of the 720p15 clip (median of rounds)');
  console.log('stage | ms/frame | % core at 15 fps | vs baseline | runs');
  for (const r of rows) console.log(`${r.stage} | ${r.ms_per_frame} | ${r.pct_core_at_15fps} | ${r.vs_baseline} | ${r.runs.join(', ')}`);
  console.log(`B. realtime, one camera at 15 fps for ${SECONDS} s, % of a core`);
  for (const r of rtRows) console.log(`${r.run} | ${r.pct_core} % | ${r.vs_baseline} | ${r.runs.join(', ')}`);
  const result = {
    date: new Date().toISOString(),
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    command: 'node --import tsx bench/decode-cost.ts',
    clip: 'vtest-720p15.mp4 (1280x720, 15 fps, 2 Mb/s, 795 frames); substream vtest-360p15.mp4 (640x360, 500 kb/s)',
    detect_fps: DETECT_FPS,
    rounds: ROUNDS,
    realtime_seconds: SECONDS,
    baseline_template: baselineDescription(false),
    current_template: currentDescription(false).replace(CLIP, '<clip>'),
    no_deblock_template: currentDescription(false, false).replace(CLIP, '<clip>'),
    record_template: recordDescription(false).replace(CLIP, '<clip>'),
    per_frame: rows,
    realtime_pct_core_1cam: rtRows,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'decode-cost.json'), JSON.stringify(result, null, 2) + '\n');
}

if (process.argv[2] === 'worker') {
  const { specs, seconds } = JSON.parse(process.argv[3]!) as { specs: PipelineSpec[]; seconds: number };
  worker(specs, seconds);
} else {
  await main();
}
