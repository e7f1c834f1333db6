/**
 * Soak (issue 17): `vigil serve` as a child process for --minutes (default 30) with 8 cameras — 3 file, 3 RTSP (one
 * RTSP server killed and restarted every --restart-every-s, default 120 s), 2 test sources — under WebSocket clients
 * that connect, resume from their last sequence, stall (stop reading) and leave; REST traffic; rule edits; and
 * retention running (detections kept --retention-s, a recorded camera with a small recording cap).
 *
 * Every --sample-s (default 10 s) it samples the server process: RSS and anonymous RSS, threads, open file
 * descriptors (/proc), V8 heap (the /metrics nodejs_heap_size_used_bytes gauge; nodejs_heap_size_total_bytes, what
 * V8 holds from the system), LMDB file size and the pages in use in it (vigil_store_bytes{kind="used"}: a file
 * growing while these stay flat is a pinned snapshot). Slopes are least
 * squares over the samples after warm-up (--warmup-s, default 120 s or a fifth of the run, whichever is smaller);
 * rss_floor_slope_mb_per_h is the slope of each --floor-window-s window's smallest RSS sample (default 120 s): the
 * frames and tensors in flight move single samples by ±15 MB, the floor much less.
 * Errors: 5xx answers, failed requests, ERROR log lines of the server, a non-stalled WebSocket closed by the
 * server, the server exiting. Recovered: the restarted camera back in state "running" within 60 s of its RTSP
 * server's return.
 *
 *   setsid /tmp/pm/prio.sh node --import tsx bench/soak.ts --minutes 30   (its own autogroup, top priority)
 *   ... --server-env NAME=VALUE   (repeatable) environment for the server, e.g. MALLOC_ARENA_MAX= (empty: unset)
 *                                 against the default MALLOC_ARENA_MAX=2 that the systemd unit and npm run serve set
 *   ... --jemalloc-profile DIR    the server on jemalloc with its heap profiler, profiles into DIR (attribution of
 *                                 native growth: `node --import tsx bench/alloc-growth.ts --lg-sample 17 DIR/*.heap`)
 *   ... --heap-snapshots-at S,S   V8 heap snapshots of the server at these seconds (SIGUSR2, written next to --out);
 *                                 compare two with `node --import tsx bench/heap-diff.ts A B`. Each pauses the
 *                                 server for a few seconds: a run for attribution, not for the figures.
 *   ... --server-node-arg ARG     a node/V8 flag for the server's process (repeatable)
 *   ... --smaps-dir DIR           the server's anonymous mappings into DIR every --smaps-every-s (default 60 s);
 *                                 `node --import tsx bench/smaps-diff.ts DIR` says which mappings grew and when
 *
 * Also sampled from /metrics: vigil_pipelines{state="open"|"abandoned"} (GStreamer pipelines; an abandoned one is
 * a teardown that did not finish within its close timeout), the natively kept source frames' bytes, GStreamer's
 * live objects by type (vigil_gst_live_objects: the server runs with VIGIL_GST_OBJECT_COUNTS=1;
 * `--server-env VIGIL_GST_OBJECT_COUNTS=` turns it off) and what the server's heap trims gave back (vigil_heap_trim_released_bytes_total); and the
 * anonymous memory split by glibc heap (brk), arena heaps and the rest (/proc/PID/smaps). When the server stops
 * answering /metrics three samples in a row, its threads' stacks are written next to the results (gdb).
 *
 * Writes bench/results/soak.json ({minutes, rss_slope_mb_per_h, fd_slope_per_h, camera_restarts, recovered,
 * errors, date, machine, command, ...details and samples}); --out another path.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import WebSocket from 'ws';
import { RtspTestServer, freePort } from '../test/helpers/rtsp-server.js';
import { readMessage } from '../src/stream/codec.js';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const CLIP = join(ROOT, '.cache', 'media', 'vtest-h264.mp4');

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`Expected a positive number for --${name} but received ${process.argv[i + 1]}`);
  return v;
}
function flagStr(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1]!;
}

const MINUTES = flag('minutes', 30);
const SAMPLE_S = flag('sample-s', 10);
const RESTART_EVERY_S = flag('restart-every-s', 120);
const WARMUP_S = Math.min(flag('warmup-s', 120), (MINUTES * 60) / 5);
const RETENTION_S = flag('retention-s', 120);
// Windows for the RSS floor's slope (rss_floor_slope_mb_per_h).
const FLOOR_WINDOW_S = flag('floor-window-s', 120);
// The server runs as deploy/systemd/vigil.service and `npm run serve` start it: MALLOC_ARENA_MAX=2 (see README,
// Deployment). `--server-env MALLOC_ARENA_MAX=` (empty: glibc's default) measures without it.
// VIGIL_GST_OBJECT_COUNTS=1: GStreamer's live objects by type are sampled from /metrics (vigil_gst_live_objects).
const SERVER_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '2', VIGIL_GST_OBJECT_COUNTS: '1' };
process.argv.forEach((a, i) => {
  if (a !== '--server-env') return;
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(process.argv[i + 1] ?? '');
  if (!m) throw new Error(`Expected NAME=VALUE for --server-env but received ${process.argv[i + 1]}`);
  SERVER_ENV[m[1]!] = m[2]!;
});
// --server-node-arg ARG (repeatable): a node or V8 flag for the server's process (e.g. --compact-on-every-full-gc).
const SERVER_NODE_ARGS = process.argv.flatMap((a, i) => {
  if (a !== '--server-node-arg') return [];
  const v = process.argv[i + 1] ?? '';
  if (!v.startsWith('--')) throw new Error(`Expected a --flag for --server-node-arg but received ${v}`);
  return [v];
});
// --jemalloc-profile DIR: the server allocates through jemalloc with its heap profiler, a profile into DIR each
// 16 GiB allocated (~2 minutes of the soak's mix); `bench/alloc-growth.ts DIR/*.heap` ranks the sites that grow.
// jemalloc's own memory behaviour differs from glibc's: a run for attribution, not for the RSS figures.
const JEMALLOC_DIR = flagStr('jemalloc-profile', '');
if (JEMALLOC_DIR !== '') {
  const lib = spawnSync('sh', ['-c', 'ldconfig -p | grep -m1 -o "/[^ ]*libjemalloc.so.2"'], { encoding: 'utf8' }).stdout.trim();
  if (lib === '') throw new Error('Expected libjemalloc.so.2 for --jemalloc-profile but found none (apt install libjemalloc2)');
  mkdirSync(JEMALLOC_DIR, { recursive: true });
  SERVER_ENV.LD_PRELOAD = lib;
  SERVER_ENV.MALLOC_CONF = `prof:true,lg_prof_sample:17,lg_prof_interval:34,prof_prefix:${resolve(JEMALLOC_DIR, 'jeprof')}`;
}
// --smaps-dir DIR: every --smaps-every-s (default 60 s) the server's anonymous mappings (start-end, permissions,
// name, Anonymous kB) into DIR/tNNNNNN.tsv, to name what grows by mapping (`bench/smaps-diff.ts DIR`).
const SMAPS_DIR = flagStr('smaps-dir', '');
const SMAPS_EVERY_S = flag('smaps-every-s', 60);
let lastSmapsDumpT = -Infinity;
if (SMAPS_DIR !== '') mkdirSync(SMAPS_DIR, { recursive: true });
const OUT = resolve(flagStr('out', join(ROOT, 'bench', 'results', 'soak.json')));
const HEAP_SNAPSHOTS_AT = flagStr('heap-snapshots-at', '')
  .split(',')
  .filter((x) => x !== '')
  .map((x) => {
    const v = Number(x);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`Expected positive seconds for --heap-snapshots-at but received ${x}`);
    return v;
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let t0 = Date.now(); // reset once the server answers: start-up is not part of the soak
const elapsedS = () => (Date.now() - t0) / 1000;

interface Sample {
  t: number;
  rssMb: number;
  anonMb: number;
  threads: number;
  fds: number;
  heapMb: number | null;
  heapTotalMb: number | null;
  externalMb: number | null;
  /** vigil_pipelines{state="open"|"abandoned"} and natively kept source frames (vigil_source_frames). */
  pipelinesOpen: number | null;
  pipelinesAbandoned: number | null;
  /** vigil_pipelines_released_late_total: abandoned pipelines whose teardown finished late and were released. */
  pipelinesReleasedLate: number | null;
  /** vigil_pipeline_teardown_kicks_total{what="teardowns"|"finished"|"stuck"}: teardowns kicked (jitterbuffer deadlock), of those finished, and jitterbuffers found deadlocked. */
  teardownsKicked: number | null;
  kickedFinished: number | null;
  jitterbuffersStuck: number | null;
  sourceFramesMb: number | null;
  /** GStreamer objects and mini objects alive (vigil_gst_live_objects summed) and the five commonest types. */
  gstObjects: number | null;
  gstTop: Record<string, number> | null;
  /** Resident memory the server's heap trims gave back so far (vigil_heap_trim_released_bytes_total), MB. */
  trimReleasedMb: number | null;
  /** glibc's heaps (vigil_malloc_bytes): in the heaps, free inside them, in blocks with mappings of their own; MB. */
  mallocHeapMb: number | null;
  mallocFreeMb: number | null;
  mallocMmapMb: number | null;
  lmdbMb: number;
  /** vigil_store_bytes: pages of the LMDB file in use, and free pages that writes reuse before it grows; MB. */
  storeUsedMb: number | null;
  storeReusableMb: number | null;
  wsClients: number;
  /** V8's committed memory by heap space (nodejs_heap_space_size_total_bytes{space}), MB. */
  v8SpacesMb: Record<string, number> | null;
  /** Anonymous resident memory by kind (/proc/PID/smaps): glibc's main heap ([heap]), glibc's per-thread arena
   * heaps (anonymous mappings that start on a 64 MiB boundary, HEAP_MAX_SIZE), and the rest (V8, mmap'd blocks). */
  brkMb: number;
  arenaMb: number;
  arenas: number;
  otherAnonMb: number;
}

