/**
 * Which kernels onnxruntime actually runs for a model: one profiled session.run (enableProfiling), the profile's
 * per-node events counted by op type, with the time each op type took. A QDQ model only pays off when ORT fuses
 * DQ -> Conv -> Q into QLinearConv; a float Conv left in the profile means a fusion did not happen.
 *
 *   node --import tsx scripts/models/ort-kernels.ts MODEL.onnx [inputSize]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';

export interface KernelCounts {
  /** Op type -> number of nodes of that type that ran. */
  nodes: Record<string, number>;
  /** Op type -> microseconds in the profiled run. */
  micros: Record<string, number>;
  qlinearConv: number;
  convInteger: number;
  floatConv: number;
}

/** Profiles `runs` session.run calls (the last one is counted) on a zero input of [1, 3, size, size]. */
export async function kernelCounts(modelPath: string, inputSize: number, runs = 2): Promise<KernelCounts> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-prof-'));
  try {
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: join(dir, 'p'),
    });
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(3 * inputSize * inputSize), [1, 3, inputSize, inputSize]) };
    for (let i = 0; i < runs; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
    // Node events come per run; keep the last run's (names repeat once per run).
    const last = new Map<string, { op: string; dur: number }>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
      last.set(e.name, { op: e.args.op_name, dur: e.dur });
    }
    const nodes: Record<string, number> = {}, micros: Record<string, number> = {};
    for (const { op, dur } of last.values()) {
      nodes[op] = (nodes[op] ?? 0) + 1;
      micros[op] = (micros[op] ?? 0) + dur;
    }
    return {
      nodes, micros, qlinearConv: nodes.QLinearConv ?? 0, convInteger: nodes.ConvInteger ?? 0,
      floatConv: (nodes.Conv ?? 0) + (nodes.FusedConv ?? 0),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [model, size] = process.argv.slice(2);
  if (!model) {
    console.error('usage: ort-kernels.ts MODEL.onnx [inputSize]');
    process.exit(2);
  }
  const k = await kernelCounts(model, Number(size ?? 416));
  const rows = Object.keys(k.nodes).sort((a, b) => (k.micros[b] ?? 0) - (k.micros[a] ?? 0));
  for (const op of rows) console.log(`${op.padEnd(24)} ${String(k.nodes[op]).padStart(4)} nodes ${((k.micros[op] ?? 0) / 1000).toFixed(2).padStart(8)} ms`);
}
