/**
 * The frame path and where its outputs go: tracks and alerts to the stream and the queues, alerts to the
 * notifications and the recorder, detections to the queues (the stream gets them from the store's commits).
 * Camera state changes are wired here too, before any camera (configured or imported) is added.
 */
import type { Registry } from 'prom-client';
import { perCameraGauge } from './metrics.js';
import { FramePath, motionBypassHook } from '../analytics/index.js';
import type { CameraManager } from '../camera/manager.js';
import { TrackIdAllocator } from '../tracking/track-ids.js';
import type { NotificationsService, RulesService } from './alerts.js';
import type { IntegrationsService } from './integrations.js';
import type { RecorderService } from './recorder.js';
import type { Service, ServiceContext } from './service.js';
import { started } from './service.js';
import type { SnapshotsService } from './snapshots.js';
import type { StreamEvent } from '../stream/events.js';

export interface AnalyticsServiceDeps {
  cameras: CameraManager;
  rules: RulesService;
  notifications: NotificationsService;
  snapshots: SnapshotsService;
  integrations: IntegrationsService;
  recorder: RecorderService;
  /** The WebSocket stream (absent when the server does not listen). */
  stream: { publish(event: StreamEvent): void } | null;
}

export class AnalyticsService implements Service {
  readonly name = 'analytics';
  #path: FramePath | null = null;
  readonly #off: Array<() => void> = [];

  constructor(private readonly deps: AnalyticsServiceDeps) {}

  get framePath(): FramePath {
    return started(this.#path, 'analytics');
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { cameras, stream } = this.deps;
    const integrations = this.deps.integrations.integrations;
    const recorder = this.deps.recorder.recorder;
    const notifications = this.deps.notifications;
    const trackIds = new TrackIdAllocator(ctx.db.sub('track-ids'));
    const path = new FramePath({
      rules: this.deps.rules.rules,
      store: ctx.db.detections,
      snapshots: this.deps.snapshots.snapshots,
      // New tracks start from what the detector reports (thresholds relative to its own), so low-scoring still
      // objects such as parked vehicles are tracked once they persist.
      tracker: {
        allocateId: (cameraId) => trackIds.next(cameraId),
        ...(ctx.config.detector ? { detectorThreshold: ctx.config.detector.scoreThreshold, classThresholds: ctx.config.detector.classThresholds } : {}),
      },
      onError: (err) => ctx.log.error(`frame hook: ${(err as Error).message}`),
    });
    this.#path = path;
    path.on('detections', (batch) => integrations.publishDetections(batch));
    path.on('track', (track) => {
      stream?.publish({ kind: 'tracks', track });
      integrations.publishTrack(track);
    });
    path.on('alert', (ev, rule, snapshot) => {
      notifications.alert(ev, rule, snapshot);
      stream?.publish({ kind: 'alerts', alert: ev.alert });
      integrations.publishAlert(ev.alert);
      if (ev.type === 'raised') recorder?.markEvent(ev.alert.cameraId, ev.alert.raisedNs);
    });
    path.addHook(motionBypassHook(cameras));

    const camLog = ctx.log.child('camera');
    const onState = (id: string, state: import('../types.js').CameraStatus, prev: import('../types.js').CameraStatus): void => {
      camLog.info(`${id} ${prev} -> ${state}`);
      const lastError = cameras.get(id)?.counters().lastError?.message ?? '';
      const status = { cameraId: id, status: state, previous: prev, timestampNs: BigInt(Date.now()) * 1_000_000n, message: state === 'running' ? '' : lastError };
      stream?.publish({ kind: 'camera_status', status });
      integrations.publishCameraStatus(status);
      // 'reconnecting': the pipeline was closed and the next one numbers its frames from 0 again; the camera's tracker
      // (which refuses a sequence that goes back) must start over, or every frame after a reconnect was rejected
      // until the new sequence passed the old one (found by bench/soak.ts restarting an RTSP server).
      if (state === 'stopped' || state === 'failed' || state === 'reconnecting') path.cameraStopped(id);
    };
    const onError = (id: string, err: import('../errors.js').VigilPipelineError): void => camLog.warn(`${id} ${err.message}`, { code: err.code });
    const onReconnecting = (id: string, r: import('../camera/camera.js').ReconnectInfo): void =>
      camLog.info(`${id} reconnecting`, { attempt: r.attempt, delayMs: r.delayMs, reason: r.reason });
    cameras.on('state', onState);
    cameras.on('error', onError);
    cameras.on('reconnecting', onReconnecting);
    this.#off.push(() => cameras.off('state', onState), () => cameras.off('error', onError), () => cameras.off('reconnecting', onReconnecting));
    if (recorder) {
      const onSegment = (e: import('../camera/camera.js').SegmentEvent): void => void recorder.onSegment(e);
      cameras.on('segment', onSegment);
      this.#off.push(() => cameras.off('segment', onSegment));
    }
    registerCameraMetrics(ctx.metrics, cameras);
    ctx.health.register('cameras', {
      critical: false,
      check: () => {
        const down = cameras.counters().filter((c) => c.state !== 'running').map((c) => `${c.id} ${c.state}`);
        return down.length === 0 ? { status: 'ok' } : { status: 'degraded', detail: down.join(', ') };
      },
    });
  }

  async stop(): Promise<void> {
    for (const off of this.#off.splice(0)) off();
    this.#path?.close();
  }
}

function registerCameraMetrics(registry: Registry, cameras: CameraManager): void {
  const counters = [
    ['framesDecoded', 'vigil_camera_frames_decoded', 'Frames decoded per camera'],
    ['framesHandedOn', 'vigil_camera_frames_handed_on', 'Frames turned into tensors per camera'],
    ['framesDropped', 'vigil_camera_frames_dropped', 'Frames dropped (queue or pool full) per camera'],
    ['framesSkippedNoMotion', 'vigil_camera_frames_skipped_no_motion', 'Frames the motion gate kept from inference'],
    ['restarts', 'vigil_camera_restarts', 'Pipeline restarts per camera'],
  ] as const;
  for (const [key, name, help] of counters) {
    perCameraGauge(registry, name, help, () => cameras.counters().map(({ id, counters: c }) => [id, c[key]] as const));
  }
  perCameraGauge(registry, 'vigil_camera_up', '1 while the camera is running', () => cameras.counters().map(({ id, state }) => [id, state === 'running' ? 1 : 0] as const));
}
