/**
 * The `integrations:` section of the config: VMS sources whose cameras are imported into the live camera list,
 * message-queue sinks, and the object store for alert media. Every bad field raises VigilConfigError naming its
 * path (`integrations.queues[1].format`); secret values are never echoed. What the adapters and sinks would refuse
 * at run time is refused here, by building each one once and closing it.
 *
 * ```yaml
 * integrations:
 *   vms:
 *     - { id: hq, type: milestone, url: https://xprotect.local, username: svc, password: ${VIGIL_MS_PW},
 *         syncIntervalS: 300, stream: main, detectFps: 5, record: { mode: event } }
 *     - { id: lobby, type: hikvision, url: http://10.0.0.20, username: admin, password: ${VIGIL_HIK_PW},
 *         deviceKind: nvr, rtspPort: device, stream: sub, rtsp: { transport: tcp } }
 *   queues:
 *     - { name: redis, type: redis, url: redis://127.0.0.1:6379, format: json, publish: [detections, alerts] }
 *     - { name: mqtt, type: mqtt, url: mqtt://127.0.0.1:1883, format: json, publish: [detections, alerts, camera_status] }
 *   storage: { type: local, directory: /var/lib/vigil/media, baseUrl: https://vigil.example.com/media, linkTtlS: 604800 }
 * ```
 */
import { isAbsolute, join, resolve } from 'node:path';
import { VigilConfigError, VigilError } from '../errors.js';
import { bool, fail, httpUrl, int, isObject, object as obj, oneOf, onlyKeys, optStr, str, url, type Raw } from '../validate.js';
import type { CameraSettings } from '../camera/camera.js';
import { parseSource, type RtspSource } from '../camera/source.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import { EVENT_KINDS, type EventKind } from '../stream/events.js';
import { parseVmsOptions, VMS_COMMON_OPTION_KEYS, VMS_TYPE_OPTION_KEYS, VMS_TYPES } from '../integrations/vms/options.js';
import type { VmsConfig, VmsType } from '../integrations/vms/types.js';
import { parseSinkOptions, QUEUE_TYPES, SINK_COMMON_KEYS, SINK_TYPE_KEYS, type QueueType, type SinkConfig } from '../integrations/queue/options.js';
import { parseStorageOptions, type AzureStoreOptions, type StorageConfig } from '../integrations/storage/options.js';
import { parseCameraSettings } from './cameras.js';

export { QUEUE_TYPES, type QueueType };

/** One VMS source. */
export interface VmsSourceSettings {
  /** Unique source id; imported cameras are named `<id>-<vms camera id>`. */
  id: string;
  type: VmsType;
  /** What the adapter is built from (credentials included: never shown). */
  adapter: VmsConfig;
  /** Seconds between the end of one sync and the start of the next; 0: one sync at start, then on demand only. */
  syncIntervalS: number;
  /** Which stream of each camera Vigil analyses. */
  stream: 'main' | 'sub';
  /** Settings of every imported camera but its id, name and source (cameraDefaults + this source's overrides). */
  camera: Omit<CameraSettings, 'id' | 'name' | 'source' | 'recording'>;
  /** RTSP options of the imported cameras' sources (URL and credentials come from the VMS). */
  rtsp: Pick<RtspSource, 'transport' | 'latencyMs' | 'codec' | 'connectTimeoutMs'>;
  /** Recording of imported cameras; null: not recorded. */
  recording: { policy: CameraRecordingPolicy; format: 'mp4' | 'mkv'; segmentSeconds: number; directory: string } | null;
}

export interface QueueSettings {
  name: string;
  type: QueueType;
  format: 'json' | 'flatbuffers';
  /** Event kinds this sink carries. */
  publish: readonly EventKind[];
  /** Options for the sink (createSink), without the encoder. */
  sink: SinkConfig;
}

export type StorageSettings =
  | { type: 'local'; directory: string; baseUrl: string; linkTtlS: number }
  | {
      type: 's3';
      bucket: string;
      prefix: string;
      region: string;
      endpoint: string | null;
      forcePathStyle: boolean | null;
      publicBaseUrl: string | null;
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string | null };
      linkTtlS: number;
    }
  | ({ type: 'azure'; linkTtlS: number } & AzureStoreOptions);

