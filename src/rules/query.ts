/**
 * Query-string parsing for `GET /alerts`, so the REST layer only maps errors to HTTP 400:
 *   camera_id, rule_id, state (one or a comma list), start_time / end_time (ns since the epoch, decimal; or an
 *   ISO 8601 date-time), limit (1..1000, default 100), cursor (from the previous page), order (asc | desc).
 */
import { expected } from '../errors.js';
import { MAX_TIME_NS } from '../validate.js';
import type { AlertState } from '../types.js';
import type { AlertFilter } from './store.js';

const STATES: readonly AlertState[] = ['raised', 'updated', 'cleared', 'acknowledged'];

function timeParam(v: string, name: string): bigint {
  // Past the last stored nanosecond (2^64 - 1) is clamped to it: a bound, not an error (nor a key overflow).
  const clamp = (n: bigint): bigint => (n > MAX_TIME_NS ? MAX_TIME_NS : n);
  if (/^\d{1,20}$/.test(v)) return clamp(BigInt(v));
  const ms = Date.parse(v);
  if (/^\d{4}-\d{2}-\d{2}T/.test(v) && Number.isFinite(ms) && ms >= 0) return clamp(BigInt(ms) * 1_000_000n);
  throw expected('nanoseconds since the epoch or an ISO 8601 date-time', name, v);
}

export function parseAlertQuery(params: URLSearchParams): AlertFilter {
  const f: AlertFilter = {};
  const known = new Set(['camera_id', 'rule_id', 'state', 'start_time', 'end_time', 'limit', 'cursor', 'order']);
  for (const k of params.keys()) if (!known.has(k)) throw expected(`one of the parameters ${[...known].join(', ')}`, 'query', k);
  const cam = params.get('camera_id');
  if (cam !== null) f.cameraId = cam;
  const rule = params.get('rule_id');
  if (rule !== null) f.ruleId = rule;
  const state = params.get('state');
  if (state !== null) {
    const list = state.split(',').map((s) => s.trim());
    for (const s of list) if (!(STATES as readonly string[]).includes(s)) throw expected(`an alert state (${STATES.join(', ')})`, 'state', s);
    f.state = list as AlertState[];
  }
  const start = params.get('start_time');
  if (start !== null) f.since = timeParam(start, 'start_time');
  const end = params.get('end_time');
  if (end !== null) f.until = timeParam(end, 'end_time');
  const limit = params.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > 1000) throw expected('an integer from 1 to 1000', 'limit', limit);
    f.limit = n;
  }
  const cursor = params.get('cursor');
  if (cursor !== null) {
    if (!/^[\w.:-]{1,128}$/.test(cursor)) throw expected('a cursor from a previous page', 'cursor', cursor);
    f.cursor = cursor;
  }
  const order = params.get('order');
  if (order !== null) {
    if (order !== 'asc' && order !== 'desc') throw expected('"asc" or "desc"', 'order', order);
    f.order = order;
  }
  return f;
}

/** JSON form of an alert for the API and the WebSocket's JSON fallback: nanosecond fields as decimal strings. */
export function alertToJson(a: import('../types.js').Alert): Record<string, unknown> {
  return { ...a, raisedNs: a.raisedNs.toString(), updatedNs: a.updatedNs.toString(), clearedNs: a.clearedNs === null ? null : a.clearedNs.toString() };
}
