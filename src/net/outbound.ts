/**
 * Outbound URL policy (SSRF guard) for every user-configured URL Vigil calls: webhooks, Slack, Twilio, and later
 * other integrations.
 *
 * - Only the allowed schemes (default http: and https:).
 * - The host name is resolved once, here; every resolved address must be globally routable (see address.ts:
 *   loopback, private, link-local / metadata, multicast, unspecified... are refused). Odd IPv4 spellings
 *   (2130706433, 0x7f.1, 0177.0.0.1, 127.1) are normalized by the WHATWG URL parser before the check.
 * - The connection is made to the exact address that was checked: the request's `lookup` hook returns it, so a
 *   second DNS answer (DNS rebinding) is never consulted.
 * - Redirects are never followed: a 3xx answer is an error.
 * - Errors name only scheme, host and port: a webhook URL's path often is its secret (Slack), so it never appears.
 *
 * Allowance (documented, explicit): `allow` lists exact "address:port" (or bare "address") entries that are
 * permitted even though their category is refused. It exists for tests, which can only run peers on loopback,
 * and for operators who deliberately deliver to one internal host. With no `allow` entries the policy is strict.
 */
import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { VigilError, expected } from '../errors.js';
import { classifyAddress } from './address.js';

export class VigilUrlPolicyError extends VigilError {
  constructor(message: string) {
    super('E_URL_POLICY', message);
  }
}

