/**
 * How the API's route modules are authorized: `withAuth(action, fn)` verifies the bearer token and calls
 * `authorize` from src/auth/policy.ts (the same function the WebSocket upgrade uses) before `fn` runs.
 */
import { authorize, canSeeCamera, type Action, type Principal } from '../auth/policy.js';
import type { AuthService } from '../auth/service.js';
import { HttpError, bearerToken, type Handler, type Reply, type RequestCtx, type Route, type RouteModule } from '../http/index.js';

export type WithAuth = (action: Action, fn: (ctx: RequestCtx, p: Principal) => Promise<Reply>) => Handler;

/** A feature's routes, built with the one auth path. */
export type ApiRoutes = (withAuth: WithAuth) => Route[];

export function withAuthOf(auth: Pick<AuthService, 'verifyAccess'>): WithAuth {
  return (action, fn) => async (ctx) => {
    const p = await auth.verifyAccess(bearerToken(ctx.headers));
    authorize(p, action);
    return fn(ctx, p);
  };
}

/** An API feature as a transport route module. */
export function apiModule(name: string, routes: ApiRoutes, withAuth: WithAuth): RouteModule {
  return { name, routes: routes(withAuth) };
}

/** 403 unless the caller's scope holds the camera. */
export function scoped(p: Principal, cameraId: string): void {
  if (!canSeeCamera(p, cameraId)) throw new HttpError(403, 'E_FORBIDDEN', `Camera ${cameraId} is outside your scope`);
}

/** What a route answers when its feature is not enabled on this server. */
export const unavailable = (what: string): HttpError => new HttpError(503, 'E_UNAVAILABLE', `${what} are not enabled on this server`);
