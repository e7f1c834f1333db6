/**
 * Configuration: a YAML file (optional) with ${VIGIL_*} environment substitution, validated with errors that name
 * the offending key, over embedded defaults that run with no file at all: one looping sample camera (the vtest
 * clip made by set-up), data in ./data, REST/WebSocket on port 8001.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VigilConfigError, VigilError } from '../errors.js';
import type { CameraSettings } from '../camera/camera.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import type { AuthConfig } from '../auth/service.js';
import { parseIntegrations, type IntegrationsConfig } from './integrations.js';
import { DEFAULT_MOTION, checkCameraDefaults, finishCamera, num, parseCameraSettings, rethrowAsConfig } from './cameras.js';
import { cameraTensorFor, parseDetectorOptions, type DetectorOptions } from '../inference/detector-options.js';
import { bool, onlyKeys } from '../validate.js';
import { parseChannelOptions } from '../integrations/notify/channels.js';
import { validateRules } from '../rules/validate.js';
import { parseAuthSettings } from './auth.js';
import { TOP_HINTS } from './doc-keys.js';
import { parseClusterOptions, type ClusterOptions } from '../cluster/options.js';

export { DEFAULT_MOTION };
import { PACKAGE_ROOT } from '../package-root.js';
import { parseLogOptions, type LogOptions } from '../log.js';
import { parseFrigateOptions, type FrigateOptions } from '../integrations/mqtt-frigate/options.js';

export const PROJECT_ROOT = PACKAGE_ROOT;
export const SAMPLE_CLIP = join(PROJECT_ROOT, '.cache', 'media', 'vtest-h264.mp4');

export interface VigilConfig {
  /**
   * `publicUrl`: how people reach this server (links in notifications), e.g. "https://vigil.example.com";
   * null: http://localhost:<port>.
   */
  server: {
    host: string;
    port: number;
    corsOrigins: string[];
    publicUrl: string | null;
    /** Answer HTTP/1.0 requests (health checks of load balancers) through a local relay (src/http/server.ts); default false. */
    http10: boolean;
    /**
     * Seconds between hand-backs of glibc's free heap pages to the kernel (malloc_trim on a worker thread,
     * src/services/process.ts); 0: never. Default 30.
     */
    heapTrimIntervalS: number;
    /**
     * Seconds between memory-reducing collections of the V8 heap (a moderate memory-pressure notification:
     * incremental marking that evacuates fragmented pages, src/services/process.ts); 0: never. Default 300.
     */
    v8HeapReduceIntervalS: number;
  };
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
  /** `cameraDefaults` as cameras are parsed with (the detector's tensor included): REST-added cameras use it too. */
  cameraDefaults?: Record<string, unknown>;
  /** Folder relative paths of the config resolve against (the config file's folder). */
  baseDir?: string;
  /** `log: { level, format }` (src/log.ts); VIGIL_LOG_LEVEL / VIGIL_LOG_FORMAT override it. */
  log?: LogOptions;
  /** Frigate-compatible MQTT and Home Assistant discovery (src/integrations/mqtt-frigate/options.ts); null: off. */
  frigate?: FrigateOptions | null;
  /** One node of a NATS JetStream cluster (src/cluster/options.ts); null or absent: a single server, no NATS. */
  cluster?: ClusterOptions | null;
}

type Raw = Record<string, unknown>;

