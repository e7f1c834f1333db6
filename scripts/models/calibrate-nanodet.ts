/**
 * Activation ranges for quantizing NanoDet: runs the float probe model (scripts/models/qdq.py probe: every
 * activation exposed as an output) on calibration frames and writes, per tensor, min / max and percentiles of
 * both tails from a histogram over all frames. Python here has no onnxruntime, so the statistics are collected in
 * node with the runtime that serves the model.
 *
 * Frames: vtest.avi (made by scripts/setup.d/20-media.sh) frames 0-399, every 10th by default; never frames 400
 * and later, which the accuracy gate (test/integration/detector-int8.test.ts) evaluates on. Tensors come from the
 * project's native letterbox (Detector.prepare -> preprocessImage), exactly the live input.
 *
 *   node --import tsx scripts/models/calibrate-nanodet.ts --probe P.onnx --size 416 --out calib.json [--from 0 --to 400 --step 10]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { Detector } from '../../src/inference/detector.js';
import { decodeFrames } from '../../test/helpers/frames.js';
import { nanodetPreset, type NanodetInputSize } from '../../src/inference/models.js';
import { FIRST_EVAL_FRAME } from './box-agreement.js';

const BINS = 8192;
const PERCENTILES = ['0.001', '0.01', '0.1', '99.9', '99.99', '99.999'];

const { values } = parseArgs({
  options: {
    probe: { type: 'string' }, size: { type: 'string', default: '416' }, out: { type: 'string' },
    from: { type: 'string', default: '0' }, to: { type: 'string', default: String(FIRST_EVAL_FRAME) },
    step: { type: 'string', default: '10' },
  },
});
if (!values.probe || !values.out) {
  console.error('usage: calibrate-nanodet.ts --probe P.onnx --size 416|320 --out calib.json [--from 0 --to 400 --step 10]');
  process.exit(2);
}
const size = Number(values.size) as NanodetInputSize;
const from = Number(values.from), to = Number(values.to), step = Number(values.step);
if (to > FIRST_EVAL_FRAME) throw new Error(`calibration frames must end before ${FIRST_EVAL_FRAME} (the evaluation frames)`);
const indices: number[] = [];
for (let i = from; i < to; i += step) indices.push(i);

const root = join(import.meta.dirname, '..', '..');
const vtest = join(root, '.cache', 'media', 'vtest.avi');
const det = await Detector.create(nanodetPreset({ precision: 'fp32', inputSize: size }));
const frames = decodeFrames(vtest, indices, 'rgb24');
const tensors = frames.map((f) => {
  const t = det.prepare(f.pixels, { format: 'RGB', width: f.width, height: f.height }).tensor;
  return new Float32Array(t as ArrayBuffer);
});
await det.close();

const session = await ort.InferenceSession.create(values.probe, {
  executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'disabled',
});
const inputName = session.inputNames[0]!;
const feed = (t: Float32Array) => ({ [inputName]: new ort.Tensor('float32', t, [1, 3, size, size]) });

/** Every activation of one frame: the input itself plus each exposed output. */
async function activations(t: Float32Array): Promise<Map<string, Float32Array>> {
  const out = await session.run(feed(t));
  const m = new Map<string, Float32Array>([[inputName, t]]);
  for (const [k, v] of Object.entries(out)) m.set(k, v.data as Float32Array);
  return m;
}

// min / max over all frames, and the mean of each frame's min / max (one outlying frame moves it less).
const range = new Map<string, { min: number; max: number; count: number; sumMin: number; sumMax: number }>();
for (const t of tensors) {
  for (const [name, data] of await activations(t)) {
    const r = range.get(name) ?? { min: Infinity, max: -Infinity, count: 0, sumMin: 0, sumMax: 0 };
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    r.min = Math.min(r.min, lo);
    r.max = Math.max(r.max, hi);
    r.sumMin += lo;
    r.sumMax += hi;
    r.count += data.length;
    range.set(name, r);
  }
}
const hist = new Map<string, Float64Array>();
for (const t of tensors) {
  for (const [name, data] of await activations(t)) {
    const r = range.get(name)!;
    const h = hist.get(name) ?? new Float64Array(BINS);
    const k = r.max > r.min ? BINS / (r.max - r.min) : 0;
    for (let i = 0; i < data.length; i++) h[Math.min(BINS - 1, Math.floor((data[i]! - r.min) * k))]! += 1;
    hist.set(name, h);
  }
}
await session.release();

/** Lower tails take the bin's lower edge, upper tails its upper edge: the range never cuts inside a bin. */
function percentile(name: string, p: number): number {
  const r = range.get(name)!, h = hist.get(name)!;
  const width = (r.max - r.min) / BINS;
  const target = (p / 100) * r.count;
  let acc = 0;
  for (let b = 0; b < BINS; b++) {
    acc += h[b]!;
    if (acc >= target) return p < 50 ? r.min + b * width : r.min + (b + 1) * width;
  }
  return r.max;
}

const out: Record<string, { min: number; max: number; meanMin: number; meanMax: number; pct: Record<string, number> }> = {};
for (const name of [...range.keys()].sort()) {
  const r = range.get(name)!;
  const pct: Record<string, number> = {};
  for (const p of PERCENTILES) pct[p] = Number(percentile(name, Number(p)).toPrecision(7));
  const p7 = (v: number): number => Number(v.toPrecision(7));
  out[name] = { min: p7(r.min), max: p7(r.max), meanMin: p7(r.sumMin / tensors.length), meanMax: p7(r.sumMax / tensors.length), pct };
}
writeFileSync(values.out, `${JSON.stringify({
  model: `nanodet-${size}`, source: 'vtest.avi', frames: { from, to, step, count: indices.length }, bins: BINS, onnxruntime: ort.env.versions.common,
  tensors: out,
}, null, 1)}\n`);
console.log(`wrote ${values.out}: ${range.size} tensors over ${indices.length} frames (${indices[0]}..${indices.at(-1)} step ${step})`);
