/**
 * The REST camera catalog (src/camera/catalog.ts): opened before the HTTP service (its routes write through it),
 * loaded by CamerasService after the configured cameras, so stored API cameras start last, with every listener
 * attached.
 */
import type { CameraManager } from '../camera/manager.js';
import { CameraCatalog } from '../camera/catalog.js';
import { finishCamera, parseCameraSettings, rethrowAsConfig } from '../config/cameras.js';
import type { RecorderService } from './recorder.js';
import type { Service, ServiceContext } from './service.js';
import { started } from './service.js';

export class CameraCatalogService implements Service {
  readonly name = 'camera-catalog';
  #catalog: CameraCatalog | null = null;

  constructor(
    private readonly cameras: CameraManager,
    private readonly recorder: RecorderService,
  ) {}

  get catalog(): CameraCatalog {
    return started(this.#catalog, 'camera-catalog');
  }

  async start(ctx: ServiceContext): Promise<void> {
    const { config } = ctx;
    const defaults = config.cameraDefaults ?? {};
    const baseDir = config.baseDir ?? process.cwd();
    this.#catalog = new CameraCatalog({
      cameras: this.cameras,
      db: ctx.db.scope('cameras'),
      parse: (raw) =>
        finishCamera(rethrowAsConfig(() => parseCameraSettings(raw, 'camera', defaults)), { recordingsDir: config.recording.directory, baseDir }),
      recorder: this.recorder.recorder,
      log: ctx.log.child('camera'),
    });
  }

  async stop(): Promise<void> {
    // The cameras themselves stop with CamerasService (the manager's close); the database closes with its service.
  }
}
