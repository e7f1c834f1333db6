/** A CameraDirectory (src/integrations/vms/sync.ts) over a Map: what the VMS sync tests import cameras into. */
import type { CameraCredentials, CameraDirectory, SyncedCamera } from '../../src/integrations/vms/sync.js';

/** A camera list in a Map, for the sync tests. `list()` returns copies without credentials. */
export class InMemoryCameraDirectory implements CameraDirectory {
  private readonly cameras = new Map<string, { camera: SyncedCamera; credentials: CameraCredentials | null }>();

  listBySource(source: string): SyncedCamera[] {
    return [...this.cameras.values()].filter((e) => e.camera.origin.source === source).map((e) => structuredClone(e.camera));
  }

  upsert(camera: SyncedCamera, credentials: CameraCredentials | null): void {
    this.cameras.set(camera.id, { camera: structuredClone(camera), credentials: credentials ? { ...credentials } : null });
  }

  remove(cameraId: string): void {
    this.cameras.delete(cameraId);
  }

  list(): SyncedCamera[] {
    return [...this.cameras.values()].map((e) => structuredClone(e.camera)).sort((a, b) => a.id.localeCompare(b.id));
  }

  get(cameraId: string): SyncedCamera | undefined {
    const e = this.cameras.get(cameraId);
    return e ? structuredClone(e.camera) : undefined;
  }

  /** For the camera manager only (to open the stream); never for API responses. */
  credentialsFor(cameraId: string): CameraCredentials | null {
    const e = this.cameras.get(cameraId);
    return e?.credentials ? { ...e.credentials } : null;
  }

  get size(): number {
    return this.cameras.size;
  }
}
