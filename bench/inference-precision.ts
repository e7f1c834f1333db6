/**
 * INT8 vs float32 NanoDet, bare session.run, 416 and 320 inputs, interleaved in one process (round-robin, the
 * order rotating each round, so load from other processes falls on all four alike), 1 intra-op thread, one real
 * vtest frame letterboxed by the native preprocessor. Side by side: the kernels onnxruntime ran (profiled:
 * QLinearConv vs float Conv), the CPU's integer dot-product flags, and the accuracy gate's figures (same
 * evaluation as test/integration/detector-int8.test.ts).
 *
 *   node --import tsx bench/inference-precision.ts [--seconds 40]
 *
 * Writes bench/results/inference-precision.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { evaluateInt8, EVAL_FRAMES, VTEST, type Agreement } from '../scripts/models/box-agreement.js';
import { kernelCounts, type KernelCounts } from '../scripts/models/ort-kernels.js';
import { Detector } from '../src/inference/detector.js';
import { decodeFrames } from '../test/helpers/frames.js';
import { modelPath, nanodetModel, nanodetPreset, type NanodetInputSize, type NanodetPrecision } from '../src/inference/models.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Variant {
  name: string;
  precision: NanodetPrecision;
  size: NanodetInputSize;
  session: ort.InferenceSession;
  feeds: Record<string, ort.Tensor>;
  times: number[];
}

function cpuFlags(): string[] {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const line = info.split('\n').find((l) => l.startsWith('flags')) ?? '';
  const have = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
  return ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => have.has(f));
}

function stats(times: number[]): { p50: number; mean: number } {
  const s = [...times].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i > 0 ? Number(process.argv[i + 1]) : 40;
  const frame = decodeFrames(VTEST, [100], 'rgb24')[0]!;
  const variants: Variant[] = [];
  for (const size of [416, 320] as const) {
    const det = await Detector.create(nanodetPreset({ inputSize: size }));
    const tensor = new Float32Array(det.prepare(frame.pixels, { format: 'RGB', width: frame.width, height: frame.height }).tensor as ArrayBuffer);
    await det.close();
    for (const precision of ['fp32', 'int8'] as const) {
      const session = await ort.InferenceSession.create(modelPath(nanodetModel(precision, size)), {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      });
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', tensor, [1, 3, size, size]) };
      for (let w = 0; w < 3; w++) await session.run(feeds);
      variants.push({ name: `nanodet-${size} ${precision}`, precision, size, session, feeds, times: [] });
    }
  }
  const t0 = performance.now();
  let round = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + round) % variants.length]!;
      for (let r = 0; r < 3; r++) {
        const s = performance.now();
        await v.session.run(v.feeds);
        v.times.push(performance.now() - s);
      }
    }
    round += 1;
  }
  for (const v of variants) await v.session.release();

  const kernels = new Map<string, KernelCounts>();
  for (const v of variants) kernels.set(v.name, await kernelCounts(modelPath(nanodetModel(v.precision, v.size)), v.size));
  const agree = new Map<NanodetInputSize, Agreement>();
  for (const size of [416, 320] as const) agree.set(size, await evaluateInt8(size));

  const by = (size: number, p: string): Variant => variants.find((v) => v.size === size && v.precision === p)!;
  console.log(`NanoDet-m COCO, onnxruntime-node ${ort.env.versions.common} CPU, 1 intra-op thread, interleaved, ` +
    `${seconds} s; CPU flags: ${cpuFlags().join(' ')}`);
  console.log('model                  p50 ms   mean ms   runs   QLinearConv  float Conv');
  for (const v of variants) {
    const s = stats(v.times), k = kernels.get(v.name)!;
    console.log(`${v.name.padEnd(20)} ${s.p50.toFixed(2).padStart(8)} ${s.mean.toFixed(2).padStart(9)} ${String(v.times.length).padStart(6)} ` +
      `${String(k.qlinearConv).padStart(12)} ${String(k.floatConv).padStart(11)}`);
  }
  const result: Record<string, unknown> = {};
  for (const size of [416, 320] as const) {
    const f = stats(by(size, 'fp32').times), q = stats(by(size, 'int8').times), a = agree.get(size)!;
    const pre = size === 416 ? '' : `${size}_`;
    console.log(`${size}: int8 speedup vs fp32 (BASELINE, same run) ${(f.p50 / q.p50).toFixed(2)}x p50, ` +
      `${(f.mean / q.mean).toFixed(2)}x mean; boxes ${a.matched}/${a.referenceBoxes} = ${a.boxAgreement.toFixed(4)}, ` +
      `mean |score diff| ${a.meanScoreDiff.toFixed(4)}`);
    Object.assign(result, {
      [`${pre}int8_speedup_vs_fp32`]: Number((f.p50 / q.p50).toFixed(3)),
      [`${pre}int8_speedup_vs_fp32_mean`]: Number((f.mean / q.mean).toFixed(3)),
      [`${pre}int8_box_agreement`]: Number(a.boxAgreement.toFixed(4)),
      [`${pre}int8_mean_score_diff`]: Number(a.meanScoreDiff.toFixed(4)),
      [`${pre}int8_boxes_matched`]: `${a.matched}/${a.referenceBoxes}`,
      [`${pre}fp32_ms_p50`]: Number(f.p50.toFixed(2)),
      [`${pre}fp32_ms_mean`]: Number(f.mean.toFixed(2)),
      [`${pre}int8_ms_p50`]: Number(q.p50.toFixed(2)),
      [`${pre}int8_ms_mean`]: Number(q.mean.toFixed(2)),
      [`${pre}int8_qlinearconv_nodes`]: kernels.get(by(size, 'int8').name)!.qlinearConv,
      [`${pre}int8_float_conv_nodes`]: kernels.get(by(size, 'int8').name)!.floatConv,
      [`${pre}fp32_float_conv_nodes`]: kernels.get(by(size, 'fp32').name)!.floatConv,
      [`${pre}int8_kernels`]: kernels.get(by(size, 'int8').name)!.nodes,
    });
  }
  Object.assign(result, {
    runs_per_model: variants.map((v) => v.times.length),
    eval_frames: `vtest.avi ${EVAL_FRAMES[0]}-${EVAL_FRAMES.at(-1)} every 16th (${EVAL_FRAMES.length}); calibration 0-390 every 10th`,
    cpu_flags: cpuFlags(),
    onnxruntime: ort.env.versions.common,
    seconds,
    date: new Date().toISOString(),
    machine: '2 vCPU Debian 12 (node-svc)',
    command: `node --import tsx bench/inference-precision.ts --seconds ${seconds}`,
  });
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'inference-precision.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
