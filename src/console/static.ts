/**
 * The web console's static files (web/dist, built by scripts/setup.d/66-web.sh) served by Vigil itself on the API's
 * port: `/` and `/ui/*` answer index.html (the SPA's own routes live under /ui/ so they never shadow an API
 * path), `/assets/*` the hashed bundles. Files are read once at start and kept in memory with their gzip form
 * (the whole build is a few hundred kB).
 *
 * Caching: hashed assets are immutable for a year; index.html is `no-cache`, so a new build is picked up on the next
 * load (it is under 1 kB; the transport has no 304 path).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HttpError, type Reply, type RequestCtx, type Route } from '../http/index.js';
import { PACKAGE_ROOT } from '../package-root.js';

export const CONSOLE_DIST = join(PACKAGE_ROOT, 'web', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

interface StaticFile {
  body: Buffer;
  gzip: Buffer | null;
  type: string;
  etag: string;
}

export class ConsoleFiles {
  readonly #files = new Map<string, StaticFile>();
  readonly dir: string;

  constructor(dir: string = CONSOLE_DIST) {
    this.dir = dir;
    if (!existsSync(join(dir, 'index.html'))) return;
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else {
          const body = readFileSync(p);
          const type = TYPES[extname(name)] ?? 'application/octet-stream';
          const compressible = /^(text\/|application\/(json|manifest)|image\/svg)/.test(type) && body.length > 512;
          const gzip = compressible ? gzipSync(body, { level: 9 }) : null;
          const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
          this.#files.set('/' + relative(dir, p).split('\\').join('/'), { body, gzip, type, etag });
        }
      }
    };
    walk(dir);
  }

  get built(): boolean {
    return this.#files.has('/index.html');
  }

  /** Paths served (for the bench: bytes shipped). */
  paths(): string[] {
    return [...this.#files.keys()];
  }

  reply(path: string, ctx: RequestCtx, cache: 'immutable' | 'revalidate'): Reply {
    if (!this.built) throw new HttpError(503, 'E_CONSOLE_NOT_BUILT', 'The web console is not built: run `bash scripts/setup.d/66-web.sh`');
    const f = this.#files.get(path);
    if (!f) throw new HttpError(404, 'E_NOT_FOUND', 'No such file');
    const headers: Record<string, string> = {
      'cache-control': cache === 'immutable' ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag: f.etag,
      vary: 'Accept-Encoding',
    };
    if (cache === 'revalidate') {
      // The console talks only to its own origin; no framing by other sites.
      headers['content-security-policy'] = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";
      headers['x-frame-options'] = 'DENY';
      headers['referrer-policy'] = 'no-referrer';
    }
    const gzipOk = f.gzip !== null && /\bgzip\b/.test(ctx.headers['accept-encoding'] ?? '');
    if (gzipOk) headers['content-encoding'] = 'gzip';
    return { status: 200, body: gzipOk ? f.gzip! : f.body, contentType: f.type, headers };
  }
}

/** Routes of the console's files (no auth: the code is public; every API call it makes is authorized). */
export function staticRoutes(files: ConsoleFiles): Route[] {
  const index = async (ctx: RequestCtx): Promise<Reply> => files.reply('/index.html', ctx, 'revalidate');
  return [
    { method: 'get', pattern: '/', handler: index },
    { method: 'get', pattern: '/ui', handler: index },
    { method: 'get', pattern: '/ui/*', handler: index },
    {
      method: 'get',
      pattern: '/assets/*',
      handler: async (ctx) => {
        if (ctx.path.includes('..')) throw new HttpError(404, 'E_NOT_FOUND', 'No such file');
        return files.reply(ctx.path, ctx, 'immutable');
      },
    },
    { method: 'get', pattern: '/favicon.svg', handler: async (ctx) => files.reply('/favicon.svg', ctx, 'revalidate') },
  ];
}
