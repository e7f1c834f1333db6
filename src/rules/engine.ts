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

/*
 * Time inside the engine: alerts carry the frame's bigint timestamp, but arithmetic (dwell, cool-downs,
 * sequence windows, occupancy hold times) uses doubles of nanoseconds relative to the first frame the engine saw:
 * exact to the nanosecond for 104 days of uptime, and no BigInt allocation per track per rule per frame.
 */

interface TrackState {
  id: number;
  inside: boolean[];
  /** Per zone: when the current visit started (relative ns), NaN when outside. */
  entered: number[];
  /** Dwell: whether this visit already raised, and when this track last raised (cool-down per track). */
  dwellFired: boolean;
  lastRaise: number;
  /** Tripwire: last non-zero side and the point where it was seen. */
  lastSide: number;
  lastX: number;
  lastY: number;
  /** Sequence: per zone, the start time of the chain that reached it (relative ns), NaN when none. */
  chain: number[];
  className: string;
}

/** A track as seen by all rules of one camera: one lookup per object per frame, then per-rule state by index. */
interface Entry {
  id: number;
  className: string;
  confidence: number;
  x: number;
  /** Anchor y for "bottom_center" and for "center". */
  yb: number;
  yc: number;
  ended: boolean;
  /** Per rule, by its index in the current rule list; undefined until the rule has seen the track. */
  states: (TrackState | undefined)[];
}

interface CamState {
  aToB: number;
  bToA: number;
  /** Condition rules: since when the condition holds (relative ns), NaN when it does not. */
  condSince: number;
  /**
   * Condition rules: the tracks counted now (inside zone 0, or every tracked object for occupancy without a
   * zone), maintained on every change; `version` grows with each change, `openVersion` is the version the open
   * alert was last brought up to date with.
   */
  members: Set<TrackState>;
  version: number;
  openVersion: number;
  /** The open alert of an event rule (within its cool-down) or of a presence/occupancy rule. */
  open: Alert | null;
  openRaised: number;
  lastRaise: number;
  /** Dwell alerts by track. */
  trackOpen: Map<number, Alert>;
  geo: Geometry | null;
}

/** Zones and line in one camera's pixels (normalized coordinates scaled to its frame size). */
interface Geometry {
  w: number;
  h: number;
  polys: Float64Array[];
  /** Per polygon: [minX, minY, maxX, maxY]. */
  boxes: Float64Array[];
  line: [number, number, number, number];
}