/** A secret file's text without its final line break (how `echo secret > file` and Docker secrets write them). */
function readSecretFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new VigilConfigError(`The config reads ${what} from ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Replaces ${VIGIL_NAME} (and ${VIGIL_NAME:-default}) with environment values; other variables are refused. A
 * variable that is not set is read from the file named by VIGIL_NAME_FILE when that is set (Docker / systemd
 * credentials), and ${file:PATH} is replaced by a file's text (relative to `baseDir`, the config file's folder), so
 * secrets need not sit in the file or in the environment. Values are inserted as text: quote them in YAML.
 */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): string {
  return text.replace(/\$\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?)\}/g, (_, file: string | undefined, name: string, dflt: string | undefined) => {
    if (file !== undefined) return readSecretFile(resolve(baseDir, file.trim()), `\${file:${file}}`);
    if (!name.startsWith('VIGIL_')) {
      throw new VigilConfigError(`Only VIGIL_* variables can be substituted in the config, found \${${name}}`);
    }
    const v = env[name];
    if (v !== undefined) return v;
    const fromFile = env[`${name}_FILE`];
    if (fromFile !== undefined && fromFile !== '') return readSecretFile(resolve(baseDir, fromFile), `\${${name}} (${name}_FILE)`);
    if (dflt !== undefined) return dflt;
    throw new VigilConfigError(`The config uses \${${name}} but it is not set in the environment`);
  });
}

/** `over` laid on `base`: mappings merge key by key; anything else (a list included) from `over` replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
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

/**
 * Keys of the file's top level (each section's parser checks its own). `environment` names the file's environment
 * (the integration document's files carry it); Vigil only reads VIGIL_ENV.
 */
export const TOP_KEYS = [
  'environment', 'server', 'snapshots', 'search', 'detector', 'analysis', 'rules', 'rulesTimezone', 'notify', 'auth', 'dataDir',
  'cameras', 'cameraDefaults', 'recording', 'detectionsMaxAgeDays', 'statusIntervalS', 'integrations', 'log', 'frigate', 'cluster',
];
const SECTION_KEYS: Record<string, readonly string[]> = {
  server: ['host', 'port', 'corsOrigins', 'publicUrl', 'http10', 'heapTrimIntervalS', 'v8HeapReduceIntervalS'],
  snapshots: ['enabled', 'quality', 'maxWidth', 'fsync'],
  search: ['enabled', 'embedderModelPath'],
  analysis: ['quietFps', 'holdS'],
  notify: ['channels', 'allow'],
  recording: ['directory', 'minFreeGb', 'maxGb'],
};

/** A section that must be a mapping (or absent), with only its known keys. */
function section(raw: Raw, key: string, orFalse = false): Raw {
  const v = raw[key];
  if (v === undefined || v === null || (orFalse && v === false)) return {};
  if (!isObject(v)) throw new VigilConfigError(`Expected an object${orFalse ? ' or false' : ''} for ${key} but received ${JSON.stringify(v)}`);
  rethrowAsConfig(() => onlyKeys(v, key, SECTION_KEYS[key]!));
  return v;
}

export function defaultCameras(): unknown[] {
  return [{ id: 'sample', name: 'Sample (vtest pedestrians)', source: { kind: 'file', path: SAMPLE_CLIP, loop: true, realtime: true } }];
}

/**
 * Every analysed frame of a camera goes to the detector as it is: a tensor of another size or layout would fail
 * on every frame (the README's 640x640 nhwc-u8 example did, several log lines a second). Refused at start, naming
 * the camera.
 */
function checkTensorFits(c: CameraSettings, detector: DetectorOptions, path: string): void {
  const want = cameraTensorFor(detector);
  const t = c.tensor;
  if (t.width === want.width && t.height === want.height && t.layout === want.layout) return;
  throw new VigilConfigError(
    `Expected the detector's ${String(want.width)}x${String(want.height)} ${String(want.layout)} tensor (detector.model ${detector.model}) for ${path} of camera ${c.id} ` +
      `but received ${t.width}x${t.height} ${t.layout} (leave tensor out: cameras get the detector's)`,
  );
}

/** The raw `integrations.vms` list (for error paths), or []. */
function rawVmsList(raw: Raw): unknown[] {
  const i = raw.integrations;
  return isObject(i) && Array.isArray(i.vms) ? i.vms : [];
}

