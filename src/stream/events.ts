/**
 * The events the stream carries, as plain objects (what producers publish and what a replay source yields).
 * The hub assigns each one a server-wide sequence number; the codec turns it into a FlatBuffers Message.
 */
import type { Alert, Box, CameraStatus, DetectionBatch, TrackSummary } from '../types.js';

export type TrackPhase = 'start' | 'update' | 'end';

export interface TrackEventData {
  phase: TrackPhase;
  track: TrackSummary;
  /** Time of this observation, ns since the Unix epoch. */
  timestampNs: bigint;
  /** Latest box and confidence (for 'start'/'update'); the best observation is used when absent. */
  box?: Box;
  confidence?: number;
}

export interface CameraStatusEventData {
  cameraId: string;
  status: CameraStatus;
  previous: CameraStatus;
  timestampNs: bigint;
  /** Error text, credentials already redacted by the producer; '' when none. */
  message: string;
}

/** Message kinds a client can subscribe to. */
export type EventKind = 'detections' | 'tracks' | 'alerts' | 'camera_status';
export const EVENT_KINDS: readonly EventKind[] = ['detections', 'tracks', 'alerts', 'camera_status'];

export type StreamEvent =
  | { kind: 'detections'; batch: DetectionBatch }
  | { kind: 'tracks'; track: TrackEventData }
  | { kind: 'alerts'; alert: Alert }
  | { kind: 'camera_status'; status: CameraStatusEventData };

/** An event with its server-wide sequence number (1, 2, 3...; numbers, exact up to 2^53). */
export interface SequencedEvent {
  seq: number;
  event: StreamEvent;
}

/** The camera an event belongs to (every event has exactly one). */
export function eventCamera(event: StreamEvent): string {
  switch (event.kind) {
    case 'detections':
      return event.batch.cameraId;
    case 'tracks':
      return event.track.track.cameraId;
    case 'alerts':
      return event.alert.cameraId;
    case 'camera_status':
      return event.status.cameraId;
  }
}

/**
 * Where sequence numbers come from and where a reconnecting client's missed events are replayed from.
 * The in-memory ring (ring.ts) implements it now; the detection store can implement it to replay from disk.
 */
export interface EventLog {
  /** Assigns the next sequence number to `event` and retains it. */
  append(event: StreamEvent): SequencedEvent;
  /** Newest assigned sequence (0 when none). */
  lastSeq(): number;
  /** Oldest sequence still replayable (0 when nothing is retained). */
  oldestSeq(): number;
  /** Events with seq > afterSeq, oldest first, up to and including `untilSeq`. */
  since(afterSeq: number, untilSeq: number): AsyncIterable<SequencedEvent>;
}
