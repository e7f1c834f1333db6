/**
 * The server, in-process: what `vigil serve` runs and what an OEM embeds. Services start in dependency order and
 * stop in reverse: store -> auth -> rules/notifications -> recorder -> HTTP/WebSocket -> detector -> cameras.
 *
 * Per analysed frame: detector (batched across cameras) -> tracker -> rules -> store (bounded, durable) and the
 * event stream; cameras with live tracks bypass their motion gate so still objects stay tracked.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { CameraManager } from './camera/manager.js';
import type { Camera } from './camera/camera.js';
import type { VigilConfig } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { Recorder } from './recording/recorder.js';
import { Detector } from './inference/detector.js';
import { modelPath, nanodetPreset } from './inference/models.js';
import { InferenceScheduler, type FrameDetections } from './inference/scheduler.js';
import { TrackerRegistry, type TrackEvent } from './tracking/index.js';
import { TrackIdAllocator } from './tracking/track-ids.js';
import { SnapshotService, type StoredSnapshot } from './media/snapshots.js';
import { mediaRoutes } from './api/routes-media.js';
import type { RouteModule } from './api/routes.js';
import type { TrackEventData } from './stream/events.js';
import type { Frame } from './camera/frame.js';
import { sourceFrameStats } from './camera/source-frame.js';
import type { TrackerFrameResult } from './tracking/tracker.js';
import { RuleService } from './rules/index.js';
import { Integrations } from './integrations/runtime.js';
import { StoreEventLog } from './stream/store-log.js';
import { Embedder } from './inference/embedder.js';
import { VectorIndex, TrackEmbeddings, registerTrackEmbeddingMetrics } from './store/index.js';
import { searchRoutes } from './api/routes-search.js';
import { NotificationService } from './integrations/notify/index.js';
import { DetectionStore, RetentionManager, StoreDetectionQuery, storeHealthCheck } from './store/index.js';
import { registerNotifyMetrics } from './integrations/notify/metrics.js';
import { AuthService } from './auth/service.js';
import { createHttpServer, type VigilHttpServer } from './http/server.js';
import type { CameraDirectory } from './api/sources.js';
import type { Alert, Box, CameraInfo, DetectionBatch, TrackSummary } from './types.js';

export interface VigilServer {
  readonly config: VigilConfig;
  /** Replaces the config file's rules (hot reload: cameras and API rules untouched). All-or-nothing. */
  reloadRules(rules: unknown[]): Promise<void>;
  readonly cameras: CameraManager;
  readonly store: DetectionStore;
  readonly rules: RuleService;
  readonly http: VigilHttpServer | null;
  readonly detector: Detector | null;
  readonly recorder: Recorder | null;
  /** Detections stored and streamed so far. */
  stats(): { framesAnalysed: number; detections: number; storeDropped: number; trackWriteErrors: number };
  /** Stops everything in reverse start order. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
  /** Start the REST/WebSocket server (default true). */
  listen?: boolean;
}

function cameraDirectory(cameras: CameraManager): CameraDirectory {
  return {
    list: (): CameraInfo[] => cameras.list().map((c) => cameras.info(c)),
    get: (id: string): CameraInfo | undefined => {
      const c = cameras.get(id);
      return c ? cameras.info(c) : undefined;
    },
  };
}

function registerCameraMetrics(registry: Registry, cameras: CameraManager, scheduler: InferenceScheduler | null): void {
  const counters = [
    ['framesDecoded', 'vigil_camera_frames_decoded', 'Frames decoded per camera'],
    ['framesHandedOn', 'vigil_camera_frames_handed_on', 'Frames turned into tensors per camera'],
    ['framesDropped', 'vigil_camera_frames_dropped', 'Frames dropped (queue or pool full) per camera'],
    ['framesSkippedNoMotion', 'vigil_camera_frames_skipped_no_motion', 'Frames the motion gate kept from inference'],
    ['restarts', 'vigil_camera_restarts', 'Pipeline restarts per camera'],
  ] as const;
  for (const [key, name, help] of counters) {
    new Gauge({
      name,
      help,
      labelNames: ['camera'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { id, counters: c } of cameras.counters()) this.set({ camera: id }, c[key]);
      },
    });
  }
  new Gauge({
    name: 'vigil_camera_up',
    help: '1 while the camera is running',
    labelNames: ['camera'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { id, state } of cameras.counters()) this.set({ camera: id }, state === 'running' ? 1 : 0);
    },
  });
  if (scheduler) {
    new Gauge({
      name: 'vigil_inference_shed_frames',
      help: 'Frames shed because inference fell behind, per camera',
      labelNames: ['camera'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [id, s] of Object.entries(scheduler.stats().cameras)) this.set({ camera: id }, s.shed);
      },
    });
  }
}

