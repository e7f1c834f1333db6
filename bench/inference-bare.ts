/**
 * Bare onnxruntime-node session.run loop for NanoDet 416 with 1 intra-op thread: the baseline the live
 * pipeline's inferences/s is compared against (issue 3). Side by side in the same run: the same loop through
 * Detector.detect (session.run + native decode/NMS/letterbox undo) and a batch-of-4 run (per-frame rate).
 *
 *   node --import tsx bench/inference-bare.ts [--seconds 20]
 *
 * Writes bench/results/inference-bare.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { Detector } from '../src/inference/detector.js';
import { decodeFrames } from '../test/helpers/frames.js';
import { modelPath, nanodetPreset } from '../src/inference/models.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface BareRunResult {
  inferencesPerSecond: number;
  runs: number;
  seconds: number;
  msPerRunP50: number;
}

/** Runs session.run on one fixed real-frame tensor for `seconds` (after 3 warm-up runs). Reusable by other benches. */
export async function bareRunLoop(seconds: number, batch = 1, intraOpNumThreads = 1): Promise<BareRunResult> {
  const det = await Detector.create(nanodetPreset());
  const f = decodeFrames(join(root, '.cache', 'media', 'vtest.avi'), [100], 'rgb24')[0]!;
  const one = new Float32Array(det.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height }).tensor as ArrayBuffer);
  await det.close();
  const data = new Float32Array(one.length * batch);
  for (let k = 0; k < batch; k++) data.set(one, k * one.length);
  const session = await ort.InferenceSession.create(modelPath('nanodet'), {
    executionProviders: ['cpu'], intraOpNumThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const feeds = { input: new ort.Tensor('float32', data, [batch, 3, 416, 416]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    await session.run(feeds);
    times.push(performance.now() - s);
  }
  const elapsed = (performance.now() - t0) / 1000;
  await session.release();
  times.sort((a, b) => a - b);
  return { inferencesPerSecond: (times.length * batch) / elapsed, runs: times.length, seconds: elapsed,
    msPerRunP50: times[Math.floor(times.length / 2)]! };
}

async function detectorLoop(seconds: number): Promise<BareRunResult> {
  const det = await Detector.create(nanodetPreset());
  const f = decodeFrames(join(root, '.cache', 'media', 'vtest.avi'), [100], 'rgb24')[0]!;
  const input = det.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height });
  for (let i = 0; i < 3; i++) await det.detect([input]);
  const times: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    await det.detect([input]);
    times.push(performance.now() - s);
  }
  const elapsed = (performance.now() - t0) / 1000;
  await det.close();
  times.sort((a, b) => a - b);
  return { inferencesPerSecond: times.length / elapsed, runs: times.length, seconds: elapsed, msPerRunP50: times[Math.floor(times.length / 2)]! };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i > 0 ? Number(process.argv[i + 1]) : 20;
  const bare = await bareRunLoop(seconds, 1, 1);
  const viaDetector = await detectorLoop(seconds);
  const batch4 = await bareRunLoop(seconds, 4, 1);
  const bare2 = await bareRunLoop(seconds, 1, 2);
  const row = (name: string, r: BareRunResult, batch = 1): string =>
    `${name.padEnd(44)} ${r.inferencesPerSecond.toFixed(1).padStart(7)} inf/s   p50 ${(r.msPerRunP50 / batch).toFixed(1)} ms/frame   (${r.runs} runs, ${r.seconds.toFixed(1)} s)`;
  console.log('NanoDet 416 (human-models nanodet), onnxruntime-node CPU, one real vtest frame');
  console.log(row('bare session.run, 1 intra-op thread (BASELINE)', bare));
  console.log(row('Detector.detect (run + native decode/NMS)', viaDetector));
  console.log(row('bare session.run, batch 4, 1 thread', batch4, 4));
  console.log(row('bare session.run, 2 intra-op threads', bare2));
  console.log(`detector / bare ratio: ${(viaDetector.inferencesPerSecond / bare.inferencesPerSecond).toFixed(3)}`);
  const result = {
    bare_run_inferences_per_s_1thread: Number(bare.inferencesPerSecond.toFixed(2)),
    bare_run_ms_p50_1thread: Number(bare.msPerRunP50.toFixed(2)),
    detector_detect_inferences_per_s_1thread: Number(viaDetector.inferencesPerSecond.toFixed(2)),
    ratio_detector_vs_bare_run: Number((viaDetector.inferencesPerSecond / bare.inferencesPerSecond).toFixed(3)),
    bare_run_batch4_frames_per_s_1thread: Number(batch4.inferencesPerSecond.toFixed(2)),
    bare_run_inferences_per_s_2threads: Number(bare2.inferencesPerSecond.toFixed(2)),
    seconds_per_measurement: seconds,
    date: new Date().toISOString(),
    machine: '2 vCPU Debian 12 (node-svc)',
    command: `node --import tsx bench/inference-bare.ts --seconds ${seconds}`,
  };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'inference-bare.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
