export { Tracker, TrackerRegistry, iou, bufferedIou } from './tracker.js';
export type { TrackerOptions, TrackObservation, TrackedObject, TrackEvent, TrackEventType, TrackerFrameResult } from './tracker.js';
