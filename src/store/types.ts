/** The detection store's public shapes (what callers pass and get back). */
import type { StoredDetection } from '../types.js';

export interface CommittedBatch {
  cameraId: string;
  frameSequence: number;
  timestampNs: bigint;
  frameWidth: number;
  frameHeight: number;
  /** Sequence of the first detection; the batch's detections hold firstSeq .. firstSeq + count - 1. */
  firstSeq: bigint;
  count: number;
  detections: StoredDetection[];
}

/**
 * A non-detection event in the store's event log (the stream's tracks, alerts and camera status changes). The
 * store does not interpret `data`; it keeps it as MessagePack (bigint fields round-trip).
 */
export interface LogEvent {
  /** The stream's kind name, e.g. 'alerts'. */
  kind: string;
  cameraId: string;
  /** When it happened, ns since the Unix epoch: event-log retention compares it. */
  timestampNs: bigint;
  data: unknown;
}

export interface CommittedEvent extends LogEvent {
  seq: bigint;
}

/** One entry of the server-wide log: a committed frame of detections or a committed event. */
export type LogEntry = { type: 'detections'; batch: CommittedBatch } | { type: 'event'; event: CommittedEvent };

export interface LogReadResult {
  /** Entries whose last sequence is > afterSeq, in sequence order. A frame keeps its first sequence as its key. */
  entries: LogEntry[];
  /** Pass as `afterSeq` to continue; equals lastSeq when everything was read. */
  after: bigint;
  /** Last committed sequence (0n when nothing was ever committed). */
  lastSeq: bigint;
  /**
   * Oldest sequence from which the log is complete: everything before it was trimmed by retention (frames whose
   * rows a camera's shorter retention removed later in the log are skipped silently). 1n when nothing was trimmed.
   */
  oldestSeq: bigint;
}

export interface DetectionQuery {
  /** Cameras to read; omitted or empty: every camera. */
  cameraIds?: readonly string[];
  /** Inclusive bounds, ns since the Unix epoch. */
  startNs?: bigint;
  endNs?: bigint;
  className?: string;
  /** Any of these class names (combined with className when both are given: either matches). */
  classNames?: readonly string[];
  minConfidence?: number;
  trackId?: number;
}

export interface PageRequest {
  pageSize: number;
  /** 1-based page; used when no cursor is given. Pages are found through the counters, not by scanning. */
  page?: number;
  /** Opaque cursor from a previous page's `nextCursor` (same query): continues right after that page. */
  cursor?: string | null;
  /** Compute `total` (default true). */
  withTotal?: boolean;
  /** 'asc' (default): oldest first; 'desc': newest first. A cursor continues in the order it was made with. */
  order?: 'asc' | 'desc';
}

export interface DetectionPage {
  detections: StoredDetection[];
  total: number | null;
  page: number;
  pageSize: number;
  nextCursor: string | null;
}

export interface ReplayResult {
  detections: StoredDetection[];
  /** Where to resume the next replay call. */
  nextSeq: bigint;
  /** Last committed sequence in the store (0n when empty). */
  lastSeq: bigint;
  /**
   * First sequence of the oldest frame still in the sequence log (retention trims the log from its head); a resume
   * from before it has missed detections. Rows a camera's shorter retention removed later in the log are skipped
   * silently. lastSeq + 1n when the log is empty.
   */
  oldestSeq: bigint;
}

export interface StoreStats {
  queuedDetections: number;
  droppedDetections: number;
  droppedBatches: number;
  committedDetections: number;
  commits: number;
  lastSeq: bigint;
  writeErrors: number;
}
