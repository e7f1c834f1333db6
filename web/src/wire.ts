/**
 * The event stream's FlatBuffers messages decoded in the browser with the code flatc generates from
 * schemas/flatbuffers/ (src/stream/generated, made by scripts/setup.d/15-flatc.sh): plain objects for the UI.
 * No DOM here, so the same module is unit-tested under Node (test/unit/web-wire.test.ts).
 */
import * as flatbuffers from 'flatbuffers';
import {
  vigil_wire_AlertEvent as AlertEvent,
  vigil_wire_AlertState as AlertState,
  vigil_wire_CameraState as CameraState,
  vigil_wire_CameraStatusEvent as CameraStatusEvent,
  vigil_wire_DetectionBatch as DetectionBatch,
  vigil_wire_ErrorNotice as ErrorNotice,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as ServerHello,
  vigil_wire_TrackEvent as TrackEvent,
  vigil_wire_TrackPhase as TrackPhase,
} from '../../src/stream/generated/message_generated.js';

export interface WireBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface WireDetection {
  box: WireBox;
  confidence: number;
  /** -1 when not tracked. */
  trackId: number;
  classId: number;
  label: string;
}

export type WireEvent =
  | { kind: 'hello'; user: string; role: string; lastSeq: number }
  | { kind: 'detections'; seq: number; cameraId: string; frameSequence: number; timestampMs: number; frameWidth: number; frameHeight: number; detections: WireDetection[] }
  | { kind: 'track'; seq: number; cameraId: string; phase: 'start' | 'update' | 'end'; trackId: number; className: string; timestampMs: number; box: WireBox | null; confidence: number }
  | { kind: 'alert'; seq: number; alertId: string; ruleId: string; ruleName: string; cameraId: string; state: 'raised' | 'updated' | 'cleared' | 'acknowledged'; message: string; raisedMs: number; acknowledgedBy: string }
  | { kind: 'camera'; seq: number; cameraId: string; status: string; message: string }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'other' };

const ms = (ns: bigint): number => Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
const PHASES: Record<number, 'start' | 'update' | 'end'> = { [TrackPhase.Start]: 'start', [TrackPhase.Update]: 'update', [TrackPhase.End]: 'end' };
const ALERT_STATES: Record<number, 'raised' | 'updated' | 'cleared' | 'acknowledged'> = {
  [AlertState.Raised]: 'raised',
  [AlertState.Updated]: 'updated',
  [AlertState.Cleared]: 'cleared',
  [AlertState.Acknowledged]: 'acknowledged',
};
const CAMERA_STATES: Record<number, string> = {
  [CameraState.Starting]: 'starting',
  [CameraState.Running]: 'running',
  [CameraState.Stalled]: 'stalled',
  [CameraState.Reconnecting]: 'reconnecting',
  [CameraState.Stopped]: 'stopped',
  [CameraState.Failed]: 'failed',
};

export function decodeWire(data: Uint8Array): WireEvent {
  const m = Message.getRootAsMessage(new flatbuffers.ByteBuffer(data));
  const seq = Number(m.seq());
  switch (m.payloadType()) {
    case Payload.ServerHello: {
      const h = m.payload(new ServerHello()) as ServerHello;
      return { kind: 'hello', user: h.user() ?? '', role: h.role() ?? '', lastSeq: Number(h.lastSeq()) };
    }
    case Payload.DetectionBatch: {
      const b = m.payload(new DetectionBatch()) as DetectionBatch;
      const labels = new Map<number, string>();
      for (let i = 0; i < b.classesLength(); i++) {
        const c = b.classes(i)!;
        labels.set(i, c.name() ?? String(c.id()));
      }
      const detections: WireDetection[] = [];
      for (let i = 0; i < b.detectionsLength(); i++) {
        const d = b.detections(i)!;
        const bx = d.box()!;
        detections.push({
          box: { x1: bx.x1(), y1: bx.y1(), x2: bx.x2(), y2: bx.y2() },
          confidence: d.confidence(),
          trackId: d.trackId(),
          classId: d.classId(),
          label: labels.get(d.classIndex()) ?? String(d.classId()),
        });
      }
      return {
        kind: 'detections',
        seq,
        cameraId: b.cameraId() ?? '',
        frameSequence: Number(b.frameSequence()),
        timestampMs: ms(b.timestampNs()),
        frameWidth: b.frameWidth(),
        frameHeight: b.frameHeight(),
        detections,
      };
    }
    case Payload.TrackEvent: {
      const t = m.payload(new TrackEvent()) as TrackEvent;
      const bx = t.box();
      return {
        kind: 'track',
        seq,
        cameraId: t.cameraId() ?? '',
        phase: PHASES[t.phase()] ?? 'update',
        trackId: t.trackId(),
        className: t.className() ?? '',
        timestampMs: ms(t.timestampNs()),
        box: bx ? { x1: bx.x1(), y1: bx.y1(), x2: bx.x2(), y2: bx.y2() } : null,
        confidence: t.confidence(),
      };
    }
    case Payload.AlertEvent: {
      const a = m.payload(new AlertEvent()) as AlertEvent;
      return {
        kind: 'alert',
        seq,
        alertId: a.alertId() ?? '',
        ruleId: a.ruleId() ?? '',
        ruleName: a.ruleName() ?? '',
        cameraId: a.cameraId() ?? '',
        state: ALERT_STATES[a.state()] ?? 'updated',
        message: a.message() ?? '',
        raisedMs: ms(a.raisedNs()),
        acknowledgedBy: a.acknowledgedBy() ?? '',
      };
    }
    case Payload.CameraStatusEvent: {
      const c = m.payload(new CameraStatusEvent()) as CameraStatusEvent;
      return { kind: 'camera', seq, cameraId: c.cameraId() ?? '', status: CAMERA_STATES[c.status()] ?? 'unknown', message: c.message() ?? '' };
    }
    case Payload.ErrorNotice: {
      const e = m.payload(new ErrorNotice()) as ErrorNotice;
      return { kind: 'error', code: e.code() ?? '', message: e.message() ?? '' };
    }
    default:
      return { kind: 'other' };
  }
}

/** The detections of `list` (newest last) nearest to `atMs` and at most `maxAgeMs` before it. */
export function batchAt<T extends { timestampMs: number }>(list: readonly T[], atMs: number, maxAgeMs: number): T | null {
  let best: T | null = null;
  for (const b of list) {
    if (b.timestampMs <= atMs + 40 && atMs - b.timestampMs <= maxAgeMs) best = b;
  }
  return best;
}
