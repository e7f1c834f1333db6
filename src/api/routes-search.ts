/**
 * POST /search: similar tracks by example, with camera / time / class filters (issue 4).
 *
 *   Content-Type: application/json   {"track_id", "camera_id"} or {"vector"}, plus k, cameras, start_time,
 *                                    end_time, class (src/store/search-rest.ts parses it)
 *   Content-Type: image/jpeg         an image of the object: decoded natively (SourceFrame.decodeJpeg, off the JS
 *                                    thread), the whole image cropped (letterboxed) to the embedder's input by
 *                                    SourceFrame.cropTensor, embedded; k and filters in the query string
 *
 * Camera scope: results only ever come from cameras the caller can see: the requested cameras are intersected
 * with the scope (none requested = the whole scope), and an example track on a camera outside the scope is
 * refused (403) like any other camera-bound route. Errors: 400 bad body, 403 scope, 404 unknown track, 413 too
 * large, 415 other content types, 503 image search without an embedder.
 */
import { authorize, canSeeCamera } from '../auth/policy.js';
import { DEFAULT_MAX_JPEG_PIXELS, SourceFrame } from '../camera/source-frame.js';
import { VigilError } from '../errors.js';
import type { Embedder } from '../inference/embedder.js';
import { parseSearchBody, parseSearchQuery, searchHitToJson, type SearchRestResponse } from '../store/search-rest.js';
import type { SearchRequest, VectorIndex } from '../store/vector-index.js';
import { HttpError, contentType, parseJson } from '../http/index.js';
import type { ApiRoutes } from './auth.js';
import type { ClusterReads } from '../cluster/reads.js';

/** Upload limit of the route: a JPEG of a person or a car fits many times over. */
export const SEARCH_MAX_UPLOAD_BYTES = 4 * 1024 * 1024;
/** JSON bodies are small (a 480-d vector is ~10 KB): anything past this is refused with 413. */
export const SEARCH_MAX_JSON_BYTES = 64 * 1024;
/** Largest uploaded image in pixels (decoded, it is up to width x height x 3 bytes of native memory). */
export const SEARCH_MAX_IMAGE_PIXELS = DEFAULT_MAX_JPEG_PIXELS;

export interface SearchRouteDeps {
  /** On a cluster node (once it joined): search every node's index (src/cluster/reads.ts); else null. */
  cluster?: () => ClusterReads | null;
  index: Pick<VectorIndex, 'search'>;
  /** null: search by image answers 503 (track and vector searches still work). */
  embedder: Pick<Embedder, 'embed' | 'cropSpec'> | null;
  /** URL of a track's snapshot, e.g. `/tracks/${camera}:${track}/snapshot.jpg`. */
  snapshotUrl: (cameraId: string, trackId: number) => string;
}

const validation = (message: string): HttpError => new HttpError(400, 'E_VALIDATION', message);

/**
 * Largest magnitude of a query vector's component. The index scores in float32 after normalising: a component
 * past ~1e19 squares to Infinity (in float32 past 3.4e38 it is Infinity itself), the norm becomes Infinity and every
 * score NaN (`score: null` in JSON). 1e30 leaves room for 4096 squared components in double precision.
 */
export const SEARCH_MAX_COMPONENT = 1e30;

/** A query vector whose scores stay finite: every component a finite number of magnitude at most SEARCH_MAX_COMPONENT. */
export function checkSearchVector(v: ArrayLike<unknown>): void {
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x) || Math.abs(x) > SEARCH_MAX_COMPONENT) {
      throw validation(`Expected a finite number of magnitude at most ${SEARCH_MAX_COMPONENT} for vector[${i}] but received ${typeof x === 'number' ? String(x) : JSON.stringify(x) ?? typeof x}`);
    }
  }
}

/**
 * Width and height from a JPEG's frame header (SOFn), or null when `b` is not a baseline/progressive JPEG.
 * Read before decoding so a small file that expands to gigabytes is refused without decoding it.
 */
