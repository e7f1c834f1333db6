/** The one set of request helpers: JSON bodies (Content-Type checked), query parameters, bearer tokens. */
import { expected } from '../validate.js';
import { HttpError } from './errors.js';
import type { RequestCtx } from './types.js';

/** The media type of the request body, lower-case, without parameters. */
export function contentType(ctx: RequestCtx): string {
  return (ctx.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The parsed JSON body: 415 for another Content-Type, 400 when it is not JSON. */
export function jsonBody(ctx: RequestCtx): unknown {
  if (contentType(ctx) !== 'application/json') throw new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'Expected Content-Type application/json');
  return parseJson(ctx.body);
}

export function parseJson(body: Buffer | null): unknown {
  try {
    return JSON.parse(body?.toString('utf8') ?? '');
  } catch {
    throw new HttpError(400, 'E_VALIDATION', 'Request body is not valid JSON');
  }
}

/** A JSON object body (jsonBody, then refused unless it is an object). */
export function jsonObject(ctx: RequestCtx): Record<string, unknown> {
  const v = jsonBody(ctx);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw expected('a JSON object', 'body', v);
  return v as Record<string, unknown>;
}

/** The one value of a query parameter, or undefined; a repeated parameter is refused. */
export function queryOne(q: URLSearchParams, name: string): string | undefined {
  const all = q.getAll(name);
  if (all.length > 1) throw expected('one value', name, `${all.length} values`);
  return all[0];
}

export function queryRequired(q: URLSearchParams, name: string): string {
  const v = q.get(name);
  if (!v) throw new HttpError(400, 'E_VALIDATION', `Expected a value for ${name} but received nothing`);
  return v;
}

/** A decimal integer parameter within [min, max]; absent: `dflt`. */
export function queryInt(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return dflt;
  if (!/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max) throw expected(`an integer from ${min} to ${max}`, name, v);
  return Number(v);
}

export function queryBool(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw expected('true or false', name, v);
}

/** The bearer token of an Authorization header: undefined without one, '' when it is malformed. */
export function bearerToken(headers: Record<string, string>): string | undefined {
  const h = headers['authorization'];
  if (!h) return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i.exec(h.trim());
  return m ? m[1] : '';
}