interface Compiled {
  def: RuleDefinition;
  json: string;
  cams: Set<string> | null;
  classes: Set<string> | null;
  schedule: CompiledSchedule | null;
  zones: ZoneSpec[];
  cooldown: number;
  /** dwell seconds / sequence window / occupancy hold, in ns. */
  span: number;
  state: Map<string, CamState>;
  /** Last class name checked against `classes` and the answer (class names repeat: detectors reuse the strings). */
  lastClass: string | null;
  lastClassOk: boolean;
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
  private base: bigint | null = null;
  private readonly cams = new Map<string, Map<number, Entry>>();

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
      if (prev && prev.json === json) next.push(prev);
      else next.push(this.compile(def, json));
    }
    const events: AlertEvent[] = [];
    const kept = new Set(next);
    const ids = new Set(defs.map((d) => d.id));
    for (const prev of this.rules) {
      if (kept.has(prev) || !isCondition(prev.def)) continue;
      const reason = ids.has(prev.def.id) ? 'rule changed' : 'rule removed';
      for (const st of prev.state.values()) {
        if (st.open) this.clear(st, null, st.open, nowNs, reason, events);
        for (const [id, a] of st.trackOpen) this.clear(st, id, a, nowNs, reason, events);
      }
    }
    // Move per-track state to the rules' new positions (unchanged rules keep theirs, others start empty).
    const oldIndex = new Map(this.rules.map((r, i) => [r, i]));
    const map = next.map((r) => oldIndex.get(r) ?? -1);
    for (const reg of this.cams.values()) {
      for (const e of reg.values()) {
        const prev = e.states;
        e.states = map.map((i) => (i >= 0 ? prev[i] : undefined));
      }
    }
    this.rules = next;
    return events;
  }

  /**
   * Forgets a camera (stopped or removed): its tracks and per-rule state are dropped and its open condition
   * alerts cleared with reason "camera stopped" (returned). Tripwire counts of the camera restart from 0.
   */
  dropCamera(cameraId: string, nowNs: bigint): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const r of this.rules) {
      const st = r.state.get(cameraId);
      if (!st) continue;
      if (isCondition(r.def)) {
        if (st.open) this.clear(st, null, st.open, nowNs, 'camera stopped', events);
        for (const [id, a] of st.trackOpen) this.clear(st, id, a, nowNs, 'camera stopped', events);
      }
      r.state.delete(cameraId);
    }
    this.cams.delete(cameraId);
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
        const held = st.open?.alertId === alertId ? st.open : [...st.trackOpen.values()].find((a) => a.alertId === alertId);
        if (held) {
          if (held.state !== 'cleared') held.state = 'acknowledged';
          held.acknowledgedBy = by;
          held.updatedNs = nowNs;
          return copyAlert(held);
        }
      }
    }
    return null;
  }

  /** Evaluates every rule on one frame; returns the alert transitions in order. */
  process(frame: RuleFrame): AlertEvent[] {
    const events: AlertEvent[] = [];
    const now = frame.timestampNs;
    if (this.base === null) this.base = now;
    const t = Number(now - this.base);
    let reg = this.cams.get(frame.cameraId);
    if (!reg) {
      reg = new Map();
      this.cams.set(frame.cameraId, reg);
    }
    const n = this.rules.length;
    const present: Entry[] = [];
    for (const o of frame.objects) {
      let e = reg.get(o.trackId);
      if (!e) {
        e = { id: o.trackId, className: o.className, confidence: 0, x: 0, yb: 0, yc: 0, ended: false, states: new Array<TrackState | undefined>(n) };
        reg.set(o.trackId, e);
      }
      const b = o.box;
      e.className = o.className;
      e.confidence = o.confidence;
      e.x = (b.x1 + b.x2) / 2;
      e.yb = b.y2;
      e.yc = (b.y1 + b.y2) / 2;
      present.push(e);
    }
    const ended: Entry[] = [];
    if (frame.endedTrackIds) {
      for (const id of frame.endedTrackIds) {
        const e = reg.get(id);
        if (e && !e.ended) {
          e.ended = true;
          ended.push(e);
        }
      }
    }
    let ms = -1;
    for (let ri = 0; ri < n; ri++) {
      const r = this.rules[ri]!;
      if (!r.def.enabled) continue;
      if (r.cams && !r.cams.has(frame.cameraId)) continue;
      let active = true;
      if (r.schedule) {
        if (ms < 0) ms = Number(now / 1_000_000n);
        active = scheduleActive(r.schedule, ms);
      }
      this.evaluate(r, ri, frame.cameraId, frame.frameWidth, frame.frameHeight, present, ended, now, t, active, events);
    }
    for (const e of ended) reg.delete(e.id);
    if (reg.size === 0) this.cams.delete(frame.cameraId);
    return events;
  }

  private compile(def: RuleDefinition, json: string): Compiled {
    const span = def.kind === 'dwell' ? def.seconds : def.kind === 'sequence' ? def.withinSeconds : def.kind === 'occupancy' ? def.forSeconds : 0;
    return {
      def,
      json,
      cams: def.cameras.length ? new Set(def.cameras) : null,
      classes: def.classes.length ? new Set(def.classes) : null,
      schedule: def.schedule ? compileSchedule(def.schedule, this.timezone) : null,
      zones: zonesOf(def),
      cooldown: Math.round(def.cooldownSeconds * NS_PER_S),
      span: Math.round(span * NS_PER_S),
      state: new Map(),
      lastClass: null,
      lastClassOk: false,
    };
  }

  private geometry(r: Compiled, st: CamState, w: number, h: number): Geometry {
    const g = st.geo;
    if (g && g.w === w && g.h === h) return g;
    const polys = r.zones.map((z) => {
      const a = new Float64Array(z.points.length * 2);
      const sx = z.normalized ? w : 1;
      const sy = z.normalized ? h : 1;
      z.points.forEach((p, i) => {
        a[2 * i] = p[0] * sx;
        a[2 * i + 1] = p[1] * sy;
      });
      return a;
    });
    const boxes = polys.map((a) => {
      const b = new Float64Array([Infinity, Infinity, -Infinity, -Infinity]);
      for (let i = 0; i < a.length; i += 2) {
        b[0] = Math.min(b[0]!, a[i]!);
        b[1] = Math.min(b[1]!, a[i + 1]!);
        b[2] = Math.max(b[2]!, a[i]!);
        b[3] = Math.max(b[3]!, a[i + 1]!);
      }
      return b;
    });
    let line: [number, number, number, number] = [0, 0, 0, 0];
    if (r.def.kind === 'tripwire') {
      const l = r.def.line;
      const sx = l.normalized ? w : 1;
      const sy = l.normalized ? h : 1;
      line = [l.from[0] * sx, l.from[1] * sy, l.to[0] * sx, l.to[1] * sy];
    }
    st.geo = { w, h, polys, boxes, line };
    return st.geo;
  }

  private camState(r: Compiled, cameraId: string): CamState {
    let st = r.state.get(cameraId);
    if (!st) {
      st = { aToB: 0, bToA: 0, condSince: Number.NaN, members: new Set(), version: 0, openVersion: -1, open: null, openRaised: 0, lastRaise: Number.NaN, trackOpen: new Map(), geo: null };
      r.state.set(cameraId, st);
    }
    return st;
  }

  private evaluate(r: Compiled, ri: number, cam: string, w: number, h: number, present: Entry[], ended: Entry[], now: bigint, t: number, active: boolean, events: AlertEvent[]): void {
    const def = r.def;
    const st = this.camState(r, cam);
    const g = this.geometry(r, st, w, h);
    const nz = g.polys.length;

    const counting = def.kind === 'zone_presence' || def.kind === 'occupancy' || def.kind === 'dwell';
    for (const e of ended) {
      const ets = e.states[ri];
      if (ets === undefined) continue;
      e.states[ri] = undefined;
      if (st.members.delete(ets)) st.version++;
      const a = st.trackOpen.get(e.id);
      if (a) this.clear(st, e.id, a, now, 'track ended', events);
    }

    const center = def.anchor === 'center';
    for (let oi = 0; oi < present.length; oi++) {
      const o = present[oi]!;
      if (o.ended) continue;
      if (o.confidence < def.minConfidence) continue;
      if (r.classes) {
        if (o.className !== r.lastClass) {
          r.lastClass = o.className;
          r.lastClassOk = r.classes.has(o.className);
        }
        if (!r.lastClassOk) continue;
      }
      const x = o.x;
      const y = center ? o.yc : o.yb;
      let ts = o.states[ri];
      const isNew = ts === undefined;
      if (!ts) {
        ts = { id: o.id, inside: new Array<boolean>(nz).fill(false), entered: new Array<number>(nz).fill(Number.NaN), dwellFired: false, lastRaise: Number.NaN, lastSide: 0, lastX: x, lastY: y, chain: new Array<number>(nz).fill(Number.NaN), className: o.className };
        o.states[ri] = ts;
        if (counting && nz === 0) {
          st.members.add(ts);
          st.version++;
        }
      }
      ts.className = o.className;
      if (def.kind === 'tripwire') {
        const l = g.line;
        const sd = side(l[0], l[1], l[2], l[3], x, y);
        const sg = sd < 0 ? -1 : sd > 0 ? 1 : 0;
        if (sg !== 0) {
          if (!isNew && ts.lastSide !== 0 && sg !== ts.lastSide && segmentsIntersect(l[0], l[1], l[2], l[3], ts.lastX, ts.lastY, x, y)) {
            const dir = ts.lastSide < 0 ? 'a_to_b' : 'b_to_a';
            if (dir === 'a_to_b') st.aToB++;
            else st.bToA++;
            if (def.direction === 'both' || def.direction === dir) {
              this.trigger(r, st, now, t, active, o.id, `${o.className} crossed ${def.name} (${DIRECTION_TEXT[dir]})`, { direction: dir, aToB: st.aToB, bToA: st.bToA }, cam, events);
            }
          }
          ts.lastSide = sg;
          ts.lastX = x;
          ts.lastY = y;
        }
        continue;
      }
      for (let i = 0; i < nz; i++) {
        const bb = g.boxes[i]!;
        const nowIn = x >= bb[0]! && x <= bb[2]! && y >= bb[1]! && y <= bb[3]! && pointInPolygon(x, y, g.polys[i]!);
        const was = ts.inside[i]!;
        if (nowIn === was) continue;
        ts.inside[i] = nowIn;
        if (counting && i === 0) {
          if (nowIn) st.members.add(ts);
          else st.members.delete(ts);
          st.version++;
        }
        if (nowIn) {
          ts.entered[i] = t;
          if (def.kind === 'zone_enter') {
            this.trigger(r, st, now, t, active, o.id, `${o.className} ${o.id} entered ${def.name}`, { trackId: o.id }, cam, events);
          } else if (def.kind === 'sequence') {
            if (i === 0) ts.chain[0] = t;
            else {
              const start = ts.chain[i - 1]!;
              if (t - start <= r.span) {
                ts.chain[i] = start;
                if (i === nz - 1) {
                  const secs = (t - start) / NS_PER_S;
                  this.trigger(r, st, now, t, active, o.id, `${o.className} ${o.id} completed ${def.name} (${nz} zones in ${secs.toFixed(1)} s)`, { trackId: o.id, seconds: secs }, cam, events);
                  ts.chain.fill(Number.NaN);
                }
              }
            }
          }
        } else {
          ts.entered[i] = Number.NaN;
          if (def.kind === 'zone_exit') {
            this.trigger(r, st, now, t, active, o.id, `${o.className} ${o.id} left ${def.name}`, { trackId: o.id }, cam, events);
          } else if (def.kind === 'dwell') {
            ts.dwellFired = false;
            const a = st.trackOpen.get(o.id);
            if (a) this.clear(st, o.id, a, now, 'left zone', events);
          }
        }
      }
    }

    // Conditions.
    if (def.kind === 'zone_presence' || def.kind === 'occupancy') {
      const count = st.members.size;
      const holds = def.kind === 'zone_presence' ? count > 0 : def.condition === 'above' ? count > def.threshold : count < def.threshold;
      const open = st.open;
      if (!holds || !active) {
        st.condSince = Number.NaN;
        if (open) this.clear(st, null, open, now, holds ? 'schedule' : 'condition ended', events);
        return;
      }
      if (Number.isNaN(st.condSince)) st.condSince = t;
      if (open) {
        if (st.openVersion === st.version) return;
      } else if (t - st.condSince < r.span) return;
      else if (r.cooldown > 0 && t - st.lastRaise < r.cooldown) return;
      const ids: number[] = [];
      for (const ts of st.members) ids.push(ts.id);
      ids.sort((a, b) => a - b);
      st.openVersion = st.version;
      if (open && sameIds(open.trackIds, ids)) return;
      const message =
        def.kind === 'zone_presence'
          ? `${count} ${count === 1 ? 'object' : 'objects'} in ${def.name}`
          : `${count} ${count === 1 ? 'object' : 'objects'} in ${def.name}, ${def.condition} ${def.threshold}`;
      const details = def.kind === 'zone_presence' ? { count } : { count, condition: def.condition, threshold: def.threshold };
      if (open) {
        open.trackIds = ids;
        open.message = message;
        open.details = { ...open.details, ...details };
        this.update(open, now, events);
        return;
      }
      const a = this.newAlert(r, cam, now, ids, message, details);
      st.open = a;
      st.openRaised = t;
      st.lastRaise = t;
      events.push({ type: 'raised', alert: copyAlert(a) });
      return;
    }
    if (def.kind === 'dwell') {
      if (!active) {
        for (const [id, a] of st.trackOpen) this.clear(st, id, a, now, 'schedule', events);
        return;
      }
      for (const ts of st.members) {
        const since = ts.entered[0]!;
        if (ts.dwellFired || !(t - since >= r.span)) continue; // NaN (outside) compares false
        if (r.cooldown > 0 && t - ts.lastRaise < r.cooldown) continue;
        const secs = (t - since) / NS_PER_S;
        const a = this.newAlert(r, cam, now, [ts.id], `${ts.className} ${ts.id} in ${def.name} for ${secs.toFixed(1)} s`, { trackId: ts.id, dwellSeconds: secs });
        st.trackOpen.set(ts.id, a);
        ts.lastRaise = t;
        ts.dwellFired = true;
        events.push({ type: 'raised', alert: copyAlert(a) });
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
  private trigger(r: Compiled, st: CamState, now: bigint, t: number, active: boolean, trackId: number, message: string, details: Record<string, unknown>, cam: string, events: AlertEvent[]): void {
    if (!active) return;
    const open = st.open;
    if (open && r.cooldown > 0 && t - st.openRaised < r.cooldown) {
      open.message = message;
      if (!open.trackIds.includes(trackId)) open.trackIds.push(trackId);
      open.details = { ...open.details, ...details, count: (open.details.count as number) + 1 };
      this.update(open, now, events);
      return;
    }
    const a = this.newAlert(r, cam, now, [trackId], message, details);
    // Without a cool-down nothing is held: an event alert is then only a stored record.
    st.open = r.cooldown > 0 ? a : null;
    st.openRaised = t;
    st.lastRaise = t;
    events.push({ type: 'raised', alert: copyAlert(a) });
  }

  private update(a: Alert, now: bigint, events: AlertEvent[]): void {
    if (a.state !== 'acknowledged') a.state = 'updated';
    a.updatedNs = now;
    events.push({ type: 'updated', alert: copyAlert(a) });
  }

  /** Clears a condition alert: the camera's (trackId null) or a track's dwell alert. */
  private clear(st: CamState, trackId: number | null, a: Alert, now: bigint, reason: string, events: AlertEvent[]): void {
    a.state = 'cleared';
    a.updatedNs = now;
    a.clearedNs = now;
    a.details = { ...a.details, reason };
    if (trackId === null) st.open = null;
    else st.trackOpen.delete(trackId);
    events.push({ type: 'cleared', alert: copyAlert(a) });
  }
}

function sameIds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isCondition(def: RuleDefinition): boolean {
  return def.kind === 'zone_presence' || def.kind === 'occupancy' || def.kind === 'dwell';
}
