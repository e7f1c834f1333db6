export { Tracker, TrackerRegistry, iou } from './tracker.js';
export type { TrackerOptions, TrackObservation, TrackedObject, TrackEvent, TrackEventType, TrackerFrameResult } from './tracker.js';
