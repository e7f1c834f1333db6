/**
 * The server, in-process: what `vigil serve` runs and what an OEM embeds. It is the ordered list of services
 * below, started in order and stopped in reverse; each gets what it needs from the services before it (see
 * src/services/). Per analysed frame: detector (batched across cameras) -> src/analytics/ (tracker -> snapshots ->
 * rules -> store -> stream and queues).
 */
import { CameraManager } from './camera/manager.js';
import type { VigilConfig } from './config/index.js';
import type { Detector } from './inference/detector.js';
import type { WorkerDetector } from './inference/worker-detector.js';
import type { InferenceScheduler } from './inference/scheduler.js';
import { createLogger, type Logger } from './log.js';
import type { Recorder } from './recording/recorder.js';
import type { RuleService } from './rules/index.js';
import type { DetectionStore } from './store/index.js';
import type { ApiServer } from './api/server.js';
import { NotificationsService, RulesService } from './services/alerts.js';
import { AnalyticsService } from './services/analytics.js';
import { ClusterService } from './cluster/service.js';
import { CameraCatalogService } from './services/camera-catalog.js';
import { FrigateService } from './services/frigate.js';
import { CamerasService, DetectorService } from './services/cameras.js';
import { DatabaseService } from './services/database.js';
import { HttpService } from './services/http.js';
import { IntegrationsService, VmsSyncService } from './services/integrations.js';
import { RecorderService } from './services/recorder.js';
import { ProcessService } from './services/process.js';
import { createContext, startServices, type Service } from './services/service.js';
import { SnapshotsService } from './services/snapshots.js';
import { RetentionService, SearchService } from './services/store.js';

export interface VigilServer {
  readonly config: VigilConfig;
  /** Replaces the config file's rules (hot reload: cameras and API rules untouched). All-or-nothing. */
  reloadRules(rules: unknown[]): Promise<void>;
  readonly cameras: CameraManager;
  readonly store: DetectionStore;
  readonly rules: RuleService;
  readonly http: ApiServer | null;
  /** The detector (on its inference thread unless `detector.workers` is 0); null when detection is off. */
  readonly detector: Detector | WorkerDetector | null;
  /** Inference scheduling across cameras (per-camera analysed / shed counts, latency); null without a detector. */
  readonly scheduler: InferenceScheduler | null;
  readonly recorder: Recorder | null;
  /** Detections stored and streamed so far. */
  stats(): { framesAnalysed: number; detections: number; storeDropped: number; trackWriteErrors: number };
  /** Stops everything in reverse start order. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
  /** Start the REST/WebSocket server (default true). */
  listen?: boolean;
}

export async function createServer(config: VigilConfig, options: ServerOptions = {}): Promise<VigilServer> {
  const log = options.log ?? createLogger('vigil');
  const ctx = createContext(config, log);
  const cameras = new CameraManager();

  const database = new DatabaseService();
  const search = new SearchService();
  const retention = new RetentionService(search);
  const recorder = new RecorderService();
  const integrations = new IntegrationsService(cameras, recorder);
  const snapshots = new SnapshotsService(integrations, search);
  const rules = new RulesService();
  const notifications = new NotificationsService(rules, snapshots, integrations); // integrations: vms channels
  const catalog = new CameraCatalogService(cameras, recorder); // cameras added over the API (persisted)
  // A cluster node (config `cluster:`) places cameras, bridges events and shares config; without it, nothing.
  // Started last; the API reads its parts once it joined (cluster-wide cameras, alerts, search, users).
  let cluster: ClusterService | null = null;
  const http = options.listen === false ? null : new HttpService({ cameras, search, recorder, integrations, snapshots, rules, catalog, cluster: () => cluster?.parts ?? null });
  const analytics = new AnalyticsService({ cameras, rules, notifications, snapshots, integrations, recorder, stream: http });
  const detector = new DetectorService(cameras, analytics);
  const services: Service[] = [
    new ProcessService(), // heap upkeep, GStreamer object counts
    database, search, retention, recorder, integrations, snapshots, rules, notifications, catalog,
    ...(http ? [http] : []),
    analytics, // camera and alert listeners: attached before any camera exists
    detector,
    new FrigateService({ cameras, analytics, detector, recorder, snapshots }), // frigate: MQTT, sees every camera added
    new VmsSyncService(integrations), // imported cameras
    new CamerasService(cameras, catalog), // configured cameras, then the stored API ones
  ];
  cluster = new ClusterService({ cameras, analytics, rules, streamLog: () => http?.http?.hub.log ?? null, search, auth: () => http?.auth ?? null, integrations });
  services.push(cluster);
  const running = await startServices(services, ctx);
  let stopping: Promise<void> | null = null;

  return {
    config,
    cameras,
    store: ctx.db.detections,
    rules: rules.rules,
    http: http?.http ?? null,
    detector: detector.detector,
    scheduler: detector.scheduler,
    recorder: recorder.recorder,
    reloadRules: (list) => rules.rules.syncConfigRules(list),
    stats: () => ({ ...analytics.framePath.stats(), storeDropped: ctx.db.detections.stats().droppedDetections }),
    stop: () => (stopping ??= running.stop().then(() => log.info('stopped'))),
  };
}
