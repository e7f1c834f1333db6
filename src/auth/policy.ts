/**
 * Roles and camera scopes: the ONE place where REST routes and the WebSocket decide what a principal may do.
 * Every route and every stream subscription calls `authorize` (and `canSeeCamera` / `scopeCameras` for lists).
 */
import { authErrors } from './errors.js';

export type Role = 'admin' | 'operator' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

/** Where a principal was authenticated: a local password, an LDAP bind, or a SAML assertion (src/auth/saml.ts). */
export type PrincipalSource = 'local' | 'ldap' | 'saml';
export const PRINCIPAL_SOURCES: readonly PrincipalSource[] = ['local', 'ldap', 'saml'];

/** Who is calling, as carried by a verified access token. */
export interface Principal {
  /** Username (local), the LDAP uid/sAMAccountName, or the SAML NameID (or the configured username attribute). */
  sub: string;
  role: Role;
  /** Camera ids this principal may see, or '*' for all. */
  cameras: readonly string[] | '*';
  source: PrincipalSource;
  /** Refresh-token family this session belongs to. */
  family: string;
  /** When the access token that carried this principal expires (ms since the epoch); absent when not known. */
  expiresMs?: number;
}

export type Action =
  | 'cameras:read'
  | 'detections:read'
  | 'stream:subscribe'
  | 'alerts:acknowledge'
  | 'metrics:read'
  | 'users:read'
  | 'users:write'
  /** Change one's own password (every role). */
  | 'account:write'
  | 'rules:read'
  | 'rules:write'
  | 'alerts:read'
  | 'recordings:read'
  /** VMS sources' and queue sinks' status (GET /integrations/...). */
  | 'integrations:read'
  /** Run a VMS camera sync now: it adds, restarts and removes cameras (POST /integrations/vms/{id}/sync). */
  | 'integrations:write'
  /** Add, change and remove cameras over the API (POST/PUT/DELETE /cameras). */
  | 'cameras:write';

const GRANTS: Record<Role, ReadonlySet<Action>> = {
  viewer: new Set<Action>(['cameras:read', 'detections:read', 'stream:subscribe', 'rules:read', 'alerts:read', 'recordings:read', 'account:write']),
  operator: new Set<Action>([
    'account:write',
    'cameras:read',
    'detections:read',
    'stream:subscribe',
    'alerts:acknowledge',
    'metrics:read',
    'rules:read',
    'alerts:read',
    'recordings:read',
    'integrations:read',
  ]),
  admin: new Set<Action>([
    'account:write',
    'cameras:read',
    'detections:read',
    'stream:subscribe',
    'alerts:acknowledge',
    'metrics:read',
    'users:read',
    'users:write',
    'rules:read',
    'rules:write',
    'alerts:read',
    'recordings:read',
    'integrations:read',
    'integrations:write',
    'cameras:write',
  ]),
};

export function isRole(value: unknown): value is Role {
  return value === 'admin' || value === 'operator' || value === 'viewer';
}

/** Rank for choosing the strongest of several mapped roles (LDAP groups). */
export function roleRank(role: Role): number {
  return role === 'admin' ? 3 : role === 'operator' ? 2 : 1;
}

export function canSeeCamera(p: Principal, cameraId: string): boolean {
  return p.cameras === '*' || p.cameras.includes(cameraId);
}

/**
 * Throws AuthError (403) unless `p` may do `action`, and, when `cameraId` is given, unless that camera is in scope.
 */
export function authorize(p: Principal, action: Action, cameraId?: string): void {
  if (!GRANTS[p.role].has(action)) throw authErrors.forbidden(action);
  if (cameraId !== undefined && !canSeeCamera(p, cameraId)) throw authErrors.forbiddenCamera(cameraId);
}

/**
 * Restricts a requested camera set to the principal's scope. `requested` undefined = "all I may see"
 * (returns '*' for unscoped principals). Any requested camera outside the scope throws (403): a client is told,
 * never silently given less.
 */
export function scopeCameras(p: Principal, requested: readonly string[] | undefined): readonly string[] | '*' {
  if (requested === undefined) return p.cameras;
  for (const id of requested) if (!canSeeCamera(p, id)) throw authErrors.forbiddenCamera(id);
  return requested;
}

/** Whether `p` may do `action` at all (no error). */
export function can(p: Principal, action: Action): boolean {
  return GRANTS[p.role].has(action);
}

/**
 * Whether a camera scope lies within the principal's own: what a user may grant (users), act on (rules) or see
 * (users, rules). '*' (or a rule's empty list, "all cameras") lies only within '*'.
 */
export function coversScope(p: Principal, scope: readonly string[] | '*'): boolean {
  if (p.cameras === '*') return true;
  if (scope === '*') return false;
  return scope.every((id) => canSeeCamera(p, id));
}

/** Throws 403 E_FORBIDDEN_CAMERA (naming the first camera outside) unless `scope` lies within `p`'s. */
export function requireScope(p: Principal, scope: readonly string[] | '*'): void {
  if (p.cameras === '*') return;
  if (scope === '*') throw authErrors.forbiddenAllCameras();
  for (const id of scope) if (!canSeeCamera(p, id)) throw authErrors.forbiddenCamera(id);
}
