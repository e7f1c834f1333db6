/**
 * Rule engine: evaluates a rule set on tracked frames, keeping per-rule, per-camera and per-track state, and
 * produces alert transitions. Pure computation: no I/O (RuleService persists and fans out; replay.ts reuses it).
 *
 * Alert lifecycle
 * - Event rules (zone_enter, zone_exit, tripwire, sequence) raise an alert per trigger. Within `cooldownSeconds`
 *   of the raise, further triggers *update* that alert (details.count grows, trackIds accumulate) instead of
 *   raising another. Event alerts are never cleared by the engine: a user acknowledges them.
 * - Condition rules (zone_presence, occupancy, dwell) raise when the condition starts to hold, update when what
 *   holds changes (objects in the zone, the count), and clear when it stops — or when the schedule window closes,
 *   or the rule is changed or removed (details.reason says which). A condition that holds again within
 *   `cooldownSeconds` of the previous raise waits until the cool-down has passed (if it still holds then).
 *   Dwell alerts are per track: one per visit of a track to the zone.
 * - Outside its schedule a rule keeps its state (positions, sides, time in zone) but raises nothing.
 *
 * Semantics on tracks
 * - Position = the box's anchor point (bottom centre by default: the feet of a person).
 * - A track first seen inside a zone has entered it. A track that ends inside a zone has not exited it (it may
 *   have been occluded); it only stops counting for presence and occupancy.
 * - Tripwire: a crossing is counted when the anchor moves from one side of the line to the other through the
 *   line segment itself (not its extension); touching the line is not a crossing. Side A is on the left of
 *   from→to as seen on screen, side B on the right. Both directions are always counted (`counts()`); `direction`
 *   chooses which raise alerts.
 * - Dwell: time in zone = this frame's timestamp - the first frame seen inside; at >= `seconds` it raises.
 * - Occupancy: objects in the zone (or frame) that are tracked and not ended, including briefly lost ones.
 * - Sequence: entering zone i (i > 0) continues a chain when the track entered zone i-1 earlier in a chain that
 *   started at most `withinSeconds` ago; entering the last zone completes it and raises.
 * - Observations below `minConfidence`, of other classes, or from other cameras are ignored.
 */
import { randomBytes } from 'node:crypto';
import type { Alert } from '../types.js';
import { pointInPolygon, segmentsIntersect, side } from './geometry.js';
import { compileSchedule, scheduleActive, isValidTimeZone, type CompiledSchedule } from './schedule.js';
import type { AlertEvent, RuleDefinition, RuleFrame, ZoneSpec } from './types.js';
import { expected } from '../errors.js';

const NS_PER_S = 1_000_000_000;

interface TrackState {
  inside: boolean[];
  /** Per zone: when the current visit started (dwell). */
  enteredNs: (bigint | null)[];
  /** Dwell: whether this visit already raised. */
  dwellFired: boolean;
  /** Tripwire: last non-zero side and the point where it was seen. */
  lastSide: number;
  lastX: number;
  lastY: number;
  /** Sequence: per zone, the start time of the chain that reached it. */
  chain: (bigint | null)[];
  className: string;
}

interface CamState {
  tracks: Map<number, TrackState>;
  aToB: number;
  bToA: number;
  condSince: bigint | null;
  open: Map<string, Alert>;
  lastRaise: Map<string, bigint>;
}

interface Compiled {
  def: RuleDefinition;
  json: string;
  cams: Set<string> | null;
  classes: Set<string> | null;
  schedule: CompiledSchedule | null;
  zones: ZoneSpec[];
  cooldownNs: bigint;
  scaledFor: string;
  polys: Float64Array[];
  line: [number, number, number, number];
  state: Map<string, CamState>;
}

export interface RuleEngineOptions {
  /** IANA zone for schedules that name none. Default "UTC". */
  timezone?: string;
  /** Alert id factory; default: raise time (20 digits, sorts by time) + 8 random hex digits. */
  newAlertId?: (raisedNs: bigint) => string;
}

let alertSeq = 0;
const alertSalt = randomBytes(3).toString('hex');
/** Raise time (20 digits) + a per-process sequence + a per-process salt: sorts by raise time, then creation. */
export function defaultAlertId(raisedNs: bigint): string {
  alertSeq = (alertSeq + 1) % 0x100000000;
  return `${raisedNs.toString().padStart(20, '0')}-${alertSeq.toString(16).padStart(8, '0')}${alertSalt}`;
}

function zonesOf(def: RuleDefinition): ZoneSpec[] {
  switch (def.kind) {
    case 'sequence':
      return def.zones;
    case 'occupancy':
      return def.zone ? [def.zone] : [];
    case 'tripwire':
      return [];
    default:
      return [def.zone];
  }
}

const DIRECTION_TEXT = { a_to_b: 'A→B', b_to_a: 'B→A' } as const;

