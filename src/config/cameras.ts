/**
 * Camera settings from the config: one parser for configured cameras and for the cameras a VMS source imports
 * (src/config/integrations.ts), so both get the same defaults and checks.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../camera/backoff.js';
import type { CameraSettings } from '../camera/camera.js';
import { parseCameraInputs } from '../camera/source.js';
import { parseTensorSpec } from '../camera/tensor.js';
import type { NativeMotionOptions } from '../../bindings/index.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import { VigilConfigError, VigilError } from '../errors.js';
import { onlyKeys } from '../validate.js';

type Raw = Record<string, unknown>;

export type RecordSettings = CameraRecordingPolicy & { format: 'mp4' | 'mkv'; segmentSeconds: number };
export type ParsedCamera = CameraSettings & { record: RecordSettings };

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function num(v: unknown, name: string, min: number, max: number, dflt: number, integer = true): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new VigilConfigError(`Expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max} for ${name} but received ${JSON.stringify(v)}`);
  }
  return v;
}

export function bool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new VigilConfigError(`Expected true or false for ${name} but received ${JSON.stringify(v)}`);
  return v;
}

/** Argument errors of module parsers become config errors (same message, which names the key's path). */
export function rethrowAsConfig<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof VigilError && err.code === 'E_ARGUMENT') throw new VigilConfigError(err.message);
    throw err;
  }
}

/** The keys a camera mapping may have (cameraDefaults: all but id, name, location, source and inputs). */
export const CAMERA_KEYS = [
  'id', 'name', 'location', 'source', 'inputs', 'tensor', 'detectFps', 'decodeThreads', 'decodeDeblock', 'stallTimeoutMs',
  'startTimeoutMs', 'backoff', 'backoffResetMs', 'queueSize', 'poolSize', 'motion', 'record',
];
export const CAMERA_DEFAULT_KEYS = CAMERA_KEYS.filter((k) => !['id', 'name', 'location', 'source', 'inputs'].includes(k));

/** `cameraDefaults`: a mapping of camera keys every camera (and every VMS-imported camera) starts from. */
export function checkCameraDefaults(v: unknown): Raw {
  if (!isObject(v)) throw new VigilConfigError(`Expected a mapping for cameraDefaults but received ${JSON.stringify(v)}`);
  rethrowAsConfig(() => onlyKeys(v, 'cameraDefaults', CAMERA_DEFAULT_KEYS));
  return v;
}

export function parseRecord(v: unknown, at: string): RecordSettings {
  const r = isObject(v) ? v : v === undefined ? {} : null;
  if (!r) throw new VigilConfigError(`Expected an object for ${at} but received ${JSON.stringify(v)}`);
  rethrowAsConfig(() => onlyKeys(r, at, ['mode', 'format', 'segmentSeconds', 'maxAgeHours', 'preRollS', 'postRollS']));
  const mode = r.mode ?? 'off';
  if (mode !== 'off' && mode !== 'continuous' && mode !== 'event') {
    throw new VigilConfigError(`Expected "off", "continuous" or "event" for ${at}.mode but received ${JSON.stringify(mode)}`);
  }
  const format = r.format ?? 'mp4';
  if (format !== 'mp4' && format !== 'mkv') throw new VigilConfigError(`Expected "mp4" or "mkv" for ${at}.format but received ${JSON.stringify(format)}`);
  return {
    mode,
    format,
    segmentSeconds: num(r.segmentSeconds, `${at}.segmentSeconds`, 1, 3600, mode === 'event' ? 4 : 60),
    maxAgeS: num(r.maxAgeHours, `${at}.maxAgeHours`, 0, 24 * 3650, 24 * 7, false) * 3600,
    preRollS: num(r.preRollS, `${at}.preRollS`, 0, 600, 5, false),
    postRollS: num(r.postRollS, `${at}.postRollS`, 0, 3600, 10, false),
  };
}

/**
 * One camera's settings from its mapping over `defaults` (cameraDefaults). `pathOf(key)` names where a key's value
 * came from in the config, for error messages: `cameras[2].detectFps`, or for a VMS source's camera template
 * `integrations.vms[0].camera.tensor`.
 */
