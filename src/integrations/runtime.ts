/**
 * The integrations of a running server, built from the config's `integrations:` section:
 *  - queue sinks (Redis Streams, RabbitMQ, MQTT, Kafka) fed by publish*(): synchronous, never blocking and never
 *    throwing into the pipeline; each sink filters the event kinds it was configured for, buffers, drops (counted)
 *    and reconnects on its own;
 *  - VMS sources whose cameras are imported into the live camera list (CameraManager): added and started,
 *    restarted when their stream URL or credentials change, stopped and removed when the VMS no longer lists them;
 *    periodic and on demand;
 *  - the media store (local folder by default, or S3) with links that open without a login until they expire;
 *  - metrics per sink and per VMS source, a health check for each (degraded, never unhealthy, when it is down);
 *  - what the REST routes (src/api/routes-integrations.ts) read: VMS sources, sinks, local media.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import type { CameraManager } from '../camera/manager.js';
import type { CameraSettings } from '../camera/camera.js';
import type { RtspSource } from '../camera/source.js';
import { storageConfig, type IntegrationsConfig, type QueueSettings, type VmsSourceSettings } from '../config/integrations.js';
import { VigilClosedError, VigilError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import type { HealthRegistry } from '../services/health.js';
import { WireEncoder } from '../stream/codec.js';
import type { CameraStatusEventData, EventKind, StreamEvent, TrackEventData } from '../stream/events.js';
import type { Alert, DetectionBatch } from '../types.js';
import { redactText } from '../redact.js';
import { createSink } from './queue/factory.js';
import { PermanentDeliveryError, RetryableDeliveryError, type SendResult, type VmsChannel } from './notify/channels.js';
import type { QueueEncoder, QueueMessage, QueueSink, SinkStats } from './queue/sink.js';
import { createObjectStore } from './storage/factory.js';
import { LinkedMediaUploader, LinkSigner, loadLinkSecret } from './storage/links.js';
import { createVmsAdapter } from './vms/factory.js';
import { CameraSync, type CameraCredentials, type CameraDirectory, type SourceStatus, type SyncedCamera, type SyncReport } from './vms/sync.js';

export interface IntegrationsDeps {
  cameras: CameraManager;
  /** The server's data folder: the media-link secret lives in <dataDir>/integrations. */
  dataDir: string;
  log: Logger;
  /** Metrics go here (removed again on close); null: none. */
  registry: Registry | null;
  /** Health checks go here (removed again on close); null: none. */
  health: HealthRegistry | null;
  /** FlatBuffers payload for `format: flatbuffers` sinks; default src/stream/codec.ts (seq 0: not sequenced). */
  encodeFlatbuffers?: (event: StreamEvent) => Uint8Array;
  /** Recording policies of imported cameras that a VMS source records (`record:`); absent: not recorded. */
  recorder?: { setPolicy(cameraId: string, policy: CameraRecordingPolicy): void } | null;
}

/** What a VMS source looks like in the API: never a password, secret or token. */
export interface VmsSourceView extends Pick<SourceStatus, 'running' | 'lastSyncAt' | 'lastSuccessAt' | 'nextSyncAt' | 'lastError' | 'cameras' | 'lastResult'> {
  id: string;
  type: string;
  /** The VMS URL, without credentials. */
  url: string;
  stream: 'main' | 'sub';
  syncIntervalS: number;
  /** Imported cameras currently in the camera list (disabled ones are imported but not started). */
  activeCameras: number;
}

export interface SinkView extends SinkStats {
  type: string;
  format: 'json' | 'flatbuffers';
  publish: readonly EventKind[];
  /** publish*() calls this sink refused before buffering (a malformed event). */
  publishErrors: number;
}

export interface IntegrationsStats {
  sinks: SinkView[];
  vms: VmsSourceView[];
  media: { kind: 'local' | 's3' | 'azure' };
}

interface SinkEntry {
  settings: QueueSettings;
  sink: QueueSink;
  kinds: ReadonlySet<EventKind>;
  publishErrors: number;
}

const STATUS_LABEL = 'status';
// VMS failures a retry cannot fix: the outbox dead-letters them at once.
const PERMANENT_VMS_CODES = new Set(['E_VMS_AUTH', 'E_VMS_NOT_FOUND', 'E_VMS_UNSUPPORTED', 'E_NOT_FOUND', 'E_CLOSED', 'E_ARGUMENT']);