function copyAlert(a: Alert): Alert {
  return { ...a, trackIds: [...a.trackIds], details: { ...a.details } };
}

export class RuleEngine {
  private rules: Compiled[] = [];
  private readonly timezone: string;
  private readonly newAlertId: (raisedNs: bigint) => string;

  constructor(options: RuleEngineOptions = {}) {
    const tz = options.timezone ?? 'UTC';
    if (!isValidTimeZone(tz)) throw expected('an IANA time zone name', 'rules.timezone', tz);
    this.timezone = tz;
    this.newAlertId = options.newAlertId ?? defaultAlertId;
  }

  /** The current rule definitions, in order. */
  get definitions(): RuleDefinition[] {
    return this.rules.map((r) => r.def);
  }

  /**
   * Replaces the rule set (hot reload). Rules whose definition is unchanged (same id, same content) keep all their
   * state; changed and removed rules lose theirs, and their open condition alerts are cleared (returned).
   */
  setRules(defs: RuleDefinition[], nowNs: bigint = BigInt(Date.now()) * 1_000_000n): AlertEvent[] {
    const old = new Map(this.rules.map((r) => [r.def.id, r]));
    const next: Compiled[] = [];
    for (const def of defs) {
      const json = JSON.stringify(def);
      const prev = old.get(def.id);
      if (prev && prev.json === json) {
        next.push(prev);
        old.delete(def.id);
      } else {
        next.push(this.compile(def, json));
      }
    }
    const events: AlertEvent[] = [];
    const kept = new Set(next);
    for (const prev of this.rules) {
      if (kept.has(prev)) continue;
      const reason = defs.some((d) => d.id === prev.def.id) ? 'rule changed' : 'rule removed';
      for (const st of prev.state.values()) {
        for (const [key, a] of st.open) {
          if (a.clearedNs === null && isCondition(prev.def)) this.clear(st, key, a, nowNs, reason, events);
        }
      }
    }
    this.rules = next;
    return events;
  }

  /** Tripwire counts for a rule on a camera since the rule was (re)loaded. */
  counts(ruleId: string, cameraId: string): { aToB: number; bToA: number } | undefined {
    const r = this.rules.find((x) => x.def.id === ruleId);
    const st = r?.state.get(cameraId);
    return st ? { aToB: st.aToB, bToA: st.bToA } : undefined;
  }

  /** Marks an alert the engine still holds as acknowledged; returns its new snapshot, or null when not held. */
  acknowledge(alertId: string, by: string, nowNs: bigint): Alert | null {
    for (const r of this.rules) {
      for (const st of r.state.values()) {
        for (const a of st.open.values()) {
          if (a.alertId === alertId) {
            if (a.state !== 'cleared') a.state = 'acknowledged';
            a.acknowledgedBy = by;
            a.updatedNs = nowNs;
            return copyAlert(a);
          }
        }
      }
    }
    return null;
  }

  /** Evaluates every rule on one frame; returns the alert transitions in order. */
  process(frame: RuleFrame): AlertEvent[] {
    const events: AlertEvent[] = [];
    const now = frame.timestampNs;
    const ms = Number(now / 1_000_000n);
    for (const r of this.rules) {
      if (!r.def.enabled) continue;
      if (r.cams && !r.cams.has(frame.cameraId)) continue;
      const active = r.schedule ? scheduleActive(r.schedule, ms) : true;
      this.evaluate(r, frame, now, active, events);
    }
    return events;
  }

  private compile(def: RuleDefinition, json: string): Compiled {
    return {
      def,
      json,
      cams: def.cameras.length ? new Set(def.cameras) : null,
      classes: def.classes.length ? new Set(def.classes) : null,
      schedule: def.schedule ? compileSchedule(def.schedule, this.timezone) : null,
      zones: zonesOf(def),
      cooldownNs: BigInt(Math.round(def.cooldownSeconds * NS_PER_S)),
      scaledFor: '',
      polys: [],
      line: [0, 0, 0, 0],
      state: new Map(),
    };
  }

  private scale(r: Compiled, w: number, h: number): void {
    const key = `${w}x${h}`;
    if (r.scaledFor === key) return;
    r.scaledFor = key;
    r.polys = r.zones.map((z) => {
      const a = new Float64Array(z.points.length * 2);
      const sx = z.normalized ? w : 1;
      const sy = z.normalized ? h : 1;
      z.points.forEach((p, i) => {
        a[2 * i] = p[0] * sx;
        a[2 * i + 1] = p[1] * sy;
      });
      return a;
    });
    if (r.def.kind === 'tripwire') {
      const l = r.def.line;
      const sx = l.normalized ? w : 1;
      const sy = l.normalized ? h : 1;
      r.line = [l.from[0] * sx, l.from[1] * sy, l.to[0] * sx, l.to[1] * sy];
    }
  }

