/**
 * The density benchmark of record (issue 16): `vigil bench density` (src/bench/) through the real server path,
 * plus the INT8 accuracy figures of the same model files (held-out vtest frames, scripts/models/box-agreement.ts),
 * written together to bench/results/density.json.
 *
 *   node --import tsx bench/density.ts [vigil bench density options]     e.g. --seconds 120 --start 14 --step 4
 *   node --import tsx bench/density.ts --merge-only                      adds the INT8 figures to an existing run
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDensityCommand } from '../src/bench/command.js';
import { evaluateInt8 } from '../scripts/models/box-agreement.js';

const out = join(import.meta.dirname, 'results', 'density.json');
const args = process.argv.slice(2);
const print = (line: string): void => void process.stdout.write(`${line}\n`);

const result: Record<string, unknown> = args.includes('--merge-only')
  ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>)
  : await benchDensityCommand([...args, '--out', out], print);
const a = await evaluateInt8(416);
result.int8_box_agreement = a.boxAgreement;
result.int8_mean_score_diff = a.meanScoreDiff;
result.int8_boxes_matched = `${a.matched}/${a.referenceBoxes}`;
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
print(`INT8 vs FP32 boxes (held-out vtest frames): ${a.matched}/${a.referenceBoxes} = ${a.boxAgreement.toFixed(3)}, mean |score diff| ${a.meanScoreDiff.toFixed(4)}`);
print(`wrote ${out}`);
