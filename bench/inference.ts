/**
 * Inference in the live pipeline (issue 3), each figure beside its baseline from the same run:
 *  1. inferences/s through the pipeline (native decode + tensor stage -> scheduler -> Detector) against a bare
 *     session.run loop on the same model with the same thread count (bench/inference-bare.ts's loop);
 *  2. frame-to-detection latency (tensor ready -> detections ready) at 1 camera and at 4 cameras, 3 fps each;
 *  3. inference calls saved by the motion gate on the vtest clip and on a static clip (a frozen vtest frame).
 * Run: node --import tsx bench/inference.ts   (writes bench/results/inference.json)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CameraPipeline } from '../src/camera/pipeline.js';
import { CameraManager } from '../src/camera/manager.js';
import { parseSource } from '../src/camera/source.js';
import { DEFAULT_CAMERA_TIMING } from '../src/camera/camera.js';
import { DEFAULT_TENSOR } from '../src/camera/tensor.js';
import { DEFAULT_MOTION } from '../src/config/index.js';
import { Detector } from '../src/inference/detector.js';
import { nanodetPreset } from '../src/inference/models.js';
import { InferenceScheduler } from '../src/inference/scheduler.js';
import { bareRunLoop } from './inference-bare.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MEDIA = join(ROOT, '.cache', 'media');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A file camera read as fast as decode allows, every frame to inference; inferences/s over `seconds`. */
async function pipelineRate(seconds: number): Promise<number> {
  const det = await Detector.create(nanodetPreset());
  let inferred = 0;
  const scheduler = new InferenceScheduler(det, { queuePerCamera: 2, onDetections: () => inferred++ });
  const p = new CameraPipeline({
    cameraId: 'bench',
    source: parseSource({ kind: 'file', path: join(MEDIA, 'vtest-h264.mp4'), realtime: false }),
    tensor: det.tensorSpec(),
    detectFps: 0,
    decoder: { threads: 1 },
    block: true,
    onFrame: (f) => scheduler.submit(f),
    onError: (e) => {
      throw e;
    },
    onEos: () => {},
  });
  p.start();
  await sleep(3000); // warm-up
  const i0 = inferred;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = (inferred - i0) / ((performance.now() - t0) / 1000);
  p.close();
  await scheduler.close();
  await det.close();
  return rate;
}

async function latency(cameras: number, fps: number, seconds: number): Promise<{ p50: number; p99: number; shed: number }> {
  const det = await Detector.create(nanodetPreset());
  const scheduler = new InferenceScheduler(det, { onDetections: () => {} });
  const manager = new CameraManager();
  manager.on('frame', (f) => scheduler.submit(f));
  for (let i = 0; i < cameras; i++) {
    manager.add({
      id: `cam${i}`,
      name: `cam${i}`,
      source: parseSource({ kind: 'file', path: join(MEDIA, 'vtest-h264.mp4'), loop: true, realtime: true }),
      tensor: det.tensorSpec(),
      detectFps: fps,
      decoder: { threads: 1 },
      ...DEFAULT_CAMERA_TIMING,
    });
  }
  await sleep(3000);
  scheduler.stats(); // reset the window
  await sleep(seconds * 1000);
  const s = scheduler.stats();
  manager.close();
  await scheduler.close();
  await det.close();
  return { ...s.latencyMs, shed: Object.values(s.cameras).reduce((n, c) => n + c.shed, 0) };
}

/** Share of detect-rate frames the motion gate kept from inference. */
function skipRatio(clip: string): Promise<number> {
  return new Promise((resolve) => {
    const p = new CameraPipeline({
      cameraId: 'gate',
      source: parseSource({ kind: 'file', path: clip, realtime: false }),
      tensor: DEFAULT_TENSOR,
      detectFps: 5,
      decoder: { threads: 1 },
      motion: DEFAULT_MOTION,
      block: true,
      onFrame: (f) => f.release(),
      onError: (e) => {
        throw e;
      },
      onEos: () => {
        const s = p.stats();
        p.close();
        resolve(s.skippedNoMotion / s.framesIn);
      },
    });
    p.start();
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'vigil-bench-inf-'));
try {
  const bare: number[] = [];
  const live: number[] = [];
  for (let round = 0; round < 2; round++) {
    bare.push((await bareRunLoop(15)).inferencesPerSecond);
    live.push(await pipelineRate(15));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratio = mean(live) / mean(bare);
  console.log(`inferences/s: pipeline ${live.map((x) => x.toFixed(2)).join(', ')} vs bare session.run ${bare.map((x) => x.toFixed(2)).join(', ')}: ratio ${ratio.toFixed(3)}`);

  const l1 = await latency(1, 3, 20);
  const l4 = await latency(4, 3, 20);
  console.log(`latency tensor->detections: 1 camera p50 ${l1.p50.toFixed(1)} ms p99 ${l1.p99.toFixed(1)} ms; 4 cameras p50 ${l4.p50.toFixed(1)} ms p99 ${l4.p99.toFixed(1)} ms (shed ${l4.shed})`);

  const staticClip = join(tmp, 'static.mp4');
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-i', join(MEDIA, 'vtest-h264.mp4'), '-vf', 'select=eq(n\\,100),loop=299:1:0,setpts=N/10/TB', '-frames:v', '300', '-r', '10', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '20', '-y', staticClip]);
  const sv = await skipRatio(join(MEDIA, 'vtest-h264.mp4'));
  const ss = await skipRatio(staticClip);
  console.log(`motion gate skips: vtest ${(sv * 100).toFixed(1)} % of detect-rate frames, static clip ${(ss * 100).toFixed(1)} %`);

  const results = {
    ratio_pipeline_vs_bare_run: +ratio.toFixed(3),
    inferences_per_s_pipeline: +mean(live).toFixed(2),
    inferences_per_s_bare: +mean(bare).toFixed(2),
    latency_ms_p50_1cam: +l1.p50.toFixed(1),
    latency_ms_p99_1cam: +l1.p99.toFixed(1),
    latency_ms_p50_4cam: +l4.p50.toFixed(1),
    latency_ms_p99_4cam: +l4.p99.toFixed(1),
    motion_gate_skip_ratio_vtest: +sv.toFixed(3),
    motion_gate_skip_ratio_static: +ss.toFixed(3),
    date: new Date().toISOString().slice(0, 10),
    machine: '2 vCPU Debian 12 (node-svc), no GPU; NanoDet 416 on onnxruntime-node 1.30 CPU, 1 intra-op thread',
    command: 'node --import tsx bench/inference.ts',
  };
  writeFileSync(join(ROOT, 'bench', 'results', 'inference.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
