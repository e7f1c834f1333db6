export * from './types.js';
export { AxisAdapter, parseParamList } from './axis.js';
export { DahuaAdapter, parseDahuaLines } from './dahua.js';
export { HikvisionAdapter } from './hikvision.js';
export { MilestoneAdapter } from './milestone.js';
export { createVmsAdapter, VMS_TYPES } from './factory.js';
export {
  CameraSync,
  vigilCameraId,
  type CameraCredentials,
  type CameraDirectory,
  type CameraSyncOptions,
  type SourceStatus,
  type SyncCounts,
  type SyncedCamera,
  type SyncReport,
  type SyncSource,
} from './sync.js';
