/**
 * `vigil bench inference`: the detector models this machine has, at each precision and input size, as bare
 * `session.run` on one intra-op thread (how the server runs them), interleaved round by round in one process so
 * that a noisy neighbour slows every model alike. Timing does not depend on pixel values for these networks, so the
 * input is a fixed pseudo-random tensor of the model's shape.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { modelsDir } from '../inference/models.js';

export interface ModelCase {
  name: string;
  file: string;
  precision: 'fp32' | 'int8';
  shape: number[];
}

/** The built-in detector models and their input shapes (set-up makes them into the models folder). */
export const DETECTOR_CASES: readonly ModelCase[] = [
  { name: 'nanodet-416', file: 'nanodet.onnx', precision: 'fp32', shape: [1, 3, 416, 416] },
  { name: 'nanodet-416', file: 'nanodet-int8.onnx', precision: 'int8', shape: [1, 3, 416, 416] },
  { name: 'nanodet-320', file: 'nanodet-320.onnx', precision: 'fp32', shape: [1, 3, 320, 320] },
  { name: 'nanodet-320', file: 'nanodet-320-int8.onnx', precision: 'int8', shape: [1, 3, 320, 320] },
  { name: 'centernet-512', file: 'centernet.onnx', precision: 'fp32', shape: [1, 512, 512, 3] },
];

export interface ModelTiming {
  name: string;
  precision: 'fp32' | 'int8';
  file: string;
  megabytes: number;
  runs: number;
  msP50: number;
  msMean: number;
  inferencesPerS: number;
}

function tensorFor(shape: number[]): ort.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = ((s >>> 8) / 0xffffff) * 2 - 1;
  }
  return new ort.Tensor('float32', data, shape);
}

/** Runs every present model for about `seconds` each, interleaved in rounds of 5 runs. */
export async function benchInference(seconds: number, cases: readonly ModelCase[] = DETECTOR_CASES): Promise<ModelTiming[]> {
  const present = cases.filter((c) => existsSync(join(modelsDir(), c.file)));
  const sessions = await Promise.all(
    present.map(async (c) => {
      const session = await ort.InferenceSession.create(join(modelsDir(), c.file), {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      });
      const feeds = { [session.inputNames[0]!]: tensorFor(c.shape) };
      for (let i = 0; i < 3; i++) await session.run(feeds);
      return { c, session, feeds, times: [] as number[] };
    }),
  );
  const deadline = performance.now() + seconds * 1000 * Math.max(1, sessions.length);
  while (performance.now() < deadline) {
    for (const s of sessions) {
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await s.session.run(s.feeds);
        s.times.push(performance.now() - t);
      }
    }
  }
  const out: ModelTiming[] = [];
  for (const s of sessions) {
    await s.session.release();
    const sorted = [...s.times].sort((a, b) => a - b);
    const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
    out.push({
      name: s.c.name,
      precision: s.c.precision,
      file: s.c.file,
      megabytes: statSync(join(modelsDir(), s.c.file)).size / 2 ** 20,
      runs: sorted.length,
      msP50: sorted[Math.floor(sorted.length / 2)]!,
      msMean: mean,
      inferencesPerS: 1000 / mean,
    });
  }
  return out;
}

export function inferenceTable(rows: ModelTiming[]): string {
  const lines = ['model          precision   MB     runs   p50 ms  mean ms   inf/s (1 core)'];
  for (const r of rows) {
    lines.push(`${r.name.padEnd(14)} ${r.precision.padEnd(9)} ${r.megabytes.toFixed(1).padStart(5)} ${String(r.runs).padStart(8)} ${r.msP50.toFixed(2).padStart(8)} ${r.msMean.toFixed(2).padStart(8)} ${r.inferencesPerS.toFixed(1).padStart(8)}`);
  }
  return lines.join('\n');
}

/** fp32 mean / int8 mean for a model name, or null when either is missing. */
export function int8Speedup(rows: ModelTiming[], name: string): number | null {
  const f = rows.find((r) => r.name === name && r.precision === 'fp32');
  const q = rows.find((r) => r.name === name && r.precision === 'int8');
  return f && q ? f.msMean / q.msMean : null;
}
