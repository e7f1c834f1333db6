/**
 * Cameras added over the REST API: validated by the config file's camera parser (same keys, defaults and
 * messages), persisted in the server's LMDB database (`cameras` scope) so they come back after a restart, and
 * run by the same CameraManager as configured and VMS-imported cameras. Only cameras this catalog created can be
 * changed or removed through it: a camera of the config file is changed in the file, a VMS camera in its VMS.
 *
 * Stored definitions are what the admin sent (an RTSP password included, as in a config file); the API never
 * returns them, only the camera's redacted view.
 */
import type { Database as LmdbDatabase } from 'lmdb';
import type { DatabaseScope } from '../db/database.js';
import { VigilError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { CameraRecordingPolicy } from '../recording/recorder.js';
import type { Camera, CameraSettings } from './camera.js';
import type { CameraManager } from './manager.js';

export interface StoredCameraDefinition {
  /** The definition as sent (a mapping of camera keys, `id` included). */
  definition: Record<string, unknown>;
  createdMs: number;
  updatedMs: number;
}

/** A REST camera request that cannot be done; `code` says why (the API maps it to its status). */
export class CameraCatalogError extends VigilError {}

export interface CameraCatalogOptions {
  cameras: CameraManager;
  /** The `cameras` scope of the server's database. */
  db: DatabaseScope;
  /**
   * The config loader's camera parser over the config's cameraDefaults: throws E_CONFIG / E_ARGUMENT naming the
   * key, returns the runnable settings and the recorder policy (null: not recorded).
   */
  parse: (raw: unknown) => { settings: CameraSettings; policy: CameraRecordingPolicy | null };
  /** Where recorded cameras' policies go; null: this server records nothing (a recorded camera is refused). */
  recorder: { setPolicy(cameraId: string, policy: CameraRecordingPolicy): void } | null;
  log?: Logger;
}

export class CameraCatalog {
  readonly #o: CameraCatalogOptions;
  readonly #db: LmdbDatabase<StoredCameraDefinition, string>;
  readonly #log: Logger;
  // Serialises add/replace/remove: each awaits its commit between checking and changing the camera list.
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: CameraCatalogOptions) {
    this.#o = options;
    this.#db = options.db.open<StoredCameraDefinition, string>('definitions');
    this.#log = options.log ?? silentLogger;
  }

  /** Ids of the stored (API) cameras. */
  ids(): string[] {
    return [...this.#db.getKeys({})].map(String);
  }

  /** The stored definition of an API camera (secrets included: not for API responses). */
  stored(id: string): StoredCameraDefinition | undefined {
    return this.#db.get(id);
  }

  /**
   * Starts the stored cameras (after the configured ones). A stored camera that no longer parses (a default it
   * relied on changed) or whose id the config file now uses is logged and left out, never thrown: the server starts.
   */
  load(): number {
    let n = 0;
    for (const { key, value } of this.#db.getRange({})) {
      const id = String(key);
      if (this.#o.cameras.get(id)) {
        this.#log.warn(`${id}: stored API camera not started: the id is in use (config file or VMS)`);
        continue;
      }
      try {
        this.#start(this.#parse(value.definition));
        n++;
      } catch (err) {
        this.#log.warn(`${id}: stored API camera not started: ${(err as Error).message}`);
      }
    }
    return n;
  }

  /** Adds, persists and starts a camera; E_CAMERA_EXISTS when the id is taken (by any camera). */
  add(raw: unknown): Promise<Camera> {
    return this.#serial(async () => {
      const parsed = this.#parse(raw);
      const id = parsed.settings.id;
      if (this.#o.cameras.get(id) || this.#db.get(id)) throw new CameraCatalogError('E_CAMERA_EXISTS', `Camera ${JSON.stringify(id)} exists`);
      const now = Date.now();
      await this.#db.put(id, { definition: raw as Record<string, unknown>, createdMs: now, updatedMs: now });
      this.#log.info(`${id} added over the API`);
      return this.#start(parsed);
    });
  }

  /**
   * Replaces an API camera's definition (the body's id, if given, must be the path's) and restarts it with the
   * new settings.
   */
  replace(id: string, raw: unknown): Promise<Camera> {
    return this.#serial(async () => {
      const prev = this.#editable(id);
      const body = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
      if (body && body.id !== undefined && body.id !== id) {
        throw new CameraCatalogError('E_CAMERA_ID_MISMATCH', `The body's id ${JSON.stringify(body.id)} is not the camera's id ${JSON.stringify(id)}`);
      }
      const definition = body ? { ...body, id } : raw;
      const parsed = this.#parse(definition);
      await this.#db.put(id, { definition: definition as Record<string, unknown>, createdMs: prev.createdMs, updatedMs: Date.now() });
      this.#o.cameras.remove(id);
      this.#log.info(`${id} changed over the API: restarting`);
      return this.#start(parsed);
    });
  }

  /** Stops and forgets an API camera. */
  remove(id: string): Promise<void> {
    return this.#serial(async () => {
      this.#editable(id);
      await this.#db.remove(id);
      this.#o.cameras.remove(id);
      this.#log.info(`${id} removed over the API`);
    });
  }

  #editable(id: string): StoredCameraDefinition {
    const cam = this.#o.cameras.get(id);
    if (cam && cam.settings.origin !== 'api') {
      const where = cam.settings.origin === 'vms' ? 'its VMS (it is imported by a VMS sync)' : 'the config file';
      throw new CameraCatalogError('E_CAMERA_READONLY', `Camera ${JSON.stringify(id)} is defined in ${where}: change it there`);
    }
    const stored = this.#db.get(id);
    if (!stored) throw new CameraCatalogError('E_CAMERA_NOT_FOUND', `No camera ${JSON.stringify(id)}`);
    return stored;
  }

  #parse(raw: unknown): { settings: CameraSettings; policy: CameraRecordingPolicy | null } {
    const r = this.#o.parse(raw);
    if (r.policy && !this.#o.recorder) {
      throw new CameraCatalogError(
        'E_ARGUMENT',
        `Expected "off" for camera.record.mode but received ${JSON.stringify(r.policy.mode)}: this server has no recorder (no configured camera records)`,
      );
    }
    return { settings: { ...r.settings, origin: 'api' }, policy: r.policy };
  }

  #start({ settings, policy }: { settings: CameraSettings; policy: CameraRecordingPolicy | null }): Camera {
    if (policy) this.#o.recorder!.setPolicy(settings.id, policy);
    return this.#o.cameras.add(settings);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}