  private camState(r: Compiled, cameraId: string): CamState {
    let st = r.state.get(cameraId);
    if (!st) {
      st = { tracks: new Map(), aToB: 0, bToA: 0, condSince: null, open: new Map(), lastRaise: new Map() };
      r.state.set(cameraId, st);
    }
    return st;
  }

  private evaluate(r: Compiled, frame: RuleFrame, now: bigint, active: boolean, events: AlertEvent[]): void {
    const def = r.def;
    const cam = frame.cameraId;
    const st = this.camState(r, cam);
    this.scale(r, frame.frameWidth, frame.frameHeight);
    const nz = r.polys.length;

    if (frame.endedTrackIds) {
      for (const id of frame.endedTrackIds) {
        if (!st.tracks.has(id)) continue;
        st.tracks.delete(id);
        st.lastRaise.delete(`track:${id}`);
        if (def.kind === 'dwell') {
          const key = `track:${id}`;
          const a = st.open.get(key);
          if (a) this.clear(st, key, a, now, 'track ended', events);
        }
      }
    }

    for (const o of frame.objects) {
      if (r.classes && !r.classes.has(o.className)) continue;
      if (o.confidence < def.minConfidence) continue;
      const b = o.box;
      const x = (b.x1 + b.x2) / 2;
      const y = def.anchor === 'center' ? (b.y1 + b.y2) / 2 : b.y2;
      let t = st.tracks.get(o.trackId);
      const isNew = t === undefined;
      if (!t) {
        t = { inside: new Array<boolean>(nz).fill(false), enteredNs: new Array<bigint | null>(nz).fill(null), dwellFired: false, lastSide: 0, lastX: x, lastY: y, chain: new Array<bigint | null>(nz).fill(null), className: o.className };
        st.tracks.set(o.trackId, t);
      }
      t.className = o.className;
      if (def.kind === 'tripwire') {
        const [ax, ay, bx, by] = r.line;
        const s = Math.sign(side(ax, ay, bx, by, x, y));
        if (s !== 0) {
          if (!isNew && t.lastSide !== 0 && s !== t.lastSide && segmentsIntersect(ax, ay, bx, by, t.lastX, t.lastY, x, y)) {
            const dir = t.lastSide < 0 ? 'a_to_b' : 'b_to_a';
            if (dir === 'a_to_b') st.aToB++;
            else st.bToA++;
            if (def.direction === 'both' || def.direction === dir) {
              this.trigger(r, st, 'line', now, active, o.trackId, `${o.className} crossed ${def.name} (${DIRECTION_TEXT[dir]})`, { direction: dir, aToB: st.aToB, bToA: st.bToA }, cam, events);
            }
          }
          t.lastSide = s;
          t.lastX = x;
          t.lastY = y;
        }
        continue;
      }
      for (let i = 0; i < nz; i++) {
        const now_in = pointInPolygon(x, y, r.polys[i]!);
        const was = t.inside[i]!;
        t.inside[i] = now_in;
        if (now_in === was) continue;
        if (now_in) {
          t.enteredNs[i] = now;
          if (def.kind === 'zone_enter') {
            this.trigger(r, st, 'zone', now, active, o.trackId, `${o.className} ${o.trackId} entered ${def.name}`, { trackId: o.trackId }, cam, events);
          } else if (def.kind === 'sequence') {
            if (i === 0) t.chain[0] = now;
            else {
              const start = t.chain[i - 1];
              if (start !== null && start !== undefined && now - start <= BigInt(Math.round(def.withinSeconds * NS_PER_S))) {
                t.chain[i] = start;
                if (i === nz - 1) {
                  const secs = Number(now - start) / NS_PER_S;
                  this.trigger(r, st, 'sequence', now, active, o.trackId, `${o.className} ${o.trackId} completed ${def.name} (${nz} zones in ${secs.toFixed(1)} s)`, { trackId: o.trackId, seconds: secs }, cam, events);
                  t.chain.fill(null);
                }
              }
            }
          }
        } else {
          t.enteredNs[i] = null;
          if (def.kind === 'zone_exit') {
            this.trigger(r, st, 'zone', now, active, o.trackId, `${o.className} ${o.trackId} left ${def.name}`, { trackId: o.trackId }, cam, events);
          } else if (def.kind === 'dwell') {
            t.dwellFired = false;
            const key = `track:${o.trackId}`;
            const a = st.open.get(key);
            if (a) this.clear(st, key, a, now, 'left zone', events);
          }
        }
      }
    }

    // Conditions.
    if (def.kind === 'zone_presence' || def.kind === 'occupancy') {
      const ids: number[] = [];
      for (const [id, t] of st.tracks) if (nz === 0 || t.inside[0]) ids.push(id);
      ids.sort((a, b) => a - b);
      const count = ids.length;
      const holds = def.kind === 'zone_presence' ? count > 0 : def.condition === 'above' ? count > def.threshold : count < def.threshold;
      const key = 'condition';
      const open = st.open.get(key);
      if (!holds || !active) {
        st.condSince = null;
        if (open) this.clear(st, key, open, now, holds ? 'schedule' : 'condition ended', events);
        return;
      }
      if (st.condSince === null) st.condSince = now;
      const message =
        def.kind === 'zone_presence'
          ? `${count} ${count === 1 ? 'object' : 'objects'} in ${def.name}`
          : `${count} ${count === 1 ? 'object' : 'objects'} in ${def.name}, ${def.condition} ${def.threshold}`;
      const details = def.kind === 'zone_presence' ? { count } : { count, condition: def.condition, threshold: def.threshold };
      if (open) {
        if (open.details.count !== count || open.trackIds.join() !== ids.join()) {
          open.trackIds = ids;
          open.message = message;
          open.details = { ...open.details, ...details };
          this.update(open, now, events);
        }
        return;
      }
      const forNs = def.kind === 'occupancy' ? BigInt(Math.round(def.forSeconds * NS_PER_S)) : 0n;
      if (now - st.condSince < forNs) return;
      this.raiseCondition(r, st, key, now, cam, ids, message, details, events);
      return;
    }
    if (def.kind === 'dwell') {
      const need = BigInt(Math.round(def.seconds * NS_PER_S));
      for (const [id, t] of st.tracks) {
        const key = `track:${id}`;
        const since = t.enteredNs[0];
        if (!active) {
          const a = st.open.get(key);
          if (a) this.clear(st, key, a, now, 'schedule', events);
          continue;
        }
        if (since === null || since === undefined || t.dwellFired || now - since < need) continue;
        const secs = Number(now - since) / NS_PER_S;
        if (this.raiseCondition(r, st, key, now, cam, [id], `${t.className} ${id} in ${def.name} for ${secs.toFixed(1)} s`, { trackId: id, dwellSeconds: secs }, events)) {
          t.dwellFired = true;
        }
      }
    }
  }

