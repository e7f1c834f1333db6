/**
 * What a cluster node adds to its API (started by src/cluster/service.ts once the coordinator runs): the
 * scatter-gather responders and cluster-wide reads (src/cluster/reads.ts), the camera writer into the config
 * bucket (src/cluster/camera-writer.ts) and the user mirror (src/cluster/users.ts).
 */
import type { AuthService } from '../auth/service.js';
import type { CameraManager } from '../camera/manager.js';
import { finishCamera, parseCameraSettings, rethrowAsConfig } from '../config/cameras.js';
import type { Integrations } from '../integrations/runtime.js';
import type { Logger } from '../log.js';
import type { RulesService } from '../services/alerts.js';
import type { ServiceContext } from '../services/service.js';
import type { VectorIndex } from '../store/vector-index.js';
import { ClusterCameraWriter } from './camera-writer.js';
import type { Coordinator } from './coordinator.js';
import type { ClusterBackend } from './nats.js';
import type { ClusterOptions } from './options.js';
import { NodeReads } from './reads.js';
import type { SharedConfig } from './shared-config.js';
import { UserSync } from './users.js';

export interface NodeApiDeps {
  options: ClusterOptions;
  backend: ClusterBackend;
  coordinator: Coordinator;
  shared: SharedConfig;
  cameras: CameraManager;
  log: Logger;
  rules: RulesService;
  search: { vectors: VectorIndex } | undefined;
  auth: (() => AuthService | null) | undefined;
  integrations: { integrations: Integrations } | undefined;
}

/** Starts the node's API parts; their stops go onto `off` (run in reverse by the service). */
export async function startNodeApi(ctx: ServiceContext, d: NodeApiDeps, off: Array<() => void>): Promise<{ reads: NodeReads; cameraWriter: ClusterCameraWriter }> {
  const reads = new NodeReads({
    nodeId: d.options.nodeId,
    backend: d.backend,
    shared: d.shared,
    cameras: d.cameras,
    rules: () => {
      try {
        return d.rules.rules;
      } catch {
        return null;
      }
    },
    vectors: () => {
      try {
        return d.search?.vectors ?? null;
      } catch {
        return null;
      }
    },
    fenceOf: (id) => d.coordinator.fenceOf(id),
    timeoutMs: d.options.queryTimeoutMs,
    log: d.log,
  });
  await reads.start();
  off.push(() => reads.stop());

  const { config } = ctx;
  const defaults = config.cameraDefaults ?? {};
  const baseDir = config.baseDir ?? process.cwd();
  const cameraWriter = new ClusterCameraWriter({
    shared: d.shared,
    parse: (raw) => finishCamera(rethrowAsConfig(() => parseCameraSettings(raw, 'camera', defaults)), { recordingsDir: config.recording.directory, baseDir }),
    localIds: () => d.cameras.list().map((c) => c.id),
  });

  // VMS imports (every node syncs the same sources): into the cluster's cameras, written only when changed.
  const integrations = d.integrations?.integrations;
  if (integrations) {
    integrations.setCameraPlacer({
      put: async (settings) => {
        const cur = d.shared.camera(settings.id);
        if (cur && JSON.stringify(cur) === JSON.stringify(settings)) return;
        if (cur && cur.origin !== 'vms') {
          d.log.warn(`${settings.id}: VMS camera not imported: the id is taken in the cluster configuration`);
          return;
        }
        await d.shared.putCamera(settings);
      },
      remove: async (id) => {
        if (d.shared.camera(id)?.origin === 'vms') await d.shared.deleteCamera(id);
      },
    });
    integrations.startVmsSync();
  }

  const auth = d.auth?.() ?? null;
  if (auth) {
    const users = new UserSync(d.shared, auth, d.options.nodeId, d.log);
    await users.start();
    off.push(() => users.stop());
  }
  return { reads, cameraWriter };
}
