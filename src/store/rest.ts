/**
 * What the REST layer calls for `GET /detections` (query-string values in, JSON-ready object out).
 *
 *   GET /detections?camera_id=a,b&start_time=...&end_time=...&confidence_min=0.5&class=person&track_id=7
 *                   &page=2&page_size=100            (or &cursor=<next_cursor of the previous page>)
 *
 * Times: an integer is nanoseconds since the Unix epoch; otherwise an ISO 8601 date-time with a zone
 * (`2026-11-27T20:00:00.123456789Z`, up to 9 fractional digits). Both bounds are inclusive.
 * Bad values throw VigilArgumentError (code E_ARGUMENT, HTTP 400) with the message shape
 * "Expected X for name but received V".
 */
import { expected } from '../errors.js';
import type { StoredDetection } from '../types.js';
import type { DetectionQuery, DetectionStore } from './detection-store.js';

export interface DetectionsRestQuery {
  camera_id?: string;
  start_time?: string;
  end_time?: string;
  confidence_min?: string;
  class?: string;
  track_id?: string;
  page?: string;
  page_size?: string;
  cursor?: string;
}

/** A StoredDetection with its 64-bit integers as decimal strings (JSON cannot carry bigint). */
export interface JsonDetection {
  seq: string;
  camera_id: string;
  timestamp_ns: string;
  /** ISO 8601 (millisecond precision) of timestamp_ns, for people. */
  timestamp: string;
  class_id: number;
  class_name: string;
  confidence: number;
  box: { x1: number; y1: number; x2: number; y2: number };
  track_id: number | null;
  frame_width: number;
  frame_height: number;
}

export interface DetectionsRestResponse {
  detections: JsonDetection[];
  total: number;
  page: number;
  page_size: number;
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses a time parameter: integer ns, or ISO 8601 with zone and up to 9 fractional digits. */
export function parseTimeNs(value: string, name: string): bigint {
  if (/^\d{1,20}$/.test(value)) {
    const v = BigInt(value);
    if (v < 1n << 64n) return v;
  }
  const m = ISO.exec(value);
  if (m) {
    const ms = Date.parse(`${m[1]}${m[3]}`);
    if (Number.isFinite(ms) && ms >= 0) return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  }
  throw expected('nanoseconds since the Unix epoch or an ISO 8601 date-time with a zone', name, value);
}

function parseIntParam(value: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (value === undefined || value === '') return dflt;
  if (!/^\d{1,16}$/.test(value) || Number(value) < min || Number(value) > max) throw expected(`an integer from ${min} to ${max}`, name, value);
  return Number(value);
}

export function detectionToJson(d: StoredDetection): JsonDetection {
  return {
    seq: d.seq.toString(),
    camera_id: d.cameraId,
    timestamp_ns: d.timestampNs.toString(),
    timestamp: new Date(Number(d.timestampNs / 1_000_000n)).toISOString(),
    class_id: d.classId,
    class_name: d.className,
    confidence: d.confidence,
    box: { ...d.box },
    track_id: d.trackId ?? null,
    frame_width: d.frameWidth,
    frame_height: d.frameHeight,
  };
}

/** Turns the query string into a DetectionQuery (exported for the export/CSV route, which takes the same filters). */
export function parseDetectionsQuery(query: DetectionsRestQuery): DetectionQuery {
  const q: DetectionQuery = {};
  if (query.camera_id !== undefined && query.camera_id !== '') {
    const ids = query.camera_id.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (ids.length === 0) throw expected('a camera id or a comma-separated list of camera ids', 'camera_id', query.camera_id);
    q.cameraIds = ids;
  }
  if (query.start_time !== undefined && query.start_time !== '') q.startNs = parseTimeNs(query.start_time, 'start_time');
  if (query.end_time !== undefined && query.end_time !== '') q.endNs = parseTimeNs(query.end_time, 'end_time');
  if (query.confidence_min !== undefined && query.confidence_min !== '') {
    const c = Number(query.confidence_min);
    if (!/^(0|1|0?\.\d+|1\.0*)$/.test(query.confidence_min) || !(c >= 0 && c <= 1)) throw expected('a number from 0 to 1', 'confidence_min', query.confidence_min);
    q.minConfidence = c;
  }
  if (query.class !== undefined && query.class !== '') q.className = query.class;
  if (query.track_id !== undefined && query.track_id !== '') {
    if (!/^-?\d{1,10}$/.test(query.track_id) || Math.abs(Number(query.track_id)) > 0x7fffffff) throw expected('an integer track id', 'track_id', query.track_id);
    q.trackId = Number(query.track_id);
  }
  return q;
}

/** `GET /detections`: one page, the exact total, and a cursor for the next page. */
export function getDetections(store: DetectionStore, query: DetectionsRestQuery): DetectionsRestResponse {
  const q = parseDetectionsQuery(query);
  const pageSize = parseIntParam(query.page_size, 'page_size', 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
  const page = parseIntParam(query.page, 'page', 1, Number.MAX_SAFE_INTEGER, 1);
  const cursor = query.cursor === undefined || query.cursor === '' ? null : query.cursor;
  const r = store.queryPage(q, cursor ? { pageSize, cursor } : { pageSize, page });
  return { detections: r.detections.map(detectionToJson), total: r.total ?? 0, page: r.page, page_size: r.pageSize, next_cursor: r.nextCursor };
}

/** Streaming export as NDJSON lines (one JsonDetection per line), for `GET /detections/export`. */
export async function* exportNdjson(store: DetectionStore, query: DetectionsRestQuery): AsyncGenerator<string> {
  for await (const d of store.export(parseDetectionsQuery(query))) yield `${JSON.stringify(detectionToJson(d))}\n`;
}