const errors: string[] = [];
function error(what: string): void {
  errors.push(`${elapsedS().toFixed(0)}s ${what}`);
  console.error(`[soak] error: ${what}`);
}

/** The process's mappings with anonymous resident memory: `start-end perms anonKb name` lines. */
function anonMappings(pid: number): string {
  const out: string[] = [];
  let head = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      head = line;
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (!anon || anon[1] === '0') continue;
    const [range, perms, , , , ...name] = head.split(/\s+/);
    out.push(`${range}\t${perms}\t${anon[1]}\t${name.join(' ')}`);
  }
  return `${out.join('\n')}\n`;
}

function procStatus(pid: number): { rssMb: number; anonMb: number; threads: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, anonMb: kb('RssAnon') / 1024, threads: kb('Threads') };
}

// glibc places each non-main arena in its own heap of HEAP_MAX_SIZE (64 MiB on 64-bit), aligned to that size; a
// heap grows in place (mprotect) so its mapping keeps its start. Anonymous mappings starting on that boundary are
// counted as arena heaps (a V8 or mmap'd block landing there by chance is rare and small next to them).
function smapsBreakdown(pid: number): { brkMb: number; arenaMb: number; arenas: number; otherAnonMb: number } {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  let brk = 0;
  let arena = 0;
  let arenas = 0;
  let other = 0;
  let kind: 'brk' | 'arena' | 'other' | 'file' = 'file';
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const name = head[3]!;
      const start = BigInt(`0x${head[1]}`);
      if (name === '[heap]') kind = 'brk';
      else if (name !== '' || head[2] !== '0') kind = 'file';
      else if (start % (64n << 20n) === 0n) {
        kind = 'arena';
        arenas++;
      } else kind = 'other';
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (!anon) continue;
    const mb = Number(anon[1]) / 1024;
    if (kind === 'brk') brk += mb;
    else if (kind === 'arena') arena += mb;
    else if (kind === 'other') other += mb;
  }
  return { brkMb: brk, arenaMb: arena, arenas, otherAnonMb: other };
}

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

