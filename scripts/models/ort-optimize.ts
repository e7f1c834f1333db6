/**
 * Saves a model as onnxruntime sees it after its 'basic' graph optimisations (constant folding, Transpose
 * cancelling, Pad / Add folded into Conv): the clean float graph that scripts/models/qdq.py quantizes. Level
 * 'basic' only rewrites with standard ONNX ops, so the file loads anywhere; the result depends only on the model
 * and the onnxruntime-node version the lock file pins.
 *
 *   node --import tsx scripts/models/ort-optimize.ts IN.onnx OUT.onnx
 */
import { renameSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: ort-optimize.ts IN.onnx OUT.onnx');
  process.exit(2);
}
const tmp = `${dst}.tmp.onnx`;
const session = await ort.InferenceSession.create(src, {
  executionProviders: ['cpu'], graphOptimizationLevel: 'basic', optimizedModelFilePath: tmp, intraOpNumThreads: 1,
});
await session.release();
renameSync(tmp, dst);
console.log(`wrote ${dst} (onnxruntime basic optimisation of ${src})`);
