/**
 * The core REST routes: health, the OpenAPI document, login, cameras, detections, users, metrics. Protected
 * routes go through `withAuth(action)` (src/api/auth.ts).
 */
import type { Registry } from 'prom-client';
import type { AuthService } from '../auth/service.js';
import { authErrors } from '../auth/errors.js';
import { authorize, can, canSeeCamera, coversScope, isRole, requireScope, scopeCameras, type Principal } from '../auth/policy.js';
import type { UserRecord } from '../auth/store.js';
import { checkCameras, checkEmail, checkPassword, type UserChanges } from '../auth/users.js';
import { HttpError, bearerToken, jsonObject, queryInt } from '../http/index.js';
import type { HealthRegistry } from '../services/health.js';
import { publicCameraStatus } from '../camera/status.js';
import type { CameraInfo, StoredDetection } from '../types.js';
import { expected, timeNs } from '../validate.js';
import type { ApiRoutes } from './auth.js';
import { openApiJson } from './openapi.js';
import type { CameraListing, DetectionSource } from './sources.js';
import type { ClusterCamera, ClusterReads } from '../cluster/reads.js';

export interface CoreRouteDeps {
  /** On a cluster node (once it joined): the cluster-wide camera list (src/cluster/reads.ts); else null. */
  cluster?: () => ClusterReads | null;
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

/**
 * A camera as the API shows it: the integration document's fields (`location`, `status` as active / inactive /
 * error, `stream_url` without credentials, `last_seen`) beside Vigil's finer `state`, the decoded size from the
 * negotiated caps, and where the camera is defined (`origin`: only `api` cameras can be changed over the API).
 */
export function cameraJson(c: CameraInfo) {
  return {
    id: c.id,
    name: c.name,
    location: c.location ?? null,
    status: publicCameraStatus(c.status),
    state: c.status,
    stream_url: c.streamUrl ?? c.source,
    source: c.source,
    width: c.width,
    height: c.height,
    fps: c.fps,
    last_seen: c.lastSeenMs === undefined || c.lastSeenMs === null ? null : new Date(c.lastSeenMs).toISOString(),
    last_error: c.lastError,
    origin: c.origin ?? 'config',
    detection: c.detection ?? true,
  };
}

/** What the camera write routes change: the REST camera catalog (src/camera/catalog.ts). */
export interface CameraWriter {
  add(raw: unknown): Promise<unknown>;
  replace(id: string, raw: unknown): Promise<unknown>;
  remove(id: string): Promise<void>;
}

const CATALOG_STATUS: Record<string, [number, string]> = {
  E_CAMERA_EXISTS: [409, 'E_CONFLICT'],
  E_CAMERA_READONLY: [409, 'E_CAMERA_READONLY'],
  E_CAMERA_ID_MISMATCH: [409, 'E_CAMERA_ID_MISMATCH'],
  E_CAMERA_NOT_FOUND: [404, 'E_NOT_FOUND'],
  E_CONFIG: [400, 'E_VALIDATION'],
  E_ARGUMENT: [400, 'E_VALIDATION'],
};

async function catalogCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const mapped = typeof code === 'string' ? CATALOG_STATUS[code] : undefined;
    if (mapped) throw new HttpError(mapped[0], mapped[1], (err as Error).message);
    throw err;
  }
}

/**
 * POST /cameras, PUT /cameras/{id}, DELETE /cameras/{id} (admin): a camera mapping exactly as under `cameras:` in
 * the config file (same parser, defaults and messages), persisted, started at once and again after a restart.
 * `cameras` lists the result (the camera's view after the change).
 */
