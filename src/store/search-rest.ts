/**
 * What the REST layer calls for `POST /search` (JSON body in, JSON-ready object out).
 *
 * Body: { "track_id": 17, "camera_id": "gate" }            search by a stored track's embedding, or
 *       { "vector": [ ...D numbers ] }                      search by a vector (the REST layer turns an uploaded
 *                                                           JPEG into one: decode to RGB, then
 *                                                           Embedder.embedCrop(rgb, w, h, box) or embed())
 *       plus "k" (1-100, default 10), "cameras": ["a","b"], "start_time", "end_time" (ns integer or string, or
 *       ISO 8601 with zone), "class": "person".
 * Bad values throw VigilArgumentError (E_ARGUMENT, HTTP 400); an unknown track throws E_NOT_FOUND (HTTP 404).
 */
import { expected } from '../errors.js';
import { parseTimeNs } from './rest.js';
import type { SearchRequest, VectorIndex } from './vector-index.js';

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

function time(v: unknown, name: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') return parseTimeNs(v, name);
  throw expected('nanoseconds since the Unix epoch or an ISO 8601 date-time with a zone', name, v);
}

export function parseSearchBody(body: unknown): SearchRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw expected('a JSON object', 'body', body);
  const b = body as SearchRestBody;
  const k = b.k ?? 10;
  if (!(Number.isInteger(k) && k >= 1 && k <= 100)) throw expected('an integer from 1 to 100', 'k', b.k);
  const req: SearchRequest = { k };
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
  return req;
}

export function searchRest(index: VectorIndex, body: unknown): SearchRestResponse {
  const req = parseSearchBody(body);
  const hits = index.search(req);
  return {
    k: req.k,
    results: hits.map((h) => ({
      track_id: h.trackId,
      camera_id: h.cameraId,
      class_id: h.classId,
      class_name: h.className,
      timestamp_ns: h.timestampNs.toString(),
      timestamp: new Date(Number(h.timestampNs / 1_000_000n)).toISOString(),
      score: h.score,
      snapshot_url: h.snapshotUrl,
    })),
  };
}
