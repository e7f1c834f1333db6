/**
 * `POST /console/rules/replay`: the rule replay of `vigil rules test` (src/rules/replay.ts) over a camera's stored
 * detections, for the console's rule editor to show what a drawn rule would have fired before it is saved. Nothing
 * is persisted or notified. Body: `{"rules": [...], "camera_id": "gate", "start_time": ISO|ns, "end_time": ...}`
 * (default: the last hour); at most 200 000 detections are replayed.
 */
import { scoped } from '../api/auth.js';
import type { Principal } from '../auth/policy.js';
import { HttpError, jsonObject, type RequestCtx } from '../http/index.js';
import { replayInput } from '../rules/index.js';
import type { DetectionStore } from '../store/detection-store.js';
import { expected, timeNs } from '../validate.js';

const MAX_DETECTIONS = 200_000;

export async function replayRoute(store: DetectionStore, timezone: string, ctx: RequestCtx, p: Principal): Promise<unknown> {
  const b = jsonObject(ctx);
  for (const k of Object.keys(b)) if (!['rules', 'camera_id', 'start_time', 'end_time'].includes(k)) throw new HttpError(400, 'E_VALIDATION', `Unknown field ${JSON.stringify(k)}`);
  const camera = b['camera_id'];
  if (typeof camera !== 'string' || camera.length === 0) throw expected('a camera id', 'camera_id', camera);
  scoped(p, camera);
  const now = BigInt(Date.now()) * 1_000_000n;
  const endNs = b['end_time'] === undefined ? now : timeNs(String(b['end_time']), 'end_time');
  const startNs = b['start_time'] === undefined ? endNs - 3600n * 1_000_000_000n : timeNs(String(b['start_time']), 'start_time');
  const lines: string[] = [];
  let frame: { cameraId: string; frameSequence: number; timestampNs: string; frameWidth: number; frameHeight: number; detections: unknown[] } | null = null;
  let n = 0;
  for await (const d of store.export({ cameraIds: [camera], startNs, endNs })) {
    if (++n > MAX_DETECTIONS) break;
    if (!frame || frame.timestampNs !== d.timestampNs.toString()) {
      if (frame) lines.push(JSON.stringify(frame));
      frame = { cameraId: d.cameraId, frameSequence: lines.length, timestampNs: d.timestampNs.toString(), frameWidth: d.frameWidth, frameHeight: d.frameHeight, detections: [] };
    }
    frame.detections.push({ classId: d.classId, className: d.className, confidence: d.confidence, box: d.box, ...(d.trackId !== undefined ? { trackId: d.trackId } : {}) });
  }
  if (frame) lines.push(JSON.stringify(frame));
  let r;
  try {
    r = replayInput(b['rules'], lines.join('\n'), { timezone });
  } catch (err) {
    throw new HttpError(400, 'E_VALIDATION', (err as Error).message);
  }
  return {
    frames: r.frames,
    detections: Math.min(n, MAX_DETECTIONS),
    raised_by_rule: r.raisedByRule,
    tripwire_counts: r.tripwireCounts,
    events: r.events.slice(0, 200).map((e) => ({ type: e.type, rule_id: e.alert.ruleId, camera_id: e.alert.cameraId, raised_ns: e.alert.raisedNs.toString(), message: e.alert.message })),
  };
}
