/**
 * `GET /tracks`: a camera's stored tracks (the tracker's summaries, store collection `tracks`) that overlap a time
 * span, newest first, with links to each track's snapshot and clip: the console's track timeline reads the
 * history from here, not only what arrived live.
 *
 * Track ids only grow per camera (they are allocated from the store, unique across restarts), so the camera's
 * key range is read backwards and the first `limit` tracks that overlap the span are the newest ones. The scan is
 * bounded (MAX_SCAN summaries), so a narrow span far in the past on a camera with a long history answers partial
 * (`truncated: true`) instead of reading everything.
 */
import { canSeeCamera, type Principal } from '../auth/policy.js';
import { HttpError, queryInt, type RequestCtx } from '../http/index.js';
import type { DetectionStore } from '../store/detection-store.js';
import { expected, timeNs } from '../validate.js';

export const MAX_SCAN = 20_000;

const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();

export function tracksRoute(store: DetectionStore, ctx: RequestCtx, p: Principal) {
  const q = ctx.query;
  const cameraId = q.get('camera_id');
  if (cameraId === null || !/^[A-Za-z0-9_-]{1,64}$/.test(cameraId)) throw expected('a camera id', 'camera_id', cameraId);
  if (!canSeeCamera(p, cameraId)) throw new HttpError(403, 'E_FORBIDDEN', `Camera ${cameraId} is outside your scope`);
  const start = q.get('start_time');
  const end = q.get('end_time');
  const startNs = start === null ? 0n : timeNs(start, 'start_time');
  const endNs = end === null ? null : timeNs(end, 'end_time');
  if (endNs !== null && endNs < startNs) throw expected('an end_time not before start_time', 'end_time', end);
  const cls = q.get('class');
  const classes = cls === null ? null : new Set(cls.split(',').filter((c) => c.length > 0));
  const limit = queryInt(q, 'limit', 50, 1, 500);
  const tracks = [];
  let scanned = 0;
  let truncated = false;
  // keys [cameraId, trackId]: numbers sort before strings, so [cameraId, ''] is past the camera's last track
  for (const { value: t } of store.tracks.entries({ start: [cameraId, ''] as unknown as [string, number], end: [cameraId, -Infinity], reverse: true })) {
    if (++scanned > MAX_SCAN) {
      truncated = true;
      break;
    }
    if (endNs !== null && t.startNs > endNs) continue;
    if ((t.endNs ?? t.bestTimestampNs) < startNs && t.endNs !== null) continue;
    if (classes && !classes.has(t.className)) continue;
    const ref = `${encodeURIComponent(t.cameraId)}:${t.trackId}`;
    tracks.push({
      camera_id: t.cameraId,
      track_id: t.trackId,
      class_name: t.className,
      start_time: iso(t.startNs),
      start_time_ns: t.startNs.toString(),
      end_time: t.endNs === null ? null : iso(t.endNs),
      end_time_ns: t.endNs === null ? null : t.endNs.toString(),
      best_confidence: t.bestConfidence,
      links: { snapshot: `/tracks/${ref}/snapshot.jpg`, clip: `/events/${ref}/clip` },
    });
    if (tracks.length >= limit) break;
  }
  return { tracks, truncated };
}
