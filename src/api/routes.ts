/**
 * The core REST routes: health, the OpenAPI document, login, cameras, detections, users, metrics. Protected
 * routes go through `withAuth(action)` (src/api/auth.ts).
 */
import type { Registry } from 'prom-client';
import type { AuthService } from '../auth/service.js';
import { authorize, canSeeCamera, isRole, scopeCameras } from '../auth/policy.js';
import { HttpError, jsonObject, queryInt } from '../http/index.js';
import type { HealthRegistry } from '../services/health.js';
import type { CameraInfo, CameraStatus, StoredDetection } from '../types.js';
import { expected, timeNs } from '../validate.js';
import type { ApiRoutes } from './auth.js';
import { openApiJson } from './openapi.js';
import type { CameraListing, DetectionSource } from './sources.js';

export interface CoreRouteDeps {
  auth: AuthService;
  cameras: CameraListing;
  detections: DetectionSource;
  health: HealthRegistry;
  registry: Registry;
}

const invalid = expected;

function onlyKeys(body: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw new HttpError(400, 'E_VALIDATION', `Unknown field ${JSON.stringify(k)}`);
}

function str(body: Record<string, unknown>, name: string, min: number, max: number): string {
  const v = body[name];
  if (typeof v !== 'string' || v.length < min || v.length > max)
    throw invalid(`a string of ${min}-${max} characters`, name, name.includes('password') || name.includes('token') ? (typeof v === 'string' ? '(hidden)' : v) : v);
  return v;
}

export function cameraJson(c: CameraInfo) {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    source: c.source,
    width: c.width,
    height: c.height,
    fps: c.fps,
    last_error: c.lastError,
  };
}

export function detectionJson(d: StoredDetection) {
  return {
    id: d.seq.toString(),
    camera_id: d.cameraId,
    timestamp: new Date(Number(d.timestampNs / 1_000_000n)).toISOString(),
    timestamp_ns: d.timestampNs.toString(),
    type: d.className,
    class_id: d.classId,
    confidence: d.confidence,
    bounding_box: { x: d.box.x1, y: d.box.y1, width: d.box.x2 - d.box.x1, height: d.box.y2 - d.box.y1 },
    track_id: d.trackId ?? null,
    frame_width: d.frameWidth,
    frame_height: d.frameHeight,
  };
}

const ACTIVE: ReadonlySet<CameraStatus> = new Set(['starting', 'running', 'stalled', 'reconnecting']);
const STATUS_FILTERS = new Set(['all', 'active', 'inactive', 'starting', 'running', 'stalled', 'reconnecting', 'stopped', 'failed']);

