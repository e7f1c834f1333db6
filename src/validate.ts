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

/**
 * Edit distance (optimal string alignment: insertions, deletions, substitutions and swaps of neighbours), compared
 * case-insensitively and without "_" / "-", so `bind_dn` is 0 from `bindDN` and `camras` 1 from `cameras`.
 */
export function keyDistance(a: string, b: string): number {
  const x = a.toLowerCase().replace(/[_-]/g, '');
  const y = b.toLowerCase().replace(/[_-]/g, '');
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The known key a typo most likely meant: the closest within a third of its length (at least 1 edit), or null. */
export function closestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dist = keyDistance(key, k);
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : null;
}

/**
 * The one unknown-key check every parser of a config mapping calls with the keys it reads: a typo is an error
 * naming its path and, where one is close, the key it most likely meant (`Unknown key cameras[2].source.uri (did
 * you mean url?)`); otherwise the known keys are listed. `hints` maps a foreign spelling to what stands for it in
 * Vigil (the integration document's `server_url` -> "url"), shown instead of a guess.
 */
export function onlyKeys(o: Raw, path: string, known: readonly string[], hints: Readonly<Record<string, string>> = {}): void {
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const where = path === '' ? k : `${path}.${k}`;
    const hint = Object.prototype.hasOwnProperty.call(hints, k) ? hints[k]! : null;
    const guess = hint === null ? closestKey(k, known) : null;
    const why = hint !== null ? `in Vigil: ${hint}` : guess !== null ? `did you mean ${guess}?` : `known keys: ${known.join(', ')}`;
    throw new VigilArgumentError(`Unknown key ${where} (${why})`);
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

/** The last nanosecond a stored timestamp (unsigned 64 bits, year 2554) can name. */
export const MAX_TIME_NS = (1n << 64n) - 1n;

/**
 * A time: integer nanoseconds since the epoch (number or decimal string), or ISO 8601 with a zone and up to 9
 * fractional digits. A valid time past MAX_TIME_NS (a date after 2554, 20 digits above 2^64 - 1) is clamped to it:
 * as a query bound it means "from after everything stored", not an error and never a failure in the key encoding.
 */
export function timeNs(v: unknown, path: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') {
    if (/^\d{1,20}$/.test(v)) {
      const n = BigInt(v);
      return n > MAX_TIME_NS ? MAX_TIME_NS : n;
    }
    const m = ISO.exec(v);
    if (m) {
      const ms = Date.parse(`${m[1]}${m[3]}`);
      if (Number.isFinite(ms) && ms >= 0) {
        const ns = BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
        return ns > MAX_TIME_NS ? MAX_TIME_NS : ns;
      }
    }
  }
  throw fail(TIME_WHAT, path, v);
}

/** Prefixes a nested parser's paths: `at('integrations.vms[0]', 'rtsp')` -> "integrations.vms[0].rtsp". */
export function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

export { describeValue };
