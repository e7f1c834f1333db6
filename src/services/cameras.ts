/**
 * Inference (detector, scheduler, adaptive analysis rate) and the configured cameras: the last services, so
 * everything they feed is up.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { perCameraGauge } from './metrics.js';
import type { CameraManager } from '../camera/manager.js';
import type { Frame } from '../camera/frame.js';
import { loadAddon } from '../../bindings/index.js';
import { VigilError } from '../errors.js';
import { Detector, type DetectorConfig } from '../inference/detector.js';
import { WorkerDetector } from '../inference/worker-detector.js';
import { cropDetector, wholeFrameDetector } from '../inference/detector-options.js';
import { AnalysisRatePolicy } from '../inference/rate-policy.js';
import { ErrorTally } from './error-tally.js';
import { InferenceScheduler } from '../inference/scheduler.js';
import type { AnalyticsService } from './analytics.js';
import type { CameraCatalogService } from './camera-catalog.js';
import type { Service, ServiceContext } from './service.js';

export class DetectorService implements Service {
  readonly name = 'detector';
  #detector: Detector | WorkerDetector | null = null;
  #scheduler: InferenceScheduler | null = null;
  #policy: AnalysisRatePolicy | null = null;
  readonly #off: Array<() => void> = [];

  constructor(
    private readonly cameras: CameraManager,
    private readonly analytics: AnalyticsService,
  ) {}

  /** null: detection is off or its model is missing. */
  get detector(): Detector | WorkerDetector | null {
    return this.#detector;
  }

  /** null: detection is off. */
  get scheduler(): InferenceScheduler | null {
    return this.#scheduler;
  }

  /** null: detection or the adaptive rate is off. */
  get ratePolicy(): AnalysisRatePolicy | null {
    return this.#policy;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config, log } = ctx;
    const options = config.detector;
    if (options) {
      try {
        const whole = wholeFrameDetector(options);
        const crop = cropDetector(options);
        const detectorConfig: DetectorConfig = {
          ...whole,
          ...(crop ? { crop: { modelPath: crop.modelPath, inputWidth: crop.inputWidth, inputHeight: crop.inputHeight } } : {}),
          log: (line) => log.warn(line),
        };
        // On its own thread: session.run blocks the thread that calls it.
        this.#detector = options.workers > 0 ? await WorkerDetector.create(detectorConfig) : await Detector.create(detectorConfig);
        // Process-wide: every camera's ingest threads, current and future, at their next frame.
        loadAddon().setIngestNice(options.ingestNice);
        log.info('detector', { model: options.model, precision: options.precision, inputSize: options.inputSize, crops: crop ? `${crop.inputWidth}x${crop.inputHeight}` : 'off', providers: this.#detector.providers.join(',') });
      } catch (err) {
        // The built-in models come from set-up: without them cameras still run (and record) without detection.
        if (!(err instanceof VigilError && err.code === 'E_MODEL_MISSING')) throw err;
        log.warn(`${err.message}; cameras run without detection`);
      }
    }
    if (this.#detector) this.#startInference(ctx, this.#detector);
    const scheduler = this.#scheduler;
    const policy = this.#policy;
    const known = new Set<string>();
    const onFrame = (frame: Frame): void => {
      if (!scheduler) {
        frame.release();
        return;
      }
      if (policy) {
        if (!known.has(frame.cameraId)) {
          known.add(frame.cameraId);
          policy.addCamera(frame.cameraId, { detectFps: this.cameras.get(frame.cameraId)?.settings.detectFps ?? 0, quietFps: config.analysis!.quietFps });
        }
        if (frame.motion) policy.motion(frame.cameraId);
      }
      scheduler.submit(frame);
    };
    this.cameras.on('frame', onFrame);
    this.#off.push(() => this.cameras.off('frame', onFrame));
    if (policy) {
      this.#off.push(
        this.analytics.framePath.addHook({
          // A frame analysed after its camera was removed (in flight at remove: cluster hand-off, REST delete) is not the policy's.
          onFrameAnalysed: (cameraId, movingTracks) => void (known.has(cameraId) && policy.tracks(cameraId, movingTracks)),
          onCameraStopped: (cameraId) => {
            known.delete(cameraId);
            policy.removeCamera(cameraId);
          },
        }),
      );
    }
  }

  #startInference(ctx: ServiceContext, detector: Detector | WorkerDetector): void {
    const path = this.analytics.framePath;
    // A failure of every frame (a tensor the model refuses) is logged once with a count, counted and shown in health.
    const errors = new ErrorTally('inference', {
      log: (message, fields) => ctx.log.error(message, fields),
      metric: { registry: ctx.metrics, name: 'vigil_inference_errors_total', help: 'Frames whose inference failed' },
    });
    this.#off.push(ctx.health.register('inference', errors.healthCheck()), () => errors.flush());
    const scheduler = new InferenceScheduler(detector, {
      // With inference on worker threads, one batch more than workers keeps them busy while this thread handles
      // the previous results.
      concurrency: (ctx.config.detector?.workers ?? 0) + 1,
      onDetections: (r, frame) => path.process(r, frame),
      onError: (err) => errors.report(err),
    });
    this.#scheduler = scheduler;
    // While a camera has live tracks its tensors are whole frames (tracked objects may lie outside the motion).
    this.#off.push(
      path.addHook({
        onFrameAnalysed: (cameraId, liveTracks) => this.cameras.get(cameraId)?.setFullFrame(liveTracks > 0),
      }),
    );
    const analysis = ctx.config.analysis;
    if (analysis) {
      const policy = new AnalysisRatePolicy({
        setRate: (id, fps) => this.cameras.get(id)?.setAnalysisRate(fps),
        setPriority: (id, p) => scheduler.setPriority(id, p),
        holdMs: analysis.holdMs,
      });
      policy.start(250);
      this.#policy = policy;
    }
    registerInferenceMetrics(ctx.metrics, scheduler, this.#policy);
  }

  async stop(): Promise<void> {
    for (const off of this.#off.splice(0)) off();
    this.#policy?.close();
    await this.#scheduler?.close();
    await this.#detector?.close();
  }
}

function registerInferenceMetrics(registry: Registry, scheduler: InferenceScheduler, policy: AnalysisRatePolicy | null): void {
  type Stats = ReturnType<InferenceScheduler['stats']>['cameras'][string];
  const perCamera: ReadonlyArray<readonly [string, string, (s: Stats) => number]> = [
    ['vigil_inference_frames', 'Frames analysed by the detector, per camera', (s) => s.inferred],
    ['vigil_inference_shed_frames', 'Frames shed because inference fell behind, per camera', (s) => s.shed],
    ['vigil_inference_shed_streak_max_ms', 'Longest run of shed frames per camera (since start or the last resetShedStreaks()), ms of stream time', (s) => s.maxShedStreakMs],
  ];
  for (const [name, help, value] of perCamera) {
    perCameraGauge(registry, name, help, () => Object.entries(scheduler.stats().cameras).map(([id, s]) => [id, value(s)] as const));
  }
  if (policy) {
    perCameraGauge(registry, 'vigil_analysis_rate_fps', 'Current analysis rate per camera (adaptive: the quiet rate without moving tracks, detectFps with)',
      () => Object.entries(policy.stats().cameras).map(([id, c]) => [id, c.rateFps] as const));
  }
}

/** How often abandoned pipelines are checked for a teardown that finished late (ms). */
const REAP_INTERVAL_MS = 5_000;

export class CamerasService implements Service {
  readonly name = 'cameras';
  #reapTimer: NodeJS.Timeout | null = null;
  constructor(
    private readonly cameras: CameraManager,
    private readonly catalog: CameraCatalogService | null = null,
  ) {}

  async start(ctx: ServiceContext): Promise<void> {
    const camLog = ctx.log.child('camera');
    const addon = loadAddon();
    new Gauge({
      name: 'vigil_pipelines',
      help: 'GStreamer pipelines by state: open (created, not closed), abandoned (closed, but its stop did not reach state NULL within its close timeout: its graph, frame sink and tensor pool kept until that teardown finishes on its own thread, or for good)',
      labelNames: ['state'],
      registers: [ctx.metrics],
      collect() {
        this.set({ state: 'open' }, addon.openPipelines());
        this.set({ state: 'abandoned' }, addon.abandonedPipelines());
      },
    });
    let reapedSeen = 0;
    new Counter({
      name: 'vigil_pipelines_released_late_total',
      help: 'Abandoned pipelines whose teardown finished after their close timeout and whose graph, frame sink and tensor pool were then released',
      registers: [ctx.metrics],
      collect() {
        const n = addon.reapedPipelines();
        this.inc(n - reapedSeen);
        reapedSeen = n;
      },
    });
    const kicksSeen = { kicks: 0, teardownsKicked: 0, finishedAfterKick: 0, jitterbuffersStuck: 0 };
    new Counter({
      name: 'vigil_pipeline_teardown_kicks_total',
      help: 'Pipeline teardowns that ran past a second and whose rtpjitterbuffers were sent a flush-start to end a GStreamer 1.22 rtspsrc teardown deadlock, by what is counted: kicks (each one that reached a jitterbuffer), teardowns (teardowns kicked at least once), finished (kicked teardowns that reached state NULL since), stuck (jitterbuffers found in the deadlock\'s state when kicked)',
      labelNames: ['what'],
      registers: [ctx.metrics],
      collect() {
        const k = addon.teardownKicks();
        for (const [key, label] of [['kicks', 'kicks'], ['teardownsKicked', 'teardowns'], ['finishedAfterKick', 'finished'], ['jitterbuffersStuck', 'stuck']] as const) {
          this.inc({ what: label }, k[key] - kicksSeen[key]);
          kicksSeen[key] = k[key];
        }
      },
    });
    // An abandoned pipeline keeps its memory (about 15 MB for a 720p camera: frame sink, tensor pool, decoder
    // state) until its teardown ends; most do end, late, and are released here; of one that stays stuck, the frame
    // sink and tensor pool go once no streaming thread can reach them.
    this.#reapTimer = setInterval(() => {
      const { finished, sinksReleased } = addon.reapAbandonedPipelines();
      if (finished > 0) camLog.info(`${finished} abandoned pipeline(s) finished their teardown late: released`);
      if (sinksReleased > 0) camLog.info(`${sinksReleased} abandoned pipeline(s) still tearing down: frame sink and tensor pool released`);
    }, REAP_INTERVAL_MS);
    this.#reapTimer.unref();
    if (ctx.config.cluster) {
      // A cluster node runs only the cameras the cluster places on it: ClusterService (src/cluster/) starts them.
      camLog.info('cluster node: cameras start where the cluster places them');
      return;
    }
    for (const settings of ctx.config.cameras) {
      const camera = this.cameras.add(settings);
      camLog.info(`${camera.id} added`, { source: camera.displaySource, detectFps: settings.detectFps });
    }
    const stored = this.catalog?.catalog.load() ?? 0;
    if (stored > 0) camLog.info(`${stored} camera(s) added over the API started`);
  }

  async stop(): Promise<void> {
    if (this.#reapTimer) clearInterval(this.#reapTimer);
    this.#reapTimer = null;
    this.cameras.close();
    loadAddon().reapAbandonedPipelines();
  }
}
