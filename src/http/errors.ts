/**
 * The one mapping from errors to HTTP answers. An error carries its status (`status`, optionally `headers` and
 * `retryAfterS`: HttpError, AuthError), or its stable code is in CODE_STATUS; anything else is a 500 that says
 * nothing of its cause.
 */
import { VigilError } from '../errors.js';
import type { Reply } from './types.js';

/** An error with its HTTP status; rendered as {error:{code,message}}. */
export class HttpError extends VigilError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

/** Module error codes and their HTTP statuses; `as` renames the code (and `message` replaces the text) on the wire. */
const CODE_STATUS: Record<string, { status: number; as?: string; message?: string }> = {
  E_ARGUMENT: { status: 400, as: 'E_VALIDATION' },
  E_LDAP: { status: 503, as: 'E_AUTH_UNAVAILABLE', message: 'Directory service unavailable' },
  E_RULE_INVALID: { status: 400 },
  E_RULE_NOT_FOUND: { status: 404 },
  E_ALERT_NOT_FOUND: { status: 404 },
  E_RULE_EXISTS: { status: 409 },
  E_RULE_READONLY: { status: 409 },
  E_RULE_ID_MISMATCH: { status: 409 },
  E_CLIP_NO_FOOTAGE: { status: 404 },
  E_CLIP_FAILED: { status: 500 },
};

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  206: 'Partial Content',
  302: 'Found',
  303: 'See Other',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function errorReply(err: unknown): Reply {
  if (err instanceof VigilError) {
    const e = err as VigilError & { status?: unknown; headers?: Record<string, string>; retryAfterS?: number };
    if (typeof e.status === 'number') {
      const headers: Record<string, string> = { ...(e.headers ?? {}) };
      if (e.status === 401) headers['www-authenticate'] ??= 'Bearer';
      if (e.retryAfterS !== undefined) headers['retry-after'] = String(e.retryAfterS);
      return { status: e.status, json: { error: { code: e.code, message: e.message } }, headers };
    }
    const m = CODE_STATUS[e.code];
    if (m) return { status: m.status, json: { error: { code: m.as ?? e.code, message: m.message ?? e.message } } };
  }
  return { status: 500, json: { error: { code: 'E_INTERNAL', message: 'Internal server error' } } };
}
