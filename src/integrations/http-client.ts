/**
 * Outbound HTTP for integrations (VMS adapters and the like): one request helper with
 *  - HTTP Digest authentication per RFC 7616 (MD5, SHA-256, SHA-512-256 and their -sess forms, qop=auth,
 *    nonce-count per nonce, stale=true handling, userhash), Basic and Bearer;
 *  - a wall-clock timeout covering connect, headers and body;
 *  - a cap on the response body (Content-Length checked up front, then counted while streaming);
 *  - no redirects followed (a redirect is returned as is: following one could leave the configured host);
 *  - an optional `checkUrl` hook so the server can plug in its outbound URL policy (SSRF guard);
 *  - errors whose messages never carry credentials (see redactText).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { VigilError, expected } from '../errors.js';
import { redactText, stripUrlCredentials } from '../redact.js';

// Redaction lives in src/redact.ts (one module for the camera layer and the integrations); re-exported here for
// the adapters' callers.
export { redactText, stripUrlCredentials } from '../redact.js';

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * Codes: E_HTTP_TIMEOUT, E_HTTP_TOO_LARGE, E_HTTP_NETWORK, E_HTTP_AUTH (credentials refused),
 * E_HTTP_STATUS (an unexpected status; `status` set), E_HTTP_URL (refused by the URL policy or not http/https).
 */