export function parseCameraSettings(raw: unknown, at: string, defaults: Raw, pathOf: (key: string) => string = (k) => `${at}.${k}`): ParsedCamera {
  if (!isObject(raw)) throw new VigilConfigError(`Expected an object for ${at} but received ${JSON.stringify(raw)}`);
  rethrowAsConfig(() => onlyKeys(raw, at, CAMERA_KEYS));
  const c = { ...defaults, ...raw };
  if (typeof c.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(c.id)) {
    throw new VigilConfigError(`Expected an id of 1-64 letters, digits, _ or - for ${at}.id but received ${JSON.stringify(c.id)}`);
  }
  if (c.backoff !== undefined && !isObject(c.backoff)) throw new VigilConfigError(`Expected an object for ${pathOf('backoff')} but received ${JSON.stringify(c.backoff)}`);
  const backoffRaw = isObject(c.backoff) ? c.backoff : {};
  rethrowAsConfig(() => onlyKeys(backoffRaw, pathOf('backoff'), ['initialMs', 'maxMs', 'factor', 'jitter']));
  const backoff: BackoffOptions = {
    initialMs: num(backoffRaw.initialMs, `${pathOf('backoff')}.initialMs`, 10, 600_000, DEFAULT_BACKOFF.initialMs),
    maxMs: num(backoffRaw.maxMs, `${pathOf('backoff')}.maxMs`, 10, 3_600_000, DEFAULT_BACKOFF.maxMs),
    factor: num(backoffRaw.factor, `${pathOf('backoff')}.factor`, 1, 10, DEFAULT_BACKOFF.factor, false),
    jitter: num(backoffRaw.jitter, `${pathOf('backoff')}.jitter`, 0, 1, DEFAULT_BACKOFF.jitter, false),
  };
  if (c.name !== undefined && (typeof c.name !== 'string' || c.name.length < 1 || c.name.length > 200)) {
    throw new VigilConfigError(`Expected a string of 1-200 characters for ${at}.name but received ${JSON.stringify(c.name)}`);
  }
  if (c.location !== undefined && (typeof c.location !== 'string' || c.location.length < 1 || c.location.length > 200)) {
    throw new VigilConfigError(`Expected a string of 1-200 characters for ${pathOf('location')} but received ${JSON.stringify(c.location)}`);
  }
  return {
    id: c.id,
    name: typeof c.name === 'string' ? c.name : c.id,
    ...(typeof c.location === 'string' ? { location: c.location } : {}),
    ...rethrowAsConfig(() => parseCameraInputs(c, at)),
    tensor: rethrowAsConfig(() => parseTensorSpec(c.tensor, `${pathOf('tensor')}`)),
    detectFps: num(c.detectFps, `${pathOf('detectFps')}`, 0, 240, 5),
    decoder: {
      threads: num(c.decodeThreads, `${pathOf('decodeThreads')}`, 0, 64, 1),
      deblock: bool(c.decodeDeblock, `${pathOf('decodeDeblock')}`, true),
    },
    stallTimeoutMs: num(c.stallTimeoutMs, `${pathOf('stallTimeoutMs')}`, 100, 600_000, 5000),
    startTimeoutMs: num(c.startTimeoutMs, `${pathOf('startTimeoutMs')}`, 100, 600_000, 15_000),
    backoff,
    backoffResetMs: num(c.backoffResetMs, `${pathOf('backoffResetMs')}`, 0, 3_600_000, 10_000),
    queueSize: num(c.queueSize, `${pathOf('queueSize')}`, 1, 1024, 2),
    poolSize: num(c.poolSize, `${pathOf('poolSize')}`, 1, 256, 4),
    motion: parseMotion(c.motion, `${pathOf('motion')}`),
    recording: null,
    record: parseRecord(c.record, `${pathOf('record')}`),
  };
}

/**
 * A parsed camera made runnable: relative file paths resolved against `baseDir`, and a recorded camera (record
 * mode other than off) given its recording branch under `recordingsDir/<id>` and its recorder policy (null: not
 * recorded). The config loader and the REST camera catalog (src/camera/catalog.ts) both finish cameras here.
 */
export function finishCamera(parsed: ParsedCamera, o: { recordingsDir: string; baseDir: string }): { settings: CameraSettings; policy: CameraRecordingPolicy | null } {
  const { record, ...cam } = parsed;
  let policy: CameraRecordingPolicy | null = null;
  if (record.mode !== 'off') {
    policy = { mode: record.mode, maxAgeS: record.maxAgeS, preRollS: record.preRollS, postRollS: record.postRollS };
    cam.recording = { directory: join(o.recordingsDir, cam.id), prefix: cam.id, format: record.format, segmentSeconds: record.segmentSeconds };
  }
  for (const s of [cam.source, cam.recordSource]) if (s?.kind === 'file' && !isAbsolute(s.path)) s.path = resolve(o.baseDir, s.path);
  return { settings: cam, policy };
}

export const DEFAULT_MOTION: NativeMotionOptions = {
  downscale: 8,
  sensitivity: 0.6,
  minChangedFraction: 0.002,
  learningRate: 0.05,
  masks: [],
};

/** Motion gating is on by default (frames without change never reach inference); `motion: false` turns it off. */
function parseMotion(v: unknown, at: string): NativeMotionOptions | null {
  if (v === false || (isObject(v) && v.enabled === false)) return null;
  if (v === undefined || v === true) return { ...DEFAULT_MOTION };
  if (!isObject(v)) throw new VigilConfigError(`Expected an object or a boolean for ${at} but received ${JSON.stringify(v)}`);
  rethrowAsConfig(() => onlyKeys(v, at, ['enabled', 'downscale', 'sensitivity', 'minChangedFraction', 'learningRate', 'masks']));
  const masks = v.masks ?? [];
  const polygonsOk =
    Array.isArray(masks) &&
    masks.every(
      (poly) =>
        Array.isArray(poly) &&
        poly.length >= 3 &&
        poly.every((pt) => Array.isArray(pt) && pt.length === 2 && pt.every((n) => typeof n === 'number' && Number.isFinite(n))),
    );
  if (!polygonsOk) {
    throw new VigilConfigError(`Expected a list of polygons of at least 3 [x, y] points for ${at}.masks but received ${JSON.stringify(masks)}`);
  }
  return {
    downscale: num(v.downscale, `${at}.downscale`, 1, 64, DEFAULT_MOTION.downscale),
    sensitivity: num(v.sensitivity, `${at}.sensitivity`, 0, 1, DEFAULT_MOTION.sensitivity, false),
    minChangedFraction: num(v.minChangedFraction, `${at}.minChangedFraction`, 0, 1, DEFAULT_MOTION.minChangedFraction, false),
    learningRate: num(v.learningRate, `${at}.learningRate`, 0, 1, DEFAULT_MOTION.learningRate, false),
    masks: masks as Array<Array<[number, number]>>,
  };
}

