/**
 * The console's session: the existing login, refresh (with rotation) and logout of AuthService, with the refresh
 * token in an HttpOnly cookie instead of the page's memory. Why a cookie: the access token (15 min) lives only in
 * the page's memory, never in localStorage, so script injection cannot carry a long-lived credential away; the
 * refresh token must survive a reload, and an HttpOnly, SameSite=Strict cookie scoped to `/console/session` is
 * the one browser store script cannot read. It is sent only to these three routes, which also require the
 * `x-vigil-console: 1` header (a cross-site form cannot set it, and CORS is off for other origins), so they cannot
 * be driven cross-site. API calls keep using `Authorization: Bearer` as before.
 *
 * Media the browser fetches itself (a clip in a <video src>, which seeks with Range requests of its own) cannot
 * carry a header: `POST /console/session/media` copies the page's access token into a second HttpOnly,
 * SameSite=Strict cookie scoped to `/events` (the clip routes, which accept it for GET only) that expires with the
 * token; the page renews it with every token and clears it on logout (the token dies with the session anyway).
 */
import type { Principal } from '../auth/policy.js';
import type { AuthService } from '../auth/service.js';
import type { TokenPair } from '../auth/tokens.js';
import { MEDIA_COOKIE } from '../api/auth.js';
import { HttpError, bearerToken, jsonObject, type Reply, type RequestCtx, type Route } from '../http/index.js';
import { expected } from '../validate.js';

export const REFRESH_COOKIE = 'vigil_refresh';
const COOKIE_PATH = '/console/session';

function cookieOf(ctx: RequestCtx, name: string): string | undefined {
  for (const part of (ctx.headers['cookie'] ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Secure only behind TLS: on plain http (loopback, a LAN box) a Secure cookie would never be sent back. */
function secure(ctx: RequestCtx): boolean {
  return ctx.headers['x-forwarded-proto'] === 'https';
}

function setCookie(ctx: RequestCtx, value: string, maxAgeS: number): string {
  return `${REFRESH_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure(ctx) ? '; Secure' : ''}`;
}

/** The Set-Cookie value of this session cookie: also what a SAML login (src/auth/saml-routes.ts) ends with. */
export { setCookie as consoleSessionCookie };

function requireConsoleHeader(ctx: RequestCtx): void {
  if (ctx.headers['x-vigil-console'] !== '1') throw new HttpError(403, 'E_CONSOLE_HEADER', 'Expected the header x-vigil-console: 1');
}

function userJson(p: Principal) {
  return { username: p.sub, role: p.role, cameras: p.cameras === '*' ? '*' : [...p.cameras], source: p.source };
}

async function sessionReply(auth: AuthService, ctx: RequestCtx, pair: TokenPair): Promise<Reply> {
  const p = await auth.verifyAccess(pair.access_token);
  return {
    status: 200,
    json: { access_token: pair.access_token, token_type: 'Bearer', expires_in: pair.expires_in, user: userJson(p) },
    headers: { 'set-cookie': setCookie(ctx, pair.refresh_token, pair.refresh_expires_in) },
  };
}

export function sessionRoutes(auth: AuthService): Route[] {
  return [
    {
      method: 'post',
      pattern: '/console/session/media',
      handler: async (ctx) => {
        requireConsoleHeader(ctx);
        const token = bearerToken(ctx.headers);
        const flags = `Path=/events; HttpOnly; SameSite=Strict${secure(ctx) ? '; Secure' : ''}`;
        if (token === undefined) return { status: 204, headers: { 'set-cookie': `${MEDIA_COOKIE}=; ${flags}; Max-Age=0` } };
        const p = await auth.verifyAccess(token);
        const maxAge = p.expiresMs === undefined ? 60 : Math.max(1, Math.floor((p.expiresMs - Date.now()) / 1000));
        return { status: 204, headers: { 'set-cookie': `${MEDIA_COOKIE}=${token}; ${flags}; Max-Age=${maxAge}` } };
      },
    },
    {
      method: 'post',
      pattern: '/console/session',
      body: true,
      handler: async (ctx) => {
        requireConsoleHeader(ctx);
        const b = jsonObject(ctx);
        for (const k of Object.keys(b)) if (k !== 'username' && k !== 'password') throw new HttpError(400, 'E_VALIDATION', `Unknown field ${JSON.stringify(k)}`);
        const username = b['username'];
        const password = b['password'];
        if (typeof username !== 'string' || username.length < 1 || username.length > 256) throw expected('a string of 1-256 characters', 'username', username);
        if (typeof password !== 'string' || password.length < 1 || password.length > 1024) throw expected('a string of 1-1024 characters', 'password', typeof password === 'string' ? '(hidden)' : password);
        const r = await auth.login(username, password, ctx.ip);
        return sessionReply(auth, ctx, r);
      },
    },
    {
      method: 'post',
      pattern: '/console/session/refresh',
      handler: async (ctx) => {
        requireConsoleHeader(ctx);
        const token = cookieOf(ctx, REFRESH_COOKIE);
        if (!token) throw new HttpError(401, 'E_AUTH_MISSING', 'No console session');
        try {
          return await sessionReply(auth, ctx, await auth.refresh(token));
        } catch (err) {
          // A dead session's cookie is cleared with the refusal, so the page goes to the login form once.
          const e = err as { status?: number; code?: string; message?: string };
          if (e.status === 401 || e.status === 403) {
            return { status: e.status, json: { error: { code: e.code, message: e.message } }, headers: { 'set-cookie': setCookie(ctx, '', 0) } };
          }
          throw err;
        }
      },
    },
    {
      method: 'post',
      pattern: '/console/session/logout',
      handler: async (ctx) => {
        requireConsoleHeader(ctx);
        const token = cookieOf(ctx, REFRESH_COOKIE);
        if (token) {
          try {
            await auth.logout(token);
          } catch {
            /* already revoked or expired: logging out is still done */
          }
        }
        return { status: 204, headers: { 'set-cookie': setCookie(ctx, '', 0) } };
      },
    },
  ];
}
