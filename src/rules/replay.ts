/**
 * `vigil rules test`: replays tracks or detections through a rule set, without persisting or notifying, and
 * returns what would have fired — so a user can tune a rule before arming it.
 */
import { TrackerRegistry, type TrackerOptions } from '../tracking/tracker.js';
import { expected } from '../errors.js';
import type { Detection, DetectionBatch } from '../types.js';
import { RuleEngine } from './engine.js';
import type { AlertEvent, RuleDefinition, RuleFrame } from './types.js';
import { validateRules } from './validate.js';

export interface ReplayOptions {
  /** IANA zone for schedules without their own. Default "UTC". */
  timezone?: string;
}

export interface ReplayResult {
  rules: RuleDefinition[];
  /** Every alert transition, in order. */
  events: AlertEvent[];
  /** Raised alerts per rule id (rules that raised nothing are listed with 0). */
  raisedByRule: Record<string, number>;
  /** Tripwire counts per rule id and camera. */
  tripwireCounts: Record<string, Record<string, { aToB: number; bToA: number }>>;
  frames: number;
}

/** Replays tracked frames (e.g. stored tracks turned into frames, or a tracker's output). */
export function replayFrames(rawRules: unknown, frames: Iterable<RuleFrame>, options: ReplayOptions = {}): ReplayResult {
  const rules = validateRules(rawRules);
  const engine = new RuleEngine({ timezone: options.timezone ?? 'UTC', newAlertId: (ns) => `replay-${ns}-${++n}` });
  let n = 0;
  engine.setRules(rules, 0n);
  const events: AlertEvent[] = [];
  const cameras = new Set<string>();
  let count = 0;
  for (const f of frames) {
    cameras.add(f.cameraId);
    for (const e of engine.process(f)) events.push(e);
    count++;
  }
  const raisedByRule: Record<string, number> = {};
  const tripwireCounts: ReplayResult['tripwireCounts'] = {};
  for (const r of rules) {
    raisedByRule[r.id] = events.filter((e) => e.type === 'raised' && e.alert.ruleId === r.id).length;
    if (r.kind === 'tripwire') {
      const per: Record<string, { aToB: number; bToA: number }> = {};
      for (const c of cameras) per[c] = engine.counts(r.id, c) ?? { aToB: 0, bToA: 0 };
      tripwireCounts[r.id] = per;
    }
  }
  return { rules, events, raisedByRule, tripwireCounts, frames: count };
}

/** Replays raw detections (stored detections grouped by frame, or a clip's detector output) through the tracker first. */
export function replayDetections(rawRules: unknown, batches: Iterable<DetectionBatch>, options: ReplayOptions & { tracker?: TrackerOptions } = {}): ReplayResult {
  const registry = new TrackerRegistry(options.tracker ?? {});
  function* frames(): Generator<RuleFrame> {
    for (const b of batches) yield registry.update(b);
  }
  return replayFrames(rawRules, frames(), options);
}

/** One line per transition, for the CLI: "2026-03-29T01:00:00.000Z raised tripwire-1 cam1: person crossed Gate (A→B)". */
export function formatReplay(result: ReplayResult): string[] {
  const lines = result.events.map((e) => {
    const iso = new Date(Number(e.alert.updatedNs / 1_000_000n)).toISOString();
    return `${iso} ${e.type} ${e.alert.ruleId} ${e.alert.cameraId}: ${e.alert.message}`;
  });
  for (const r of result.rules) lines.push(`rule ${r.id}: ${result.raisedByRule[r.id] ?? 0} alert(s) raised`);
  for (const [id, per] of Object.entries(result.tripwireCounts)) {
    for (const [cam, c] of Object.entries(per)) lines.push(`tripwire ${id} ${cam}: A→B ${c.aToB}, B→A ${c.bToA}`);
  }
  return lines;
}

/**
 * Parses replay input for `vigil rules test --input FILE`: NDJSON, one frame per line,
 * {"cameraId","frameSequence","timestampNs" (decimal string or integer),"frameWidth","frameHeight","detections":[
 * {"classId","className","confidence","box":{"x1","y1","x2","y2"},"trackId"?}]}. When every detection carries a
 * trackId the input is stored tracks and is replayed as is; otherwise it goes through the tracker first.
 */
export function parseReplayInput(text: string): { batches: DetectionBatch[]; tracked: boolean } {
  const batches: DetectionBatch[] = [];
  let tracked = true;
  let any = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw expected('a JSON object', where, line);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw expected('a JSON object', where, v);
    const ts = v.timestampNs;
    if (!((typeof ts === 'string' && /^\d{1,20}$/.test(ts)) || (typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0))) throw expected('nanoseconds as a decimal string or integer', `${where}.timestampNs`, ts);
    if (typeof v.cameraId !== 'string' || v.cameraId === '') throw expected('a non-empty string', `${where}.cameraId`, v.cameraId);
    for (const k of ['frameSequence', 'frameWidth', 'frameHeight'] as const) {
      if (typeof v[k] !== 'number' || !Number.isInteger(v[k]) || (v[k] as number) < 0) throw expected('an integer >= 0', `${where}.${k}`, v[k]);
    }
    if (!Array.isArray(v.detections)) throw expected('an array', `${where}.detections`, v.detections);
    const dets = (v.detections as unknown[]).map((d, j) => {
      const dp = `${where}.detections[${j}]`;
      const o = d as Record<string, unknown>;
      if (typeof o !== 'object' || o === null) throw expected('a detection object', dp, d);
      const b = o.box as Record<string, unknown> | undefined;
      if (typeof b !== 'object' || b === null || !['x1', 'y1', 'x2', 'y2'].every((k) => typeof b[k] === 'number')) throw expected('a box { x1, y1, x2, y2 }', `${dp}.box`, b);
      if (typeof o.className !== 'string') throw expected('a string', `${dp}.className`, o.className);
      if (typeof o.confidence !== 'number') throw expected('a number', `${dp}.confidence`, o.confidence);
      any = true;
      if (typeof o.trackId !== 'number') tracked = false;
      const det: Detection = { classId: typeof o.classId === 'number' ? o.classId : -1, className: o.className, confidence: o.confidence, box: { x1: b.x1 as number, y1: b.y1 as number, x2: b.x2 as number, y2: b.y2 as number } };
      if (typeof o.trackId === 'number') det.trackId = o.trackId;
      return det;
    });
    batches.push({ cameraId: v.cameraId, frameSequence: v.frameSequence as number, timestampNs: BigInt(ts), frameWidth: v.frameWidth as number, frameHeight: v.frameHeight as number, detections: dets });
  }
  return { batches, tracked: tracked && any };
}

/** Replays NDJSON input (see parseReplayInput): stored tracks as they are, raw detections through the tracker. */
export function replayInput(rawRules: unknown, text: string, options: ReplayOptions & { tracker?: TrackerOptions } = {}): ReplayResult {
  const { batches, tracked } = parseReplayInput(text);
  if (!tracked) return replayDetections(rawRules, batches, options);
  return replayFrames(
    rawRules,
    batches.map((b) => ({
      cameraId: b.cameraId,
      timestampNs: b.timestampNs,
      frameWidth: b.frameWidth,
      frameHeight: b.frameHeight,
      objects: b.detections.map((d) => ({ trackId: d.trackId!, className: d.className, confidence: d.confidence, box: d.box })),
    })),
    options,
  );
}
