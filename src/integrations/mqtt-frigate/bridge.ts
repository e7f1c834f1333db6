/**
 * MQTT the way Frigate NVR users know it (topics under `<prefix>`, Frigate's default `frigate`):
 *
 *  - `<prefix>/available`: "online" (retained) while connected, "offline" as the last will and at a clean stop;
 *  - `<prefix>/events`: `{type: "new" | "update" | "end", before, after}` per tracked object, the object in
 *    Frigate's shape (id, camera, label, score, top_score, box [x1, y1, x2, y2], area, ratio, start_time, end_time,
 *    frame_time, has_snapshot...; times in Unix seconds). "update" when the object's top score rises (at most one
 *    a second per object);
 *  - `<prefix>/<camera>/<label>` and `<prefix>/<camera>/all`: how many objects of that label the camera tracks now
 *    (retained, so a subscriber gets the current count);
 *  - `<prefix>/<camera>/<label>/snapshot`: JPEG of the object's best frame, cropped to it, when its track ends
 *    (retained);
 *  - `<prefix>/stats`: every statsIntervalS, per camera camera_fps / process_fps / skipped_fps / detection_fps,
 *    the detector's inference_speed, the total detection_fps and the service's uptime and version;
 *  - `<prefix>/<camera>/detect/set`, `.../recordings/set`, `.../snapshots/set` with ON / OFF switch detection
 *    (frames no longer reach the detector), recording (footage no longer kept: the camera's recording policy is
 *    replaced by an event policy without pre- or post-roll until switched on again) and snapshot publishing per
 *    camera; each answers on `.../<feature>/state` (retained).
 *
 * Home Assistant MQTT discovery (`<discovery prefix>/<component>/vigil/<camera>_<entity>/config`, retained):
 * per camera a count sensor and an occupancy binary sensor per announced label, a snapshot camera entity per
 * label, detect / recordings / snapshots switches and a camera-fps sensor, all on one device per camera and bound
 * to `<prefix>/available`; a removed camera's entities are withdrawn (empty retained configs).
 *
 * Nothing here blocks or throws into the frame path: while the broker is away, messages are dropped and counted
 * (vigil_frigate_dropped_total); on every (re)connect the retained state (availability, discovery, switch states,
 * counts) is published again, so subscribers converge.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Camera } from '../../camera/camera.js';
import type { CameraManager } from '../../camera/manager.js';
import type { Logger } from '../../log.js';
import type { CameraRecordingPolicy } from '../../recording/recorder.js';
import type { TrackEventData } from '../../stream/events.js';
import type { Box, DetectionBatch } from '../../types.js';
import type { FrigateOptions } from './options.js';

/** Where tracked objects come from: the FramePath's 'track' and 'detections' events. */
export interface FrigateEventSource {
  on(event: 'track', fn: (e: TrackEventData) => void): unknown;
  on(event: 'detections', fn: (b: DetectionBatch) => void): unknown;
  off(event: 'track', fn: (e: TrackEventData) => void): unknown;
  off(event: 'detections', fn: (b: DetectionBatch) => void): unknown;
}

export interface FrigateBridgeDeps {
  options: FrigateOptions;
  cameras: CameraManager;
  events: FrigateEventSource;
  /** Track pictures (null: snapshots are off on this server). */
  snapshots: { trackSnapshot(cameraId: string, trackId: number, o: { crop?: boolean }): Promise<Buffer | null> } | null;
  /** The recorder (null: nothing is recorded, the recordings switch stays OFF). */
  recorder: { setPolicy(cameraId: string, policy: CameraRecordingPolicy): void; policy(cameraId: string): CameraRecordingPolicy | undefined } | null;
  /** Inference counters (null: detection is off). */
  inference: { stats(): { cameras: Record<string, { inferred: number }>; latencyMs: { p50: number } } } | null;
  /** The detector's name in `stats.detectors`. */
  detectorName: string;
  /** Labels each camera announces to Home Assistant (count, occupancy, snapshot entities). */
  labels: readonly string[];
  version: string;
  log: Logger;
  registry: Registry | null;
}

