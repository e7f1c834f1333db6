/**
 * How well a quantized detector reproduces the float one: the accuracy gate's measure, shared by the test
 * (test/integration/detector-int8.test.ts) and the benchmark (bench/inference-precision.ts) so both report the same
 * figures. Evaluation frames are vtest.avi frames 400 and later, which calibration
 * (scripts/models/calibrate-nanodet.ts) never sees.
 */
import { join } from 'node:path';
import { Detector } from '../../src/inference/detector.js';
import { decodeFrames } from '../../test/helpers/frames.js';
import { nanodetPreset, type NanodetInputSize } from '../../src/inference/models.js';
import type { Box, Detection } from '../../src/types.js';

/** Frames at and after this index are for evaluation: calibration must never see them. */
export const FIRST_EVAL_FRAME = 400;
/** 24 frames, 400 to 768 every 16th: after the calibration frames (0-399). */
export const EVAL_FRAMES: readonly number[] = Array.from({ length: 24 }, (_, k) => FIRST_EVAL_FRAME + 16 * k);
export const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

export interface Agreement {
  /** Reference boxes with score >= minScore. */
  referenceBoxes: number;
  /** Of those, matched by a candidate box of the same class with IoU >= minIou (one candidate per reference). */
  matched: number;
  /** matched / referenceBoxes (1 when there are none). */
  boxAgreement: number;
  /** Mean |reference score - candidate score| over matched boxes. */
  meanScoreDiff: number;
  maxScoreDiff: number;
  /** Mean IoU of the matched pairs. */
  meanIou: number;
  candidateBoxes: number;
}

/**
 * Greedy matching, highest reference score first: each reference box takes the unused candidate of its class
 * with the largest IoU, if that IoU >= minIou.
 */
export function agreement(reference: Detection[][], candidate: Detection[][], minScore = 0.4, minIou = 0.5): Agreement {
  let refs = 0, matched = 0, diffSum = 0, diffMax = 0, iouSum = 0, cands = 0;
  reference.forEach((refFrame, f) => {
    const cand = candidate[f] ?? [];
    cands += cand.length;
    const used = new Set<number>();
    const sorted = refFrame.filter((d) => d.confidence >= minScore).sort((a, b) => b.confidence - a.confidence);
    for (const r of sorted) {
      refs += 1;
      let best = -1, bestIou = minIou;
      cand.forEach((c, k) => {
        if (used.has(k) || c.classId !== r.classId) return;
        const v = iou(r.box, c.box);
        if (v >= bestIou) { best = k; bestIou = v; }
      });
      if (best < 0) continue;
      used.add(best);
      matched += 1;
      const d = Math.abs(r.confidence - cand[best]!.confidence);
      diffSum += d;
      diffMax = Math.max(diffMax, d);
      iouSum += bestIou;
    }
  });
  return {
    referenceBoxes: refs, matched, boxAgreement: refs ? matched / refs : 1,
    meanScoreDiff: matched ? diffSum / matched : 0, maxScoreDiff: diffMax, meanIou: matched ? iouSum / matched : 0,
    candidateBoxes: cands,
  };
}

/**
 * Runs the fp32 and int8 NanoDet of one input size through the project's Detector (scoreThreshold 0.4) on the
 * evaluation frames and compares them.
 */
export async function evaluateInt8(inputSize: NanodetInputSize, frames: readonly number[] = EVAL_FRAMES): Promise<Agreement> {
  const decoded = decodeFrames(VTEST, [...frames], 'rgb24');
  const run = async (precision: 'fp32' | 'int8'): Promise<Detection[][]> => {
    const det = await Detector.create(nanodetPreset({ precision, inputSize, scoreThreshold: 0.4 }));
    try {
      const out: Detection[][] = [];
      for (const f of decoded) out.push(await det.detectImage(f.pixels, { format: 'RGB', width: f.width, height: f.height }));
      return out;
    } finally {
      await det.close();
    }
  };
  const fp32 = await run('fp32');
  const int8 = await run('int8');
  return agreement(fp32, int8);
}