/** A FlatBuffers QueueEncoder: the queue message back into the stream event it carries. */
function flatbuffersEncoder(encode: (event: StreamEvent) => Uint8Array): QueueEncoder {
  return (msg: QueueMessage) => {
    let event: StreamEvent;
    switch (msg.kind) {
      case 'detections':
        event = { kind: 'detections', batch: msg.data as DetectionBatch };
        break;
      case 'alert':
        event = { kind: 'alerts', alert: msg.data as Alert };
        break;
      case 'status':
        event = { kind: 'camera_status', status: msg.data as CameraStatusEventData };
        break;
      case 'event':
        event = { kind: 'tracks', track: msg.data as TrackEventData };
        break;
    }
    const bytes = encode(event);
    // The encoder's result is a fresh copy: hand its memory over instead of copying it again.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/**
 * The camera list as CameraSync sees it, backed by the live CameraManager. Stream credentials go into the RTSP
 * source's username/password (rtspsrc user-id/user-pw), never into the URL: what the API and the logs show
 * (Camera.displaySource) carries none.
 */
/**
 * Where imported cameras go on a cluster node (src/cluster/): the cluster's camera configuration, so placement
 * runs each on one node, instead of this node's camera list. Every node syncs the same sources; `put` writes only
 * what changed.
 */
export interface ImportedCameraPlacer {
  put(settings: CameraSettings): Promise<void>;
  remove(cameraId: string): Promise<void>;
}

class ManagedCameraDirectory implements CameraDirectory {
  readonly #imported = new Map<string, { camera: SyncedCamera; credentials: CameraCredentials | null }>();
  /** Set on a cluster node (before the first sync): imports go to the cluster's configuration. */
  placer: ImportedCameraPlacer | null = null;

  constructor(
    private readonly cameras: CameraManager,
    private readonly sources: ReadonlyMap<string, VmsSourceSettings>,
    private readonly log: Logger,
    private readonly recorder: IntegrationsDeps['recorder'],
  ) {}

  listBySource(source: string): SyncedCamera[] {
    return [...this.#imported.values()].filter((e) => e.camera.origin.source === source).map((e) => structuredClone(e.camera));
  }

  upsert(camera: SyncedCamera, credentials: CameraCredentials | null): void | Promise<void> {
    const src = this.sources.get(camera.origin.source);
    if (!src) throw new VigilError('E_NOT_FOUND', `No VMS source named ${camera.origin.source}`);
    if (this.placer) {
      this.#imported.set(camera.id, { camera: structuredClone(camera), credentials: credentials ? { ...credentials } : null });
      if (!camera.enabled) return this.placer.remove(camera.id);
      if (src.recording) this.recorder?.setPolicy(camera.id, src.recording.policy);
      return this.placer.put(this.settingsFor(src, camera, this.urlOf(src, camera), credentials));
    }
    const prev = this.#imported.get(camera.id);
    const existing = this.cameras.get(camera.id);
    if (!prev && existing) {
      throw new VigilError('E_CAMERA_CONFLICT', `Camera ${camera.id} is configured already; the VMS camera with the same id was not imported`);
    }
    const url = this.urlOf(src, camera);
    const sameStream =
      prev !== undefined &&
      this.urlOf(src, prev.camera) === url &&
      prev.camera.enabled === camera.enabled &&
      prev.credentials?.username === credentials?.username &&
      prev.credentials?.password === credentials?.password;
    this.#imported.set(camera.id, { camera: structuredClone(camera), credentials: credentials ? { ...credentials } : null });
    if (sameStream && existing) {
      // A rename needs no new pipeline.
      (existing.settings as { name: string }).name = camera.name;
      return;
    }
    if (existing) {
      this.cameras.remove(camera.id);
      this.log.info(`${camera.id} stream changed: restarting`, { source: camera.origin.source });
    }
    if (!camera.enabled) {
      this.log.info(`${camera.id} is disabled in the VMS: not started`, { source: camera.origin.source });
      return;
    }
    const settings = this.settingsFor(src, camera, url, credentials);
    if (src.recording) this.recorder?.setPolicy(camera.id, src.recording.policy);
    const cam = this.cameras.add(settings);
    this.log.info(`${camera.id} ${existing ? 'restarted' : 'added'}`, { source: cam.displaySource, vms: camera.origin.source });
  }

  remove(cameraId: string): void | Promise<void> {
    this.#imported.delete(cameraId);
    if (this.placer) return this.placer.remove(cameraId);
    if (this.cameras.remove(cameraId)) this.log.info(`${cameraId} removed: no longer listed by its VMS`);
  }

  /** The VMS camera id of an imported camera of `source`; undefined: not imported from it. */
  vmsCameraIdOf(cameraId: string, source: string): string | undefined {
    const e = this.#imported.get(cameraId);
    return e && e.camera.origin.source === source ? e.camera.origin.vmsCameraId : undefined;
  }

  /** Cameras imported from `source` that are in the camera list now. */
  activeCount(source: string): number {
    let n = 0;
    for (const e of this.#imported.values()) if (e.camera.origin.source === source && this.cameras.get(e.camera.id)) n++;
    return n;
  }

  /** Removes every imported camera (close). */
  removeAll(): void {
    for (const id of [...this.#imported.keys()]) {
      this.#imported.delete(id);
      this.cameras.remove(id);
    }
  }

  private urlOf(src: VmsSourceSettings, camera: SyncedCamera): string {
    return src.stream === 'sub' && camera.streams.sub ? camera.streams.sub : camera.streams.main;
  }

  private settingsFor(src: VmsSourceSettings, camera: SyncedCamera, url: string, credentials: CameraCredentials | null): CameraSettings {
    const source: RtspSource = { kind: 'rtsp', url, ...src.rtsp };
    if (credentials?.username) source.username = credentials.username;
    if (credentials?.password) source.password = credentials.password;
    const rec = src.recording;
    return {
      ...structuredClone(src.camera),
      id: camera.id,
      name: camera.name,
      origin: 'vms',
      source,
      recording: rec ? { directory: path.join(rec.directory, camera.id), prefix: camera.id, format: rec.format, segmentSeconds: rec.segmentSeconds } : null,
    };
  }
}

export class Integrations {
  readonly media: LinkedMediaUploader;
  readonly #config: IntegrationsConfig;
  readonly #deps: IntegrationsDeps;
  readonly #sinks: SinkEntry[];
  readonly #sync: CameraSync | null;
  readonly #directory: ManagedCameraDirectory | null;
  readonly #vms: ReadonlyMap<string, VmsSourceSettings>;
  readonly #cleanups: Array<() => void> = [];
  #closing: Promise<void> | null = null;

  private constructor(config: IntegrationsConfig, deps: IntegrationsDeps) {
    this.#config = config;
    this.#deps = deps;
    const log = deps.log;
    // Media first: it needs nothing outside this process.
    const store = createObjectStore(storageConfig(config.storage));
    const signer = new LinkSigner(loadLinkSecret(path.join(deps.dataDir, 'integrations')));
    this.media = new LinkedMediaUploader(store, {
      signer,
      ...(config.storage.type === 'local' ? { baseUrl: config.storage.baseUrl } : {}),
      defaultTtlS: config.storage.linkTtlS,
    });

    const encodeEvent = deps.encodeFlatbuffers ?? ((): ((e: StreamEvent) => Uint8Array) => {
      const wire = new WireEncoder();
      return (e) => wire.encodeEvent({ seq: 0, event: e });
    })();
    const fb = flatbuffersEncoder(encodeEvent);
    const sinkLog = log.child('queue');
    this.#sinks = config.queues.map((q) => ({
      settings: q,
      sink: createSink({
        ...q.sink,
        ...(q.format === 'flatbuffers' ? { encode: fb } : {}),
        log: sinkLog,
      }),
      kinds: new Set(q.publish),
      publishErrors: 0,
    }));

    this.#vms = new Map(config.vms.map((v) => [v.id, v]));
    if (config.vms.length > 0) {
      const vmsLog = log.child('vms');
      this.#directory = new ManagedCameraDirectory(deps.cameras, this.#vms, vmsLog, deps.recorder);
      this.#sync = new CameraSync({
        directory: this.#directory,
        sources: config.vms.map((v) => ({ adapter: createVmsAdapter(v.adapter), intervalMs: v.syncIntervalS * 1000 })),
        log: vmsLog,
      });
    } else {
      this.#directory = null;
      this.#sync = null;
    }
  }

  /**
   * Builds everything, starts the sinks connecting and the periodic VMS syncs (the first runs at once, in the
   * background: a VMS that is down delays nothing), and registers metrics and health checks.
   */
  static async start(config: IntegrationsConfig, deps: IntegrationsDeps): Promise<Integrations> {
    const rt = await Integrations.create(config, deps);
    rt.startVmsSync();
    return rt;
  }

  /**
   * Builds everything and starts the sinks connecting; the VMS syncs wait for startVmsSync(), so a server can
   * attach its camera listeners before the first imported camera appears.
   */
  static async create(config: IntegrationsConfig, deps: IntegrationsDeps): Promise<Integrations> {
    const rt = new Integrations(config, deps);
    try {
      for (const s of rt.#sinks) s.sink.start();
      rt.attach({ registry: deps.registry, health: deps.health });
    } catch (err) {
      await rt.close();
      throw err;
    }
    return rt;
  }

  /** On a cluster node: imported cameras go into the cluster's configuration (call before startVmsSync). */
  setCameraPlacer(placer: ImportedCameraPlacer): void {
    if (this.#directory) this.#directory.placer = placer;
  }

  /** Starts the periodic VMS syncs; sources without a period sync once now (in the background). Once. */
  startVmsSync(): void {
    if (this.#closing || this.#syncStarted) return;
    this.#syncStarted = true;
    this.#sync?.start();
    // Sources without a period sync once at start too, so a restart brings their cameras back.
    for (const v of this.#config.vms) if (v.syncIntervalS === 0) void this.#sync!.syncNow(v.id).catch(() => undefined);
  }

  #syncStarted = false;

  // ---- publishing (the pipeline calls these; none blocks or throws) --------------------------------------------

  publishDetections(batch: DetectionBatch): void {
    this.#publish('detections', () => ({ kind: 'detections', cameraId: batch.cameraId, label: 'detections', timestampNs: batch.timestampNs, data: batch }));
  }

  /** A track's start / update / end; MQTT topic `<prefix>/<camera>/track`. */
  publishTrack(event: TrackEventData): void {
    this.#publish('tracks', () => ({ kind: 'event', cameraId: event.track.cameraId, label: 'track', timestampNs: event.timestampNs, data: event }));
  }

  publishAlert(alert: Alert): void {
    this.#publish('alerts', () => ({ kind: 'alert', cameraId: alert.cameraId, label: 'alert', timestampNs: alert.updatedNs, data: alert }));
  }

  /** Camera state changes; retained on MQTT (`<prefix>/<camera>/status`). */
  publishCameraStatus(status: CameraStatusEventData): void {
    this.#publish('camera_status', () => ({ kind: 'status', cameraId: status.cameraId, label: STATUS_LABEL, timestampNs: status.timestampNs, data: status }));
  }

  #publish(kind: EventKind, build: () => QueueMessage): void {
    if (this.#closing || this.#sinks.length === 0) return;
    let msg: QueueMessage | null = null;
    for (const s of this.#sinks) {
      if (!s.kinds.has(kind)) continue;
      try {
        msg ??= build();
        s.sink.publish(msg);
      } catch {
        // A malformed event (a camera id a topic cannot carry...): counted, never thrown into the pipeline.
        s.publishErrors++;
      }
    }
  }

  // ---- VMS -------------------------------------------------------------------------------------------------------

  /** Runs a sync of one source now (joins one in flight); throws E_NOT_FOUND for an unknown source. */
  async syncVms(sourceId: string): Promise<SyncReport> {
    if (!this.#sync || !this.#vms.has(sourceId)) {
      throw new VigilError('E_NOT_FOUND', `No VMS source named ${JSON.stringify(sourceId).slice(0, 70)}`);
    }
    if (this.#closing) throw new VigilClosedError('Integrations');
    const [report] = await this.#sync.syncNow(sourceId);
    return report!;
  }

  /**
   * Runs a `vms` notification channel's action for an alert (NotificationService calls it; its outbox retries):
   * a recording / bookmark of `durationS`, or an analytics event, on the VMS camera of the alert's camera (the one
   * it was imported from, or the channel's `cameras` mapping). Failures retrying cannot fix (no such source or
   * camera, refused credentials, an action the product lacks) are PermanentDeliveryError; the rest retry.
   */
  async vmsAction(channel: VmsChannel, payload: { cameraId: string; label: string; message: string; time: string }): Promise<SendResult> {
    if (!this.#sync || !this.#vms.has(channel.source)) {
      throw new PermanentDeliveryError(`No VMS source named ${JSON.stringify(channel.source).slice(0, 70)} (integrations.vms)`);
    }
    const vmsCameraId = channel.cameras[payload.cameraId] ?? this.#directory?.vmsCameraIdOf(payload.cameraId, channel.source);
    if (vmsCameraId === undefined) {
      throw new PermanentDeliveryError(
        `Camera ${JSON.stringify(payload.cameraId)} is not a camera of VMS source ${JSON.stringify(channel.source)}: map it under the channel's cameras`,
      );
    }
    const camera = { origin: { source: channel.source, type: this.#vms.get(channel.source)!.type, vmsCameraId } };
    try {
      if (channel.action === 'record') {
        const r = await this.#sync.recordOnVms(camera, channel.durationS, payload.label);
        return { remoteId: r.id ?? `${r.kind}:${r.startedAt}` };
      }
      await this.#sync.pushEventToVms(camera, { label: payload.label, message: payload.message, time: payload.time });
      return { remoteId: null };
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const msg = redactText((err as Error).message, this.#secretsOf(this.#vms.get(channel.source)!));
      if (PERMANENT_VMS_CODES.has(code)) throw new PermanentDeliveryError(msg);
      throw new RetryableDeliveryError(msg);
    }
  }

  vmsSources(): VmsSourceView[] {
    if (!this.#sync) return [];
    const byId = new Map<string, SourceStatus>(this.#sync.status().map((s) => [s.source, s]));
    return [...this.#vms.values()].map((v) => {
      const st = byId.get(v.id)!;
      return {
        id: v.id,
        type: v.type,
        url: v.adapter.baseUrl,
        stream: v.stream,
        syncIntervalS: v.syncIntervalS,
        running: st.running,
        lastSyncAt: st.lastSyncAt,
        lastSuccessAt: st.lastSuccessAt,
        nextSyncAt: st.nextSyncAt,
        // CameraSync redacts with the source's stream password; the adapter's login secrets are scrubbed too.
        lastError: st.lastError === null ? null : redactText(st.lastError, this.#secretsOf(v)),
        cameras: st.cameras,
        activeCameras: this.#directory!.activeCount(v.id),
        lastResult: st.lastResult,
      };
    });
  }

  #secretsOf(v: VmsSourceSettings): string[] {
    const a = v.adapter as { password: string; clientSecret?: string };
    return [a.password, a.clientSecret ?? ''];
  }

  // ---- queues ------------------------------------------------------------------------------------------------------

  sinks(): SinkView[] {
    return this.#sinks.map((s) => ({
      ...s.sink.stats(),
      type: s.settings.type,
      format: s.settings.format,
      publish: s.settings.publish,
      publishErrors: s.publishErrors,
    }));
  }

  stats(): IntegrationsStats {
    return { sinks: this.sinks(), vms: this.vmsSources(), media: { kind: this.media.store.kind } };
  }

  /** Resolves a /media/* request's key to a file of the local store, or null (S3 store, missing, or outside). */
  localMediaPath(key: string): string | null {
    const store = this.media.localStore;
    if (!store) return null;
    const file = store.pathOf(key);
    // Symbolic links inside the folder must not lead out of it.
    let real: string;
    let root: string;
    try {
      real = realpathSync(file);
      root = realpathSync(store.root);
    } catch {
      return null;
    }
    return real.startsWith(root + path.sep) ? real : null;
  }

  // ---- metrics and health ------------------------------------------------------------------------------------------

  #attached = false;

  /**
   * Registers the metrics and health checks (once), for a server that creates its registry and health registry
   * after the integrations start (they are removed again on close).
   */
  attach(targets: { registry: Registry | null; health: HealthRegistry | null }): void {
    if (this.#closing || this.#attached) return;
    this.#attached = targets.registry !== null || targets.health !== null;
    if (targets.registry) this.#registerMetrics(targets.registry);
    if (targets.health) this.#registerHealth(targets.health);
  }

  /**
   * An uploader for the snapshot service (src/media/snapshots.ts SnapshotUploader): stores an alert's JPEG in the
   * media store and returns its link, which opens without a login until it expires; a server path (the local
   * store without an absolute baseUrl) is made absolute under `publicUrl` (e.g. "https://vigil.example.com").
   */
  alertSnapshotUploader(publicUrl: string): { upload(alert: Alert, jpeg: Buffer): Promise<string | null> } {
    const base = publicUrl.replace(/\/+$/, '');
    return {
      upload: async (alert, jpeg) => {
        // Alert ids that cannot be part of a key are left out of it (the key stays unique by camera and time).
        const idOk = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(alert.alertId) && !alert.alertId.includes('..');
        const obj = await this.media.uploadSnapshot(alert.cameraId, alert.raisedNs, jpeg, idOk ? alert.alertId : undefined);
        return obj.url.startsWith('/') ? `${base}${obj.url}` : obj.url;
      },
    };
  }

  #registerMetrics(registry: Registry): void {
    const sinkGauges: Array<[string, string, (s: SinkView) => number]> = [
      ['vigil_queue_delivered', 'Messages the broker acknowledged, per sink', (s) => s.published],
      ['vigil_queue_buffered', 'Messages waiting in the sink buffer, per sink', (s) => s.buffered],
      ['vigil_queue_dropped', 'Messages dropped (buffer full, or still buffered at close), per sink', (s) => s.dropped],
      ['vigil_queue_rejected', 'Messages the broker refused for good, per sink', (s) => s.rejected + s.encodeErrors + s.publishErrors],
      ['vigil_queue_reconnects', 'Broker connections re-established after a loss, per sink', (s) => s.reconnects],
      ['vigil_queue_connected', '1 while the sink is connected to its broker', (s) => (s.connected ? 1 : 0)],
    ];
    const self = this;
    for (const [name, help, value] of sinkGauges) {
      new Gauge({
        name,
        help,
        labelNames: ['sink', 'type'],
        registers: [registry],
        collect() {
          this.reset();
          for (const s of self.sinks()) this.set({ sink: s.name, type: s.type }, value(s));
        },
      });
      this.#cleanups.push(() => registry.removeSingleMetric(name));
    }
    const vmsGauges: Array<[string, string, (v: VmsSourceView) => number]> = [
      ['vigil_vms_cameras', 'Cameras the VMS source listed at its last successful sync', (v) => v.cameras],
      ['vigil_vms_up', '1 while the last sync of the VMS source succeeded', (v) => (v.lastError === null && v.lastSuccessAt !== null ? 1 : 0)],
      ['vigil_vms_last_success_timestamp_seconds', 'Unix time of the last successful sync (0: none yet)', (v) => (v.lastSuccessAt ? Date.parse(v.lastSuccessAt) / 1000 : 0)],
    ];
    for (const [name, help, value] of vmsGauges) {
      new Gauge({
        name,
        help,
        labelNames: ['source', 'type'],
        registers: [registry],
        collect() {
          this.reset();
          for (const v of self.vmsSources()) this.set({ source: v.id, type: v.type }, value(v));
        },
      });
      this.#cleanups.push(() => registry.removeSingleMetric(name));
    }
  }

  #registerHealth(health: HealthRegistry): void {
    for (const s of this.#sinks) {
      const off = health.register(`queue:${s.settings.name}`, {
        critical: false,
        check: () => {
          const st = s.sink.stats();
          if (st.connected) return 'ok';
          return { status: 'degraded', detail: `not connected (${st.buffered} buffered, ${st.dropped} dropped)${st.lastError ? `: ${st.lastError}` : ''}` };
        },
      });
      this.#cleanups.push(off);
    }
    for (const v of this.#vms.values()) {
      const off = health.register(`vms:${v.id}`, {
        critical: false,
        check: () => {
          const view = this.vmsSources().find((x) => x.id === v.id)!;
          if (view.lastError !== null) return { status: 'degraded', detail: view.lastError };
          return view.lastSuccessAt === null ? { status: 'ok', detail: 'first sync pending' } : 'ok';
        },
      });
      this.#cleanups.push(off);
    }
  }

  /**
   * Stops the VMS syncs (waiting for runs in flight), removes the cameras they imported, flushes and closes the
   * sinks (what is still buffered after `flushTimeoutMs` is counted as dropped), unregisters metrics and health
   * checks. Idempotent: later calls return the same promise.
   */
  close(flushTimeoutMs = 2000): Promise<void> {
    this.#closing ??= (async () => {
      for (const c of this.#cleanups.splice(0)) c();
      if (this.#sync) await this.#sync.close();
      this.#directory?.removeAll();
      await Promise.all(this.#sinks.map((s) => s.sink.close(flushTimeoutMs)));
      this.media.store.close();
    })();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closing !== null;
  }
}