/** Parses a config object (already YAML-decoded). `baseDir` resolves relative paths. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): VigilConfig {
  if (raw === null || raw === undefined) raw = {};
  if (!isObject(raw)) throw new VigilConfigError(`Expected a mapping at the top of the config but received ${JSON.stringify(raw)}`);
  rethrowAsConfig(() => onlyKeys(raw as Raw, '', TOP_KEYS, TOP_HINTS));
  if (raw.environment !== undefined && (typeof raw.environment !== 'string' || raw.environment === '')) {
    throw new VigilConfigError(`Expected a non-empty string for environment but received ${JSON.stringify(raw.environment)}`);
  }
  const server = section(raw, 'server');
  for (const k of ['snapshots', 'search', 'analysis']) section(raw, k, true);
  section(raw, 'notify');
  const detector = rethrowAsConfig(() => parseDetectorOptions(raw.detector, 'detector', baseDir));
  // Cameras letterbox into the detector's input (and into its crop size for motion regions) unless they say otherwise.
  const userDefaults = raw.cameraDefaults === undefined ? {} : checkCameraDefaults(raw.cameraDefaults);
  const defaults = detector
    ? { ...userDefaults, tensor: { ...cameraTensorFor(detector), ...(isObject(userDefaults.tensor) ? userDefaults.tensor : {}) } }
    : userDefaults;
  const camerasRaw = raw.cameras === undefined ? defaultCameras() : raw.cameras;
  if (!Array.isArray(camerasRaw)) throw new VigilConfigError(`Expected a list for cameras but received ${JSON.stringify(camerasRaw)}`);
  const dataDirRaw = typeof raw.dataDir === 'string' ? raw.dataDir : 'data';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(baseDir, dataDirRaw);
  const recRaw = section(raw, 'recording');
  const recordingsDir = typeof recRaw.directory === 'string' ? resolve(baseDir, recRaw.directory) : join(dataDir, 'recordings');
  const parsed = camerasRaw.map((c, i) => parseCameraSettings(c, `cameras[${i}]`, defaults));
  const recordingPolicies = new Map<string, CameraRecordingPolicy>();
  const cameras: CameraSettings[] = parsed.map((p) => {
    const { settings, policy } = finishCamera(p, { recordingsDir, baseDir });
    if (policy) recordingPolicies.set(settings.id, policy);
    return settings;
  });
  const ids = new Set<string>();
  for (const [i, c] of cameras.entries()) {
    if (ids.has(c.id)) throw new VigilConfigError(`Camera id ${c.id} is used twice in cameras`);
    ids.add(c.id);
    if (detector) checkTensorFits(c, detector, isObject(camerasRaw[i]) && camerasRaw[i].tensor !== undefined ? `cameras[${i}].tensor` : 'cameraDefaults.tensor');
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
  // VMS-imported cameras start from the same defaults (the detector's tensor included), and must fit it as well.
  const integrations = parseIntegrations(raw.integrations, { raw, dataDir, baseDir, cameraDefaults: defaults });
  if (detector) {
    integrations.vms.forEach((v, i) => {
      const src = rawVmsList(raw)[i];
      const overridden = isObject(src) && isObject(src.camera) && src.camera.tensor !== undefined;
      checkTensorFits({ ...v.camera, id: `${v.id}-*` } as CameraSettings, detector, overridden ? `integrations.vms[${i}].camera.tensor` : 'cameraDefaults.tensor');
    });
  }
  // Checked here too (the services parse them again at start) so that `vigil config check` sees every typo.
  const channelNames = new Set(parseChannelOptions(notify.channels ?? {}, 'notify.channels').keys());
  try {
    validateRules(rulesRaw, { channels: channelNames });
  } catch (err) {
    if (err instanceof VigilError && err.code !== 'E_CONFIG') throw new VigilConfigError(err.message);
    throw err;
  }
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
      http10: rethrowAsConfig(() => bool(server.http10, 'server.http10', false)),
      heapTrimIntervalS: num(server.heapTrimIntervalS, 'server.heapTrimIntervalS', 0, 86_400, 30),
      v8HeapReduceIntervalS: num(server.v8HeapReduceIntervalS, 'server.v8HeapReduceIntervalS', 0, 86_400, 300),
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
    auth: rethrowAsConfig(() => parseAuthSettings(raw.auth, 'auth')),
    dataDir,
    cameras,
    recordingPolicies,
    recording: {
      directory: recordingsDir,
      minFreeBytes: Math.round(num(recRaw.minFreeGb, 'recording.minFreeGb', 0, 1e6, 1, false) * 2 ** 30),
      maxBytes: Math.round(num(recRaw.maxGb, 'recording.maxGb', 0, 1e6, 0, false) * 2 ** 30),
    },
    statusIntervalS: num(raw.statusIntervalS, 'statusIntervalS', 1, 3600, 10),
    integrations,
    cameraDefaults: defaults,
    baseDir,
    log: rethrowAsConfig(() => parseLogOptions(raw.log, 'log')),
    frigate: rethrowAsConfig(() => parseFrigateOptions(raw.frigate, 'frigate')),
    cluster: rethrowAsConfig(() => parseClusterOptions(raw.cluster, 'cluster')),
    detectionsMaxAgeMs: raw.detectionsMaxAgeDays === undefined ? 30 * 86_400_000 : num(raw.detectionsMaxAgeDays, 'detectionsMaxAgeDays', 0, 36500, 30, false) * 86_400_000 || null,
  };
}

/**
 * The files a configuration is made of, in merge order:
 * - `path` (or VIGIL_CONFIG) naming a file: that file;
 * - `path` naming a folder, or VIGIL_ENV set without a path: `<folder>/default.yaml` (optional) and
 *   `<folder>/<VIGIL_ENV>.yaml` (required when VIGIL_ENV is set); the folder is VIGIL_CONFIG_DIR or ./config;
 * - neither: none (the embedded defaults).
 */
