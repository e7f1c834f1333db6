/**
 * Integration routes:
 *  - `GET /integrations/vms`: per VMS source its id, type, URL (no credentials), last/next sync, last error and
 *    counts; never a password, secret or token (integrations:read);
 *  - `POST /integrations/vms/{id}/sync`: runs that source's camera sync now and returns its report
 *    (integrations:write, admins);
 *  - `GET /integrations/queues`: per sink its delivery counters (integrations:read);
 *  - `GET /media/{key}`: objects of the local media store (alert snapshots and clips), either with a bearer token
 *    (recordings:read, and the camera named by the key's second segment must be in the caller's scope) or with a
 *    signed link `?exp=<unix s>&sig=<HMAC>` made by the runtime (src/integrations/storage/links.ts), which opens
 *    without a token until it expires.
 */
import { authorize, requireScope } from '../auth/policy.js';
import { checkKey, StorageError } from '../integrations/storage/store.js';
import { MediaLinkError } from '../integrations/storage/links.js';
import type { Integrations } from '../integrations/runtime.js';
import { HttpError, type Reply, type RequestCtx } from '../http/index.js';
import type { ApiRoutes, WithAuth } from './auth.js';

const MEDIA_PREFIX = '/media/';
const MEDIA_KINDS = new Set(['snapshots', 'clips']);
const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  mp4: 'video/mp4',
  mkv: 'video/x-matroska',
  ts: 'video/mp2t',
};

const badPath = (): HttpError => new HttpError(400, 'E_MEDIA_PATH', 'Expected a media object key (snapshots/... or clips/...) in the path');

/**
 * The object key of a /media/* request, from the raw (still percent-encoded) path: each segment decoded once and
 * the whole checked by checkKey (no "..", no empty or absolute segments, no encoded separators).
 */
export function mediaKeyOf(rawPath: string): { key: string; cameraId: string } {
  if (!rawPath.startsWith(MEDIA_PREFIX)) throw badPath();
  const rest = rawPath.slice(MEDIA_PREFIX.length);
  // An encoded '/' or '\' would make one segment look like two after decoding.
  if (rest.length === 0 || rest.length > 1024 || /%2f|%5c|\\/i.test(rest)) throw badPath();
  let segments: string[];
  try {
    segments = rest.split('/').map((s) => decodeURIComponent(s));
  } catch {
    throw badPath();
  }
  let key: string;
  try {
    key = checkKey(segments.join('/'));
  } catch (err) {
    if (err instanceof StorageError) throw badPath();
    throw err;
  }
  if (segments.length < 3 || !MEDIA_KINDS.has(segments[0]!)) throw badPath();
  return { key, cameraId: segments[1]! };
}

/** What these routes read of the integrations runtime (src/integrations/runtime.ts). */
export type IntegrationsApi = Pick<Integrations, 'vmsSources' | 'syncVms' | 'sinks' | 'localMediaPath' | 'media'>;

export function integrationRoutes(rt: IntegrationsApi): ApiRoutes {
  return (withAuth: WithAuth) => {
    const serveMedia = async (key: string): Promise<Reply> => {
      let file: string | null;
      try {
        file = rt.localMediaPath(key);
      } catch (err) {
        if (err instanceof StorageError) throw badPath();
        throw err;
      }
      if (file === null) throw new HttpError(404, 'E_MEDIA_NOT_FOUND', 'No such media object');
      const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
      return { status: 200, file: { path: file }, contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream' };
    };

    const mediaWithToken = withAuth('recordings:read', async (ctx, p) => {
      const { key, cameraId } = mediaKeyOf(ctx.path);
      authorize(p, 'recordings:read', cameraId);
      return serveMedia(key);
    });

    return [
      {
        method: 'get',
        pattern: '/integrations/vms',
        handler: withAuth('integrations:read', async () => ({ status: 200, json: { sources: rt.vmsSources() } })),
      },
      {
        method: 'post',
        pattern: '/integrations/vms/:id/sync',
        params: ['id'],
        handler: withAuth('integrations:write', async (ctx, p) => {
          // a sync adds, restarts and removes cameras across the site: only admins with every camera
          requireScope(p, '*');
          const id = ctx.params.id!;
          if (!rt.vmsSources().some((s) => s.id === id)) throw new HttpError(404, 'E_NOT_FOUND', `No VMS source named ${JSON.stringify(id).slice(0, 70)}`);
          const report = await rt.syncVms(id);
          return { status: 200, json: { report, source: rt.vmsSources().find((s) => s.id === id) } };
        }),
      },
      {
        method: 'get',
        pattern: '/integrations/queues',
        handler: withAuth('integrations:read', async () => ({ status: 200, json: { sinks: rt.sinks() } })),
      },
      {
        method: 'get',
        pattern: '/media/*',
        handler: async (ctx: RequestCtx) => {
          if (!rt.media.localStore) {
            throw new HttpError(404, 'E_MEDIA_NOT_FOUND', 'Media are kept in S3 on this server: use the links in alerts');
          }
          if (!ctx.query.has('sig') && !ctx.query.has('exp')) return mediaWithToken(ctx);
          const { key } = mediaKeyOf(ctx.path);
          try {
            rt.media.signer.verify(key, ctx.query.get('exp'), ctx.query.get('sig'));
          } catch (err) {
            if (err instanceof MediaLinkError) throw new HttpError(403, err.code, err.message);
            throw err;
          }
          return serveMedia(key);
        },
      },
    ];
  };
}
