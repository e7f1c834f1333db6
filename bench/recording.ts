/**
 * Recording cost (issue 7): CPU per camera with the recording branch on against off, same cameras, same run;
 * plus the write throughput. 4 realtime 720p15 H.264 cameras, 5 fps detect stream, 10 s MP4 segments.
 * Run: node --import tsx bench/recording.ts   (writes bench/results/recording.json)
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { density } from './ingest.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = 4;
const SECONDS = 30;

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath ?? (e as { path: string }).path, e.name)).size;
  }
  return n;
}

const off: number[] = [];
const on: number[] = [];
let bytesPerS = 0;
for (let round = 0; round < 2; round++) {
  off.push((await density(N, SECONDS)).cpuPct / N);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-rec-'));
  try {
    on.push((await density(N, SECONDS, 8, dir)).cpuPct / N);
    bytesPerS = dirBytes(dir) / SECONDS;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const results = {
  cpu_pct_per_camera_recording: +mean(on).toFixed(2),
  cpu_pct_per_camera_no_recording: +mean(off).toFixed(2),
  recording_overhead_pct_points_per_camera: +(mean(on) - mean(off)).toFixed(2),
  write_bytes_per_s_4cam: Math.round(bytesPerS),
  date: new Date().toISOString().slice(0, 10),
  machine: '2 vCPU Debian 12 (node-svc), no GPU',
  command: 'node --import tsx bench/recording.ts',
};
console.log(`per camera (4 x 720p15, 5 fps detect): recording ${results.cpu_pct_per_camera_recording} % CPU vs ${results.cpu_pct_per_camera_no_recording} % without (rounds: on ${on.map((x) => x.toFixed(2)).join(', ')}; off ${off.map((x) => x.toFixed(2)).join(', ')}); writing ${(bytesPerS / 1e6).toFixed(2)} MB/s`);
writeFileSync(join(ROOT, 'bench', 'results', 'recording.json'), JSON.stringify(results, null, 2) + '\n');
