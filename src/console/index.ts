/**
 * The web console on Vigil's own port: its static files (web/dist), the cookie session for the page, the camera
 * picture route `GET /cameras/{id}/latest.jpg`, a camera's stored tracks `GET /tracks` and the live-video
 * WebSocket `/live`. Mounted by the HTTP service
 * (src/services/http.ts) as one route module plus one WebSocket endpoint; the page itself uses the REST API and
 * `/ws` like any other client.
 */
import type { Registry } from 'prom-client';
import { authorize } from '../auth/policy.js';
import type { AuthService } from '../auth/service.js';
import type { CameraManager } from '../camera/manager.js';
import { HttpError, type WsEndpoint } from '../http/index.js';
import type { ApiRoutes } from '../api/auth.js';
import type { DetectionStore } from '../store/detection-store.js';
import { replayRoute } from './replay.js';
import { LatestFrames } from './latest.js';
import { LiveHub, liveEndpoint } from './live.js';
import { sessionRoutes } from './session.js';
import { tracksRoute } from './tracks.js';
import { ConsoleFiles, staticRoutes } from './static.js';

export { ConsoleFiles, CONSOLE_DIST } from './static.js';
export { LiveHub, LIVE_PROTOCOL, liveEndpoint } from './live.js';

export interface WebConsole {
  routes: ApiRoutes;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  live: WsEndpoint<any>;
  hub: LiveHub;
  close(): void;
}

export function createConsole(deps: { auth: AuthService; cameras: CameraManager; registry?: Registry; dist?: string; detections?: DetectionStore; timezone?: string }): WebConsole {
  const files = new ConsoleFiles(deps.dist);
  const latest = new LatestFrames(deps.cameras);
  const hub = new LiveHub(deps.cameras, deps.registry);
  const routes: ApiRoutes = (withAuth) => [
    ...staticRoutes(files),
    ...sessionRoutes(deps.auth),
    {
      method: 'get',
      pattern: '/cameras/:id/latest.jpg',
      params: ['id'],
      handler: withAuth('cameras:read', async (ctx, p) => {
        const id = ctx.params['id']!;
        authorize(p, 'cameras:read', id);
        const camera = deps.cameras.get(id);
        if (!camera) throw new HttpError(404, 'E_NOT_FOUND', `No camera ${JSON.stringify(id)}`);
        const l = await latest.latest(camera);
        if (!l) throw new HttpError(404, 'E_NO_FRAME', `Camera ${id} has given no frame yet`);
        return { status: 200, body: l.jpeg, contentType: 'image/jpeg', headers: { 'cache-control': 'private, no-store', 'x-frame-age-ms': String(l.ageMs) } };
      }),
    },
    {
      method: 'get',
      pattern: '/tracks',
      handler: withAuth('detections:read', async (ctx, p) => {
        if (!deps.detections) throw new HttpError(503, 'E_UNAVAILABLE', 'Stored tracks are not available on this server');
        return { status: 200, json: tracksRoute(deps.detections, ctx, p) };
      }),
    },
    {
      method: 'post',
      pattern: '/console/rules/replay',
      body: true,
      maxBodyBytes: 256 * 1024,
      handler: withAuth('rules:read', async (ctx, p) => {
        if (!deps.detections) throw new HttpError(503, 'E_UNAVAILABLE', 'Stored detections are not available on this server');
        return { status: 200, json: await replayRoute(deps.detections, deps.timezone ?? 'UTC', ctx, p) };
      }),
    },
  ];
  return {
    routes,
    live: liveEndpoint(hub, deps.auth),
    hub,
    close() {
      hub.close();
      latest.close();
    },
  };
}
