/**
 * The one set of path-aware validation helpers. Each throws VigilArgumentError (code E_ARGUMENT) with the message
 * "Expected <what> for <path> but received <value>"; the config loader turns those into VigilConfigError and the
 * HTTP layer into 400 E_VALIDATION, so one parser serves a constructor, the config file and a request alike.
 * Secret values are never echoed: pass `secret: true`.
 */
import { VigilArgumentError, describeValue, expected } from './errors.js';

export { expected } from './errors.js';

export type Raw = Record<string, unknown>;

export function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `expected()` that hides the received value when it is a secret. */
export function fail(what: string, path: string, v: unknown, secret = false): VigilArgumentError {
  return secret ? new VigilArgumentError(`Expected ${what} for ${path} but received (hidden)`) : expected(what, path, v);
}

export function object(v: unknown, path: string): Raw {
  if (!isObject(v)) throw fail('a mapping', path, v);
  return v;
}

/** An optional mapping: undefined is {}. */
export function optObject(v: unknown, path: string): Raw {
  return v === undefined ? {} : object(v, path);
}

export function onlyKeys(o: Raw, path: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new VigilArgumentError(`Unknown key ${path}.${k} (known keys: ${known.join(', ')})`);
  }
}

export interface StrOptions {
  re?: RegExp;
  what?: string;
  secret?: boolean;
  dflt?: string;
  /** Default 1 and 4096 characters. */
  min?: number;
  max?: number;
}

export function str(v: unknown, path: string, o: StrOptions = {}): string {
  if (v === undefined && o.dflt !== undefined) return o.dflt;
  const what = o.what ?? 'a non-empty string';
  if (typeof v !== 'string' || v.length < (o.min ?? 1) || v.length > (o.max ?? 4096) || (o.re && !o.re.test(v))) throw fail(what, path, v, o.secret);
  return v;
}

export function optStr(v: unknown, path: string, o: StrOptions = {}): string | undefined {
  return v === undefined ? undefined : str(v, path, o);
}

export function int(v: unknown, path: string, min: number, max: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(`an integer from ${min} to ${max}`, path, v);
  return v;
}

export function optInt(v: unknown, path: string, min: number, max: number): number | undefined {
  return v === undefined ? undefined : int(v, path, min, max);
}

export function num(v: unknown, path: string, min: number, max: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw fail(`a number from ${min} to ${max}`, path, v);
  return v;
}

export function bool(v: unknown, path: string, dflt?: boolean): boolean {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'boolean') throw fail('true or false', path, v);
  return v;
}

export function oneOf<T extends string>(v: unknown, path: string, options: readonly T[], dflt?: T): T {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) throw fail(`one of ${options.map((o) => `"${o}"`).join(', ')}`, path, v);
  return v as T;
}

export function stringList(v: unknown, path: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) throw fail('a list of strings', path, v);
  return v as string[];
}

/**
 * A URL with one of `protocols` (e.g. ['http:', 'https:']). Credentials inside it are refused unless
 * `allowCredentials` (they belong in username/password, where they are never logged).
 */
export function url(v: unknown, path: string, protocols: readonly string[], o: { allowCredentials?: boolean; what?: string } = {}): string {
  const what = o.what ?? `a ${protocols.map((p) => `${p}//`).join(' or ')} URL`;
  if (typeof v !== 'string') throw fail(what, path, v);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw fail(what, path, '(unparseable URL)');
  }
  if (!protocols.includes(u.protocol)) throw fail(what, path, u.protocol);
  if (!o.allowCredentials && (u.username || u.password)) {
    throw new VigilArgumentError(`Expected a URL without user:password for ${path} (put credentials in username/password)`);
  }
  return v;
}

export function httpUrl(v: unknown, path: string): string {
  return url(v, path, ['http:', 'https:'], { what: 'an http(s) URL' });
}

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const TIME_WHAT = 'nanoseconds since the Unix epoch or an ISO 8601 date-time with a zone';

/** A time: integer nanoseconds since the epoch (number or decimal string), or ISO 8601 with a zone and up to 9 fractional digits. */
export function timeNs(v: unknown, path: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') {
    if (/^\d{1,20}$/.test(v)) {
      const n = BigInt(v);
      if (n < 1n << 64n) return n;
    }
    const m = ISO.exec(v);
    if (m) {
      const ms = Date.parse(`${m[1]}${m[3]}`);
      if (Number.isFinite(ms) && ms >= 0) return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
    }
  }
  throw fail(TIME_WHAT, path, v);
}

/** Prefixes a nested parser's paths: `at('integrations.vms[0]', 'rtsp')` -> "integrations.vms[0].rtsp". */
export function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

export { describeValue };
