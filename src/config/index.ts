/**
 * Configuration: a YAML file (optional) with ${VIGIL_*} environment substitution, validated with errors that name
 * the offending key, over embedded defaults that run with no file at all: one looping sample camera (the vtest
 * clip made by set-up), data in ./data, REST/WebSocket on port 8001.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VigilConfigError, VigilError } from '../errors.js';
import type { CameraSettings } from '../camera/camera.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import type { AuthConfig } from '../auth/service.js';
import { parseIntegrations, type IntegrationsConfig } from './integrations.js';
import { DEFAULT_MOTION, num, parseCameraSettings, rethrowAsConfig } from './cameras.js';
import { cameraTensorFor, parseDetectorOptions, type DetectorOptions } from '../inference/detector-options.js';
import { parseClusterOptions, type ClusterOptions } from '../cluster/options.js';

export { DEFAULT_MOTION };
import { PACKAGE_ROOT } from '../package-root.js';

export const PROJECT_ROOT = PACKAGE_ROOT;
export const SAMPLE_CLIP = join(PROJECT_ROOT, '.cache', 'media', 'vtest-h264.mp4');

export interface VigilConfig {
  /**
   * `publicUrl`: how people reach this server (links in notifications), e.g. "https://vigil.example.com";
   * null: http://localhost:<port>.
   */
  server: { host: string; port: number; corsOrigins: string[]; publicUrl: string | null };
  /**
   * Track and alert snapshots: JPEG `quality` 1-100, scaled to at most `maxWidth` pixels wide (0: source size),
   * `fsync` 'always' (a file is durable before the index names it) or 'never'.
   */
  snapshots: { enabled: boolean; quality: number; maxWidth: number; fsync: 'always' | 'never' };
  /** Appearance embeddings of ended tracks for POST /search; null model path: the one set-up converts. */
  search: { enabled: boolean; embedderModelPath: string | null };
  /** Object detection on every camera's tensor stream (src/inference/detector-options.ts); null: off. */
  detector: DetectorOptions | null;
  /**
   * Adaptive analysis rate: a camera without live tracks is analysed at `quietFps` (frames with motion only), and
   * rises to its detectFps from its first live track until `holdMs` after its last; null: always detectFps.
   */
  analysis: { quietFps: number; holdMs: number } | null;
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
  /** One node of a NATS JetStream cluster (src/cluster/options.ts); null or absent: a single server, no NATS. */
  cluster?: ClusterOptions | null;
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

export function defaultCameras(): unknown[] {
  return [{ id: 'sample', name: 'Sample (vtest pedestrians)', source: { kind: 'file', path: SAMPLE_CLIP, loop: true, realtime: true } }];
}

/** Parses a config object (already YAML-decoded). `baseDir` resolves relative paths. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): VigilConfig {
  if (raw === null || raw === undefined) raw = {};
  if (!isObject(raw)) throw new VigilConfigError(`Expected a mapping at the top of the config but received ${JSON.stringify(raw)}`);
  const server = isObject(raw.server) ? raw.server : {};
  const detector = rethrowAsConfig(() => parseDetectorOptions(raw.detector, 'detector', baseDir));
  // Cameras letterbox into the detector's input (and into its crop size for motion regions) unless they say otherwise.
  const userDefaults = isObject(raw.cameraDefaults) ? raw.cameraDefaults : {};
  const defaults = detector
    ? { ...userDefaults, tensor: { ...cameraTensorFor(detector), ...(isObject(userDefaults.tensor) ? userDefaults.tensor : {}) } }
    : userDefaults;
  const camerasRaw = raw.cameras === undefined ? defaultCameras() : raw.cameras;
  if (!Array.isArray(camerasRaw)) throw new VigilConfigError(`Expected a list for cameras but received ${JSON.stringify(camerasRaw)}`);
  const dataDirRaw = typeof raw.dataDir === 'string' ? raw.dataDir : 'data';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(baseDir, dataDirRaw);
  const recRaw = isObject(raw.recording) ? raw.recording : {};
  const recordingsDir = typeof recRaw.directory === 'string' ? resolve(baseDir, recRaw.directory) : join(dataDir, 'recordings');
  const parsed = camerasRaw.map((c, i) => parseCameraSettings(c, `cameras[${i}]`, defaults));
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
    for (const s of [c.source, c.recordSource]) if (s?.kind === 'file' && !isAbsolute(s.path)) s.path = resolve(baseDir, s.path);
  }
  const cors = server.corsOrigins ?? [];
  if (!Array.isArray(cors) || !cors.every((o) => typeof o === 'string')) {
    throw new VigilConfigError(`Expected a list of origins for server.corsOrigins but received ${JSON.stringify(cors)}`);
  }
  const analysisRaw = raw.analysis === false ? null : isObject(raw.analysis) ? raw.analysis : raw.analysis === undefined ? {} : undefined;
  if (analysisRaw === undefined) throw new VigilConfigError(`Expected an object or false for analysis but received ${JSON.stringify(raw.analysis)}`);
  const rulesRaw = raw.rules ?? [];
  if (!Array.isArray(rulesRaw)) throw new VigilConfigError(`Expected a list for rules but received ${JSON.stringify(rulesRaw)}`);
  const notify = isObject(raw.notify) ? raw.notify : {};
  if (server.publicUrl !== undefined && (typeof server.publicUrl !== 'string' || !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(server.publicUrl))) {
    throw new VigilConfigError(`Expected an http(s) URL such as "https://vigil.example.com" for server.publicUrl but received ${JSON.stringify(server.publicUrl)}`);
  }
  const snaps = raw.snapshots === false ? { enabled: false } : isObject(raw.snapshots) ? raw.snapshots : {};
  const snapsFsync = snaps.fsync ?? 'always';
  if (snapsFsync !== 'always' && snapsFsync !== 'never') {
    throw new VigilConfigError(`Expected "always" or "never" for snapshots.fsync but received ${JSON.stringify(snaps.fsync)}`);
  }
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
    snapshots: {
      enabled: snaps.enabled !== false,
      quality: num(snaps.quality, 'snapshots.quality', 1, 100, 60),
      maxWidth: snaps.maxWidth === 0 ? 0 : num(snaps.maxWidth, 'snapshots.maxWidth', 16, 16384, 640),
      fsync: snapsFsync,
    },
    search: {
      enabled: search.enabled !== false,
      embedderModelPath: typeof search.embedderModelPath === 'string' ? resolve(baseDir, search.embedderModelPath) : null,
    },
    detector,
    analysis: analysisRaw === null ? null : {
      quietFps: num(analysisRaw.quietFps, 'analysis.quietFps', 0.1, 30, 1, false),
      holdMs: num(analysisRaw.holdS, 'analysis.holdS', 0, 600, 3, false) * 1000,
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
    cluster: rethrowAsConfig(() => parseClusterOptions(raw.cluster, 'cluster')),
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
