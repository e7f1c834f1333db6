/**
 * `POST /cameras`, `PUT /cameras/{id}`, `DELETE /cameras/{id}` on a cluster node: the camera goes into the cluster's
 * config bucket (`camera.<id>`, src/cluster/shared-config.ts) instead of this node's catalog, so placement runs it
 * on exactly one node (whichever claims its lease) and every node lists it. Same parser, defaults and messages as
 * the single server's catalog (src/camera/catalog.ts), same rule: only cameras added over the API (`origin: api`)
 * can be changed or removed over the API; a camera of a config file is changed with `vigil cluster` or the file
 * that seeded it.
 *
 * Not supported here: a recorded API camera (its recording policy would have to follow the camera from node to
 * node); it is refused with the catalog's E_ARGUMENT message shape.
 */
import type { CameraSettings } from '../camera/camera.js';
import { CameraCatalogError } from '../camera/catalog.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import type { SharedConfig } from './shared-config.js';

export interface ClusterCameraWriterDeps {
  shared: SharedConfig;
  /** The config loader's camera parser over the config's cameraDefaults (as the catalog's). */
  parse: (raw: unknown) => { settings: CameraSettings; policy: CameraRecordingPolicy | null };
  /** Cameras running here that the bucket does not list (VMS imports): their ids are taken too. */
  localIds: () => string[];
}

export class ClusterCameraWriter {
  #chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ClusterCameraWriterDeps) {}

  add(raw: unknown): Promise<CameraSettings> {
    return this.#serial(async () => {
      const settings = this.#parse(raw);
      const id = settings.id;
      if (this.d.shared.camera(id) || this.d.localIds().includes(id)) throw new CameraCatalogError('E_CAMERA_EXISTS', `Camera ${JSON.stringify(id)} exists`);
      await this.d.shared.putCamera(settings);
      await this.#seen(id, true);
      return settings;
    });
  }

  replace(id: string, raw: unknown): Promise<CameraSettings> {
    return this.#serial(async () => {
      this.#editable(id);
      const body = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
      if (body && body.id !== undefined && body.id !== id) {
        throw new CameraCatalogError('E_CAMERA_ID_MISMATCH', `The body's id ${JSON.stringify(body.id)} is not the camera's id ${JSON.stringify(id)}`);
      }
      const settings = this.#parse(body ? { ...body, id } : raw);
      await this.d.shared.putCamera(settings);
      return settings;
    });
  }

  remove(id: string): Promise<void> {
    return this.#serial(async () => {
      this.#editable(id);
      await this.d.shared.deleteCamera(id);
      await this.#seen(id, false);
    });
  }

  /** Waits (up to 5 s) until this node's view of the bucket shows the write, so the answer reads it back. */
  async #seen(id: string, present: boolean): Promise<void> {
    const shared = this.d.shared;
    if ((shared.camera(id) !== undefined) === present) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        shared.off('cameras', check);
        resolve();
      };
      const check = (): void => void ((shared.camera(id) !== undefined) === present && done());
      const timer = setTimeout(done, 5000);
      shared.on('cameras', check);
    });
  }

  #editable(id: string): void {
    const s = this.d.shared.camera(id);
    if (!s) {
      if (this.d.localIds().includes(id)) throw new CameraCatalogError('E_CAMERA_READONLY', `Camera ${JSON.stringify(id)} is defined in its VMS (it is imported by a VMS sync): change it there`);
      throw new CameraCatalogError('E_CAMERA_NOT_FOUND', `No camera ${JSON.stringify(id)}`);
    }
    if (s.origin !== 'api') {
      throw new CameraCatalogError('E_CAMERA_READONLY', `Camera ${JSON.stringify(id)} is defined in the cluster configuration seeded from a config file: change it there`);
    }
  }

  #parse(raw: unknown): CameraSettings {
    const r = this.d.parse(raw);
    if (r.policy) {
      throw new CameraCatalogError(
        'E_ARGUMENT',
        `Expected "off" for camera.record.mode but received ${JSON.stringify(r.policy.mode)}: a cluster node does not record cameras added over the API`,
      );
    }
    return { ...r.settings, origin: 'api' };
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}
