/** Inference (detector and scheduler) and the configured cameras: the last services, so everything they feed is up. */
import { existsSync } from 'node:fs';
import { Gauge } from 'prom-client';
import type { CameraManager } from '../camera/manager.js';
import type { Frame } from '../camera/frame.js';
import { Detector } from '../inference/detector.js';
import { modelPath, nanodetPreset } from '../inference/models.js';
import { InferenceScheduler } from '../inference/scheduler.js';
import type { AnalyticsService } from './analytics.js';
import type { Service, ServiceContext } from './service.js';

export class DetectorService implements Service {
  readonly name = 'detector';
  #detector: Detector | null = null;
  #scheduler: InferenceScheduler | null = null;
  #off: (() => void) | null = null;

  constructor(
    private readonly cameras: CameraManager,
    private readonly analytics: AnalyticsService,
  ) {}

  /** null: detection is off or its model is missing. */
  get detector(): Detector | null {
    return this.#detector;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config, log } = ctx;
    const path = this.analytics.framePath;
    if (config.detector.enabled) {
      const file = config.detector.modelPath ?? modelPath('nanodet');
      if (!existsSync(file)) {
        log.warn(`detector model ${file} is missing: run \`bash scripts/setup.sh\`; cameras run without detection`);
      } else {
        this.#detector = await Detector.create(nanodetPreset({ modelPath: file, scoreThreshold: config.detector.scoreThreshold }));
        this.#scheduler = new InferenceScheduler(this.#detector, {
          onDetections: (r, frame) => path.process(r, frame),
          onError: (err) => log.error(`inference: ${(err as Error).message}`),
        });
        const scheduler = this.#scheduler;
        new Gauge({
          name: 'vigil_inference_shed_frames',
          help: 'Frames shed because inference fell behind, per camera',
          labelNames: ['camera'],
          registers: [ctx.metrics],
          collect() {
            this.reset();
            for (const [id, s] of Object.entries(scheduler.stats().cameras)) this.set({ camera: id }, s.shed);
          },
        });
      }
    }
    const scheduler = this.#scheduler;
    const onFrame = (frame: Frame): void => (scheduler ? scheduler.submit(frame) : frame.release());
    this.cameras.on('frame', onFrame);
    this.#off = () => this.cameras.off('frame', onFrame);
  }

  async stop(): Promise<void> {
    this.#off?.();
    await this.#scheduler?.close();
    await this.#detector?.close();
  }
}

export class CamerasService implements Service {
  readonly name = 'cameras';
  constructor(private readonly cameras: CameraManager) {}

  async start(ctx: ServiceContext): Promise<void> {
    const camLog = ctx.log.child('camera');
    for (const settings of ctx.config.cameras) {
      const camera = this.cameras.add(settings);
      camLog.info(`${camera.id} added`, { source: camera.displaySource, detectFps: settings.detectFps });
    }
  }

  async stop(): Promise<void> {
    this.cameras.close();
  }
}
