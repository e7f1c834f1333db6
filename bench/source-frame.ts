/**
 * Cost of Frame.captureSource() on the JS thread (issue 3 item 7): a deep copy of each decoded frame of natural
 * footage (vtest at 720p and 1080p, H.264 -> avdec_h264 -> I420), timed around the whole call (N-API object
 * included), with close() timed separately. Two patterns: "churn" closes each copy at once (kept frames replaced,
 * the steady state), "grow" keeps 40 copies alive before closing them together (new tracks appearing: buffers that
 * are not spares of a closed frame). Baseline from the same run: Buffer.copy of the same byte count into a
 * preallocated buffer (a bare memcpy with warm pages), and the same copy into a freshly allocated buffer.
 *
 *   node --import tsx bench/source-frame.ts [--runs 3]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CameraPipeline } from '../src/camera/pipeline.js';
import { parseSource } from '../src/camera/source.js';
import { sourceFrameStats } from '../src/camera/source-frame.js';

const MEDIA = join(import.meta.dirname, '..', '.cache', 'media');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3) || 3;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Run {
  frames: number;
  bytes: number;
  captureMs: number[];
  closeMs: number[];
}

function capture(file: string, keep: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const run: Run = { frames: 0, bytes: 0, captureMs: [], closeMs: [] };
    const kept: Array<{ close(): void }> = [];
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'bench',
      source: parseSource({ kind: 'file', path: join(MEDIA, file), realtime: false }),
      // Small tensor: the stage under test is the capture, not the letterbox.
      tensor: { width: 64, height: 64, layout: 'nhwc-u8', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] },
      detectFps: 0,
      decoder: { threads: 1 },
      block: true,
      onFrame: (f) => {
        const t0 = performance.now();
        const src = f.captureSource();
        const t1 = performance.now();
        if (!src) throw new Error('capture refused');
        run.bytes = src.byteLength;
        kept.push(src);
        if (kept.length >= keep) for (const k of kept.splice(0)) k.close();
        const t2 = performance.now();
        f.release();
        run.frames++;
        run.captureMs.push(t1 - t0);
        run.closeMs.push(t2 - t1);
      },
      onError: (e) => {
        p.close();
        reject(e);
      },
      onEos: () => {
        for (const k of kept.splice(0)) k.close();
        p.close();
        resolve(run);
      },
    });
    p.start();
  });
}

function baseline(bytes: number, n: number): { warmMs: number[]; freshMs: number[] } {
  const src = Buffer.alloc(bytes, 7);
  const dst = Buffer.alloc(bytes);
  const warmMs: number[] = [];
  const freshMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    src.copy(dst);
    const t1 = performance.now();
    const fresh = Buffer.allocUnsafeSlow(bytes);
    src.copy(fresh);
    const t2 = performance.now();
    warmMs.push(t1 - t0);
    freshMs.push(t2 - t1);
  }
  return { warmMs, freshMs };
}

const out: Record<string, unknown> = {};
for (const [label, file] of [['720p', 'vtest-720p.mp4'], ['1080p', 'vtest-1080p.mp4']] as const) {
  const cap: Record<string, number[]> = { churn: [], grow: [] };
  const close: number[] = [];
  let bytes = 0;
  let frames = 0;
  for (let r = 0; r < runs; r++) {
    for (const [mode, keep] of [['churn', 1], ['grow', 40]] as const) {
      const run = await capture(file, keep);
      cap[mode]!.push(...run.captureMs.slice(5)); // the first frames pay for the first allocations
      if (mode === 'churn') close.push(...run.closeMs.slice(5));
      bytes = run.bytes;
      frames += run.frames;
    }
  }
  const base = baseline(bytes, cap.churn!.length);
  const row = {
    bytes,
    frames,
    capture_ms_p50: +pct(cap.churn!, 50).toFixed(3),
    capture_ms_p99: +pct(cap.churn!, 99).toFixed(3),
    capture_grow_ms_p50: +pct(cap.grow!, 50).toFixed(3),
    capture_grow_ms_p99: +pct(cap.grow!, 99).toFixed(3),
    close_ms_p50: +pct(close, 50).toFixed(3),
    memcpy_warm_ms_p50: +pct(base.warmMs, 50).toFixed(3),
    memcpy_fresh_ms_p50: +pct(base.freshMs, 50).toFixed(3),
  };
  console.log(
    `${label} I420 (${bytes} B, ${frames} frames): captureSource churn p50 ${row.capture_ms_p50} ms p99 ${row.capture_ms_p99} ms, ` +
      `grow p50 ${row.capture_grow_ms_p50} ms p99 ${row.capture_grow_ms_p99} ms, close p50 ${row.close_ms_p50} ms | ` +
      `baseline Buffer.copy warm p50 ${row.memcpy_warm_ms_p50} ms, into a fresh buffer p50 ${row.memcpy_fresh_ms_p50} ms`,
  );
  for (const [k, v] of Object.entries(row)) out[`${k}_${label}`] = v;
}
if (sourceFrameStats().frames !== 0) throw new Error('source frames leaked');
out.date = new Date().toISOString();
out.machine = '2 vCPU Debian 12 VM, no GPU';
out.command = `node --import tsx bench/source-frame.ts --runs ${runs}`;
writeFileSync(join(import.meta.dirname, 'results', 'source-frame.json'), `${JSON.stringify(out, null, 2)}\n`);