function registerSnapshotMetrics(registry: Registry, snapshots: SnapshotService): void {
  const g = new Gauge({
    name: 'vigil_snapshots',
    help: 'Track and alert snapshots by counter: captured, capture_refused (native memory budget), live_tracks, encoded, encode_failed, dropped (work queue full), stored, uploaded, upload_failed, expired',
    labelNames: ['counter'],
    registers: [registry],
    collect() {
      const s = snapshots.stats();
      const rows: [string, number][] = [
        ['captured', s.captured], ['capture_refused', s.captureRefused], ['live_tracks', s.liveTracks], ['encoded', s.encoded],
        ['encode_failed', s.encodeFailed], ['dropped', s.dropped], ['stored', s.stored], ['uploaded', s.uploaded],
        ['upload_failed', s.uploadFailed], ['expired', s.expired],
      ];
      for (const [counter, v] of rows) this.set({ counter }, v);
    },
  });
  void g;
  const n = new Gauge({
    name: 'vigil_source_frames',
    help: 'Decoded frames kept natively for snapshots and embeddings: frames, bytes, budget_bytes, refused (over budget), stale, cached_bytes',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      const s = sourceFrameStats();
      const rows: [string, number][] = [['frames', s.frames], ['bytes', s.bytes], ['budget_bytes', s.budgetBytes], ['refused', s.refused], ['stale', s.stale], ['cached_bytes', s.cachedBytes]];
      for (const [stat, v] of rows) this.set({ stat }, v);
    },
  });
  void n;
}