export class VigilOutboundError extends VigilError {
  /** HTTP status when the peer answered; null for network errors and timeouts. */
  readonly status: number | null;
  constructor(code: string, message: string, status: number | null = null, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface OutboundPolicyOptions {
  /** Allowed URL schemes with the colon, default ["https:", "http:"]. */
  allowedSchemes?: string[];
  /** Explicit exceptions: "127.0.0.1:8080", "[::1]:8080", or a bare address for any port. Empty = strict. */
  allow?: string[];
  /** Name resolution; default the system resolver (all addresses). Replaceable for tests. */
  resolver?: Resolver;
}

export interface CheckedTarget {
  url: URL;
  /** Host name without IPv6 brackets. */
  hostname: string;
  port: number;
  /** The address that was checked and that the connection must use. */
  address: string;
  family: 4 | 6;
}

const systemResolver: Resolver = async (hostname) => {
  const r = await dnsLookup(hostname, { all: true, verbatim: true });
  return r.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** "https://hooks.slack.com:443" — what errors and logs may show of a URL. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

function normalizeAllowEntry(entry: string): { address: string; port: number | null } {
  let address = entry;
  let port: number | null = null;
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (m6) {
    address = m6[1]!;
    port = m6[2] !== undefined ? Number(m6[2]) : null;
  } else if (isIP(entry) === 0) {
    const i = entry.lastIndexOf(':');
    if (i > 0) {
      address = entry.slice(0, i);
      port = Number(entry.slice(i + 1));
    }
  }
  if (isIP(address) === 0 || (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536))) {
    throw expected('an "address", "address:port" or "[v6]:port" entry', 'outbound.allow', entry);
  }
  return { address: address.toLowerCase(), port };
}

export class OutboundPolicy {
  readonly allowedSchemes: ReadonlySet<string>;
  private readonly allowList: { address: string; port: number | null }[];
  private readonly resolver: Resolver;

  constructor(options: OutboundPolicyOptions = {}) {
    const schemes = options.allowedSchemes ?? ['https:', 'http:'];
    for (const s of schemes) if (s !== 'http:' && s !== 'https:') throw expected('"http:" or "https:"', 'outbound.allowedSchemes', s);
    this.allowedSchemes = new Set(schemes);
    this.allowList = (options.allow ?? []).map(normalizeAllowEntry);
    this.resolver = options.resolver ?? systemResolver;
  }

  /** True when no exceptions are configured. */
  get strict(): boolean {
    return this.allowList.length === 0;
  }

  private allowed(address: string, port: number): boolean {
    const a = address.toLowerCase();
    return this.allowList.some((e) => e.address === a && (e.port === null || e.port === port));
  }

  /** Parses and checks a URL, resolving its host; throws VigilUrlPolicyError when refused. */
  async check(rawUrl: string | URL): Promise<CheckedTarget> {
    let url: URL;
    try {
      url = typeof rawUrl === 'string' ? new URL(rawUrl) : new URL(rawUrl.href);
    } catch {
      throw new VigilUrlPolicyError('Refused outbound URL: not a valid absolute URL');
    }
    const where = describeUrl(url);
    if (!this.allowedSchemes.has(url.protocol)) {
      throw new VigilUrlPolicyError(`Refused outbound URL ${where}: scheme ${url.protocol} is not allowed (allowed: ${[...this.allowedSchemes].join(', ')})`);
    }
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (hostname === '') throw new VigilUrlPolicyError(`Refused outbound URL ${where}: no host`);
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const a = await this.checkHost(hostname, port, where);
    return { url, hostname, port, address: a.address, family: a.family };
  }

  /**
   * Resolves and checks a host for a non-HTTP protocol (SMTP): returns the address to connect to. `where` is how
   * errors name the target (default "host:port").
   */
  async checkHost(hostname: string, port: number, where = `${hostname}:${port}`): Promise<ResolvedAddress> {
    let addrs: ResolvedAddress[];
    const fam = isIP(hostname);
    if (fam !== 0) {
      addrs = [{ address: hostname, family: fam === 6 ? 6 : 4 }];
    } else {
      try {
        addrs = await this.resolver(hostname);
      } catch (err) {
        throw new VigilUrlPolicyError(`Refused outbound URL ${where}: host name does not resolve (${(err as { code?: string }).code ?? 'error'})`);
      }
      if (addrs.length === 0) throw new VigilUrlPolicyError(`Refused outbound URL ${where}: host name does not resolve`);
    }
    // Every answer must pass: a name that resolves to a public and a private address is refused.
    for (const a of addrs) {
      const v = classifyAddress(a.address);
      if (!v.allowed && !this.allowed(a.address, port)) {
        throw new VigilUrlPolicyError(`Refused outbound URL ${where}: address ${a.address} is ${v.category}`);
      }
    }
    return addrs[0]!;
  }
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole-request timeout, default 10 s. */
  timeoutMs?: number;
  /** Response bodies are cut at this size, default 64 KiB. */
  maxResponseBytes?: number;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP(S) request under the policy: checked, connected to the checked address, no redirects. Resolves for
 * 2xx; rejects with VigilOutboundError for everything else (E_OUTBOUND_STATUS with `status`, E_URL_REDIRECT,
 * E_OUTBOUND_TIMEOUT, E_OUTBOUND_NETWORK) or VigilUrlPolicyError when refused before connecting.
 */
export async function policyRequest(policy: OutboundPolicy, rawUrl: string | URL, req: OutboundRequest = {}): Promise<OutboundResponse> {
  const target = await policy.check(rawUrl);
  const where = describeUrl(target.url);
  const timeoutMs = req.timeoutMs ?? 10_000;
  const maxBytes = req.maxResponseBytes ?? 65536;
  const pinned: LookupFunction = (_host, opts, cb) => {
    if ((opts as { all?: boolean }).all) {
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    } else cb(null, target.address, target.family);
  };
  const mod = target.url.protocol === 'https:' ? https : http;
  const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const headers: Record<string, string> = { 'user-agent': 'Vigil/0.1', ...(req.headers ?? {}) };
  if (body) headers['content-length'] = String(body.length);

  return new Promise<OutboundResponse>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, res?: OutboundResponse): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res!);
    };
    const options: https.RequestOptions = {
      method: req.method ?? 'POST',
      host: target.hostname,
      port: target.port,
      path: `${target.url.pathname}${target.url.search}`,
      headers,
      agent: false,
      lookup: pinned,
    };
    if (target.url.protocol === 'https:' && isIP(target.hostname) === 0) options.servername = target.hostname;
    if (target.url.username || target.url.password) {
      options.auth = `${decodeURIComponent(target.url.username)}:${decodeURIComponent(target.url.password)}`;
    }
    const r = mod.request(options, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < maxBytes) chunks.push(c.subarray(0, maxBytes - size));
        size += c.length;
      });
      res.on('error', (e) => finish(new VigilOutboundError('E_OUTBOUND_NETWORK', `Request to ${where} failed: ${e.message}`, null, { cause: e })));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 300 && status < 400) {
          finish(new VigilOutboundError('E_URL_REDIRECT', `Refused redirect from ${where} (HTTP ${status}): redirects are not followed`, status));
        } else if (status < 200 || status >= 300) {
          const e = new VigilOutboundError('E_OUTBOUND_STATUS', `Request to ${where} answered HTTP ${status}`, status);
          (e as VigilOutboundError & { response?: OutboundResponse }).response = { status, headers: res.headers, body: text };
          finish(e);
        } else finish(null, { status, headers: res.headers, body: text });
      });
    });
    const timer = setTimeout(() => {
      r.destroy();
      finish(new VigilOutboundError('E_OUTBOUND_TIMEOUT', `Request to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    r.on('error', (e) => finish(new VigilOutboundError('E_OUTBOUND_NETWORK', `Request to ${where} failed: ${(e as { code?: string }).code ?? e.message}`, null, { cause: e })));
    if (body) r.end(body);
    else r.end();
  });
}

/** The response attached to an E_OUTBOUND_STATUS error (status, headers, body), if any. */
export function responseOf(err: unknown): OutboundResponse | undefined {
  return (err as { response?: OutboundResponse } | null)?.response;
}