export function coreRoutes(deps: CoreRouteDeps): ApiRoutes {
  return (withAuth) => [
    {
      method: 'get',
      pattern: '/health',
      handler: async () => {
        const report = await deps.health.run();
        return { status: report.status === 'unhealthy' ? 503 : 200, json: report };
      },
    },
    {
      method: 'get',
      pattern: '/openapi.json',
      handler: async () => ({ status: 200, text: openApiJson, contentType: 'application/json' }),
    },
    {
      method: 'post',
      pattern: '/auth/login',
      body: true,
      handler: async (ctx) => {
        const b = jsonObject(ctx);
        onlyKeys(b, ['username', 'password']);
        const username = str(b, 'username', 1, 256);
        const password = str(b, 'password', 1, 1024);
        return { status: 200, json: await deps.auth.login(username, password, ctx.ip) };
      },
    },
    {
      method: 'post',
      pattern: '/auth/refresh',
      body: true,
      handler: async (ctx) => {
        const b = jsonObject(ctx);
        onlyKeys(b, ['refresh_token']);
        return { status: 200, json: await deps.auth.refresh(str(b, 'refresh_token', 1, 4096)) };
      },
    },
    {
      method: 'post',
      pattern: '/auth/logout',
      body: true,
      handler: async (ctx) => {
        const b = jsonObject(ctx);
        onlyKeys(b, ['refresh_token']);
        await deps.auth.logout(str(b, 'refresh_token', 1, 4096));
        return { status: 204 };
      },
    },
    {
      method: 'get',
      pattern: '/cameras',
      handler: withAuth('cameras:read', async (ctx, p) => {
        const status = ctx.query.get('status') ?? 'all';
        if (!STATUS_FILTERS.has(status)) throw invalid([...STATUS_FILTERS].join(', '), 'status', status);
        const all = await deps.cameras.list();
        const out = all
          .filter((c) => canSeeCamera(p, c.id))
          .filter(
            (c) =>
              status === 'all' ||
              (status === 'active' ? ACTIVE.has(c.status) : status === 'inactive' ? !ACTIVE.has(c.status) : c.status === status),
          )
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
          .map(cameraJson);
        return { status: 200, json: out };
      }),
    },
    {
      method: 'get',
      pattern: '/cameras/:id',
      params: ['id'],
      handler: withAuth('cameras:read', async (ctx, p) => {
        const id = ctx.params['id']!;
        authorize(p, 'cameras:read', id);
        const cam = await deps.cameras.get(id);
        if (!cam) throw new HttpError(404, 'E_NOT_FOUND', `No camera ${JSON.stringify(id)}`);
        return { status: 200, json: cameraJson(cam) };
      }),
    },
    {
      method: 'get',
      pattern: '/detections',
      handler: withAuth('detections:read', async (ctx, p) => {
        const q = ctx.query;
        const camera = q.get('camera_id');
        if (camera !== null && camera.length === 0) throw invalid('a camera id', 'camera_id', camera);
        const cameraIds = scopeCameras(p, camera === null ? undefined : [camera]);
        const start = q.get('start_time');
        const end = q.get('end_time');
        const startNs = start === null ? undefined : timeNs(start, 'start_time');
        const endNs = end === null ? undefined : timeNs(end, 'end_time');
        const cm = q.get('confidence_min');
        let confidenceMin: number | undefined;
        if (cm !== null) {
          confidenceMin = Number(cm);
          if (cm.trim() === '' || !(confidenceMin >= 0 && confidenceMin <= 1)) throw invalid('a number from 0 to 1', 'confidence_min', cm);
        }
        const cls = q.get('class');
        const classes = cls === null ? undefined : cls.split(',').filter((c) => c.length > 0);
        const page = queryInt(q, 'page', 1, 1, 1_000_000);
        const pageSize = queryInt(q, 'page_size', 100, 1, 1000);
        const res = await deps.detections.query({
          cameraIds,
          ...(startNs !== undefined ? { startNs } : {}),
          ...(endNs !== undefined ? { endNs } : {}),
          ...(confidenceMin !== undefined ? { confidenceMin } : {}),
          ...(classes !== undefined ? { classes } : {}),
          page,
          pageSize,
        });
        // defence in depth: never return a row outside the scope, whatever the store did
        const rows = res.detections.filter((d) => canSeeCamera(p, d.cameraId));
        return { status: 200, json: { detections: rows.map(detectionJson), total: res.total, page: res.page, page_size: res.page_size } };
      }),
    },
    {
      method: 'get',
      pattern: '/users',
      handler: withAuth('users:read', async () => ({
        status: 200,
        json: {
          users: deps.auth.users.list().map((u) => ({
            username: u.username,
            role: u.role,
            cameras: u.cameras,
            created: new Date(u.createdMs).toISOString(),
          })),
        },
      })),
    },
    {
      method: 'post',
      pattern: '/users',
      body: true,
      handler: withAuth('users:write', async (ctx) => {
        const b = jsonObject(ctx);
        onlyKeys(b, ['username', 'password', 'role', 'cameras']);
        const username = str(b, 'username', 3, 50);
        const password = str(b, 'password', 8, 1024);
        const role = b['role'];
        if (!isRole(role)) throw invalid('one of admin, operator, viewer', 'role', role);
        const cameras = b['cameras'] ?? '*';
        if (!(cameras === '*' || (Array.isArray(cameras) && cameras.every((c) => typeof c === 'string'))))
          throw invalid('"*" or an array of camera ids', 'cameras', cameras);
        if (deps.auth.users.exists(username)) throw new HttpError(409, 'E_CONFLICT', `User ${JSON.stringify(username)} exists`);
        let rec;
        try {
          rec = await deps.auth.users.create({ username, password, role, cameras: cameras as string[] | '*' });
        } catch (err) {
          if (err instanceof Error && (err as { code?: string }).code === 'E_ARGUMENT') throw new HttpError(400, 'E_VALIDATION', err.message);
          throw err;
        }
        return {
          status: 201,
          json: { username: rec.username, role: rec.role, cameras: rec.cameras, created: new Date(rec.createdMs).toISOString() },
        };
      }),
    },
    {
      method: 'get',
      pattern: '/metrics',
      handler: withAuth('metrics:read', async () => ({
        status: 200,
        text: await deps.registry.metrics(),
        contentType: deps.registry.contentType,
      })),
    },
  ];
}
