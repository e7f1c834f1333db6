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

/**
 * The console's media cookie (set by POST /console/session/media, src/console/session.ts): the page's access token,
 * HttpOnly, SameSite=Strict, Path=/events, so a <video src> can fetch a clip (and its byte ranges) itself.
 */
export const MEDIA_COOKIE = 'vigil_media';

/** Reads MEDIA_COOKIE as the bearer token when the request has no Authorization header (GET media routes only). */
export function withMediaCookie(handler: Handler): Handler {
  return (ctx) => {
    if (ctx.headers['authorization'] === undefined && ctx.method.toLowerCase() === 'get') {
      for (const part of (ctx.headers['cookie'] ?? '').split(';')) {
        const i = part.indexOf('=');
        if (i > 0 && part.slice(0, i).trim() === MEDIA_COOKIE) {
          const token = part.slice(i + 1).trim();
          if (token) return handler({ ...ctx, headers: { ...ctx.headers, authorization: `Bearer ${token}` } });
        }
      }
    }
    return handler(ctx);
  };
}

/** 403 unless the caller's scope holds the camera. */
export function scoped(p: Principal, cameraId: string): void {
  if (!canSeeCamera(p, cameraId)) throw new HttpError(403, 'E_FORBIDDEN', `Camera ${cameraId} is outside your scope`);
}

/** What a route answers when its feature is not enabled on this server. */
export const unavailable = (what: string): HttpError => new HttpError(503, 'E_UNAVAILABLE', `${what} are not enabled on this server`);