export function cameraWriteRoutes(deps: { writer: CameraWriter; cameras: CameraListing }): ApiRoutes {
  const view = async (id: string) => {
    const cam = await deps.cameras.get(id);
    if (!cam) throw new HttpError(404, 'E_NOT_FOUND', `No camera ${JSON.stringify(id)}`);
    return cameraJson(cam);
  };
  return (withAuth) => [
    {
      method: 'post',
      pattern: '/cameras',
      body: true,
      handler: withAuth('cameras:write', async (ctx) => {
        const b = jsonObject(ctx);
        await catalogCall(() => deps.writer.add(b));
        return { status: 201, json: await view(b['id'] as string) };
      }),
    },
    {
      method: 'put',
      pattern: '/cameras/:id',
      params: ['id'],
      body: true,
      handler: withAuth('cameras:write', async (ctx) => {
        const id = ctx.params['id']!;
        const b = jsonObject(ctx);
        await catalogCall(() => deps.writer.replace(id, b));
        return { status: 200, json: await view(id) };
      }),
    },
    {
      method: 'del',
      pattern: '/cameras/:id',
      params: ['id'],
      handler: withAuth('cameras:write', async (ctx) => {
        await catalogCall(() => deps.writer.remove(ctx.params['id']!));
        return { status: 204 };
      }),
    },
  ];
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

/** A camera of the cluster: the camera's fields plus its owner, lease and whether its state is live. */
function clusterCameraJson(c: ClusterCamera) {
  return { ...cameraJson(c), node: c.node, fence: c.fence, lease_age_ms: c.leaseAgeMs, live: c.live };
}

/** How a cluster answer says that some nodes did not reply (GET /cameras answers an array: in headers). */
const partialHeaders = (r: { partial: boolean; missing: string[] }): Record<string, string> => ({ 'vigil-partial': String(r.partial), 'vigil-missing-nodes': r.missing.join(',') });

// The document's status values (active, inactive, error) and Vigil's finer states both filter GET /cameras.
const PUBLIC_STATUS: ReadonlySet<string> = new Set(['active', 'inactive', 'error']);
const STATUS_FILTERS = new Set(['all', 'active', 'inactive', 'error', 'starting', 'running', 'stalled', 'reconnecting', 'stopped', 'failed']);

type PublicUser = Omit<UserRecord, 'passwordHash'>;

function userJson(u: PublicUser) {
  return {
    username: u.username,
    role: u.role,
    cameras: u.cameras,
    ...(u.email !== undefined ? { email: u.email } : {}),
    disabled: u.disabled === true,
    created: new Date(u.createdMs).toISOString(),
  };
}

const noUser = (username: string): HttpError => new HttpError(404, 'E_USER_NOT_FOUND', `No user ${JSON.stringify(username)}`);

/** Whether a user should be shown to `p` at all: only users whose scope lies within `p`'s. */
const visible = (p: Principal, u: PublicUser): boolean => coversScope(p, u.cameras);

/**
 * A metric series names a camera (`camera` label) or a site-wide integration (`channel`, `source`, `sink`): a
 * camera-scoped caller gets its own cameras' series and none of the site-wide ones.
 */
function scopeMetrics(p: Principal, text: string): string {
  if (p.cameras === '*') return text;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes('{')) {
      out.push(line);
      continue;
    }
    const labels = line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1);
    if (/[{,](channel|source|sink)="/.test(labels)) continue;
    const cam = /[{,]camera(?:_id)?="((?:[^"\\]|\\.)*)"/.exec(labels);
    if (cam && !canSeeCamera(p, cam[1]!)) continue;
    out.push(line);
  }
  return out.join('\n');
}