  private newAlert(r: Compiled, cam: string, now: bigint, trackIds: number[], message: string, details: Record<string, unknown>): Alert {
    return {
      alertId: this.newAlertId(now),
      ruleId: r.def.id,
      ruleName: r.def.name,
      cameraId: cam,
      state: 'raised',
      message,
      trackIds,
      raisedNs: now,
      updatedNs: now,
      clearedNs: null,
      acknowledgedBy: null,
      details: { kind: r.def.kind, severity: r.def.severity, ...details, count: details.count ?? 1 },
    };
  }

  /** Event rules: raise, or update the alert raised within the cool-down. */
  private trigger(r: Compiled, st: CamState, key: string, now: bigint, active: boolean, trackId: number, message: string, details: Record<string, unknown>, cam: string, events: AlertEvent[]): void {
    if (!active) return;
    const open = st.open.get(key);
    if (open && r.cooldownNs > 0n && now - open.raisedNs < r.cooldownNs) {
      open.message = message;
      if (!open.trackIds.includes(trackId)) open.trackIds.push(trackId);
      open.details = { ...open.details, ...details, count: (open.details.count as number) + 1 };
      this.update(open, now, events);
      return;
    }
    const a = this.newAlert(r, cam, now, [trackId], message, details);
    st.open.set(key, a);
    st.lastRaise.set(key, now);
    events.push({ type: 'raised', alert: copyAlert(a) });
  }

  private raiseCondition(r: Compiled, st: CamState, key: string, now: bigint, cam: string, ids: number[], message: string, details: Record<string, unknown>, events: AlertEvent[]): boolean {
    const last = st.lastRaise.get(key);
    if (last !== undefined && r.cooldownNs > 0n && now - last < r.cooldownNs) return false;
    const a = this.newAlert(r, cam, now, ids, message, details);
    st.open.set(key, a);
    st.lastRaise.set(key, now);
    events.push({ type: 'raised', alert: copyAlert(a) });
    return true;
  }

  private update(a: Alert, now: bigint, events: AlertEvent[]): void {
    if (a.state !== 'acknowledged') a.state = 'updated';
    a.updatedNs = now;
    events.push({ type: 'updated', alert: copyAlert(a) });
  }

  private clear(st: CamState, key: string, a: Alert, now: bigint, reason: string, events: AlertEvent[]): void {
    a.state = 'cleared';
    a.updatedNs = now;
    a.clearedNs = now;
    a.details = { ...a.details, reason };
    st.open.delete(key);
    events.push({ type: 'cleared', alert: copyAlert(a) });
  }
}

function isCondition(def: RuleDefinition): boolean {
  return def.kind === 'zone_presence' || def.kind === 'occupancy' || def.kind === 'dwell';
}