export function configFiles(path: string | undefined = process.env.VIGIL_CONFIG, env: NodeJS.ProcessEnv = process.env): { files: string[]; environment: string | null } {
  const environment = env.VIGIL_ENV || null;
  if (environment !== null && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(environment)) {
    throw new VigilConfigError(`Expected an environment name of letters, digits, "_", "." or "-" for VIGIL_ENV but received ${JSON.stringify(environment)}`);
  }
  if (path && !(existsSync(path) && statSync(path).isDirectory())) {
    if (!existsSync(path)) throw new VigilConfigError(`Config file not found: ${path}`);
    return { files: [path], environment };
  }
  if (!path && environment === null) return { files: [], environment };
  const dir = path || env.VIGIL_CONFIG_DIR || resolve('config');
  const files = [join(dir, 'default.yaml')].filter((f) => existsSync(f));
  if (environment !== null) {
    const file = join(dir, `${environment}.yaml`);
    if (!existsSync(file)) throw new VigilConfigError(`Config file not found: ${file} (VIGIL_ENV=${environment})`);
    files.push(file);
  }
  if (files.length === 0) throw new VigilConfigError(`Config file not found: ${join(dir, 'default.yaml')}`);
  return { files, environment };
}

/** Whether a decoded document reaches one of its own ancestors (shared, non-recursive aliases are fine). */
function containsItself(v: unknown, ancestors = new Set<object>()): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (ancestors.has(v)) return true;
  ancestors.add(v);
  for (const x of Object.values(v)) if (containsItself(x, ancestors)) return true;
  ancestors.delete(v);
  return false;
}

/** One file decoded (after ${...} substitution); errors name the file. */
function readConfigFile(file: string, env: NodeJS.ProcessEnv): unknown {
  try {
    const doc: unknown = parseYaml(substituteEnv(readFileSync(file, 'utf8'), env, dirname(resolve(file))));
    // `a: &x [*x]` decodes to a structure that contains itself: every later check (and JSON.stringify in their
    // messages) would fail with a TypeError instead of naming the file (found by test/fuzz/config.test.ts).
    if (containsItself(doc)) throw new VigilConfigError(`Config file ${file} uses a YAML alias inside its own anchor (a recursive structure)`);
    return doc;
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilConfigError(`Config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
}

/**
 * Loads the configuration (configFiles: a file, or default.yaml + <VIGIL_ENV>.yaml deep-merged), else the
 * embedded defaults. Relative paths resolve against the folder of the (last) file.
 */
export function loadConfig(path = process.env.VIGIL_CONFIG, env: NodeJS.ProcessEnv = process.env): VigilConfig {
  const { files, environment } = configFiles(path, env);
  if (files.length === 0) return parseConfig({}, PROJECT_ROOT);
  let doc: unknown = {};
  for (const file of files) {
    const part = readConfigFile(file, env);
    if (part !== null && part !== undefined && !isObject(part)) {
      throw new VigilConfigError(`Expected a mapping at the top of ${file} but received ${JSON.stringify(part)}`);
    }
    // A file that names its environment must be the one asked for (a production file loaded for staging).
    if (environment !== null && isObject(part) && part.environment !== undefined && part.environment !== environment && files.length > 1 && file === files[files.length - 1]) {
      throw new VigilConfigError(`Config file ${file} is for environment ${JSON.stringify(part.environment)} but VIGIL_ENV is ${environment}`);
    }
    doc = deepMerge(doc, part ?? {});
  }
  return parseConfig(doc, dirname(resolve(files[files.length - 1]!)));
}
