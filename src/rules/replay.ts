/**
 * `vigil rules test`: replays tracks or detections through a rule set, without persisting or notifying, and
 * returns what would have fired — so a user can tune a rule before arming it.
 */
import { TrackerRegistry, type TrackerOptions } from '../tracking/tracker.js';
import type { DetectionBatch } from '../types.js';
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
