/** Detection batches for store tests. */
import type { DetectionBatch } from '../../src/types.js';

/** Frame `i` of a camera: one person, timestamp 1,000,000 + i ns (small on purpose: see store-stale-read.test.ts). */
export function personBatch(cameraId: string, i: number, confidence = 0.5): DetectionBatch {
  return {
    cameraId,
    frameSequence: i,
    timestampNs: BigInt(1_000_000 + i),
    frameWidth: 640,
    frameHeight: 480,
    detections: [{ classId: 0, className: 'person', confidence, box: { x1: 1, y1: 2, x2: 30, y2: 40 } }],
  };
}