export interface IntegrationsConfig {
  vms: VmsSourceSettings[];
  queues: QueueSettings[];
  storage: StorageSettings;
}

/** Argument errors of the validation helpers as config errors (same message: it already names the path). */
function asConfigError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof VigilError && err.code === 'E_ARGUMENT') throw new VigilConfigError(err.message);
    throw err;
  }
}

/** Runs a constructor-style check; its argument errors become config errors under `at`. */
function checked<T>(at: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof VigilError && err.code === 'E_ARGUMENT') throw new VigilConfigError(err.message.includes(at) ? err.message : `${at}: ${err.message}`);
    throw err;
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ID_WHAT = 'an id of 1-64 letters, digits, "_", "." or "-" (starting with a letter or digit)';

// ---------------------------------------------------------------------------------------------------------------
// VMS

const VMS_COMMON_KEYS = [
  'id', 'type', 'url', 'username', 'password', 'syncIntervalS', 'stream', 'detectFps', 'record',
  'camera', 'rtsp', 'rtspHost', 'rtspPort', 'timeoutMs', 'maxResponseBytes', 'insecureTls', 'allow',
] as const;
const VMS_TYPE_KEYS: Record<VmsType, readonly string[]> = {
  milestone: ['clientId', 'secret', 'pageSize', 'eventTypeId', 'rtspTemplate'],
  hikvision: ['deviceKind'],
  axis: ['diskId', 'subResolution', 'virtualInputPort'],
  dahua: [],
};
/** Camera keys a VMS source may override for its imported cameras (the rest come from cameraDefaults). */
const CAMERA_OVERRIDE_KEYS = [
  'tensor', 'decodeThreads', 'decodeDeblock', 'stallTimeoutMs', 'startTimeoutMs', 'backoff', 'backoffResetMs', 'queueSize', 'poolSize', 'motion',
] as const;
const TEMPLATE_ID = 'vms-camera-template';

interface TopContext {
  raw: Raw;
  baseDir: string;
  dataDir: string;
  /** cameraDefaults as configured cameras get them (the detector's tensor included); absent: the file's. */
  cameraDefaults?: Raw;
}

/**
 * Settings of a VMS source's imported cameras, parsed by the same code (and defaults) as configured cameras. Each
 * key's errors name where its value came from: the source's `camera:` block, its `detectFps` / `record`, or
 * `cameraDefaults`.
 */
function cameraTemplate(ctx: TopContext, overrides: Raw, fromSource: ReadonlySet<string>, at: string): { camera: CameraSettings; policy: CameraRecordingPolicy | undefined } {
  const defaults = ctx.cameraDefaults ?? (isObject(ctx.raw.cameraDefaults) ? ctx.raw.cameraDefaults : {});
  const pathOf = (key: string): string => (fromSource.has(key) ? `${at}.${key}` : key in overrides ? `${at}.camera.${key}` : `cameraDefaults.${key}`);
  const { record, ...camera } = parseCameraSettings({ id: TEMPLATE_ID, source: 'test:black', ...overrides }, at, defaults, pathOf);
  const policy = record.mode === 'off' ? undefined : { mode: record.mode, maxAgeS: record.maxAgeS, preRollS: record.preRollS, postRollS: record.postRollS };
  if (policy) camera.recording = { directory: join(recordingsDir(ctx), TEMPLATE_ID), prefix: TEMPLATE_ID, format: record.format, segmentSeconds: record.segmentSeconds };
  return { camera, policy };
}

/** Where recordings go: `recording.directory` (relative to the config file) or `<dataDir>/recordings`. */
export function recordingsDir(ctx: { raw: Raw; dataDir: string; baseDir: string }): string {
  const rec = isObject(ctx.raw.recording) ? ctx.raw.recording : {};
  return typeof rec.directory === 'string' ? resolve(ctx.baseDir, rec.directory) : join(ctx.dataDir, 'recordings');
}

