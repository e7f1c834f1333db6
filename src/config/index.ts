/**
 * Configuration: a YAML file (optional) with ${VIGIL_*} environment substitution, validated with errors that name
 * the offending key, over embedded defaults that run with no file at all: one looping sample camera (the vtest
 * clip made by set-up), data in ./data, REST/WebSocket on port 8001.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VigilConfigError, VigilError } from '../errors.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from '../camera/backoff.js';
import type { CameraSettings } from '../camera/camera.js';
import { parseSource } from '../camera/source.js';
import { parseTensorSpec } from '../camera/tensor.js';
import type { NativeMotionOptions } from '../../bindings/index.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import type { AuthConfig } from '../auth/service.js';
import { parseIntegrations, type IntegrationsConfig } from './integrations.js';
import { PACKAGE_ROOT } from '../package-root.js';

export const PROJECT_ROOT = PACKAGE_ROOT;
export const SAMPLE_CLIP = join(PROJECT_ROOT, '.cache', 'media', 'vtest-h264.mp4');

export interface VigilConfig {
  /**
   * `publicUrl`: how people reach this server (links in notifications), e.g. "https://vigil.example.com";
   * null: http://localhost:<port>.
   */
  server: { host: string; port: number; corsOrigins: string[]; publicUrl: string | null };
  /** Track and alert snapshots (JPEG quality 1-100). */
  snapshots: { enabled: boolean; quality: number };
  /** Appearance embeddings of ended tracks for POST /search; null model path: the one set-up converts. */
  search: { enabled: boolean; embedderModelPath: string | null };
  /** Object detection on every camera's tensor stream. */
  detector: { enabled: boolean; modelPath: string | null; scoreThreshold: number };
  /** Rule definitions (validated by the rules module, with paths "rules[i]..."). */
  rules: unknown[];
  /** IANA time zone for rule schedules without their own. */
  rulesTimezone: string;
  /** Notification channels (validated by the notification module). */
  /**
   * `allow`: "host:port" destinations on private or loopback addresses that webhooks may still reach (an on-site
   * receiver); everything else private is refused by the outbound URL policy.
   */
  notify: { channels: unknown; allow: string[] };
  /** JWT and LDAP settings (the auth module validates them; the secret is generated when absent). */
  auth: Omit<AuthConfig, 'dataDir'>;
  dataDir: string;
  cameras: CameraSettings[];
  /** Per camera; cameras without an entry are not recorded. */
  recordingPolicies: Map<string, CameraRecordingPolicy>;
  recording: { directory: string; minFreeBytes: number; maxBytes: number };
  /** Detections of cameras without a recording age are kept this long (ms); null: until the disk floor needs room. */
  detectionsMaxAgeMs: number | null;
  /** Seconds between per-camera status log lines. */
  statusIntervalS: number;
  /** VMS sources, message-queue sinks and the media store (src/config/integrations.ts). */
  integrations: IntegrationsConfig;
}

type Raw = Record<string, unknown>;