export function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let o = 2;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) return null;
    const marker = b[o + 1]!;
    if (marker === 0xff) {
      o++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      o += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan data before any frame header
    const len = (b[o + 2]! << 8) | b[o + 3]!;
    if (len < 2) return null;
    // SOF0-SOF15 except DHT (C4), JPG (C8), DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (o + 9 > b.length) return null;
      const height = (b[o + 5]! << 8) | b[o + 6]!;
      const width = (b[o + 7]! << 8) | b[o + 8]!;
      return width > 0 && height > 0 ? { width, height } : null;
    }
    o += 2 + len;
  }
  return null;
}

export function searchRoutes(deps: SearchRouteDeps): ApiRoutes {
  async function embedImage(body: Buffer): Promise<Float32Array> {
    const embedder = deps.embedder;
    if (!embedder) throw new HttpError(503, 'E_UNAVAILABLE', 'Search by image needs the embedder, which is not enabled on this server');
    const size = jpegSize(body);
    if (!size) throw validation('Expected a JPEG image for body but received bytes that are not one');
    if (size.width * size.height > SEARCH_MAX_IMAGE_PIXELS) {
      throw validation(`Expected a JPEG of at most ${SEARCH_MAX_IMAGE_PIXELS} pixels for body but received ${size.width}x${size.height}`);
    }
    let image: SourceFrame;
    try {
      // native libjpeg-turbo on a libuv worker, bounded in scans and time (the size was checked above, for a clearer message)
      image = await SourceFrame.decodeJpeg(body, { maxPixels: SEARCH_MAX_IMAGE_PIXELS });
    } catch (err) {
      // the addon rejects with a plain Error carrying the code
      if ((err as { code?: unknown })?.code === 'E_SNAPSHOT_DECODE') throw validation(`Expected a decodable JPEG image for body but the decoder failed: ${(err as Error).message}`);
      throw err;
    }
    try {
      const crop = await image.cropTensor({ x1: 0, y1: 0, x2: image.width, y2: image.height }, embedder.cropSpec);
      return (await embedder.embed([new Float32Array(crop)]))[0]!;
    } finally {
      image.close();
    }
  }

  return (withAuth) => [
    {
      method: 'post',
      pattern: '/search',
      body: true,
      maxBodyBytes: SEARCH_MAX_UPLOAD_BYTES,
      handler: withAuth('detections:read', async (ctx, p) => {
        const ct = contentType(ctx);
        const body = ctx.body ?? Buffer.alloc(0);
        let req: SearchRequest;
        if (ct === 'application/json') {
          if (body.length > SEARCH_MAX_JSON_BYTES) throw new HttpError(413, 'E_BODY_TOO_LARGE', `Request body exceeds ${SEARCH_MAX_JSON_BYTES} bytes`);
          req = parseSearchBody(parseJson(body));
          if (req.vector) checkSearchVector(req.vector);
          if (req.track) authorize(p, 'detections:read', req.track.cameraId);
        } else if (ct === 'image/jpeg') {
          req = parseSearchQuery(ctx.query);
          req.vector = await embedImage(body);
        } else {
          throw new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'Expected Content-Type application/json or image/jpeg');
        }
        // scope: the requested cameras narrowed to what the caller may see (none requested = the whole scope)
        if (p.cameras !== '*') {
          const scope = p.cameras;
          req.cameraIds = req.cameraIds ? req.cameraIds.filter((c) => scope.includes(c)) : [...scope];
          if (req.cameraIds.length === 0) return { status: 200, json: { k: req.k, results: [] } satisfies SearchRestResponse };
        }
        const cluster = deps.cluster?.();
        let hits;
        try {
          if (cluster) {
            const r = await cluster.search(req);
            const results = r.hits.filter((h) => canSeeCamera(p, h.cameraId)).map((h) => searchHitToJson(h, deps.snapshotUrl));
            return { status: 200, json: { k: req.k, results, partial: r.partial, missing_nodes: r.missing } };
          }
          hits = deps.index.search(req);
        } catch (err) {
          if (err instanceof VigilError && err.code === 'E_NOT_FOUND') throw new HttpError(404, 'E_TRACK_NOT_FOUND', err.message);
          throw err;
        }
        const results = hits.filter((h) => canSeeCamera(p, h.cameraId)).map((h) => searchHitToJson(h, deps.snapshotUrl));
        return { status: 200, json: { k: req.k, results } satisfies SearchRestResponse };
      }),
    },
  ];
}