export class HttpClientError extends VigilError {
  readonly status: number | null;
  constructor(code: string, message: string, status: number | null = null, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Digest authentication (RFC 7616)
// ---------------------------------------------------------------------------------------------------------------

export interface AuthChallenge {
  scheme: string; // lower case
  params: Record<string, string>; // keys lower case
}

/**
 * Parses one or more WWW-Authenticate header values, each of which may hold several comma-separated challenges
 * (RFC 7235 §4.1), e.g. `Digest realm="a", qop="auth", nonce="x", Basic realm="a"`.
 */
export function parseAuthChallenges(values: string | readonly string[]): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  for (const value of typeof values === 'string' ? [values] : values) {
    let i = 0;
    const n = value.length;
    let current: AuthChallenge | null = null;
    const skipWs = (): void => {
      while (i < n && (value[i] === ' ' || value[i] === '\t' || value[i] === ',')) i++;
    };
    while (i < n) {
      skipWs();
      const start = i;
      while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(value[i]!)) i++;
      const token = value.slice(start, i);
      if (!token) {
        i++; // junk character: skip it rather than loop forever
        continue;
      }
      let j = i;
      while (j < n && (value[j] === ' ' || value[j] === '\t')) j++;
      if (value[j] === '=' && current) {
        // auth-param
        i = j + 1;
        while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
        let v = '';
        if (value[i] === '"') {
          i++;
          while (i < n && value[i] !== '"') {
            if (value[i] === '\\' && i + 1 < n) i++;
            v += value[i];
            i++;
          }
          i++; // closing quote
        } else {
          const vs = i;
          while (i < n && value[i] !== ',' && value[i] !== ' ' && value[i] !== '\t') i++;
          v = value.slice(vs, i);
        }
        current.params[token.toLowerCase()] = v;
      } else if (value[j] === '=' && !current) {
        // token68 or param without a scheme: ignore
        i = j + 1;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

const DIGEST_HASHES: Record<string, string> = { md5: 'md5', 'sha-256': 'sha256', 'sha-512-256': 'sha512-256' };
const DIGEST_PREFERENCE = ['sha-512-256', 'sha-256', 'md5'];

function digestBase(algorithm: string): { hash: string; sess: boolean } | null {
  const a = algorithm.toLowerCase();
  const sess = a.endsWith('-sess');
  const hash = DIGEST_HASHES[sess ? a.slice(0, -5) : a];
  return hash ? { hash, sess } : null;
}

/** Picks the strongest Digest challenge we can answer (SHA-512-256 > SHA-256 > MD5), or null. */
export function pickDigestChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | null {
  let best: AuthChallenge | null = null;
  let bestRank = Infinity;
  for (const c of challenges) {
    if (c.scheme !== 'digest' || !c.params.nonce) continue;
    const algorithm = c.params.algorithm ?? 'MD5';
    const base = digestBase(algorithm);
    if (!base) continue;
    const qop = c.params.qop;
    if (qop !== undefined && !qop.split(',').map((q) => q.trim().toLowerCase()).includes('auth')) continue;
    const rank = DIGEST_PREFERENCE.indexOf(algorithm.toLowerCase().replace(/-sess$/, ''));
    if (rank < bestRank) {
      best = c;
      bestRank = rank;
    }
  }
  return best;
}

function hex(hash: string, data: string): string {
  return createHash(hash).update(data, 'utf8').digest('hex');
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export interface DigestInput {
  challenge: AuthChallenge;
  username: string;
  password: string;
  method: string;
  /** request-target as sent: path plus query */
  uri: string;
  nc: number;
  cnonce: string;
}

/** Computes the `Authorization: Digest ...` header value for one request (RFC 7616 §3.4). */
export function digestAuthorization(input: DigestInput): string {
  const p = input.challenge.params;
  const algorithm = p.algorithm ?? 'MD5';
  const base = digestBase(algorithm);
  if (!base) throw new HttpClientError('E_HTTP_AUTH', `Unsupported digest algorithm ${algorithm}`);
  const realm = p.realm ?? '';
  const nonce = p.nonce ?? '';
  const H = (s: string): string => hex(base.hash, s);
  let ha1 = H(`${input.username}:${realm}:${input.password}`);
  if (base.sess) ha1 = H(`${ha1}:${nonce}:${input.cnonce}`);
  const ha2 = H(`${input.method}:${input.uri}`);
  const useQop = p.qop !== undefined;
  const nc = input.nc.toString(16).padStart(8, '0');
  const response = useQop ? H(`${ha1}:${nonce}:${nc}:${input.cnonce}:auth:${ha2}`) : H(`${ha1}:${nonce}:${ha2}`);
  const userhash = (p.userhash ?? '').toLowerCase() === 'true';
  const username = userhash ? H(`${input.username}:${realm}`) : input.username;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(realm)}`,
    `uri=${quote(input.uri)}`,
    `algorithm=${algorithm}`,
    `nonce=${quote(nonce)}`,
  ];
  if (useQop) parts.push(`nc=${nc}`, `cnonce=${quote(input.cnonce)}`, 'qop=auth');
  parts.push(`response=${quote(response)}`);
  if (p.opaque !== undefined) parts.push(`opaque=${quote(p.opaque)}`);
  if (userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

export type HttpAuth =
  | { type: 'digest'; username: string; password: string }
  | { type: 'basic'; username: string; password: string }
  /** Digest when the server challenges with Digest, otherwise Basic (many cameras are configurable either way). */
  | { type: 'auto'; username: string; password: string }
  | { type: 'bearer'; token: string };

export interface HttpRequest {
  method?: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | Buffer;
  auth?: HttpAuth;
  timeoutMs?: number;
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export interface HttpClientOptions {
  /** Whole-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Response body cap (default 4 MiB). */
  maxResponseBytes?: number;
  /**
   * Outbound URL policy hook (SSRF guard); throw to refuse. When it returns the address it checked, the request
   * connects to exactly that address (no second DNS lookup, so no DNS-rebinding window).
   */
  checkUrl?: CheckUrl;
  /** Accept self-signed certificates (common on cameras); default false. */
  insecureTls?: boolean;
  userAgent?: string;
  /** Extra strings to scrub from error messages (passwords, tokens). */
  secrets?: readonly string[];
}

interface DigestState {
  challenge: AuthChallenge;
  nc: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

export class HttpClient {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  private readonly checkUrl: CheckUrl | undefined;
  private readonly insecureTls: boolean;
  private readonly userAgent: string;
  private readonly secrets: string[];
  private readonly fixedSecrets: number;
  /** Last digest challenge per origin+user, reused pre-emptively with an increasing nonce count. */
  private readonly digest = new Map<string, DigestState>();
  private readonly agentHttp = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly agentHttps: https.Agent;

  constructor(options: HttpClientOptions = {}) {
    const t = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(t) || t <= 0) throw expected('a positive number of milliseconds', 'timeoutMs', t);
    const m = options.maxResponseBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(m) || m <= 0) throw expected('a positive integer', 'maxResponseBytes', m);
    this.timeoutMs = t;
    this.maxResponseBytes = m;
    this.checkUrl = options.checkUrl;
    this.insecureTls = options.insecureTls ?? false;
    this.userAgent = options.userAgent ?? 'Vigil/0.1';
    this.secrets = [...(options.secrets ?? [])].filter((x) => x);
    this.fixedSecrets = this.secrets.length;
    this.agentHttps = new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: !this.insecureTls });
  }

  /** Adds strings (passwords, tokens) to scrub from error messages. */
  addSecret(secret: string): void {
    if (!secret || this.secrets.includes(secret)) return;
    this.secrets.push(secret);
    // Rotating tokens would grow the list without bound: keep the configured ones and the 8 newest others.
    if (this.secrets.length > this.fixedSecrets + 8) this.secrets.splice(this.fixedSecrets, 1);
  }

  redact(text: string): string {
    return redactText(text, this.secrets);
  }

  close(): void {
    this.agentHttp.destroy();
    this.agentHttps.destroy();
    this.digest.clear();
  }

  /**
   * Sends a request and returns the whole (capped) response. Any status is returned: callers decide; only a
   * refused digest/basic login (401 after credentials were sent) raises E_HTTP_AUTH.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HttpClientError('E_HTTP_URL', `Refusing ${url.protocol} URL ${this.redact(stripUrlCredentials(url.href))}`);
    }
    if (url.username || url.password) {
      throw new HttpClientError('E_HTTP_URL', 'Refusing a URL with embedded credentials: configure them separately');
    }
    let pinned: PinnedAddress | null = null;
    if (this.checkUrl) {
      try {
        pinned = (await this.checkUrl(url)) ?? null;
      } catch (err) {
        throw new HttpClientError('E_HTTP_URL', `Outbound URL refused: ${this.redact((err as Error).message)}`, null, {
          cause: err,
        });
      }
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const auth = req.auth;
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const uri = `${url.pathname}${url.search}`;
    const key = auth && auth.type !== 'bearer' ? `${url.origin} ${auth.username}` : '';

    const headersFor = (authorization: string | null): Record<string, string> => {
      const h: Record<string, string> = { 'user-agent': this.userAgent, accept: '*/*', ...(req.headers ?? {}) };
      if (authorization) h.authorization = authorization;
      return h;
    };
    const digestHeader = (state: DigestState): string => {
      state.nc += 1;
      const a = auth as { username: string; password: string };
      return digestAuthorization({
        challenge: state.challenge,
        username: a.username,
        password: a.password,
        method,
        uri,
        nc: state.nc,
        cnonce: randomBytes(12).toString('hex'),
      });
    };

    let authorization: string | null = null;
    if (auth?.type === 'bearer') authorization = `Bearer ${auth.token}`;
    else if (auth?.type === 'basic') authorization = basic(auth.username, auth.password);
    else if (auth && (auth.type === 'digest' || auth.type === 'auto')) {
      const state = this.digest.get(key);
      if (state) authorization = digestHeader(state);
    }

    let res = await this.once(url, method, headersFor(authorization), req, deadline, timeoutMs, pinned);
    // Up to two challenge rounds: a first 401 (no or old credentials), then one stale=true nonce refresh.
    for (let round = 0; round < 2 && res.status === 401 && auth && auth.type !== 'bearer'; round++) {
      const challenges = parseAuthChallenges(res.challenges);
      const dig = auth.type === 'basic' ? null : pickDigestChallenge(challenges);
      if (dig) {
        const stale = (dig.params.stale ?? '').toLowerCase() === 'true';
        const hadDigest = authorization?.startsWith('Digest ') ?? false;
        const prev = this.digest.get(key);
        // Credentials sent for this very nonce and refused without stale=true: wrong credentials.
        if (hadDigest && !stale && prev && prev.challenge.params.nonce === dig.params.nonce) break;
        if (hadDigest && !stale && round > 0) break;
        const state: DigestState = { challenge: dig, nc: 0 };
        this.digest.set(key, state);
        authorization = digestHeader(state);
      } else if (auth.type !== 'digest' && challenges.some((c) => c.scheme === 'basic') && authorization === null) {
        authorization = basic(auth.username, auth.password);
      } else {
        break;
      }
      res = await this.once(url, method, headersFor(authorization), req, deadline, timeoutMs, pinned);
    }
    if (res.status === 401 && auth && auth.type !== 'bearer') {
      this.digest.delete(key);
      throw new HttpClientError('E_HTTP_AUTH', `Authentication refused by ${url.host} for ${method} ${url.pathname}`, 401);
    }
    return res.response;
  }

  private once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    req: HttpRequest,
    deadline: number,
    timeoutMs: number,
    pinned: PinnedAddress | null,
  ): Promise<{ status: number; challenges: string[]; response: HttpResponse }> {
    const maxBytes = req.maxResponseBytes ?? this.maxResponseBytes;
    const remaining = deadline - Date.now();
    const where = `${method} ${url.host}${url.pathname}`;
    if (remaining <= 0) {
      return Promise.reject(new HttpClientError('E_HTTP_TIMEOUT', `Timed out after ${timeoutMs} ms: ${where}`));
    }
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
    if (body) headers['content-length'] = String(body.length);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let settled = false;
      /** True the first time only: the request ends once, by a failure or by its response. */
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (err: HttpClientError): void => {
        if (!settle()) return;
        r.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new HttpClientError('E_HTTP_TIMEOUT', `Timed out after ${timeoutMs} ms: ${where}`)),
        remaining,
      );
      const onAbort = (): void => fail(new HttpClientError('E_HTTP_TIMEOUT', `Aborted: ${where}`));
      const r = lib.request(
        url,
        {
          method,
          headers,
          // A pinned address gets its own connection (a pooled socket could lead elsewhere).
          agent: pinned ? false : url.protocol === 'https:' ? this.agentHttps : this.agentHttp,
          ...(pinned ? { lookup: pinnedLookup(pinned), rejectUnauthorized: !this.insecureTls } : {}),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const challenges: string[] = [];
          for (let k = 0; k + 1 < res.rawHeaders.length; k += 2) {
            if (res.rawHeaders[k]!.toLowerCase() === 'www-authenticate') challenges.push(res.rawHeaders[k + 1]!);
          }
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) {
            fail(
              new HttpClientError('E_HTTP_TOO_LARGE', `Response of ${declared} bytes exceeds the ${maxBytes}-byte cap: ${where}`, status),
            );
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              fail(new HttpClientError('E_HTTP_TOO_LARGE', `Response exceeds the ${maxBytes}-byte cap: ${where}`, status));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (err) => fail(new HttpClientError('E_HTTP_NETWORK', `${this.redact(err.message)}: ${where}`, status, { cause: err })));
          res.on('aborted', () => fail(new HttpClientError('E_HTTP_NETWORK', `Connection closed mid-response: ${where}`, status)));
          res.on('end', () => {
            if (!settle()) return;
            const buf = Buffer.concat(chunks, size);
            resolve({
              status,
              challenges,
              response: {
                status,
                headers: res.headers,
                body: buf,
                text: () => buf.toString('utf8'),
                json: () => {
                  try {
                    return JSON.parse(buf.toString('utf8')) as unknown;
                  } catch (err) {
                    throw new HttpClientError('E_HTTP_BODY', `Malformed JSON in response: ${where}`, status, { cause: err });
                  }
                },
              },
            });
          });
        },
      );
      r.on('error', (err) =>
        fail(new HttpClientError('E_HTTP_NETWORK', `${this.redact(err.message)}: ${where}`, null, { cause: err })),
      );
      if (req.signal) {
        if (req.signal.aborted) {
          onAbort();
          return;
        }
        req.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (body) r.end(body);
      else r.end();
    });
  }
}

export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

export type CheckUrl = (url: URL) => void | PinnedAddress | Promise<void | PinnedAddress>;

/** A dns.lookup replacement that answers with the checked address only. */
function pinnedLookup(p: PinnedAddress) {
  return (
    _host: string,
    options: { all?: boolean } | number | undefined,
    cb: (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void,
  ): void => {
    if (typeof options === 'object' && options?.all) cb(null, [{ address: p.address, family: p.family }]);
    else cb(null, p.address, p.family);
  };
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
