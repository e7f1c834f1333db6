export { FramePath, alertBox, trackEventData } from './frame-path.js';
export type { AnalysedFrame, DetectionSink, FrameHook, FramePathEvents, FramePathOptions, FramePathStats, RuleStage, SnapshotStage } from './frame-path.js';
export { motionBypassHook, type MotionGated } from './hooks.js';
