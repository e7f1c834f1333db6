/**
 * Web console benchmark (issue 13): `node --import tsx bench/console.ts [--seconds 12] [--rounds 3]`.
 *
 * - cpu_pct_per_viewed_camera: process CPU time per frame of vtest 720p15 decoded with the live tap on (samples
 *   copied, muxed to fMP4, framed for /live) minus with it off, median of `rounds` alternating runs, times 15 fps.
 *   (A first version compared a serving process's CPU with and without a viewer over wall-clock windows; on this
 *   shared 2-core machine at load 20-30 the windows differed by more than the effect, even in sign.)
 * - then a real `vigil serve` with that camera looping (detection off) for the browser figures:
 * - live_latency_p50_ms / p99: in headless Chromium on loopback, from the instant a frame passed the server's tap
 *   to the instant the browser presented it (requestVideoFrameCallback, mapped to wall-clock time through the
 *   fragments' tap times); append latency (tap -> SourceBuffer.appendBuffer) is reported beside it.
 * - js_gzip_kb: the console's JavaScript as shipped (gzip -9 of web/dist/assets/*.js).
 * - first_paint_ms: first contentful paint of the console (login page) in a fresh browser context, median of 3.
 * Writes bench/results/console.json.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CameraPipeline } from '../src/camera/pipeline.js';
import { parseSource } from '../src/camera/source.js';
import { DEFAULT_TENSOR } from '../src/camera/tensor.js';
import { fragmentMessage } from '../src/console/live.js';
import { Fmp4Muxer } from '../src/media/live/fmp4.js';
import { ROOT, media } from '../test/helpers/media.js';
import { launchBrowser, loginAs, startVigil } from '../test/browser/harness.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('seconds', 12);
const ROUNDS = arg('rounds', 3);

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const round1 = (x: number): number => Math.round(x * 10) / 10;

const jsGzipKb = (() => {
  const dir = join(ROOT, 'web', 'dist', 'assets');
  let bytes = 0;
  for (const f of readdirSync(dir)) if (f.endsWith('.js')) bytes += gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
  return round1(bytes / 1024);
})();

/**
 * CPU of the live path per frame, in process: the same clip decoded as fast as it goes with the tap off and with
 * the tap on, its samples muxed to fMP4 and framed for /live as the hub does (one viewer's copy). The difference
 * in process CPU time (user + system, all threads; unlike wall time it barely moves with other load on this
 * shared machine) per frame, times the camera's 15 fps, is what watching one camera adds.
 */
async function decodeRun(tap: boolean): Promise<{ cpuS: number; frames: number; bytes: number }> {
  const clip = media('vtest-720p15.mp4');
  let bytes = 0;
  const mux = new Fmp4Muxer();
  const c0 = process.cpuUsage();
  const frames = await new Promise<number>((resolve, reject) => {
    let n = 0;
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'bench',
      source: parseSource({ kind: 'file', path: clip, realtime: false }),
      tensor: DEFAULT_TENSOR,
      detectFps: 1, // tensors for 1 frame a second, the same in both runs; every frame is still decoded
      decoder: { threads: 1 },
      onLive: (smp) => {
        n++;
        if (smp.caps !== undefined) mux.setCaps(smp.caps, smp.codecData ?? null);
        const r = mux.push(smp);
        if (r) bytes += Buffer.from(fragmentMessage('bench', Number(smp.wallClockNs / 1_000_000n), r.fragment)).length;
      },
      onFrame: (f) => f.release(),
      onError: (e) => (p.close(), reject(e)),
      onEos: () => {
        const st = p.stats();
        p.close();
        resolve(tap ? n : st.framesDecoded);
      },
    });
    if (tap) p.setLiveTap(true);
    p.start();
  });
  const c = process.cpuUsage(c0);
  return { cpuS: (c.user + c.system) / 1e6, frames, bytes };
}

const off: number[] = [];
const on: number[] = [];
let liveBytes = 0;
let liveFrames = 0;
for (let r = 0; r < ROUNDS; r++) {
  const a = await decodeRun(false);
  off.push(a.cpuS / a.frames);
  const b = await decodeRun(true);
  on.push(b.cpuS / b.frames);
  liveBytes = b.bytes;
  liveFrames = b.frames;
}
const median = (xs: number[]): number => quantile(xs, 0.5);
const perFrameS = median(on) - median(off);
const perCamera = perFrameS * 15 * 100;
console.log(`CPU per frame: tap off ${off.map((x) => (x * 1000).toFixed(3)).join(', ')} ms, tap + fMP4 on ${on.map((x) => (x * 1000).toFixed(3)).join(', ')} ms -> ${(perFrameS * 1000).toFixed(3)} ms a frame = ${perCamera.toFixed(2)} % of a core at 15 fps; ${liveFrames} fragments, ${(liveBytes / 1e6).toFixed(1)} MB`);

const vigil = await startVigil(['detector: false', 'cameras:', '  - id: vtest', `    source: { kind: file, path: ${media('vtest-720p15.mp4')}, loop: true }`]);
try {
  // Latency and first paint in Chromium.
  const browser = await launchBrowser();
  try {
    const paints: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(vigil.url + '/');
      await page.getByRole('button', { name: 'Log in' }).waitFor();
      paints.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN));
      await ctx.close();
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
    await page.goto(vigil.url + '/ui/cameras/vtest');
    await page.waitForFunction(() => ((globalThis as { __vigilLive?: { glass: number[] } }).__vigilLive?.glass.length ?? 0) > 20, null, { timeout: 60_000 });
    await page.evaluate(() => {
      const l = (globalThis as unknown as { __vigilLive: { glass: number[]; latencies: number[] } }).__vigilLive;
      l.glass.length = 0;
      l.latencies.length = 0;
    });
    await page.waitForTimeout(SECONDS * 1000);
    const { glass, appended } = await page.evaluate(() => {
      const l = (globalThis as unknown as { __vigilLive: { glass: number[]; latencies: number[] } }).__vigilLive;
      return { glass: [...l.glass], appended: [...l.latencies] };
    });
    const result = {
      live_latency_p50_ms: round1(quantile(glass, 0.5)),
      live_latency_p99_ms: round1(quantile(glass, 0.99)),
      live_append_latency_p50_ms: round1(quantile(appended, 0.5)),
      live_append_latency_p99_ms: round1(quantile(appended, 0.99)),
      live_frames_measured: glass.length,
      cpu_pct_per_viewed_camera: Math.round(perCamera * 100) / 100,
      cpu_ms_per_frame_tap_off: Math.round(median(off) * 1e6) / 1000,
      cpu_ms_per_frame_tap_on: Math.round(median(on) * 1e6) / 1000,
      js_gzip_kb: jsGzipKb,
      first_paint_ms: round1(quantile(paints, 0.5)),
      date: new Date().toISOString(),
      machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'} (shared), Chromium ${browser.version()} headless, loopback; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      command: `node --import tsx bench/console.ts --seconds ${SECONDS} --rounds ${ROUNDS}`,
    };
    console.log(JSON.stringify(result, null, 2));
    writeFileSync(join(ROOT, 'bench', 'results', 'console.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    await browser.close();
  }
} finally {
  await vigil.stop();
}
