/**
 * Ingest benchmarks (issue 2), each figure next to its baseline from the same run:
 *  1. decode -> ready tensor through Vigil vs gst-launch-1.0 decoding the same clip to fakesink with the same
 *     decoder and thread count (the limit of this machine), on the 1080p and 720p H.264 clips;
 *  2. Vigil vs the usual Node approach (ffmpeg decoding to raw RGB on a pipe, letterbox in JS), both pinned to
 *     the same single core (equal CPU);
 *  3. density: CPU and RSS per camera for 4 and 8 realtime 720p15 cameras with a 5 fps detect stream.
 * Run: node --import tsx bench/ingest.ts   (writes bench/results/ingest.json)
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MEDIA = join(ROOT, '.cache', 'media');
const WORKER = join(ROOT, 'bench', 'ingest-worker.ts');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CLK_TCK = 100;

interface Run {
  fps: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** Runs a shell command, returning its stdout and the CPU seconds its children used (bash `times`). */
function sh(command: string): Promise<{ stdout: string; cpu: number; wall: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('bash', ['-c', `${command}; times`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`${command} exited with ${code}`));
      const lines = out.trim().split('\n');
      const times = lines.pop()!; // children: "XmY.YYYs XmY.YYYs"
      lines.pop(); // the shell's own
      const secs = times.split(' ').map((t) => {
        const m = /(\d+)m([\d.]+)s/.exec(t)!;
        return Number(m[1]) * 60 + Number(m[2]);
      });
      resolve({ stdout: lines.join('\n'), cpu: secs[0]! + secs[1]!, wall });
    });
    p.on('error', reject);
  });
}

const node = `${process.execPath} --import tsx ${WORKER}`;

async function vigil(clip: string, pin = ''): Promise<Run> {
  const r = await sh(`${pin} ${node} vigil-file ${clip}`);
  const { frames, seconds } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  if (frames !== 795) throw new Error(`vigil decoded ${frames} frames`);
  return { fps: frames / seconds, cpuSeconds: r.cpu, wallSeconds: seconds };
}

async function gstLaunch(clip: string): Promise<Run> {
  // The same graph as Vigil's file template up to the decoder, then fakesink.
  const r = await sh(
    `gst-launch-1.0 -q filesrc location=${clip} ! qtdemux ! h264parse ! queue max-size-buffers=16 max-size-bytes=0 max-size-time=0 ! avdec_h264 max-threads=1 ! fakesink sync=false`,
  );
  return { fps: 795 / r.wall, cpuSeconds: r.cpu, wallSeconds: r.wall };
}

async function ffmpegPipe(clip: string, w: number, h: number, pin: string): Promise<Run> {
  const r = await sh(`${pin} ${node} ffmpeg-pipe ${clip} ${w} ${h}`);
  const { frames, seconds } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  if (frames !== 795) throw new Error(`ffmpeg pipe read ${frames} frames`);
  return { fps: frames / seconds, cpuSeconds: r.cpu, wallSeconds: seconds };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function procStat(pid: number): { cpuTicks: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuTicks, rssKb };
}

export async function density(n: number, seconds = 30, warmup = 8, recordDir?: string): Promise<{ cpuPct: number; rssMb: number; handed: number; dropped: number }> {
  const clip = join(MEDIA, 'vtest-720p15.mp4');
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', WORKER, 'density', String(n), clip, String(seconds), ...(recordDir ? [recordDir] : [])];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let a: { cpuTicks: number; rssKb: number } | null = null;
    let b: { cpuTicks: number; rssKb: number } | null = null;
    let ta = 0;
    let tb = 0;
    p.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready') && ta === 0) {
        ta = -1;
        setTimeout(() => {
          a = procStat(p.pid!);
          ta = performance.now();
          setTimeout(() => {
            b = procStat(p.pid!);
            tb = performance.now();
          }, (seconds - warmup - 2) * 1000);
        }, warmup * 1000);
      }
    });
    p.on('exit', () => {
      if (!a || !b) return reject(new Error('density run ended early'));
      const r = JSON.parse(out.trim().split('\n').pop()!);
      const cpuPct = (((b.cpuTicks - a.cpuTicks) / CLK_TCK) / ((tb - ta) / 1000)) * 100;
      resolve({ cpuPct, rssMb: b.rssKb / 1024, handed: r.handed, dropped: r.dropped });
    });
  });
}

