/**
 * Frigate-compatible MQTT and Home Assistant discovery (src/integrations/mqtt-frigate/), when the config has a
 * `frigate:` section. Placed after the detector and before the cameras, so it sees every camera being added.
 */
import { FrigateMqttBridge } from '../integrations/mqtt-frigate/bridge.js';
import type { CameraManager } from '../camera/manager.js';
import type { AnalyticsService } from './analytics.js';
import type { DetectorService } from './cameras.js';
import type { RecorderService } from './recorder.js';
import type { Service, ServiceContext } from './service.js';
import type { SnapshotsService } from './snapshots.js';

const DEFAULT_LABELS = ['person', 'car'];

export class FrigateService implements Service {
  readonly name = 'frigate-mqtt';
  #bridge: FrigateMqttBridge | null = null;

  constructor(
    private readonly deps: { cameras: CameraManager; analytics: AnalyticsService; detector: DetectorService; recorder: RecorderService; snapshots: SnapshotsService },
  ) {}

  /** null: no `frigate:` section. */
  get bridge(): FrigateMqttBridge | null {
    return this.#bridge;
  }

  async start(ctx: ServiceContext): Promise<void> {
    const options = ctx.config.frigate;
    if (!options) return;
    const d = this.deps;
    const detector = ctx.config.detector;
    const scheduler = d.detector.scheduler;
    this.#bridge = new FrigateMqttBridge({
      options,
      cameras: d.cameras,
      events: d.analytics.framePath,
      snapshots: d.snapshots.snapshots,
      recorder: d.recorder.recorder,
      inference: scheduler,
      detectorName: detector ? `${detector.model}-${detector.precision}` : 'none',
      labels: detector?.only && detector.only.length > 0 ? detector.only : DEFAULT_LABELS,
      version: process.env.npm_package_version ?? '0.1.0',
      log: ctx.log.child('frigate'),
      registry: ctx.metrics,
    });
    this.#bridge.start();
  }

  async stop(): Promise<void> {
    await this.#bridge?.stop();
  }
}
