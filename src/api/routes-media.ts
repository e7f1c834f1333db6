/**
 * Snapshot routes: `GET /tracks/{camera}:{track}/snapshot.jpg` (a track's best frame; `?crop=true` for the object
 * with a margin) and `GET /alerts/{id}/snapshot.jpg` (the frame that raised the alert). JPEGs are encoded natively
 * off the JS thread (src/media/snapshots.ts). Camera scopes apply as everywhere else.
 */
import { canSeeCamera, type Principal } from '../auth/policy.js';
import type { SnapshotService } from '../media/snapshots.js';
import type { RuleService } from '../rules/index.js';
import { HttpError, type Reply } from '../http/index.js';
import type { ApiRoutes } from './auth.js';

const TRACK_REF = /^([A-Za-z0-9_-]{1,64}):(\d{1,10})$/;

function scoped(p: Principal, cameraId: string): void {
  if (!canSeeCamera(p, cameraId)) throw new HttpError(403, 'E_FORBIDDEN', `Camera ${cameraId} is outside your scope`);
}

function jpeg(body: Buffer): Reply {
  return { status: 200, body, contentType: 'image/jpeg', headers: { 'cache-control': 'private, max-age=60' } };
}

function crop(q: URLSearchParams): boolean {
  const v = q.get('crop');
  if (v === null || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw new HttpError(400, 'E_VALIDATION', `Expected true or false for crop but received ${JSON.stringify(v)}`);
}

export function mediaRoutes(deps: { snapshots: SnapshotService; rules: RuleService | null }): ApiRoutes {
  return (withAuth) => [
    {
      method: 'get',
      pattern: '/tracks/:ref/snapshot.jpg',
      params: ['ref'],
      handler: withAuth('detections:read', async (ctx, p) => {
        const m = TRACK_REF.exec(ctx.params.ref!);
        if (!m) throw new HttpError(400, 'E_VALIDATION', `Expected "<camera>:<track id>" for track but received ${JSON.stringify(ctx.params.ref)}`);
        const cameraId = m[1]!;
        const trackId = Number(m[2]);
        scoped(p, cameraId);
        const body = await deps.snapshots.trackSnapshot(cameraId, trackId, { crop: crop(ctx.query) });
        if (!body) throw new HttpError(404, 'E_SNAPSHOT_NOT_FOUND', `No snapshot of track ${trackId} on camera ${cameraId}`);
        return jpeg(body);
      }),
    },
    {
      method: 'get',
      pattern: '/alerts/:id/snapshot.jpg',
      params: ['id'],
      handler: withAuth('alerts:read', async (ctx, p) => {
        if (!deps.rules) throw new HttpError(503, 'E_UNAVAILABLE', 'Alerts are not enabled on this server');
        const alert = deps.rules.getAlert(ctx.params.id!);
        scoped(p, alert.cameraId);
        const snap = await deps.snapshots.alertSnapshot(alert.alertId, alert.cameraId);
        if (!snap) throw new HttpError(404, 'E_SNAPSHOT_NOT_FOUND', `No snapshot of alert ${alert.alertId}`);
        return jpeg(snap.jpeg);
      }),
    },
  ];
}
