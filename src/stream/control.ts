/**
 * Client → server control protocol: small JSON text frames, strictly validated before use.
 *
 * Why JSON and not FlatBuffers: the FlatBuffers TypeScript runtime has no verifier, so reading an untrusted binary
 * buffer means hand-written bounds checks for every offset; client messages are rare (a few per connection) and
 * tiny, so a size-capped JSON.parse plus an exact shape check is simpler and safer, and costs nothing measurable.
 * Binary frames from clients are refused.
 *
 *   {"type":"subscribe","id":"s1","cameras":["cam-1"],"classes":["person",2],"min_confidence":0.5,
 *    "kinds":["detections","alerts"],"resume_after":1234}
 *   {"type":"unsubscribe","id":"u1"}
 *   {"type":"auth","id":"a1","token":"<a fresh access token of the same user>"}
 *
 * `auth` carries a new access token for the open connection before the old one expires (the server closes the
 * socket with 4001 when the token it holds expires or its session is revoked).
 *
 * Every field but `type` is optional: no `cameras` = every camera in the user's scope, no `classes` = all classes,
 * no `kinds` = all kinds, `resume_after` = replay retained events with seq > resume_after before going live.
 */
import { VigilError, describeValue } from '../errors.js';
import { EVENT_KINDS, type EventKind } from './events.js';

export const MAX_CONTROL_BYTES = 8 * 1024;

export interface SubscribeRequest {
  type: 'subscribe';
  id: string;
  cameras?: string[];
  classes?: Array<string | number>;
  minConfidence: number;
  kinds?: EventKind[];
  resumeAfter?: number;
}
export interface UnsubscribeRequest {
  type: 'unsubscribe';
  id: string;
}
export interface AuthRequest {
  type: 'auth';
  id: string;
  token: string;
}
export type ControlRequest = SubscribeRequest | UnsubscribeRequest | AuthRequest;

export class ControlError extends VigilError {
  constructor(
    message: string,
    readonly requestId = '',
  ) {
    super('E_BAD_REQUEST', message);
  }
}

const SUBSCRIBE_KEYS = new Set(['type', 'id', 'cameras', 'classes', 'min_confidence', 'kinds', 'resume_after']);

function bad(what: string, name: string, value: unknown, id: string): ControlError {
  return new ControlError(`Expected ${what} for ${name} but received ${describeValue(value)}`, id);
}

/** Parses and validates one control frame; throws ControlError with the request id when one could be read. */
export function parseControl(data: ArrayBuffer, isBinary: boolean): ControlRequest {
  if (isBinary) throw new ControlError('Binary frames are not accepted; send JSON text control messages');
  if (data.byteLength > MAX_CONTROL_BYTES)
    throw new ControlError(`Control message of ${data.byteLength} bytes exceeds ${MAX_CONTROL_BYTES} bytes`);
  let msg: unknown;
  try {
    msg = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch {
    throw new ControlError('Control message is not valid UTF-8 JSON');
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    throw new ControlError(`Expected a JSON object for message but received ${describeValue(msg)}`);
  const m = msg as Record<string, unknown>;
  const idRaw = m['id'] ?? '';
  if (typeof idRaw !== 'string' || idRaw.length > 64) throw bad('a string of at most 64 characters', 'id', idRaw, '');
  const id = idRaw;
  if (m['type'] === 'unsubscribe') {
    for (const k of Object.keys(m)) if (k !== 'type' && k !== 'id') throw new ControlError(`Unknown field ${JSON.stringify(k)}`, id);
    return { type: 'unsubscribe', id };
  }
  if (m['type'] === 'auth') {
    for (const k of Object.keys(m)) if (k !== 'type' && k !== 'id' && k !== 'token') throw new ControlError(`Unknown field ${JSON.stringify(k)}`, id);
    const token = m['token'];
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw bad('an access token', 'token', typeof token === 'string' ? '(hidden)' : token, id);
    return { type: 'auth', id, token };
  }
  if (m['type'] !== 'subscribe') throw bad('"subscribe", "unsubscribe" or "auth"', 'type', m['type'], id);
  for (const k of Object.keys(m)) if (!SUBSCRIBE_KEYS.has(k)) throw new ControlError(`Unknown field ${JSON.stringify(k)}`, id);
  const req: SubscribeRequest = { type: 'subscribe', id, minConfidence: 0 };
  const cams = m['cameras'];
  if (cams !== undefined) {
    if (!Array.isArray(cams) || cams.length > 1000 || !cams.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 128))
      throw bad('an array of up to 1000 camera id strings', 'cameras', cams, id);
    req.cameras = cams as string[];
  }
  const classes = m['classes'];
  if (classes !== undefined) {
    if (
      !Array.isArray(classes) ||
      classes.length > 1000 ||
      !classes.every(
        (c) => (typeof c === 'string' && c.length > 0 && c.length <= 128) || (Number.isInteger(c) && c >= 0 && c <= 65535),
      )
    )
      throw bad('an array of class names or class ids (0-65535)', 'classes', classes, id);
    req.classes = classes as Array<string | number>;
  }
  const mc = m['min_confidence'];
  if (mc !== undefined) {
    if (typeof mc !== 'number' || !(mc >= 0 && mc <= 1)) throw bad('a number from 0 to 1', 'min_confidence', mc, id);
    req.minConfidence = mc;
  }
  const kinds = m['kinds'];
  if (kinds !== undefined) {
    if (!Array.isArray(kinds) || !kinds.every((k) => (EVENT_KINDS as readonly unknown[]).includes(k)))
      throw bad(`an array of ${EVENT_KINDS.join(', ')}`, 'kinds', kinds, id);
    req.kinds = kinds as EventKind[];
  }
  const ra = m['resume_after'];
  if (ra !== undefined) {
    if (!Number.isSafeInteger(ra) || (ra as number) < 0) throw bad('a non-negative integer sequence', 'resume_after', ra, id);
    req.resumeAfter = ra as number;
  }
  return req;
}
