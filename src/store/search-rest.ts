/**
 * What the REST layer calls for `POST /search` (JSON body in, JSON-ready object out).
 *
 * Body: { "track_id": 17, "camera_id": "gate" }            search by a stored track's embedding, or
 *       { "vector": [ ...D numbers ] }                      search by a vector
 *       plus "k" (1-100, default 10), "cameras": ["a","b"], "start_time", "end_time" (ns integer or string, or
 *       ISO 8601 with zone), "class": "person". Unknown fields are refused.
 * An uploaded image (src/api/routes-search.ts) carries the same k and filters in the query string
 * (parseSearchQuery).
 * Bad values throw VigilArgumentError (E_ARGUMENT, HTTP 400); an unknown track throws E_NOT_FOUND (HTTP 404).
 */
import { expected } from '../errors.js';
import { timeNs } from '../validate.js';
import type { SearchHit, SearchRequest, VectorIndex } from './vector-index.js';

export interface SearchRestBody {
  track_id?: number;
  camera_id?: string;
  vector?: number[];
  k?: number;
  cameras?: string[];
  start_time?: string | number;
  end_time?: string | number;
  class?: string;
}

export interface SearchRestHit {
  track_id: number;
  camera_id: string;
  class_id: number;
  class_name: string;
  timestamp_ns: string;
  timestamp: string;
  score: number;
  snapshot_url: string;
}

export interface SearchRestResponse {
  results: SearchRestHit[];
  k: number;
}

const time = (v: unknown, name: string): bigint => timeNs(v, name);

/** The filters and k of a search, from a JSON body or from the query string of an image upload. */
function parseFilters(b: SearchRestBody, req: SearchRequest): void {
  if (b.cameras !== undefined) {
    if (!Array.isArray(b.cameras) || !b.cameras.every((c) => typeof c === 'string' && c !== '')) throw expected('an array of camera ids', 'cameras', b.cameras);
    req.cameraIds = b.cameras;
  }
  if (b.start_time !== undefined) req.startNs = time(b.start_time, 'start_time');
  if (b.end_time !== undefined) req.endNs = time(b.end_time, 'end_time');
  if (b.class !== undefined) {
    if (typeof b.class !== 'string' || b.class === '') throw expected('a class name', 'class', b.class);
    req.className = b.class;
  }
}

function parseK(k: unknown): number {
  const v = k ?? 10;
  if (!(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 100)) throw expected('an integer from 1 to 100', 'k', k);
  return v as number;
}

const BODY_KEYS = new Set(['track_id', 'camera_id', 'vector', 'k', 'cameras', 'start_time', 'end_time', 'class']);

export function parseSearchBody(body: unknown): SearchRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw expected('a JSON object', 'body', body);
  const b = body as SearchRestBody;
  for (const key of Object.keys(b)) if (!BODY_KEYS.has(key)) throw expected(`only ${[...BODY_KEYS].join(', ')}`, 'body', key);
  const req: SearchRequest = { k: parseK(b.k) };
  if (b.track_id !== undefined) {
    if (!Number.isInteger(b.track_id)) throw expected('an integer', 'track_id', b.track_id);
    if (typeof b.camera_id !== 'string' || b.camera_id === '') throw expected('the camera id of the track', 'camera_id', b.camera_id);
    req.track = { cameraId: b.camera_id, trackId: b.track_id };
  } else if (b.vector !== undefined) {
    if (!Array.isArray(b.vector)) throw expected('an array of numbers', 'vector', b.vector);
    req.vector = b.vector;
  } else {
    throw expected('track_id and camera_id, or vector', 'body', body);
  }
  parseFilters(b, req);
  return req;
}

const QUERY_KEYS = new Set(['k', 'cameras', 'start_time', 'end_time', 'class']);

/**
 * k and the filters of a search by uploaded image, from the query string:
 * `?k=5&cameras=a,b&start_time=...&end_time=...&class=person` (times as in the JSON body). No example: the caller
 * sets `vector` from the image.
 */
export function parseSearchQuery(query: URLSearchParams): SearchRequest {
  for (const key of query.keys()) if (!QUERY_KEYS.has(key)) throw expected(`only ${[...QUERY_KEYS].join(', ')}`, 'query parameter', key);
  const one = (name: string): string | undefined => {
    const all = query.getAll(name);
    if (all.length > 1) throw expected('one value', name, `${all.length} values`);
    return all[0];
  };
  const k = one('k');
  if (k !== undefined && !/^\d{1,3}$/.test(k)) throw expected('an integer from 1 to 100', 'k', k);
  const req: SearchRequest = { k: parseK(k === undefined ? undefined : Number(k)) };
  const cameras = one('cameras');
  const b: SearchRestBody = {};
  if (cameras !== undefined) {
    const ids = cameras.split(',').map((c) => c.trim());
    if (ids.some((c) => c === '')) throw expected('a comma-separated list of camera ids', 'cameras', cameras);
    b.cameras = ids;
  }
  const s = one('start_time'), e = one('end_time'), c = one('class');
  if (s !== undefined) b.start_time = s;
  if (e !== undefined) b.end_time = e;
  if (c !== undefined) b.class = c;
  parseFilters(b, req);
  return req;
}

/** One hit as JSON; `snapshotUrl` overrides the store's snapshot path. */
export function searchHitToJson(h: SearchHit, snapshotUrl?: (cameraId: string, trackId: number) => string): SearchRestHit {
  return {
    track_id: h.trackId,
    camera_id: h.cameraId,
    class_id: h.classId,
    class_name: h.className,
    timestamp_ns: h.timestampNs.toString(),
    timestamp: new Date(Number(h.timestampNs / 1_000_000n)).toISOString(),
    score: h.score,
    snapshot_url: snapshotUrl ? snapshotUrl(h.cameraId, h.trackId) : h.snapshotUrl,
  };
}

export function searchRest(index: VectorIndex, body: unknown, snapshotUrl?: (cameraId: string, trackId: number) => string): SearchRestResponse {
  const req = parseSearchBody(body);
  return { k: req.k, results: index.search(req).map((h) => searchHitToJson(h, snapshotUrl)) };
}
