/**
 * Shared domain types. Units are in the names: `Ns` = nanoseconds since the Unix epoch (bigint, as stored and
 * sent on the wire), `Ms` = milliseconds. Boxes are in source-frame pixels unless a type says otherwise.
 */

/** Axis-aligned box in source-frame pixels: top-left corner (x1, y1), bottom-right corner (x2, y2). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** One object found in one frame by a detector. */
export interface Detection {
  classId: number;
  className: string;
  /** 0..1 */
  confidence: number;
  box: Box;
  /** Track id once the tracker has associated the detection; absent before tracking. */
  trackId?: number;
}

/** All detections of one frame of one camera. */
export interface DetectionBatch {
  cameraId: string;
  /** Per-camera frame sequence number from the ingest pipeline. */
  frameSequence: number;
  /** Capture time of the frame, ns since the Unix epoch. */
  timestampNs: bigint;
  frameWidth: number;
  frameHeight: number;
  detections: Detection[];
}

/** A detection as stored: what `GET /detections` returns, one row per detection. */
export interface StoredDetection extends Detection {
  /** Server-wide sequence assigned when the row was committed. */
  seq: bigint;
  cameraId: string;
  timestampNs: bigint;
  frameWidth: number;
  frameHeight: number;
}

export type TrackState = 'active' | 'lost' | 'ended';

export interface TrackSummary {
  trackId: number;
  cameraId: string;
  classId: number;
  className: string;
  startNs: bigint;
  endNs: bigint | null;
  /** Highest-scoring observation: kept for snapshots and embeddings. */
  bestConfidence: number;
  bestBox: Box;
  bestFrameSequence: number;
  bestTimestampNs: bigint;
}

export type AlertState = 'raised' | 'updated' | 'cleared' | 'acknowledged';

export interface Alert {
  alertId: string;
  ruleId: string;
  ruleName: string;
  cameraId: string;
  state: AlertState;
  /** Human-readable summary, e.g. "person crossed Gate A (A→B)". */
  message: string;
  trackIds: number[];
  raisedNs: bigint;
  updatedNs: bigint;
  clearedNs: bigint | null;
  acknowledgedBy: string | null;
  /** Rule-kind specific details (direction, count, dwell seconds...). */
  details: Record<string, unknown>;
}

export type CameraStatus = 'starting' | 'running' | 'stalled' | 'reconnecting' | 'stopped' | 'failed';

export interface CameraInfo {
  id: string;
  name: string;
  status: CameraStatus;
  /** Source URL with credentials removed. */
  source: string;
  width: number | null;
  height: number | null;
  fps: number | null;
  lastError: string | null;
  /** Free-text location from the camera's settings. */
  location?: string | null;
  /** The source as a URI, credentials removed (`rtsp://***@host/...`, `file:///...`). */
  streamUrl?: string;
  /** Wall-clock ms of the last frame; null: none yet. */
  lastSeenMs?: number | null;
  /** Where the camera is defined: the config file, the REST API (persisted), or a VMS sync. */
  origin?: 'config' | 'api' | 'vms';
  /** Whether its frames go on to detection (switched off at run time over MQTT). */
  detection?: boolean;
}
