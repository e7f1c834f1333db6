/**
 * Integrations: queue sinks and the media store from start; VMS camera imports from a later service
 * (VmsSyncService), once the camera listeners are attached.
 */
import type { CameraManager } from '../camera/manager.js';
import { Integrations } from '../integrations/runtime.js';
import type { RecorderService } from './recorder.js';
import type { Service, ServiceContext } from './service.js';
import { started } from './service.js';

export class IntegrationsService implements Service {
  readonly name = 'integrations';
  #rt: Integrations | null = null;

  constructor(
    private readonly cameras: CameraManager,
    private readonly recorder: RecorderService,
  ) {}

  get integrations(): Integrations {
    return started(this.#rt, 'integrations');
  }

  async start(ctx: ServiceContext): Promise<void> {
    this.#rt = await Integrations.create(ctx.config.integrations, {
      cameras: this.cameras,
      dataDir: ctx.config.dataDir,
      log: ctx.log.child('integrations'),
      registry: ctx.metrics,
      health: ctx.health,
      recorder: this.recorder.recorder,
    });
  }

  async stop(): Promise<void> {
    await this.#rt?.close();
  }
}

/** Starts the VMS camera syncs (their cameras join the camera list like configured ones). */
export class VmsSyncService implements Service {
  readonly name = 'vms-sync';
  constructor(private readonly integrations: IntegrationsService) {}
  async start(ctx: ServiceContext): Promise<void> {
    // A cluster node syncs once it joined, into the cluster's camera configuration (src/cluster/node-api.ts).
    if (ctx.config.cluster) return;
    this.integrations.integrations.startVmsSync();
  }
  async stop(): Promise<void> {
    // Integrations.close() (a service started earlier, so stopped later) ends the syncs and removes their cameras.
  }
}
