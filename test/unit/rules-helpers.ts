/** Shared helpers for the rules tests: synthetic tracked frames with anchor (foot) points. */
import type { AlertEvent, RuleFrame } from '../../src/rules/types.js';

/** 2026-01-05T12:00:00Z, a Monday. */
export const T0 = 1_767_614_400_000_000_000n;
export const sec = (s: number): bigint => T0 + BigInt(Math.round(s * 1e9));

/** [trackId, footX, footY, className?, confidence?] */
export type Obj = [number, number, number, string?, number?];

export function frame(t: number, objs: Obj[], ended: number[] = [], cameraId = 'cam1', w = 640, h = 480): RuleFrame {
  return {
    cameraId,
    timestampNs: sec(t),
    frameWidth: w,
    frameHeight: h,
    objects: objs.map(([trackId, x, y, className = 'person', confidence = 0.9]) => ({ trackId, className, confidence, box: { x1: x - 10, y1: y - 40, x2: x + 10, y2: y } })),
    endedTrackIds: ended,
  };
}

/** Compact view of transitions: "raised r1 [3] person 3 entered Door @2". */
export function brief(events: AlertEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.alert.ruleId} [${e.alert.trackIds.join(',')}] ${e.alert.message} @${Number(e.alert.updatedNs - T0) / 1e9}`);
}