async function main() {
  const results: Record<string, unknown> = {};
  for (const [label, file] of [['1080p', 'vtest-1080p.mp4'], ['720p', 'vtest-720p.mp4']] as const) {
    const clip = join(MEDIA, file);
    const v: number[] = [];
    const g: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      g.push((await gstLaunch(clip)).fps);
      v.push((await vigil(clip)).fps);
    }
    const fv = median(v), fg = median(g);
    console.log(`${label}: Vigil decode->tensor ${fv.toFixed(1)} fps (runs ${v.map((x) => x.toFixed(1)).join(', ')}) vs gst-launch decode->fakesink ${fg.toFixed(1)} fps (runs ${g.map((x) => x.toFixed(1)).join(', ')}): ratio ${(fv / fg).toFixed(3)}`);
    results[`fps_vigil_${label}`] = +fv.toFixed(1);
    results[`fps_gst_launch_${label}`] = +fg.toFixed(1);
    results[`ratio_vs_gst_launch_${label}`] = +(fv / fg).toFixed(3);
  }

  // Equal CPU: both approaches confined to the same single core.
  const pin = 'taskset -c 1';
  const clip720 = join(MEDIA, 'vtest-720p.mp4');
  const vp: number[] = [];
  const fp: number[] = [];
  for (let i = 0; i < Math.min(ROUNDS, 2); i++) {
    fp.push((await ffmpegPipe(clip720, 1280, 720, pin)).fps);
    vp.push((await vigil(clip720, pin)).fps);
  }
  const vpm = median(vp), fpm = median(fp);
  console.log(`720p on one core: Vigil ${vpm.toFixed(1)} fps vs ffmpeg pipe + JS letterbox ${fpm.toFixed(1)} fps: ratio ${(vpm / fpm).toFixed(2)}`);
  results.fps_vigil_720p_one_core = +vpm.toFixed(1);
  results.fps_ffmpeg_pipe_720p_one_core = +fpm.toFixed(1);
  results.ratio_vs_ffmpeg_pipe_720p = +(vpm / fpm).toFixed(2);

  const d0 = await density(0, 14, 4);
  const d4 = await density(4);
  const d8 = await density(8);
  for (const [n, d] of [[4, d4], [8, d8]] as const) {
    console.log(`density ${n} x 720p15 (5 fps detect): CPU ${d.cpuPct.toFixed(1)} % (${(d.cpuPct / n).toFixed(1)} % per camera), RSS ${d.rssMb.toFixed(0)} MB (${((d.rssMb - d0.rssMb) / n).toFixed(1)} MB per camera over an idle process of ${d0.rssMb.toFixed(0)} MB), frames dropped ${d.dropped}`);
  }
  results.cpu_pct_per_camera_720p15 = +(d8.cpuPct / 8).toFixed(1);
  results.rss_mb_per_camera_720p15 = +((d8.rssMb - d0.rssMb) / 8).toFixed(1);
  results.cpu_pct_per_camera_720p15_4cam = +(d4.cpuPct / 4).toFixed(1);
  results.rss_mb_per_camera_720p15_4cam = +((d4.rssMb - d0.rssMb) / 4).toFixed(1);
  results.date = new Date().toISOString().slice(0, 10);
  results.machine = '2 vCPU Debian 12 (node-svc), no GPU; software decode (avdec_h264, max-threads=1)';
  results.command = 'node --import tsx bench/ingest.ts';
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'ingest.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