export function coreRoutes(deps: CoreRouteDeps): ApiRoutes {
  const users = deps.auth.users;
  /** The unscoped, enabled admins that would remain after replacing `username`'s record with `next` (null: deleted). */
  const keepsAnAdmin = (username: string, next: PublicUser | null): boolean =>
    users
      .list()
      .map((u) => (u.username === username ? next : u))
      .some((u) => u !== null && u.role === 'admin' && u.cameras === '*' && u.disabled !== true);
  const lastAdmin = (): HttpError => new HttpError(409, 'E_LAST_ADMIN', 'At least one enabled admin with all cameras must remain');

  return (withAuth) => [
    {
      method: 'get',
      pattern: '/health',
      handler: async (ctx) => {
        const report = await deps.health.run();
        const status = report.status === 'unhealthy' ? 503 : 200;
        // Details (service names, camera ids, VMS error text, dead-letter counts) only for operators and admins;
        // anyone else, load balancers included, learns healthy / degraded / unhealthy. A bad token is anonymous.
        let p: Principal | null = null;
        const token = bearerToken(ctx.headers);
        if (token !== undefined) p = await deps.auth.verifyAccess(token).catch(() => null);
        if (p === null || !can(p, 'metrics:read')) return { status, json: { status: report.status, timestamp: report.timestamp } };
        if (p.cameras === '*') return { status, json: report };
        const services = Object.fromEntries(Object.entries(report.services).filter(([name]) => !/^(vms|queue|notifications)\b/.test(name)));
        return { status, json: { ...report, services } };
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
        return { status: 200, json: await deps.auth.login(username, password, deps.auth.clientAddress(ctx.ip, ctx.headers['x-forwarded-for'])) };
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
        const cluster = deps.cluster?.();
        if (cluster) {
          const r = await cluster.cameras();
          const rows = r.cameras
            .filter((c) => canSeeCamera(p, c.id))
            .filter((c) => status === 'all' || (PUBLIC_STATUS.has(status) ? publicCameraStatus(c.status) === status : c.status === status))
            .map(clusterCameraJson);
          return { status: 200, json: rows, headers: partialHeaders(r) };
        }
        const all = await deps.cameras.list();
        const out = all
          .filter((c) => canSeeCamera(p, c.id))
          .filter((c) => status === 'all' || (PUBLIC_STATUS.has(status) ? publicCameraStatus(c.status) === status : c.status === status))
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
        const cluster = deps.cluster?.();
        if (cluster) {
          const r = await cluster.cameras();
          const c = r.cameras.find((x) => x.id === id);
          if (!c) throw new HttpError(404, 'E_NOT_FOUND', `No camera ${JSON.stringify(id)}`);
          return { status: 200, json: clusterCameraJson(c), headers: partialHeaders(r) };
        }
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
      handler: withAuth('users:read', async (_ctx, p) => ({
        status: 200,
        json: { users: users.list().filter((u) => visible(p, u)).map(userJson) },
      })),
    },
    {
      method: 'post',
      pattern: '/users',
      body: true,
      handler: withAuth('users:write', async (ctx, p) => {
        const b = jsonObject(ctx);
        onlyKeys(b, ['username', 'password', 'role', 'cameras', 'email']);
        const username = str(b, 'username', 3, 50);
        const password = str(b, 'password', 8, 1024);
        const role = b['role'];
        if (!isRole(role)) throw invalid('one of admin, operator, viewer', 'role', role);
        // no cameras given: the creator's own scope (an unscoped admin's is "*")
        const cameras = b['cameras'] === undefined ? p.cameras : checkCameras(b['cameras']);
        const email = b['email'] === undefined ? undefined : checkEmail(b['email']);
        requireScope(p, cameras);
        if (users.exists(username)) throw new HttpError(409, 'E_CONFLICT', `User ${JSON.stringify(username)} exists`);
        let rec;
        try {
          rec = await users.create({ username, password, role, cameras: cameras === '*' ? '*' : [...cameras], ...(email !== undefined ? { email } : {}) });
        } catch (err) {
          if (err instanceof Error && (err as { code?: string }).code === 'E_ARGUMENT') throw new HttpError(400, 'E_VALIDATION', err.message);
          throw err;
        }
        const { passwordHash: _h, ...pub } = rec;
        return { status: 201, json: userJson(pub) };
      }),
    },
    {
      method: 'patch',
      pattern: '/users/:username',
      params: ['username'],
      body: true,
      handler: withAuth('users:write', async (ctx, p) => {
        const username = ctx.params['username']!;
        const b = jsonObject(ctx);
        onlyKeys(b, ['role', 'cameras', 'email', 'disabled']);
        const changes: UserChanges = {};
        if (b['role'] !== undefined) {
          if (!isRole(b['role'])) throw invalid('one of admin, operator, viewer', 'role', b['role']);
          changes.role = b['role'];
        }
        if (b['cameras'] !== undefined) changes.cameras = checkCameras(b['cameras']);
        if (b['email'] !== undefined) changes.email = b['email'] === null ? null : checkEmail(b['email']);
        if (b['disabled'] !== undefined) {
          if (typeof b['disabled'] !== 'boolean') throw invalid('a boolean', 'disabled', b['disabled']);
          changes.disabled = b['disabled'];
        }
        const cur = users.get(username);
        if (!cur || !visible(p, cur)) throw noUser(username);
        if (changes.cameras !== undefined) requireScope(p, changes.cameras);
        const next: PublicUser = { ...cur, ...(changes.role ? { role: changes.role } : {}), ...(changes.cameras ? { cameras: changes.cameras } : {}), ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}) };
        if (!keepsAnAdmin(username, next)) throw lastAdmin();
        const updated = users.update(username, changes);
        if (!updated) throw noUser(username);
        // a session's token carries role and scope: changing them (or disabling) ends the user's sessions
        if (changes.role !== undefined || changes.cameras !== undefined || changes.disabled === true) deps.auth.endSessionsOf(username);
        return { status: 200, json: userJson(updated) };
      }),
    },
    {
      method: 'del',
      pattern: '/users/:username',
      params: ['username'],
      handler: withAuth('users:write', async (ctx, p) => {
        const username = ctx.params['username']!;
        const cur = users.get(username);
        if (!cur || !visible(p, cur)) throw noUser(username);
        if (!keepsAnAdmin(username, null)) throw lastAdmin();
        users.remove(username);
        deps.auth.endSessionsOf(username);
        return { status: 204 };
      }),
    },
    {
      method: 'post',
      pattern: '/users/:username/password',
      params: ['username'],
      body: true,
      handler: withAuth('account:write', async (ctx, p) => {
        const username = ctx.params['username']!;
        const b = jsonObject(ctx);
        onlyKeys(b, ['current_password', 'new_password']);
        const self = p.source === 'local' && p.sub === username;
        if (!self) authorize(p, 'users:write');
        const cur = users.get(username);
        if (!cur || !visible(p, cur)) throw noUser(username);
        const password = checkPassword(b['new_password'], 'new_password');
        if (self) {
          // a stolen access token alone must not be enough to take the account over
          const current = b['current_password'];
          if (typeof current !== 'string' || current.length === 0) throw invalid('the current password', 'current_password', current === undefined ? undefined : '(hidden)');
          if (!(await users.checkPasswordOf(username, current))) throw authErrors.wrongCurrentPassword();
        }
        if (!(await users.setPassword(username, password))) throw noUser(username);
        // every other session of the user ends; the caller's own stays when it changed its own password
        deps.auth.endSessionsOf(username, self ? p.family : undefined);
        return { status: 204 };
      }),
    },
    {
      method: 'get',
      pattern: '/metrics',
      handler: withAuth('metrics:read', async (_ctx, p) => ({
        status: 200,
        text: scopeMetrics(p, await deps.registry.metrics()),
        contentType: deps.registry.contentType,
      })),
    },
  ];
}
