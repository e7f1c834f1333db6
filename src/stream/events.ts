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
 *
 * Two kinds: the in-memory ring (ring.ts) numbers an event synchronously in `append`; the detection-store log
 * (store-log.ts) numbers events at their LMDB commit, so `append` returns null and the committed events reach the
 * hub through `onDurable`, in sequence order. Sequences increase but need not be consecutive (in the store log a
 * detection batch spans one sequence number per detection and carries the last of them).
 */
export interface EventLog {
  /** Numbers and retains `event` now (returns it), or queues it for a durable commit (returns null). */
  append(event: StreamEvent): SequencedEvent | null;
  /** Durable logs: `listener` gets every event once it is committed, with its sequence, in order. */
  onDurable?(listener: (items: SequencedEvent[]) => void): () => void;
  /** Newest sequence handed out (0 when none). */
  lastSeq(): number;
  /** Oldest sequence from which replay is complete (0 when nothing is retained). */
  oldestSeq(): number;
  /** Events with seq > afterSeq, oldest first, up to and including `untilSeq`. */
  since(afterSeq: number, untilSeq: number): AsyncIterable<SequencedEvent>;
  /**
   * True when other servers hand out the same sequence numbers for the same events (a cluster node: the numbers
   * are the cluster stream's, src/cluster/stream-log.ts). A resume position ahead of `lastSeq()` is then one this
   * server has not reached yet, not a sign of a reset log: live delivery starts after it.
   */
  readonly sharedSequence?: boolean;
  /** False while a shared-sequence log is not yet caught up: a resume is refused (E_RESUME_NOT_READY, retry). */
  readonly ready?: boolean;
}
