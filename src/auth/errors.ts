/** Authentication / authorization errors: a stable code and the HTTP status the API answers with. */
import { VigilError } from '../errors.js';

export class AuthError extends VigilError {
  constructor(
    code: string,
    message: string,
    readonly status: 401 | 403 | 429 = 401,
    /** Seconds a rate-limited caller should wait (429 only). */
    readonly retryAfterS?: number,
  ) {
    super(code, message);
  }
}

export const authErrors = {
  missing: () => new AuthError('E_AUTH_MISSING', 'Authentication required: no bearer token'),
  invalid: () => new AuthError('E_AUTH_INVALID', 'Invalid token'),
  expired: () => new AuthError('E_AUTH_EXPIRED', 'Token expired'),
  wrongType: () => new AuthError('E_AUTH_TOKEN_TYPE', 'Wrong token type'),
  revoked: () => new AuthError('E_AUTH_REVOKED', 'Session revoked'),
  reused: () => new AuthError('E_AUTH_REFRESH_REUSED', 'Refresh token reuse detected: session revoked'),
  badCredentials: () => new AuthError('E_AUTH_BAD_CREDENTIALS', 'Invalid username or password'),
  noRole: () => new AuthError('E_AUTH_NO_ROLE', 'User has no Vigil role', 403),
  forbidden: (action: string) => new AuthError('E_FORBIDDEN', `Role may not ${action}`, 403),
  forbiddenCamera: (cameraId: string) =>
    new AuthError('E_FORBIDDEN_CAMERA', `Camera ${JSON.stringify(cameraId)} is outside this user's scope`, 403),
  forbiddenAllCameras: () =>
    new AuthError('E_FORBIDDEN_CAMERA', `Camera scope "*" (all cameras) is wider than this user's scope`, 403),
  disabled: () => new AuthError('E_AUTH_DISABLED', 'User is disabled', 403),
  wrongCurrentPassword: () => new AuthError('E_AUTH_BAD_CREDENTIALS', 'Current password is wrong', 403),
  rateLimited: (retryAfterS: number) =>
    new AuthError('E_RATE_LIMITED', `Too many login attempts; retry in ${retryAfterS} s`, 429, retryAfterS),
};