/**
 * Slope (per hour) of the RSS floor: the least-squares slope of each window's smallest sample. Frames and tensors in
 * flight move single samples by ±15 MB; the floor of a few minutes is what the process holds between them.
 */
function floorSlope(points: Array<[number, number]>, windowS: number): number {
  const floors = new Map<number, [number, number]>();
  for (const [t, v] of points) {
    const w = Math.floor(t / windowS);
    const f = floors.get(w);
    if (!f || v < f[1]) floors.set(w, [t, v]);
  }
  // Windows with the floor's time as x; a partial last window is left out (its floor is not comparable).
  const last = Math.floor((points.at(-1)?.[0] ?? 0) / windowS);
  return slope([...floors.entries()].filter(([w]) => w < last).map(([, [t, v]]) => [t / 3600, v]));
}

/** Standard error of the least-squares slope: how far noise alone moves it. */
function slopeStderr(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 3) return NaN;
  const b = slope(points);
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxx = 0;
  let sse = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sse += (y - (my + b * (x - mx))) ** 2;
  }
  return Math.sqrt(sse / (n - 2) / sxx);
}

async function main(): Promise<void> {
  if (!existsSync(CLIP)) throw new Error(`${CLIP} is missing: run bash scripts/setup.sh`);
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-soak-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  // Three RTSP cameras, each on its own server; the first is the one restarted.
  const rtsp: RtspTestServer[] = [];
  for (let i = 0; i < 3; i++) {
    const s = RtspTestServer.forClip(await freePort(), CLIP);
    await s.start();
    rtsp.push(s);
  }
  const cameras = [
    ...[0, 1, 2].map((i) => ({ id: `file-${i}`, source: { kind: 'file', path: CLIP, loop: true, realtime: true }, detectFps: 3 })),
    ...rtsp.map((s, i) => ({ id: `rtsp-${i}`, source: { kind: 'rtsp', url: s.url }, detectFps: 3 })),
    { id: 'test-0', source: { kind: 'test', pattern: 'ball', width: 640, height: 360, fps: 10 }, detectFps: 3 },
    { id: 'test-1', source: { kind: 'test', pattern: 'smpte', width: 320, height: 240, fps: 10 }, detectFps: 3 },
  ];
  // Retention: one camera recorded continuously under a small disk cap; detections kept RETENTION_S.
  (cameras[0] as Record<string, unknown>).record = { mode: 'continuous', segmentSeconds: 10, maxAgeHours: 60 / 3600 };
  const config = {
    dataDir,
    server: { host: '127.0.0.1', port },
    cameras,
    recording: { minFreeGb: 0, maxGb: 0.05 },
    detectionsMaxAgeDays: RETENTION_S / 86400,
  };
  const configFile = join(dataDir, 'soak.yaml');
  writeFileSync(configFile, toYaml(config));

  const serverEnv: NodeJS.ProcessEnv = { ...process.env, VIGIL_LOG_LEVEL: 'info', ...SERVER_ENV };
  for (const [k, v] of Object.entries(SERVER_ENV)) if (v === '') delete serverEnv[k];
  const snapshotDir = dirname(OUT);
  const nodeArgs = [...SERVER_NODE_ARGS, ...(HEAP_SNAPSHOTS_AT.length > 0 ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [])];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join(ROOT, 'scripts', 'vigil.mjs'), 'serve', '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv,
  });
  // A soak stopped by a signal takes its servers along: the RTSP servers would otherwise outlive it on their ports.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      child.kill('SIGTERM');
      void Promise.all(rtsp.map((s) => s.kill())).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
  let exited = false;
  child.once('exit', (code, sig) => {
    exited = true;
    if (!stopping) error(`vigil serve exited (${code ?? sig})`);
  });
  let stopping = false;
  let password = '';
  const logCounts: Record<string, number> = {};
  const partial: Record<string, string> = { out: '', err: '' };
  // Whole lines only: a chunk can end inside one (the admin password line included).
  const onLog = (which: 'out' | 'err') => (d: Buffer) => {
    const lines = (partial[which] + d.toString()).split('\n');
    partial[which] = lines.pop()!;
    for (const line of lines) {
      const pw = /created user "admin" with password (\S+)/.exec(line);
      if (pw) password = pw[1]!;
      const lvl = /^\S+ (ERROR|WARN)\s/.exec(line);
      if (lvl) {
        const key = `${lvl[1]} ${line.replace(/^\S+ \S+\s+/, '').slice(0, 100)}`;
        logCounts[key] = (logCounts[key] ?? 0) + 1;
        if (lvl[1] === 'ERROR' && logCounts[key] === 1) console.error(`[soak] server: ${line.slice(0, 300)}`);
      }
    }
  };
  child.stdout!.on('data', onLog('out'));
  child.stderr!.on('data', onLog('err'));

  // Up: the port answers and the admin password was printed.
  for (let i = 0; ; i++) {
    if (exited) throw new Error('vigil serve exited during start');
    try {
      const r = await fetch(`${base}/health`);
      if (r.status < 500 && password) break;
    } catch {
      /* not listening yet */
    }
    if (i > 600) throw new Error('vigil serve did not start within 60 s');
    await sleep(100);
  }
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  if (login.status !== 200) throw new Error(`login failed: HTTP ${login.status} ${await login.text()}`);
  let token = ((await login.json()) as { access_token: string }).access_token;
  const auth = () => ({ authorization: `Bearer ${token}` });
  console.log(`[soak] vigil serve pid ${child.pid} on ${base} after ${elapsedS().toFixed(0)} s, ${MINUTES} min, data ${dataDir}`);
  t0 = Date.now();

  const unhealthy: Record<string, number> = {};
  const counts = { rest: 0, rest5xx: 0, healthUnhealthy: 0, restFailed: 0, wsOpened: 0, wsResumed: 0, wsStalled: 0, wsLeft: 0, wsMessages: 0, ruleEdits: 0 };
  async function rest(method: string, path: string, body?: unknown): Promise<Response | null> {
    counts.rest++;
    try {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: { ...auth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      if (path === '/health' && r.status === 503) {
        // The server's own verdict (a check failed or answered slowly), not a fault of the request: counted apart.
        const body = (await r.json()) as { services?: Record<string, { status: string; detail?: string }> };
        const bad = Object.entries(body.services ?? {}).filter(([, v]) => v.status !== 'ok').map(([k, v]) => `${k}: ${v.status} ${v.detail ?? ''}`.trim());
        counts.healthUnhealthy++;
        for (const b of bad) unhealthy[b] = (unhealthy[b] ?? 0) + 1;
      } else if (r.status >= 500) {
        counts.rest5xx++;
        error(`${method} ${path} -> ${r.status} ${(await r.text()).slice(0, 200)}`);
      } else await r.arrayBuffer();
      return r;
    } catch (err) {
      if (stopping) return null;
      counts.restFailed++;
      error(`${method} ${path} failed: ${(err as Error).message}`);
      return null;
    }
  }

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => unknown) => timers.push(setInterval(() => void fn(), ms));

  // REST traffic: a few requests a second across the read API.
  let restTick = 0;
  every(400, async () => {
    const cam = cameras[restTick++ % cameras.length]!.id;
    const paths = ['/health', '/cameras', `/detections?camera_id=${cam}&page_size=50`, '/alerts?limit=20', '/rules', `/cameras/${cam}`, '/metrics'];
    await rest('GET', paths[restTick % paths.length]!);
  });
  // Token refresh well before expiry (the soak outlives a default access token).
  every(4 * 60_000, async () => {
    try {
      const r = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
      if (r.status === 200) token = ((await r.json()) as { access_token: string }).access_token;
      else error(`re-login -> ${r.status}`);
    } catch (err) {
      if (!stopping) error(`re-login failed: ${(err as Error).message}`);
    }
  });
  // Rule edits: a presence rule per camera group, created once, then its zone moved and re-enabled in turn.
  let ruleTick = 0;
  every(15_000, async () => {
    const tick = ruleTick++; // before the request: a slow answer must not make the next tick POST the same id
    const id = `soak-${tick % 3}`;
    const s = 0.05 * (tick % 5);
    const rule = {
      id,
      kind: 'zone_presence',
      cameras: [cameras[tick % cameras.length]!.id],
      classes: ['person'],
      zone: { points: [[s, s], [1 - s, s], [1 - s, 1 - s], [s, 1 - s]], normalized: true },
      enabled: tick % 4 !== 3,
    };
    const r = tick < 3 ? await rest('POST', '/rules', rule) : await rest('PUT', `/rules/${id}`, rule);
    if (r && r.status < 300) counts.ruleEdits++;
    else if (r) error(`rule edit ${id} -> ${r.status}`);
  });

  // WebSocket clients: one joins every 3 s (up to 8 at once); each lives 5-60 s, a quarter of them stall (stop
  // reading) and are expected to be dropped by the server; those that leave remember their last sequence and a
  // later client resumes from it.
  const clients = new Set<WebSocket>();
  let lastSeq = 0;
  let wsTick = 0;
  every(3000, () => {
    if (clients.size >= 8 || stopping) return;
    const i = wsTick++;
    const stall = i % 4 === 3;
    const resume = i % 3 === 1 && lastSeq > 0;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['vigil.v1'], { headers: auth() });
    ws.binaryType = 'nodebuffer';
    clients.add(ws);
    let leaving = false;
    ws.on('open', () => {
      counts.wsOpened++;
      const sub: Record<string, unknown> = { type: 'subscribe', id: `c${i}` };
      if (resume) {
        sub.resume_after = lastSeq;
        counts.wsResumed++;
      }
      ws.send(JSON.stringify(sub));
      if (stall) {
        setTimeout(() => {
          counts.wsStalled++;
          (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        }, 1000);
      }
      setTimeout(() => {
        leaving = true;
        counts.wsLeft++;
        ws.terminate();
      }, 5000 + ((i * 7919) % 55_000));
    });
    ws.on('message', (d: Buffer) => {
      counts.wsMessages++;
      try {
        const seq = Number(readMessage(d).seq());
        if (seq > lastSeq) lastSeq = seq;
      } catch {
        /* control replies */
      }
    });
    ws.on('error', (err) => {
      if (!leaving && !stall && !stopping) error(`ws client ${i}: ${err.message}`);
    });
    ws.on('close', (code) => {
      clients.delete(ws);
      if (!leaving && !stall && !stopping) error(`ws client ${i} closed by the server (${code})`);
    });
  });

  // RTSP restarts of rtsp-0, each followed by a recovery watch.
  let restarts = 0;
  let recovered = 0;
  const recoveryTimes: number[] = [];
  async function cameraState(id: string): Promise<string> {
    try {
      const r = await fetch(`${base}/cameras/${id}`, { headers: auth(), signal: AbortSignal.timeout(10_000) });
      return r.status === 200 ? ((await r.json()) as { state: string }).state : `http-${r.status}`;
    } catch {
      return 'unreachable';
    }
  }
  const restartLoop = (async () => {
    for (;;) {
      const at = t0 + (restarts + 1) * RESTART_EVERY_S * 1000;
      // A restart whose 60 s recovery watch would outlast the run is not made (it could be neither counted as
      // recovered nor as failed).
      if (at + 70_000 > t0 + MINUTES * 60_000) return;
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait);
      if (stopping) return;
      restarts++;
      console.log(`[soak] ${elapsedS().toFixed(0)}s restarting the RTSP server of rtsp-0 (#${restarts})`);
      await rtsp[0]!.kill();
      await sleep(5000);
      await rtsp[0]!.start();
      const back = Date.now();
      let ok = false;
      while (Date.now() - back < 60_000 && !stopping) {
        await sleep(1000);
        if ((await cameraState('rtsp-0')) === 'running') {
          ok = true;
          break;
        }
      }
      if (ok) {
        recovered++;
        recoveryTimes.push((Date.now() - back) / 1000);
      } else if (!stopping) error(`rtsp-0 not running 60 s after restart #${restarts} (state ${await cameraState('rtsp-0')})`);
    }
  })();

  // Sampling.
  const samples: Sample[] = [];
  let unanswered = 0;
  let stacksFile: string | null = null;
  function dumpStacks(pid: number): void {
    const file = OUT.replace(/\.json$/, '') + `-stacks-${Math.round(elapsedS())}s.txt`;
    const r = spawnSync('gdb', ['-p', String(pid), '-batch', '-ex', 'set pagination off', '-ex', 'thread apply all bt 30'], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) {
      console.error(`[soak] server not answering; no stacks (gdb: ${r.error.message})`);
      return;
    }
    writeFileSync(file, `${r.stdout}\n${r.stderr}`);
    stacksFile = file;
    console.error(`[soak] server not answering: its threads' stacks are in ${file}`);
  }
  const lmdb = join(dataDir, 'db', 'data.mdb');
  async function sample(): Promise<void> {
    if (exited) return;
    const pid = child.pid!;
    const p = procStatus(pid);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    let heapMb: number | null = null;
    let heapTotalMb: number | null = null;
    let externalMb: number | null = null;
    let pipelinesOpen: number | null = null;
    let pipelinesAbandoned: number | null = null;
    let pipelinesReleasedLate: number | null = null;
    let teardownsKicked: number | null = null;
    let kickedFinished: number | null = null;
    let jitterbuffersStuck: number | null = null;
    let sourceFramesMb: number | null = null;
    let gstObjects: number | null = null;
    let gstTop: Record<string, number> | null = null;
    let trimReleasedMb: number | null = null;
    let mallocHeapMb: number | null = null;
    let mallocFreeMb: number | null = null;
    let mallocMmapMb: number | null = null;
    let storeUsedMb: number | null = null;
    let storeReusableMb: number | null = null;
    let v8SpacesMb: Record<string, number> | null = null;
    try {
      const text = await (await fetch(`${base}/metrics`, { headers: auth(), signal: AbortSignal.timeout(10_000) })).text();
      const g = (n: string) => Number(new RegExp(`^${n}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
      const labelled = (n: string, label: string) => Number(new RegExp(`^${n}\\{${label}\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
      heapMb = g('nodejs_heap_size_used_bytes');
      heapTotalMb = g('nodejs_heap_size_total_bytes');
      externalMb = g('nodejs_external_memory_bytes');
      pipelinesOpen = labelled('vigil_pipelines', 'state="open"');
      pipelinesAbandoned = labelled('vigil_pipelines', 'state="abandoned"');
      pipelinesReleasedLate = g('vigil_pipelines_released_late_total') * 2 ** 20;
      teardownsKicked = labelled('vigil_pipeline_teardown_kicks_total', 'what="teardowns"');
      kickedFinished = labelled('vigil_pipeline_teardown_kicks_total', 'what="finished"');
      jitterbuffersStuck = labelled('vigil_pipeline_teardown_kicks_total', 'what="stuck"');
      sourceFramesMb = labelled('vigil_source_frames', 'stat="bytes"') / 2 ** 20;
      trimReleasedMb = g('vigil_heap_trim_released_bytes_total');
      mallocHeapMb = labelled('vigil_malloc_bytes', '[^}]*kind="heap"') / 2 ** 20;
      mallocFreeMb = labelled('vigil_malloc_bytes', '[^}]*kind="free"') / 2 ** 20;
      mallocMmapMb = labelled('vigil_malloc_bytes', '[^}]*kind="mmap"') / 2 ** 20;
      storeUsedMb = labelled('vigil_store_bytes', 'kind="used"') / 2 ** 20;
      storeReusableMb = labelled('vigil_store_bytes', 'kind="reusable"') / 2 ** 20;
      const spaces = [...text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="([^"]+)"\} ([0-9.e+-]+)$/gm)];
      if (spaces.length > 0) v8SpacesMb = Object.fromEntries(spaces.map((m) => [m[1]!, Number(m[2]) / 2 ** 20]));
      const types = [...text.matchAll(/^vigil_gst_live_objects\{type="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])] as const);
      if (types.length > 0) {
        gstObjects = types.reduce((a, [, n]) => a + n, 0);
        gstTop = Object.fromEntries([...types].sort((a, b) => b[1] - a[1]).slice(0, 5));
      }
      unanswered = 0;
    } catch {
      // Counted by the REST loop if it persists. A server that stops answering (a blocked JS thread) gets its
      // threads' stacks written next to the results once, for the report.
      if (++unanswered === 3) dumpStacks(pid);
    }
    const s: Sample = {
      t: Math.round(elapsedS()),
      ...p,
      fds,
      heapMb,
      heapTotalMb,
      externalMb,
      pipelinesOpen,
      pipelinesAbandoned,
      pipelinesReleasedLate,
      teardownsKicked,
      kickedFinished,
      jitterbuffersStuck,
      sourceFramesMb,
      gstObjects,
      gstTop,
      trimReleasedMb,
      mallocHeapMb,
      mallocFreeMb,
      mallocMmapMb,
      lmdbMb: existsSync(lmdb) ? statSync(lmdb).size / 2 ** 20 : 0,
      storeUsedMb,
      storeReusableMb,
      wsClients: clients.size,
      v8SpacesMb,
      ...smapsBreakdown(pid),
    };
    if (SMAPS_DIR !== '' && s.t - lastSmapsDumpT >= SMAPS_EVERY_S) {
      lastSmapsDumpT = s.t;
      writeFileSync(join(SMAPS_DIR, `t${String(s.t).padStart(6, '0')}.tsv`), anonMappings(pid));
    }
    samples.push(s);
    console.log(
      `[soak] t=${s.t}s rss=${s.rssMb.toFixed(1)}MB anon=${s.anonMb.toFixed(1)}MB heap=${s.heapMb?.toFixed(1) ?? '-'}/${s.heapTotalMb?.toFixed(1) ?? '-'}MB ext=${s.externalMb?.toFixed(1) ?? '-'}MB ` +
        `[brk=${s.brkMb.toFixed(1)} arenas=${s.arenas}/${s.arenaMb.toFixed(1)} other=${s.otherAnonMb.toFixed(1)}] ` +
        `pipelines=${s.pipelinesOpen ?? '-'}/${s.pipelinesAbandoned ?? '-'} kicked=${s.teardownsKicked ?? '-'}/${s.kickedFinished ?? '-'}/${s.jitterbuffersStuck ?? '-'} frames=${s.sourceFramesMb?.toFixed(1) ?? '-'}MB malloc=${s.mallocHeapMb?.toFixed(0) ?? '-'}/${s.mallocFreeMb?.toFixed(0) ?? '-'}/${s.mallocMmapMb?.toFixed(0) ?? '-'}MB gst=${s.gstObjects ?? '-'} trimmed=${s.trimReleasedMb?.toFixed(0) ?? '-'}MB threads=${s.threads} fds=${s.fds} lmdb=${s.lmdbMb.toFixed(1)}MB(used ${s.storeUsedMb?.toFixed(1) ?? '-'}) ws=${s.wsClients} errors=${errors.length}`,
    );
  }
  every(SAMPLE_S * 1000, sample);
  for (const at of HEAP_SNAPSHOTS_AT) {
    const t = setTimeout(() => {
      if (exited || stopping) return;
      // Node writes Heap.<date>.<pid>.<tid>.<seq>.heapsnapshot into --diagnostic-dir.
      console.log(`[soak] t=${Math.round(elapsedS())}s heap snapshot requested (SIGUSR2) into ${snapshotDir}`);
      child.kill('SIGUSR2');
    }, at * 1000);
    timers.push(t as unknown as NodeJS.Timeout);
  }

  await sleep(MINUTES * 60_000);
  await sample();
  stopping = true;
  for (const t of timers) clearInterval(t);
  for (const ws of clients) ws.terminate();
  child.kill('SIGTERM');
  const exitDeadline = Date.now() + 30_000;
  while (!exited && Date.now() < exitDeadline) await sleep(200);
  if (!exited) {
    error('vigil serve did not stop within 30 s of SIGTERM');
    child.kill('SIGKILL');
  }
  await Promise.race([restartLoop, sleep(1000)]);
  for (const s of rtsp) await s.kill();

  const after = samples.filter((s) => s.t >= WARMUP_S);
  // Samples without a value (a /metrics answer that timed out) are left out of that series' slope.
  const perHour = (f: (s: Sample) => number | null) =>
    slope(after.filter((s) => f(s) !== null && Number.isFinite(f(s))).map((s) => [s.t / 3600, f(s)!]));
  const errorLogs = Object.entries(logCounts).filter(([k]) => k.startsWith('ERROR'));
  for (const [k, n] of errorLogs) errors.push(`server log x${n}: ${k}`);
  const result = {
    minutes: MINUTES,
    rss_slope_mb_per_h: round(perHour((s) => s.rssMb)),
    fd_slope_per_h: round(perHour((s) => s.fds)),
    camera_restarts: restarts,
    recovered,
    errors: errors.length,
    date: new Date().toISOString(),
    machine: `${hostname()}: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    command: `node --import tsx bench/soak.ts ${process.argv.slice(2).join(' ')}`.trim(),
    anon_slope_mb_per_h: round(perHour((s) => s.anonMb)),
    heap_slope_mb_per_h: round(perHour((s) => s.heapMb)),
    // V8's committed heap (the pages it holds, used or not): anonymous memory outside malloc.
    heap_total_slope_mb_per_h: round(perHour((s) => s.heapTotalMb)),
    external_slope_mb_per_h: round(perHour((s) => s.externalMb)),
    thread_slope_per_h: round(perHour((s) => s.threads)),
    lmdb_slope_mb_per_h: round(perHour((s) => s.lmdbMb)),
    store_used_slope_mb_per_h: round(perHour((s) => s.storeUsedMb ?? NaN)),
    brk_slope_mb_per_h: round(perHour((s) => s.brkMb)),
    arena_slope_mb_per_h: round(perHour((s) => s.arenaMb)),
    other_anon_slope_mb_per_h: round(perHour((s) => s.otherAnonMb)),
    // vigil_pipelines{state="abandoned"} counts those still stuck: the most at once, and at the end.
    pipelines_abandoned: samples.reduce((m, s) => Math.max(m, s.pipelinesAbandoned ?? 0), 0),
    pipelines_abandoned_at_end: samples.at(-1)?.pipelinesAbandoned ?? null,
    pipelines_released_late: samples.at(-1)?.pipelinesReleasedLate ?? null,
    teardowns_kicked: samples.at(-1)?.teardownsKicked ?? null,
    kicked_teardowns_finished: samples.at(-1)?.kickedFinished ?? null,
    jitterbuffers_found_deadlocked: samples.at(-1)?.jitterbuffersStuck ?? null,
    rss_floor_slope_mb_per_h: round(floorSlope(after.map((s) => [s.t, s.rssMb]), FLOOR_WINDOW_S)),
    rss_floor_window_s: FLOOR_WINDOW_S,
    pipelines_open_max: samples.reduce((m, s) => Math.max(m, s.pipelinesOpen ?? 0), 0),
    stacks_file: stacksFile,
    warmup_s: WARMUP_S,
    server_env: SERVER_ENV,
    server_node_args: SERVER_NODE_ARGS,
    recovery_s: recoveryTimes,
    rss_slope_stderr_mb_per_h: round(slopeStderr(after.map((s) => [s.t / 3600, s.rssMb]))),
    gst_objects_slope_per_h: round(perHour((s) => s.gstObjects)),
    gst_objects_first: after.find((s) => s.gstTop)?.gstTop ?? null,
    gst_objects_last: [...after].reverse().find((s) => s.gstTop)?.gstTop ?? null,
    heap_trim_released_mb: samples.at(-1)?.trimReleasedMb ?? null,
    malloc_heap_slope_mb_per_h: round(perHour((s) => s.mallocHeapMb)),
    malloc_mmap_slope_mb_per_h: round(perHour((s) => s.mallocMmapMb)),
    v8_space_slopes_mb_per_h: Object.fromEntries(
      Object.keys(after.find((s) => s.v8SpacesMb)?.v8SpacesMb ?? {}).map((k) => [k, round(perHour((s) => s.v8SpacesMb?.[k] ?? null))]),
    ),
    counts,
    error_list: errors.slice(0, 50),
    health_unhealthy: unhealthy,
    warn_logs: Object.fromEntries(Object.entries(logCounts).filter(([k]) => k.startsWith('WARN')).slice(0, 30)),
    samples,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `[soak] ${MINUTES} min: rss slope ${result.rss_slope_mb_per_h} MB/h ± ${result.rss_slope_stderr_mb_per_h} (floor ${result.rss_floor_slope_mb_per_h}; anon ${result.anon_slope_mb_per_h}, heap ${result.heap_slope_mb_per_h}), ` +
      `pipelines abandoned ${result.pipelines_abandoned} at most, ${result.pipelines_abandoned_at_end} at the end, ${result.pipelines_released_late} released late, ` +
      `teardowns kicked ${result.teardowns_kicked} (${result.kicked_teardowns_finished} finished; ${result.jitterbuffers_found_deadlocked} jitterbuffers found deadlocked), ` +
      `fd slope ${result.fd_slope_per_h}/h, restarts ${restarts}, recovered ${recovered}, errors ${errors.length} -> ${OUT}`,
  );
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(errors.length === 0 && recovered === restarts ? 0 : 1);
}

function round(v: number): number | null {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : null;
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
