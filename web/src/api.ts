/**
 * The console's session and REST calls. The access token lives only in this module's memory (never in
 * localStorage or sessionStorage); the refresh token is an HttpOnly cookie the page cannot read, sent only to
 * /console/session/* (src/console/session.ts). A 401 refreshes once (rotation) and retries; a failed refresh ends
 * the session and shows the login form.
 */
export interface User {
  username: string;
  role: 'admin' | 'operator' | 'viewer';
  cameras: string[] | '*';
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let accessToken: string | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<(u: User | null) => void>();
let current: User | null = null;

export function onSession(fn: (u: User | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function user(): User | null {
  return current;
}

export function token(): string | null {
  return accessToken;
}

let mediaCookie: Promise<void> = Promise.resolve();

/**
 * Copies the access token into the media cookie (HttpOnly, Path=/events: src/console/session.ts), so a <video>
 * can fetch a clip by URL, Range requests included; without a token the cookie is cleared.
 */
function setMediaCookie(t: string | null): Promise<void> {
  mediaCookie = fetch('/console/session/media', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-vigil-console': '1', ...(t ? { authorization: `Bearer ${t}` } : {}) },
  }).then(
    () => undefined,
    () => undefined,
  );
  return mediaCookie;
}

/** Resolves once the media cookie holds the current token (clip players wait for it before setting src). */
export function mediaReady(): Promise<void> {
  return mediaCookie;
}

function setSession(body: { access_token: string; expires_in: number; user: User } | null): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  const had = accessToken !== null;
  accessToken = body?.access_token ?? null;
  current = body?.user ?? null;
  if (body) refreshTimer = setTimeout(() => void refresh(), Math.max(10, body.expires_in - 60) * 1000);
  if (accessToken || had) void setMediaCookie(accessToken);
  for (const l of listeners) l(current);
}

async function sessionCall(path: string, body?: unknown): Promise<Response> {
  return fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-vigil-console': '1', ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'E_HTTP';
  let message = `${res.status} ${res.statusText}`;
  try {
    const j = (await res.json()) as { error?: { code?: string; message?: string } };
    if (j.error) {
      code = j.error.code ?? code;
      message = j.error.message ?? message;
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message);
}

export async function login(username: string, password: string): Promise<void> {
  const res = await sessionCall('/console/session', { username, password });
  if (!res.ok) throw await errorOf(res);
  setSession(await res.json());
}

/** Rotates the refresh cookie; false when there is no live session. */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await sessionCall('/console/session/refresh');
      if (!res.ok) {
        setSession(null);
        return false;
      }
      setSession(await res.json());
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function logout(): Promise<void> {
  try {
    await sessionCall('/console/session/logout');
  } finally {
    setSession(null);
  }
}

export async function api<T = unknown>(path: string, init: RequestInit = {}, retried = false): Promise<T> {
  const headers = new Headers(init.headers);
  if (accessToken) headers.set('authorization', `Bearer ${accessToken}`);
  if (init.body && typeof init.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401 && !retried && (await refresh())) return api<T>(path, init, true);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** An authorized binary resource (JPEG, clip) as an object URL; the caller revokes it. */
export async function blobUrl(path: string, retried = false): Promise<string> {
  const res = await fetch(path, { headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {} });
  if (res.status === 401 && !retried && (await refresh())) return blobUrl(path, true);
  if (!res.ok) throw await errorOf(res);
  return URL.createObjectURL(await res.blob());
}

export function can(action: 'ack' | 'rules' | 'users' | 'metrics'): boolean {
  const r = current?.role;
  if (action === 'ack' || action === 'metrics') return r === 'admin' || r === 'operator';
  return r === 'admin';
}

/** Runs a user's action against the API; a refusal's message goes to `report` (the page's status line). */
export async function attempt(action: () => Promise<void>, report: (message: string) => void): Promise<void> {
  try {
    await action();
  } catch (e) {
    report((e as Error).message);
  }
}