/** Replaces ${VIGIL_NAME} (and ${VIGIL_NAME:-default}) with environment values; other variables are refused. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, dflt: string | undefined) => {
    if (!name.startsWith('VIGIL_')) {
      throw new VigilConfigError(`Only VIGIL_* variables can be substituted in the config, found \${${name}}`);
    }
    const v = env[name];
    if (v !== undefined) return v;
    if (dflt !== undefined) return dflt;
    throw new VigilConfigError(`The config uses \${${name}} but it is not set in the environment`);
  });
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, name: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) {
    throw new VigilConfigError(`Expected a list of strings for ${name} but received ${JSON.stringify(v)}`);
  }
  return v as string[];
}

function num(v: unknown, name: string, min: number, max: number, dflt: number, integer = true): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new VigilConfigError(`Expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max} for ${name} but received ${JSON.stringify(v)}`);
  }
  return v;
}

function rethrowAsConfig<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof VigilError && err.code === 'E_ARGUMENT') throw new VigilConfigError(err.message);
    throw err;
  }
}

function parseRecord(v: unknown, at: string): CameraRecordingPolicy & { format: 'mp4' | 'mkv'; segmentSeconds: number } {
  const r = isObject(v) ? v : v === undefined ? {} : null;
  if (!r) throw new VigilConfigError(`Expected an object for ${at} but received ${JSON.stringify(v)}`);
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

function parseCamera(raw: unknown, i: number, defaults: Raw, recordingsDir: string): CameraSettings & { record: ReturnType<typeof parseRecord> } {
  const at = `cameras[${i}]`;
  if (!isObject(raw)) throw new VigilConfigError(`Expected an object for ${at} but received ${JSON.stringify(raw)}`);
  const c = { ...defaults, ...raw };
  if (typeof c.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(c.id)) {
    throw new VigilConfigError(`Expected an id of 1-64 letters, digits, _ or - for ${at}.id but received ${JSON.stringify(c.id)}`);
  }
  const backoffRaw = isObject(c.backoff) ? c.backoff : {};
  const backoff: BackoffOptions = {
    initialMs: num(backoffRaw.initialMs, `${at}.backoff.initialMs`, 10, 600_000, DEFAULT_BACKOFF.initialMs),
    maxMs: num(backoffRaw.maxMs, `${at}.backoff.maxMs`, 10, 3_600_000, DEFAULT_BACKOFF.maxMs),
    factor: num(backoffRaw.factor, `${at}.backoff.factor`, 1, 10, DEFAULT_BACKOFF.factor, false),
    jitter: num(backoffRaw.jitter, `${at}.backoff.jitter`, 0, 1, DEFAULT_BACKOFF.jitter, false),
  };
  return {
    id: c.id,
    name: typeof c.name === 'string' ? c.name : c.id,
    source: rethrowAsConfig(() => parseSource(c.source, `${at}.source`)),
    tensor: rethrowAsConfig(() => parseTensorSpec(c.tensor, `${at}.tensor`)),
    detectFps: num(c.detectFps, `${at}.detectFps`, 0, 240, 5),
    decoder: {
      threads: num(c.decodeThreads, `${at}.decodeThreads`, 0, 64, 1),
    },
    stallTimeoutMs: num(c.stallTimeoutMs, `${at}.stallTimeoutMs`, 100, 600_000, 5000),
    startTimeoutMs: num(c.startTimeoutMs, `${at}.startTimeoutMs`, 100, 600_000, 15_000),
    backoff,
    backoffResetMs: num(c.backoffResetMs, `${at}.backoffResetMs`, 0, 3_600_000, 10_000),
    queueSize: num(c.queueSize, `${at}.queueSize`, 1, 1024, 2),
    poolSize: num(c.poolSize, `${at}.poolSize`, 1, 256, 4),
    motion: parseMotion(c.motion, `${at}.motion`),
    recording: null,
    record: parseRecord(c.record, `${at}.record`),
  };
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

export function defaultCameras(): unknown[] {
  return [{ id: 'sample', name: 'Sample (vtest pedestrians)', source: { kind: 'file', path: SAMPLE_CLIP, loop: true, realtime: true } }];
}

/** Parses a config object (already YAML-decoded). `baseDir` resolves relative paths. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): VigilConfig {
  if (raw === null || raw === undefined) raw = {};
  if (!isObject(raw)) throw new VigilConfigError(`Expected a mapping at the top of the config but received ${JSON.stringify(raw)}`);
  const server = isObject(raw.server) ? raw.server : {};
  const defaults = isObject(raw.cameraDefaults) ? raw.cameraDefaults : {};
  const camerasRaw = raw.cameras === undefined ? defaultCameras() : raw.cameras;
  if (!Array.isArray(camerasRaw)) throw new VigilConfigError(`Expected a list for cameras but received ${JSON.stringify(camerasRaw)}`);
  const dataDirRaw = typeof raw.dataDir === 'string' ? raw.dataDir : 'data';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(baseDir, dataDirRaw);
  const recRaw = isObject(raw.recording) ? raw.recording : {};
  const recordingsDir = typeof recRaw.directory === 'string' ? resolve(baseDir, recRaw.directory) : join(dataDir, 'recordings');
  const parsed = camerasRaw.map((c, i) => parseCamera(c, i, defaults, recordingsDir));
  const recordingPolicies = new Map<string, CameraRecordingPolicy>();
  const cameras: CameraSettings[] = parsed.map(({ record, ...cam }) => {
    if (record.mode !== 'off') {
      recordingPolicies.set(cam.id, { mode: record.mode, maxAgeS: record.maxAgeS, preRollS: record.preRollS, postRollS: record.postRollS });
      cam.recording = { directory: join(recordingsDir, cam.id), prefix: cam.id, format: record.format, segmentSeconds: record.segmentSeconds };
    }
    return cam;
  });
  const ids = new Set<string>();
  for (const c of cameras) {
    if (ids.has(c.id)) throw new VigilConfigError(`Camera id ${c.id} is used twice in cameras`);
    ids.add(c.id);
    if (c.source.kind === 'file' && !isAbsolute(c.source.path)) c.source.path = resolve(baseDir, c.source.path);
  }
  const cors = server.corsOrigins ?? [];
  if (!Array.isArray(cors) || !cors.every((o) => typeof o === 'string')) {
    throw new VigilConfigError(`Expected a list of origins for server.corsOrigins but received ${JSON.stringify(cors)}`);
  }
  const det = raw.detector === false ? { enabled: false } : isObject(raw.detector) ? raw.detector : {};
  if (det.modelPath !== undefined && typeof det.modelPath !== 'string') {
    throw new VigilConfigError(`Expected a file path for detector.modelPath but received ${JSON.stringify(det.modelPath)}`);
  }
  const rulesRaw = raw.rules ?? [];
  if (!Array.isArray(rulesRaw)) throw new VigilConfigError(`Expected a list for rules but received ${JSON.stringify(rulesRaw)}`);
  const notify = isObject(raw.notify) ? raw.notify : {};
  if (server.publicUrl !== undefined && (typeof server.publicUrl !== 'string' || !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(server.publicUrl))) {
    throw new VigilConfigError(`Expected an http(s) URL such as "https://vigil.example.com" for server.publicUrl but received ${JSON.stringify(server.publicUrl)}`);
  }
  const snaps = raw.snapshots === false ? { enabled: false } : isObject(raw.snapshots) ? raw.snapshots : {};
  const search = raw.search === false ? { enabled: false } : isObject(raw.search) ? raw.search : {};
  if (search.embedderModelPath !== undefined && typeof search.embedderModelPath !== 'string') {
    throw new VigilConfigError(`Expected a file path for search.embedderModelPath but received ${JSON.stringify(search.embedderModelPath)}`);
  }
  return {
    server: {
      host: typeof server.host === 'string' ? server.host : '0.0.0.0',
      port: num(server.port, 'server.port', 0, 65535, 8001),
      corsOrigins: cors as string[],
      publicUrl: typeof server.publicUrl === 'string' ? server.publicUrl.replace(/\/+$/, '') : null,
    },
    snapshots: { enabled: snaps.enabled !== false, quality: num(snaps.quality, 'snapshots.quality', 1, 100, 85) },
    search: {
      enabled: search.enabled !== false,
      embedderModelPath: typeof search.embedderModelPath === 'string' ? resolve(baseDir, search.embedderModelPath) : null,
    },
    detector: {
      enabled: det.enabled !== false,
      modelPath: typeof det.modelPath === 'string' ? resolve(baseDir, det.modelPath) : null,
      scoreThreshold: num(det.scoreThreshold, 'detector.scoreThreshold', 0, 1, 0.4, false),
    },
    rules: rulesRaw,
    rulesTimezone: typeof raw.rulesTimezone === 'string' ? raw.rulesTimezone : 'UTC',
    notify: { channels: notify.channels ?? {}, allow: stringList(notify.allow, 'notify.allow') },
    auth: (isObject(raw.auth) ? raw.auth : {}) as Omit<AuthConfig, 'dataDir'>,
    dataDir,
    cameras,
    recordingPolicies,
    recording: {
      directory: recordingsDir,
      minFreeBytes: Math.round(num(recRaw.minFreeGb, 'recording.minFreeGb', 0, 1e6, 1, false) * 2 ** 30),
      maxBytes: Math.round(num(recRaw.maxGb, 'recording.maxGb', 0, 1e6, 0, false) * 2 ** 30),
    },
    statusIntervalS: num(raw.statusIntervalS, 'statusIntervalS', 1, 3600, 10),
    integrations: parseIntegrations(raw.integrations, { raw, dataDir, baseDir }),
    detectionsMaxAgeMs: raw.detectionsMaxAgeDays === undefined ? 30 * 86_400_000 : num(raw.detectionsMaxAgeDays, 'detectionsMaxAgeDays', 0, 36500, 30, false) * 86_400_000 || null,
  };
}

/** Loads `path` if given (or VIGIL_CONFIG), else the embedded defaults. */
export function loadConfig(path = process.env.VIGIL_CONFIG): VigilConfig {
  if (!path) return parseConfig({}, PROJECT_ROOT);
  if (!existsSync(path)) throw new VigilConfigError(`Config file not found: ${path}`);
  let doc: unknown;
  try {
    doc = parseYaml(substituteEnv(readFileSync(path, 'utf8')));
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilConfigError(`Config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(doc, dirname(resolve(path)));
}