function parseVms(v: unknown, i: number, ctx: TopContext): VmsSourceSettings {
  const at = `integrations.vms[${i}]`;
  const r = obj(v, at);
  // Short and without ".": imported camera ids (`<id>-<vms camera id>`, a Milestone GUID is 36 characters) must stay
  // within the 64 letters, digits, "_" and "-" that camera ids allow everywhere (routes, topics, keys).
  const id = str(r.id, `${at}.id`, { re: /^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$/, what: 'an id of 1-24 letters, digits, "_" or "-" (starting with a letter or digit)' });
  const type = oneOf(r.type, `${at}.type`, VMS_TYPES);
  onlyKeys(r, at, [...VMS_COMMON_KEYS, ...VMS_TYPE_KEYS[type]]);
  const url = httpUrl(r.url, `${at}.url`);
  const secret = type === 'milestone' ? optStr(r.secret, `${at}.secret`, { secret: true }) : undefined;
  const clientId = type === 'milestone' ? optStr(r.clientId, `${at}.clientId`, { re: /^[A-Za-z0-9_.:-]{1,128}$/, what: 'an OAuth client id' }) : undefined;
  let username: string;
  let password: string;
  if (secret !== undefined) {
    // OAuth client credentials: the client id names the caller; username/password (optional) open the streams.
    if (clientId === undefined) throw new VigilConfigError(`Expected a clientId for ${at}.clientId with ${at}.secret but received undefined`);
    username = r.username === undefined ? clientId : str(r.username, `${at}.username`);
    password = r.password === undefined ? '' : str(r.password, `${at}.password`, { secret: true, what: 'a string' });
  } else {
    username = str(r.username, `${at}.username`);
    if (typeof r.password !== 'string') {
      throw fail(type === 'milestone' ? 'a string (or clientId and secret)' : 'a string', `${at}.password`, r.password, typeof r.password === 'string');
    }
    password = r.password;
  }
  // What the loader owns: the source id (the adapter's name), `url`, the Milestone `secret` and `rtspPort: device`.
  // Every other adapter key is passed under its own name to the adapter's parser, which checks it with this path.
  const rtspPortDevice = type === 'hikvision' && r.rtspPort === 'device';
  const passed: Raw = {};
  for (const k of [...VMS_COMMON_OPTION_KEYS, ...VMS_TYPE_OPTION_KEYS[type]]) if (r[k] !== undefined && !(k === 'rtspPort' && rtspPortDevice)) passed[k] = r[k];
  // every configured source goes through the outbound SSRF guard; on-site (private) addresses are listed in `allow`
  passed.allow ??= [];
  const adapter = parseVmsOptions(
    {
      ...passed,
      type,
      name: id,
      baseUrl: url,
      username,
      password,
      ...(clientId !== undefined ? { clientId } : {}),
      ...(secret !== undefined ? { clientSecret: secret } : {}),
      ...(rtspPortDevice ? { rtspPortFromDevice: true } : {}),
    },
    at,
  );

  const syncIntervalS = int(r.syncIntervalS, `${at}.syncIntervalS`, 0, 7 * 86_400, 300);
  if (syncIntervalS > 0 && syncIntervalS < 10) throw fail('0 (on demand only) or from 10 to 604800', `${at}.syncIntervalS`, syncIntervalS);
  const overrides: Raw = {};
  if (r.camera !== undefined) {
    const c = obj(r.camera, `${at}.camera`);
    onlyKeys(c, `${at}.camera`, CAMERA_OVERRIDE_KEYS);
    Object.assign(overrides, c);
  }
  if (r.detectFps !== undefined) overrides.detectFps = r.detectFps;
  if (r.record !== undefined) overrides.record = r.record;
  const { camera, policy } = cameraTemplate(ctx, overrides, new Set(['detectFps', 'record'].filter((k) => r[k] !== undefined)), at);
  const { id: _id, name: _name, source: _source, recording, ...cameraRest } = camera;

  const rtspRaw = r.rtsp === undefined ? {} : obj(r.rtsp, `${at}.rtsp`);
  onlyKeys(rtspRaw, `${at}.rtsp`, ['transport', 'latencyMs', 'codec', 'connectTimeoutMs']);
  const rtspSrc = checked(at, () => parseSource({ kind: 'rtsp', url: 'rtsp://template.invalid/', ...rtspRaw }, `${at}.rtsp`)) as RtspSource;

  return {
    id,
    type,
    adapter,
    syncIntervalS,
    stream: oneOf(r.stream, `${at}.stream`, ['main', 'sub'] as const, 'main'),
    camera: cameraRest,
    rtsp: { transport: rtspSrc.transport, latencyMs: rtspSrc.latencyMs, codec: rtspSrc.codec, connectTimeoutMs: rtspSrc.connectTimeoutMs },
    recording:
      recording && policy
        ? { policy, format: recording.format, segmentSeconds: recording.segmentSeconds, directory: resolve(recording.directory, '..') }
        : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Queues

function parseQueue(v: unknown, i: number): QueueSettings {
  const at = `integrations.queues[${i}]`;
  const r = obj(v, at);
  const name = str(r.name, `${at}.name`, { re: ID_RE, what: ID_WHAT });
  const type = oneOf(r.type, `${at}.type`, QUEUE_TYPES);
  onlyKeys(r, at, [...SINK_COMMON_KEYS.slice(0, 2), 'format', 'publish', ...SINK_COMMON_KEYS.slice(2), ...SINK_TYPE_KEYS[type]]);
  const format = oneOf(r.format, `${at}.format`, ['json', 'flatbuffers'] as const, 'json');
  let publish: EventKind[] = [...EVENT_KINDS];
  if (r.publish !== undefined) {
    if (!Array.isArray(r.publish) || r.publish.length === 0) throw fail(`a non-empty list of ${EVENT_KINDS.join(', ')}`, `${at}.publish`, r.publish);
    publish = r.publish.map((k, j) => oneOf(k, `${at}.publish[${j}]`, EVENT_KINDS));
    publish = [...new Set(publish)];
  }
  const { format: _format, publish: _publish, ...sinkRaw } = r;
  return { name, type, format, publish, sink: parseSinkOptions(sinkRaw, at) };
}

// ---------------------------------------------------------------------------------------------------------------
// Storage

const DEFAULT_LINK_TTL_S = 7 * 86_400;

function parseStorage(v: unknown, ctx: TopContext): StorageSettings {
  const at = 'integrations.storage';
  // Links in notifications must open from elsewhere: absolute under server.publicUrl when one is configured.
  const server = isObject(ctx.raw.server) ? ctx.raw.server : {};
  const defaultBase = typeof server.publicUrl === 'string' ? `${server.publicUrl.replace(/\/+$/, '')}/media` : '/media';
  if (v === undefined) return { type: 'local', directory: join(ctx.dataDir, 'media'), baseUrl: defaultBase, linkTtlS: DEFAULT_LINK_TTL_S };
  const r = obj(v, at);
  const type = oneOf(r.type, `${at}.type`, ['local', 's3', 'azure'] as const, 'local');
  const linkTtlS = int(r.linkTtlS, `${at}.linkTtlS`, 60, 7 * 86_400, DEFAULT_LINK_TTL_S);
  if (type === 'local') {
    onlyKeys(r, at, ['type', 'directory', 'baseUrl', 'linkTtlS']);
    const dirRaw = r.directory === undefined ? join(ctx.dataDir, 'media') : str(r.directory, `${at}.directory`, { what: 'a folder path' });
    const baseUrl = str(r.baseUrl, `${at}.baseUrl`, { re: /^(\/media|https?:\/\/[^\s@/]+(\/[^\s]*)?\/media)\/?$/, what: 'the path "/media" or an http(s) URL ending in /media (how clients reach this server)', dflt: defaultBase });
    const settings: StorageSettings = {
      type,
      directory: isAbsolute(dirRaw) ? dirRaw : resolve(ctx.baseDir, dirRaw),
      baseUrl: baseUrl.replace(/\/+$/, ''),
      linkTtlS,
    };
    parseStorageOptions(storageConfig(settings), at);
    return settings;
  }
  if (type === 'azure') {
    onlyKeys(r, at, ['type', 'account', 'accountKey', 'container', 'prefix', 'endpoint', 'publicBaseUrl', 'timeoutMs', 'linkTtlS']);
    const { linkTtlS: _t, type: _type, ...azureRaw } = r;
    const o = parseStorageOptions({ ...azureRaw, type }, at) as Extract<StorageConfig, { type: 'azure' }>;
    return { ...o, linkTtlS };
  }
  onlyKeys(r, at, ['type', 'bucket', 'prefix', 'region', 'endpoint', 'forcePathStyle', 'publicBaseUrl', 'credentials', 'linkTtlS']);
  onlyKeys(obj(r.credentials, `${at}.credentials`), `${at}.credentials`, ['accessKeyId', 'secretAccessKey', 'sessionToken']);
  const { linkTtlS: _ttl, ...storeRaw } = r;
  const o = parseStorageOptions({ ...storeRaw, type }, at) as Extract<StorageConfig, { type: 's3' }>;
  return {
    type,
    bucket: o.bucket,
    prefix: o.prefix ?? '',
    region: o.region,
    endpoint: o.endpoint ?? null,
    forcePathStyle: o.forcePathStyle ?? null,
    publicBaseUrl: o.publicBaseUrl ?? null,
    credentials: { accessKeyId: o.credentials.accessKeyId, secretAccessKey: o.credentials.secretAccessKey, sessionToken: o.credentials.sessionToken ?? null },
    linkTtlS,
  };
}

/** The object-store options a storage setting stands for. */
export function storageConfig(s: StorageSettings): StorageConfig {
  if (s.type === 'local') return { type: 'local', directory: s.directory, baseUrl: s.baseUrl };
  if (s.type === 'azure') {
    const { linkTtlS: _ttl, ...azure } = s;
    return azure;
  }
  return {
    type: 's3',
    bucket: s.bucket,
    region: s.region,
    ...(s.prefix ? { prefix: s.prefix } : {}),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.forcePathStyle !== null ? { forcePathStyle: s.forcePathStyle } : {}),
    ...(s.publicBaseUrl ? { publicBaseUrl: s.publicBaseUrl } : {}),
    credentials: {
      accessKeyId: s.credentials.accessKeyId,
      secretAccessKey: s.credentials.secretAccessKey,
      ...(s.credentials.sessionToken ? { sessionToken: s.credentials.sessionToken } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Parses `integrations` (already YAML-decoded and env-substituted). `top` is the whole config mapping (for
 * cameraDefaults and recording), `dataDir` the resolved data folder, `baseDir` what relative paths resolve against.
 */
export function parseIntegrations(v: unknown, ctx: { raw: Record<string, unknown>; dataDir: string; baseDir: string; cameraDefaults?: Record<string, unknown> }): IntegrationsConfig {
  return asConfigError(() => parseIntegrationsRaw(v, ctx));
}

function parseIntegrationsRaw(v: unknown, ctx: { raw: Record<string, unknown>; dataDir: string; baseDir: string; cameraDefaults?: Record<string, unknown> }): IntegrationsConfig {
  const top: TopContext = { raw: ctx.raw, dataDir: ctx.dataDir, baseDir: ctx.baseDir, ...(ctx.cameraDefaults ? { cameraDefaults: ctx.cameraDefaults } : {}) };
  if (v === undefined || v === null) return { vms: [], queues: [], storage: parseStorage(undefined, top) };
  const r = obj(v, 'integrations');
  onlyKeys(r, 'integrations', ['vms', 'queues', 'storage']);
  const vmsRaw = r.vms ?? [];
  if (!Array.isArray(vmsRaw)) throw fail('a list', 'integrations.vms', vmsRaw);
  const queuesRaw = r.queues ?? [];
  if (!Array.isArray(queuesRaw)) throw fail('a list', 'integrations.queues', queuesRaw);
  const vms = vmsRaw.map((x, i) => parseVms(x, i, top));
  const seen = new Set<string>();
  vms.forEach((s, i) => {
    if (seen.has(s.id)) throw new VigilConfigError(`VMS source id ${s.id} is used twice (integrations.vms[${i}].id)`);
    seen.add(s.id);
  });
  const queues = queuesRaw.map((x, i) => parseQueue(x, i));
  const names = new Set<string>();
  queues.forEach((q, i) => {
    if (names.has(q.name)) throw new VigilConfigError(`Queue name ${q.name} is used twice (integrations.queues[${i}].name)`);
    names.add(q.name);
  });
  return { vms, queues, storage: parseStorage(r.storage, top) };
}