/** One tracked object in Frigate's event shape. */
export interface FrigateObject {
  id: string;
  camera: string;
  frame_time: number;
  snapshot_time: number;
  label: string;
  sub_label: null;
  top_score: number;
  false_positive: boolean;
  start_time: number;
  end_time: number | null;
  score: number;
  box: [number, number, number, number];
  area: number;
  ratio: number;
  region: [number, number, number, number];
  stationary: boolean;
  motionless_count: number;
  position_changes: number;
  current_zones: string[];
  entered_zones: string[];
  has_clip: boolean;
  has_snapshot: boolean;
  attributes: Record<string, never>;
  current_attributes: never[];
}

export interface FrigateBridgeStats {
  connected: boolean;
  published: number;
  dropped: number;
  commands: number;
  badCommands: number;
}

type Feature = 'detect' | 'recordings' | 'snapshots';
const FEATURES: readonly Feature[] = ['detect', 'recordings', 'snapshots'];
const UPDATE_MIN_MS = 1000;

const sec = (ns: bigint): number => Number(ns / 1000n) / 1e6;
const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;
/** A label as one topic level (no separators or wildcards). */
const level = (s: string): string => s.replace(/[/+#\u0000]/g, '_');
/** A Home Assistant object id (letters, digits, _ and -). */
const objectId = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, '_');

export class FrigateMqttBridge {
  readonly #d: FrigateBridgeDeps;
  readonly #prefix: string;
  #client: MqttClient | null = null;
  #stopped = false;
  #statsTimer: NodeJS.Timeout | null = null;
  // Per camera and track: the object now, and as last published (the `before` of the next event).
  readonly #objects = new Map<string, Map<number, { obj: FrigateObject; published: FrigateObject; lastUpdateMs: number }>>();
  readonly #counts = new Map<string, Map<string, number>>();
  readonly #snapshotsOff = new Set<string>();
  readonly #recordingsOff = new Map<string, CameraRecordingPolicy>();
  /** Cameras whose discovery is published (so a removed one is withdrawn). */
  readonly #announced = new Map<string, string[]>();
  readonly #stats: FrigateBridgeStats = { connected: false, published: 0, dropped: 0, commands: 0, badCommands: 0 };
  readonly #started = Date.now();
  #lastStats: { atMs: number; cams: Map<string, { decoded: number; handed: number; skipped: number; inferred: number }> } | null = null;
  readonly #off: Array<() => void> = [];

  constructor(deps: FrigateBridgeDeps) {
    this.#d = deps;
    this.#prefix = deps.options.topicPrefix;
  }

  get availabilityTopic(): string {
    return `${this.#prefix}/available`;
  }

  stats(): FrigateBridgeStats {
    return { ...this.#stats, connected: this.#client?.connected === true };
  }

  /** Connects (retrying every reconnectMs in the background) and attaches to the cameras and the frame path. */
  start(): void {
    const o = this.#d.options;
    const onTrack = (e: TrackEventData): void => this.#guard(() => this.#onTrack(e));
    const onDetections = (b: DetectionBatch): void => this.#guard(() => this.#onDetections(b));
    const onAdded = (c: Camera): void => this.#guard(() => this.#announce(c));
    const onRemoved = (id: string): void => this.#guard(() => this.#withdraw(id));
    this.#d.events.on('track', onTrack);
    this.#d.events.on('detections', onDetections);
    this.#d.cameras.on('added', onAdded);
    this.#d.cameras.on('removed', onRemoved);
    this.#off.push(
      () => this.#d.events.off('track', onTrack),
      () => this.#d.events.off('detections', onDetections),
      () => this.#d.cameras.off('added', onAdded),
      () => this.#d.cameras.off('removed', onRemoved),
    );
    this.#registerMetrics();
    const client = mqtt.connect(o.url, {
      clientId: o.clientId,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      reconnectPeriod: o.reconnectMs,
      connectTimeout: 5000,
      clean: true,
      // Offline messages are dropped and counted (below), never queued without bound.
      queueQoSZero: false,
      will: { topic: this.availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.#client = client;
    client.on('connect', () => this.#guard(() => this.#onConnect(client)));
    client.on('message', (topic, payload) => this.#guard(() => this.#onMessage(topic, payload)));
    client.on('error', (err) => this.#d.log.warn(`frigate mqtt: ${err.message}`));
    client.on('offline', () => this.#d.log.debug('frigate mqtt: offline'));
    this.#statsTimer = setInterval(() => this.#guard(() => this.#publishStats()), o.statsIntervalS * 1000);
    this.#statsTimer.unref();
  }

  /** Says "offline" (retained) and disconnects; restores recording policies switched off. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const off of this.#off.splice(0)) off();
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    for (const [id, policy] of this.#recordingsOff) this.#d.recorder?.setPolicy(id, policy);
    this.#recordingsOff.clear();
    const c = this.#client;
    this.#client = null;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const end = (): void => void c.end(true, {}, () => resolve());
      if (!c.connected) return end();
      const t = setTimeout(end, 1000);
      t.unref();
      c.publish(this.availabilityTopic, 'offline', { qos: 1, retain: true }, () => {
        clearTimeout(t);
        c.end(false, {}, () => resolve());
      });
    });
  }

  // ---- publishing ------------------------------------------------------------------------------------------------

  #publish(topic: string, payload: string | Buffer, retain = false): void {
    const c = this.#client;
    if (!c || !c.connected || this.#stopped) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.published++;
    c.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err) this.#stats.dropped++;
    });
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#d.log.warn(`frigate mqtt: ${(err as Error).message}`);
    }
  }

  #onConnect(client: MqttClient): void {
    this.#d.log.info('frigate mqtt connected', { url: this.#d.options.url.replace(/\/\/[^@/]*@/, '//***@'), prefix: this.#prefix });
    client.subscribe(FEATURES.map((f) => `${this.#prefix}/+/${f}/set`), { qos: 1 });
    this.#publish(this.availabilityTopic, 'online', true);
    for (const cam of this.#d.cameras.list()) this.#announce(cam);
  }

  // ---- cameras: discovery, switch states, counts -----------------------------------------------------------------

  #announce(cam: Camera): void {
    const id = cam.id;
    if (!this.#client?.connected) return;
    const p = this.#prefix;
    const dp = this.#d.options.discovery.prefix;
    const labels = this.#d.labels;
    for (const f of FEATURES) this.#publish(`${p}/${id}/${f}/state`, this.#featureOn(cam, f) ? 'ON' : 'OFF', true);
    const counts = this.#counts.get(id);
    let all = 0;
    for (const label of new Set([...labels, ...(counts?.keys() ?? [])])) {
      const n = counts?.get(label) ?? 0;
      all += n;
      this.#publish(`${p}/${id}/${level(label)}`, String(n), true);
    }
    this.#publish(`${p}/${id}/all`, String(all), true);
    if (!this.#d.options.discovery.enabled) return;
    const device = {
      identifiers: [`vigil_${id}`],
      name: cam.settings.name,
      manufacturer: 'Vigil',
      model: 'Camera',
      sw_version: this.#d.version,
      ...(cam.settings.location ? { suggested_area: cam.settings.location } : {}),
    };
    const common = (entity: string, name: string) => ({
      name,
      object_id: objectId(`${id}_${entity}`),
      unique_id: objectId(`vigil_${id}_${entity}`),
      availability_topic: this.availabilityTopic,
      payload_available: 'online',
      payload_not_available: 'offline',
      device,
    });
    const configs: Array<[string, Record<string, unknown>]> = [];
    for (const label of ['all', ...labels]) {
      const l = level(label);
      const title = label === 'all' ? 'All objects' : label[0]!.toUpperCase() + label.slice(1);
      configs.push([`sensor/vigil/${objectId(`${id}_${label}_count`)}`, { ...common(`${label}_count`, `${title} count`), state_topic: `${p}/${id}/${l}`, state_class: 'measurement', icon: 'mdi:counter' }]);
      if (label === 'all') continue;
      configs.push([`binary_sensor/vigil/${objectId(`${id}_${label}_occupancy`)}`, {
        ...common(`${label}_occupancy`, `${title} occupancy`),
        state_topic: `${p}/${id}/${l}`,
        value_template: "{{ 'ON' if value | int > 0 else 'OFF' }}",
        device_class: 'occupancy',
      }]);
      configs.push([`camera/vigil/${objectId(`${id}_${label}`)}`, { ...common(label, `${title} snapshot`), topic: `${p}/${id}/${l}/snapshot` }]);
    }
    for (const f of FEATURES) {
      configs.push([`switch/vigil/${objectId(`${id}_${f}`)}`, {
        ...common(f, f === 'detect' ? 'Detect' : f === 'recordings' ? 'Recordings' : 'Snapshots'),
        command_topic: `${p}/${id}/${f}/set`,
        state_topic: `${p}/${id}/${f}/state`,
        payload_on: 'ON',
        payload_off: 'OFF',
        icon: f === 'detect' ? 'mdi:motion-sensor' : f === 'recordings' ? 'mdi:filmstrip-box' : 'mdi:image-multiple',
      }]);
    }
    configs.push([`sensor/vigil/${objectId(`${id}_camera_fps`)}`, {
      ...common('camera_fps', 'Camera FPS'),
      state_topic: `${p}/stats`,
      value_template: `{{ value_json['${id}'].camera_fps }}`,
      unit_of_measurement: 'fps',
      state_class: 'measurement',
    }]);
    for (const [topic, cfg] of configs) this.#publish(`${dp}/${topic}/config`, JSON.stringify(cfg), true);
    this.#announced.set(id, configs.map(([t]) => `${dp}/${t}/config`));
  }

  #withdraw(id: string): void {
    this.#objects.delete(id);
    this.#counts.delete(id);
    this.#snapshotsOff.delete(id);
    this.#recordingsOff.delete(id);
    for (const topic of this.#announced.get(id) ?? []) this.#publish(topic, '', true);
    this.#announced.delete(id);
  }

  #featureOn(cam: Camera, f: Feature): boolean {
    if (f === 'detect') return cam.detection;
    if (f === 'snapshots') return this.#d.snapshots !== null && !this.#snapshotsOff.has(cam.id);
    return cam.settings.recording !== null && this.#d.recorder?.policy(cam.id) !== undefined && !this.#recordingsOff.has(cam.id);
  }

  #onMessage(topic: string, payload: Buffer): void {
    const m = new RegExp(`^${this.#prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^/]+)/(detect|recordings|snapshots)/set$`).exec(topic);
    if (!m) return;
    const [, id, feature] = m as unknown as [string, string, Feature];
    const cam = this.#d.cameras.get(id);
    const value = payload.toString('utf8').trim().toUpperCase();
    if (!cam || (value !== 'ON' && value !== 'OFF')) {
      this.#stats.badCommands++;
      this.#d.log.warn(`frigate mqtt: ignored ${topic} ${JSON.stringify(payload.toString('utf8').slice(0, 16))}${cam ? '' : ' (no such camera)'}`);
      return;
    }
    this.#stats.commands++;
    const on = value === 'ON';
    if (feature === 'detect') cam.setDetection(on);
    else if (feature === 'snapshots') {
      if (on) this.#snapshotsOff.delete(id);
      else this.#snapshotsOff.add(id);
    } else this.#switchRecording(cam, on);
    this.#d.log.info(`frigate mqtt: ${id} ${feature} ${value}`);
    this.#publish(`${this.#prefix}/${id}/${feature}/state`, this.#featureOn(cam, feature) ? 'ON' : 'OFF', true);
  }

  #switchRecording(cam: Camera, on: boolean): void {
    const rec = this.#d.recorder;
    if (!rec || cam.settings.recording === null) return; // not recorded: stays OFF
    const saved = this.#recordingsOff.get(cam.id);
    if (on && saved) {
      rec.setPolicy(cam.id, saved);
      this.#recordingsOff.delete(cam.id);
    } else if (!on && !saved) {
      const current = rec.policy(cam.id);
      if (!current) return;
      this.#recordingsOff.set(cam.id, current);
      // Segments are still cut by the pipeline; an event policy without pre- and post-roll keeps none of them.
      rec.setPolicy(cam.id, { mode: 'event', maxAgeS: current.maxAgeS, preRollS: 0, postRollS: 0 });
    }
  }

  // ---- tracked objects ---------------------------------------------------------------------------------------------

  #object(e: TrackEventData, prev: FrigateObject | undefined): FrigateObject {
    const t = e.track;
    const b: Box = e.box ?? t.bestBox;
    const score = e.confidence ?? t.bestConfidence;
    const box: [number, number, number, number] = [Math.round(b.x1), Math.round(b.y1), Math.round(b.x2), Math.round(b.y2)];
    const w = box[2] - box[0];
    const h = box[3] - box[1];
    const start = sec(t.startNs);
    return {
      id: prev?.id ?? `${start.toFixed(6)}-${t.cameraId}-${t.trackId}`,
      camera: t.cameraId,
      frame_time: round(sec(e.timestampNs), 6),
      snapshot_time: round(sec(t.bestTimestampNs), 6),
      label: t.className,
      sub_label: null,
      top_score: round(Math.max(prev?.top_score ?? 0, t.bestConfidence, score), 4),
      false_positive: false,
      start_time: round(start, 6),
      end_time: e.phase === 'end' ? round(sec(t.endNs ?? e.timestampNs), 6) : null,
      score: round(score, 4),
      box,
      area: w * h,
      ratio: h > 0 ? round(w / h, 4) : 0,
      region: box,
      stationary: false,
      motionless_count: 0,
      position_changes: prev ? prev.position_changes : 0,
      current_zones: [],
      entered_zones: [],
      has_clip: false,
      has_snapshot: this.#d.snapshots !== null && !this.#snapshotsOff.has(t.cameraId),
      attributes: {},
      current_attributes: [],
    };
  }

  #onTrack(e: TrackEventData): void {
    const cam = e.track.cameraId;
    let objs = this.#objects.get(cam);
    if (!objs) this.#objects.set(cam, (objs = new Map()));
    const known = objs.get(e.track.trackId);
    if (e.phase === 'start') {
      if (known) return;
      const obj = this.#object(e, undefined);
      objs.set(e.track.trackId, { obj, published: obj, lastUpdateMs: Date.now() });
      this.#publish(`${this.#prefix}/events`, JSON.stringify({ type: 'new', before: obj, after: obj }));
      this.#count(cam, obj.label, +1);
    } else if (e.phase === 'end') {
      if (!known) return; // started before this bridge: never announced
      objs.delete(e.track.trackId);
      const after = this.#object(e, known.obj);
      this.#publish(`${this.#prefix}/events`, JSON.stringify({ type: 'end', before: known.published, after }));
      this.#count(cam, after.label, -1);
      if (after.has_snapshot) void this.#publishSnapshot(cam, e.track.trackId, after.label);
    }
  }

  #onDetections(batch: DetectionBatch): void {
    const objs = this.#objects.get(batch.cameraId);
    if (!objs || objs.size === 0) return;
    const now = Date.now();
    for (const d of batch.detections) {
      if (d.trackId === undefined) continue;
      const o = objs.get(d.trackId);
      if (!o) continue;
      const before = o.obj;
      const box: [number, number, number, number] = [Math.round(d.box.x1), Math.round(d.box.y1), Math.round(d.box.x2), Math.round(d.box.y2)];
      const w = box[2] - box[0];
      const h = box[3] - box[1];
      const moved = box.some((v, i) => Math.abs(v - before.box[i]!) > Math.max(8, 0.1 * Math.max(w, h)));
      const after: FrigateObject = {
        ...before,
        frame_time: round(sec(batch.timestampNs), 6),
        score: round(d.confidence, 4),
        top_score: round(Math.max(before.top_score, d.confidence), 4),
        box,
        region: box,
        area: w * h,
        ratio: h > 0 ? round(w / h, 4) : 0,
        position_changes: before.position_changes + (moved ? 1 : 0),
      };
      if (after.top_score > before.top_score) after.snapshot_time = after.frame_time;
      o.obj = after;
      if (after.top_score > o.published.top_score && now - o.lastUpdateMs >= UPDATE_MIN_MS) {
        this.#publish(`${this.#prefix}/events`, JSON.stringify({ type: 'update', before: o.published, after }));
        o.published = after;
        o.lastUpdateMs = now;
      }
    }
  }

  #count(cam: string, label: string, delta: number): void {
    let counts = this.#counts.get(cam);
    if (!counts) this.#counts.set(cam, (counts = new Map()));
    const n = Math.max(0, (counts.get(label) ?? 0) + delta);
    counts.set(label, n);
    let all = 0;
    for (const v of counts.values()) all += v;
    this.#publish(`${this.#prefix}/${cam}/${level(label)}`, String(n), true);
    this.#publish(`${this.#prefix}/${cam}/all`, String(all), true);
  }

  async #publishSnapshot(cam: string, trackId: number, label: string): Promise<void> {
    try {
      const jpeg = await this.#d.snapshots!.trackSnapshot(cam, trackId, { crop: true });
      if (jpeg && !this.#snapshotsOff.has(cam)) this.#publish(`${this.#prefix}/${cam}/${level(label)}/snapshot`, jpeg, true);
    } catch (err) {
      this.#d.log.debug(`frigate mqtt: no snapshot of ${cam}:${trackId}: ${(err as Error).message}`);
    }
  }

  // ---- stats -------------------------------------------------------------------------------------------------------

  #publishStats(): void {
    const now = Date.now();
    const inf = this.#d.inference?.stats() ?? null;
    const cams = new Map<string, { decoded: number; handed: number; skipped: number; inferred: number }>();
    for (const { id, counters: c } of this.#d.cameras.counters()) {
      cams.set(id, { decoded: c.framesDecoded, handed: c.framesHandedOn, skipped: c.framesSkippedNoMotion + c.skippedRate, inferred: inf?.cameras[id]?.inferred ?? 0 });
    }
    const last = this.#lastStats;
    const dt = last ? (now - last.atMs) / 1000 : 0;
    const rate = (id: string, key: 'decoded' | 'handed' | 'skipped' | 'inferred'): number => {
      const prev = last?.cams.get(id);
      return prev && dt > 0 ? round(Math.max(0, cams.get(id)![key] - prev[key]) / dt, 1) : 0;
    };
    const out: Record<string, unknown> = {};
    let detectionFps = 0;
    for (const id of cams.keys()) {
      const cam = this.#d.cameras.get(id);
      const detection_fps = rate(id, 'inferred');
      detectionFps += detection_fps;
      out[id] = {
        camera_fps: rate(id, 'decoded'),
        process_fps: rate(id, 'handed'),
        skipped_fps: rate(id, 'skipped'),
        detection_fps,
        detection_enabled: cam?.detection ?? false,
        pid: process.pid,
        capture_pid: process.pid,
      };
    }
    this.#lastStats = { atMs: now, cams };
    out.detectors = inf ? { [this.#d.detectorName]: { inference_speed: round(inf.latencyMs.p50, 2), detection_start: 0, pid: process.pid } } : {};
    out.detection_fps = round(detectionFps, 1);
    out.service = {
      uptime: Math.round((now - this.#started) / 1000),
      version: this.#d.version,
      latest_version: this.#d.version,
      last_updated: Math.round(now / 1000),
      storage: {},
    };
    this.#publish(`${this.#prefix}/stats`, JSON.stringify(out));
  }

  #registerMetrics(): void {
    const registry = this.#d.registry;
    if (!registry) return;
    const self = this;
    const defs: Array<[string, string, () => number]> = [
      ['vigil_frigate_published_total', 'Frigate-style MQTT messages handed to the client', () => self.#stats.published],
      ['vigil_frigate_dropped_total', 'Frigate-style MQTT messages dropped (broker not connected, or refused)', () => self.#stats.dropped],
      ['vigil_frigate_commands_total', 'Frigate-style .../set commands applied', () => self.#stats.commands],
      ['vigil_frigate_bad_commands_total', 'Frigate-style .../set commands ignored (unknown camera or payload)', () => self.#stats.badCommands],
    ];
    for (const [name, help, value] of defs) {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(value());
        },
      });
      this.#off.push(() => registry.removeSingleMetric(name));
    }
    new Gauge({
      name: 'vigil_frigate_connected',
      help: '1 while the Frigate-style MQTT client is connected',
      registers: [registry],
      collect() {
        this.set(self.#client?.connected ? 1 : 0);
      },
    });
    this.#off.push(() => registry.removeSingleMetric('vigil_frigate_connected'));
  }
}