export async function createServer(config: VigilConfig, options: ServerOptions = {}): Promise<VigilServer> {
  const log = options.log ?? createLogger('vigil');
  const stops: Array<() => Promise<void> | void> = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err) {
        log.error(`stopping: ${(err as Error).message}`);
      }
    }
    log.info('stopped');
  };

  try {
    const store = DetectionStore.open({ path: join(config.dataDir, 'detections') });
    stops.push(() => store.close());
    // Detections are kept as long as the cameras' recordings (maxAgeHours), and both stores hold the same
    // free-space floor, so neither can fill the disk the other needs.
    const perCameraMaxAgeMs: Record<string, number | null> = {};
    for (const c of config.cameras) {
      const policy = config.recordingPolicies.get(c.id);
      perCameraMaxAgeMs[c.id] = policy && policy.maxAgeS > 0 ? policy.maxAgeS * 1000 : config.detectionsMaxAgeMs;
    }
    // Appearance search: an embedding of every ended track's best crop, in an HNSW index rebuilt from LMDB when
    // its file is missing or damaged.
    let embedder: Embedder | null = null;
    if (config.search.enabled) {
      try {
        embedder = await Embedder.create({ ...(config.search.embedderModelPath ? { modelPath: config.search.embedderModelPath } : {}), log: (line) => log.warn(line) });
        const e = embedder;
        stops.push(() => e.close());
      } catch (err) {
        log.warn(`search: no embedder (${(err as Error).message}); run \`bash scripts/setup.sh\`. Search by example track still works on stored vectors`);
      }
    }
    let lastProgress = 0;
    const vectors = await VectorIndex.open(store, {
      dims: embedder?.dims ?? 480,
      onProgress: (p) => {
        if (p.done === p.total || Date.now() - lastProgress > 2000) {
          lastProgress = Date.now();
          log.info(`vector index ${p.phase}: ${p.done}/${p.total}`);
        }
      },
    });
    vectors.startAutosave();
    stops.push(() => vectors.close());
    const trackEmbeddings = embedder ? new TrackEmbeddings({ embedder, index: vectors, onError: (err) => log.warn(`embedding: ${(err as Error).message}`) }) : null;
    if (trackEmbeddings) stops.push(() => trackEmbeddings.close());

    const retention = new RetentionManager(store, {
      vectors,
      defaultMaxAgeMs: config.detectionsMaxAgeMs,
      perCameraMaxAgeMs,
      minFreeBytes: config.recording.minFreeBytes,
    });
    retention.start();
    stops.push(() => retention.stop());

    const cameras = new CameraManager();
    let recorder: Recorder | null = null;
    if (config.recordingPolicies.size > 0 || config.integrations.vms.some((v) => v.recording)) {
      recorder = new Recorder({
        indexPath: join(config.dataDir, 'recordings.lmdb'),
        recordingsDir: config.recording.directory,
        minFreeBytes: config.recording.minFreeBytes,
        maxBytes: config.recording.maxBytes,
        log: log.child('recording'),
      });
      await recorder.start();
      for (const [id, policy] of config.recordingPolicies) recorder.setPolicy(id, policy);
      const rec = recorder;
      stops.push(() => rec.close());
    }

    const publicUrl = config.server.publicUrl ?? `http://localhost:${config.server.port}`;
    // VMS camera sync, queue publishing, media storage (local folder by default).
    const integrations = await Integrations.start(config.integrations, {
      cameras,
      dataDir: config.dataDir,
      log: log.child('integrations'),
      registry: null,
      health: null,
      recorder,
    });
    stops.push(() => integrations.close());

    // Snapshots of tracks and alerts live next to the detections (same environment, same retention ages).
    const snapshots = config.snapshots.enabled
      ? new SnapshotService(
          { snapshots: store.openDatabase('snapshots', { keyEncoding: 'ordered-binary', encoding: 'msgpack' }), times: store.openDatabase('snapshot-times', { keyEncoding: 'ordered-binary', encoding: 'msgpack' }) },
          { quality: config.snapshots.quality, uploader: integrations.alertSnapshotUploader(publicUrl), embeddings: trackEmbeddings },
        )
      : null;
    if (snapshots) {
      const snaps = snapshots;
      stops.push(() => snaps.close());
      const cutoff = (cameraId: string): number | null => {
        const age = cameraId in perCameraMaxAgeMs ? perCameraMaxAgeMs[cameraId]! : config.detectionsMaxAgeMs;
        return age === null ? null : Date.now() - age;
      };
      const expire = (): void => {
        void snaps.expire(store.cameraIds(), cutoff).catch((err: unknown) => log.warn(`snapshot retention: ${(err as Error).message}`));
      };
      const timer = setInterval(expire, 10 * 60_000);
      timer.unref();
      expire();
      stops.push(() => clearInterval(timer));
    }
    // Links in notifications: the media store's (signed, opens without a token) when it has one, else the API's.
    const alertLinks = new Map<string, string>();
    let rulesRef: RuleService | null = null;
    const notify = new NotificationService({
      path: join(config.dataDir, 'notify'),
      channels: config.notify.channels,
      policy: { allow: config.notify.allow },
      snapshotUrl: (alert) => (snapshots ? (alertLinks.get(alert.alertId) ?? `${publicUrl}/alerts/${encodeURIComponent(alert.alertId)}/snapshot.jpg`) : null),
      snapshotJpeg: async (alertId) => {
        if (!snapshots) return null;
        const alert = rulesRef?.getAlert(alertId);
        return alert ? ((await snapshots.alertSnapshot(alertId, alert.cameraId))?.jpeg ?? null) : null;
      },
    });
    stops.push(() => notify.close());
    const rules = await RuleService.open({
      path: join(config.dataDir, 'rules'),
      timezone: config.rulesTimezone,
      configRules: config.rules,
      channels: notify.channelNames(),
    });
    rulesRef = rules;
    stops.push(() => rules.close());

    const extraRoutes: RouteModule[] = [
      integrations.routes,
      searchRoutes({ index: vectors, embedder, snapshotUrl: (c, t) => `/tracks/${encodeURIComponent(c)}:${t}/snapshot.jpg` }),
    ];
    let http: VigilHttpServer | null = null;
    if (options.listen !== false) {
      const auth = await AuthService.open({ dataDir: join(config.dataDir, 'auth'), ...config.auth });
      stops.push(() => auth.close());
      // One sequence space for the stream: detections are published once committed (the store numbers them) and
      // the other events go through the store's event log, so a reconnecting client resumes from LMDB.
      const eventLog = new StoreEventLog(store);
      stops.push(() => eventLog.close());
      http = await createHttpServer(
        { host: config.server.host, port: config.server.port, corsOrigins: config.server.corsOrigins },
        {
          auth,
          eventLog,
          cameras: cameraDirectory(cameras),
          detections: new StoreDetectionQuery(store),
          rules,
          ...(recorder ? { recordings: recorder } : {}),
          routes: [...(snapshots ? [mediaRoutes({ snapshots, rules })] : []), ...extraRoutes],
          trackSpan: (cameraId, trackId) => {
            const q = { cameraIds: [cameraId], trackId };
            const first = store.queryPage(q, { pageSize: 1, order: 'asc', withTotal: false }).detections[0];
            const last = store.queryPage(q, { pageSize: 1, order: 'desc', withTotal: false }).detections[0];
            return first && last ? { startNs: first.timestampNs, endNs: last.timestampNs } : null;
          },
        },
      );
      const h = http;
      stops.push(() => h.close());
      log.info('listening', { port: http.port });
    }

    let detector: Detector | null = null;
    if (config.detector.enabled) {
      const path = config.detector.modelPath ?? modelPath('nanodet');
      if (!existsSync(path)) {
        log.warn(`detector model ${path} is missing: run \`bash scripts/setup.sh\`; cameras run without detection`);
      } else {
        detector = await Detector.create(nanodetPreset({ modelPath: path, scoreThreshold: config.detector.scoreThreshold }));
        const d = detector;
        stops.push(() => d.close());
      }
    }

    const trackIds = new TrackIdAllocator(store.openDatabase('track-ids', { keyEncoding: 'ordered-binary', encoding: 'msgpack' }));
    const trackers = new TrackerRegistry({ allocateId: (cameraId) => trackIds.next(cameraId) });
    let framesAnalysed = 0;
    let detectionsStored = 0;
    let trackWriteErrors = 0;
    // Ended tracks: their summary into the store's tracks database, their best frame to the snapshot service.
    // Track starts and ends go to the stream and the queues (per-frame updates are in the detection batches).
    const onTrackEvents = (events: TrackEvent[]): void => {
      for (const e of events) {
        let data: TrackEventData | null = null;
        if (e.type === 'end' && e.summary) {
          const summary: TrackSummary = e.summary;
          store.tracks.put([summary.cameraId, summary.trackId], summary).catch(() => trackWriteErrors++);
          data = { phase: 'end', track: summary, timestampNs: e.timestampNs };
        } else if (e.type === 'start' && e.observation) {
          const o = e.observation;
          data = {
            phase: 'start',
            track: {
              trackId: e.trackId, cameraId: e.cameraId, classId: e.classId, className: e.className, startNs: e.timestampNs, endNs: null,
              bestConfidence: o.confidence, bestBox: o.box, bestFrameSequence: o.frameSequence, bestTimestampNs: o.timestampNs,
            },
            timestampNs: e.timestampNs,
            box: o.box,
            confidence: o.confidence,
          };
        }
        if (data) {
          http?.publish({ kind: 'tracks', track: data });
          integrations.publishTrack(data);
        }
      }
      snapshots?.trackEvents(events);
    };
    // The frame being analysed while the rules run on it: an alert raised now is pictured with this frame.
    let current: { frame: Frame; tracked: TrackerFrameResult } | null = null;
    const alertBox = (alert: Alert, tracked: TrackerFrameResult): Box | null => {
      const boxes = tracked.objects.filter((o) => alert.trackIds.includes(o.trackId)).map((o) => o.box);
      if (boxes.length === 0) return null;
      return {
        x1: Math.min(...boxes.map((b) => b.x1)),
        y1: Math.min(...boxes.map((b) => b.y1)),
        x2: Math.max(...boxes.map((b) => b.x2)),
        y2: Math.max(...boxes.map((b) => b.y2)),
      };
    };
    const onDetections = (r: FrameDetections, frame: Frame): void => {
      framesAnalysed++;
      const batch: DetectionBatch = {
        cameraId: r.cameraId,
        frameSequence: r.frameSequence,
        timestampNs: r.timestampNs,
        frameWidth: r.frameWidth,
        frameHeight: r.frameHeight,
        detections: r.detections,
      };
      const tracked = trackers.update(batch);
      snapshots?.observe(tracked, frame);
      onTrackEvents(tracked.events);
      current = { frame, tracked };
      try {
        rules.processFrame(tracked);
      } finally {
        current = null;
      }
      const out: DetectionBatch = { ...batch, detections: tracked.detections };
      if (store.offer(out)) detectionsStored += out.detections.length;
      integrations.publishDetections(out);
      cameras.get(r.cameraId)?.setMotionBypass((trackers.get(r.cameraId)?.size ?? 0) > 0);
    };
    const scheduler = detector
      ? new InferenceScheduler(detector, { onDetections, onError: (err) => log.error(`inference: ${(err as Error).message}`) })
      : null;
    if (scheduler) stops.push(() => scheduler.close());

    rules.onAlert((ev, rule) => {
      const enqueue = (): void => {
        void notify.enqueue(ev, rule).catch((err: unknown) => log.error(`notification: ${(err as Error).message}`));
      };
      const at = current;
      if (ev.type === 'raised' && snapshots && at && at.frame.cameraId === ev.alert.cameraId) {
        // Notifications wait for the picture (encoded natively, off this thread), but never for long.
        const snap = snapshots.alertRaised(ev.alert, at.frame, alertBox(ev.alert, at.tracked));
        const timeout = new Promise<null>((resolve) => setTimeout(resolve, 3000, null).unref());
        void Promise.race([snap, timeout]).then((s: StoredSnapshot | null) => {
          if (s?.url) {
            alertLinks.set(ev.alert.alertId, s.url);
            if (alertLinks.size > 4096) alertLinks.delete(alertLinks.keys().next().value!);
          }
          enqueue();
        });
      } else {
        enqueue();
      }
      http?.publish({ kind: 'alerts', alert: ev.alert });
      integrations.publishAlert(ev.alert);
      if (ev.type === 'raised') recorder?.markEvent(ev.alert.cameraId, ev.alert.raisedNs);
    });

    if (http) {
      registerCameraMetrics(http.registry, cameras, scheduler);
      integrations.attach({ registry: http.registry, health: http.health });
      registerNotifyMetrics(http.registry, notify);
      if (snapshots) registerSnapshotMetrics(http.registry, snapshots);
      if (trackEmbeddings) registerTrackEmbeddingMetrics(http.registry, trackEmbeddings);
      http.health.register('detection_store', storeHealthCheck(retention));
      http.health.register('cameras', {
        critical: false,
        check: () => {
          const states = cameras.counters();
          const down = states.filter((c) => c.state !== 'running').map((c) => `${c.id} ${c.state}`);
          return down.length === 0 ? { status: 'ok' } : { status: 'degraded', detail: down.join(', ') };
        },
      });
      http.health.register('notifications', {
        critical: false,
        check: () => {
          const h = notify.health();
          return h.status === 'ok' ? 'ok' : { status: 'degraded', detail: `${h.stats.deadLettered} dead-lettered, ${h.stats.pending} pending` };
        },
      });
    }
    const camLog = log.child('camera');
    cameras.on('state', (id, state, prev) => {
      camLog.info(`${id} ${prev} -> ${state}`);
      const lastError = cameras.get(id)?.counters().lastError?.message ?? '';
      const status = { cameraId: id, status: state, previous: prev, timestampNs: BigInt(Date.now()) * 1_000_000n, message: state === 'running' ? '' : lastError };
      http?.publish({ kind: 'camera_status', status });
      integrations.publishCameraStatus(status);
      if (state === 'stopped' || state === 'failed') {
        rules.dropCamera(id);
        onTrackEvents(trackers.remove(id, BigInt(Date.now()) * 1_000_000n));
      }
    });
    cameras.on('error', (id, err) => camLog.warn(`${id} ${err.message}`, { code: err.code }));
    cameras.on('reconnecting', (id, r) => camLog.info(`${id} reconnecting`, { attempt: r.attempt, delayMs: r.delayMs, reason: r.reason }));
    if (recorder) {
      const rec = recorder;
      cameras.on('segment', (e) => void rec.onSegment(e));
    }
    cameras.on('frame', (frame) => (scheduler ? scheduler.submit(frame) : frame.release()));
    stops.push(() => cameras.close());
    for (const settings of config.cameras) {
      const camera: Camera = cameras.add(settings);
      camLog.info(`${camera.id} added`, { source: camera.displaySource, detectFps: settings.detectFps });
    }

    return {
      config,
      cameras,
      store,
      rules,
      http,
      detector,
      recorder,
      reloadRules: async (list) => {
        await rules.syncConfigRules(list);
      },
      stats: () => ({ framesAnalysed, detections: detectionsStored, storeDropped: store.stats().droppedDetections, trackWriteErrors }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
