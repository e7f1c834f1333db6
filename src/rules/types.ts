/**
 * Rule definitions as users write them (config file `rules:` list, REST `/rules`), after validation
 * (validate.ts fills the defaults). Coordinates are source-frame pixels unless `normalized: true`, in which case
 * x is a fraction of the frame width and y of the frame height (0..1, origin top-left).
 */
import type { Alert, AlertState } from '../types.js';

export type Point = [number, number];

export interface ZoneSpec {
  /** At least 3 vertices, in order (either winding). */
  points: Point[];
  normalized: boolean;
}

export interface LineSpec {
  from: Point;
  to: Point;
  normalized: boolean;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface ScheduleWindow {
  /** Days on which the window *starts*; a window whose end is not after its start runs past midnight. */
  days: Weekday[];
  /** "HH:MM" local time, inclusive. */
  start: string;
  /** "HH:MM" local time ("24:00" allowed), exclusive. end <= start: the window ends on the next day. */
  end: string;
}

export interface ScheduleSpec {
  /** IANA time zone; default the engine's configured zone. */
  timezone?: string;
  windows: ScheduleWindow[];
}

export type NotifyEvent = 'raised' | 'updated' | 'cleared';

export interface NotifySpec {
  /** Name of a configured notification channel. */
  channel: string;
  /** Alert transitions that notify; default ["raised"]. */
  on: NotifyEvent[];
  /** Message template with {{placeholders}} (see integrations/notify/template.ts); default per channel. */
  template?: string;
  /** Snapshot: a link in the message, attached (email only; others link), or none. Default "link". */
  snapshot: 'none' | 'link' | 'attach';
}

/** Which point of a box decides where an object is: its foot point (default) or its centre. */
export type Anchor = 'bottom_center' | 'center';

interface RuleCommon {
  id: string;
  name: string;
  enabled: boolean;
  /** Cameras the rule applies to; empty = all cameras. */
  cameras: string[];
  /** Class names the rule applies to; empty = all classes. */
  classes: string[];
  /** Observations below this confidence are ignored by the rule. Default 0. */
  minConfidence: number;
  anchor: Anchor;
  schedule: ScheduleSpec | null;
  /** Minimum time between two raised alerts of the same rule (and camera, and track for dwell). Default 0. */
  cooldownSeconds: number;
  severity: 'info' | 'warning' | 'critical';
  notify: NotifySpec[];
}

export interface ZoneEnterRule extends RuleCommon {
  kind: 'zone_enter';
  zone: ZoneSpec;
}
export interface ZoneExitRule extends RuleCommon {
  kind: 'zone_exit';
  zone: ZoneSpec;
}
export interface ZonePresenceRule extends RuleCommon {
  kind: 'zone_presence';
  zone: ZoneSpec;
}
export interface TripwireRule extends RuleCommon {
  kind: 'tripwire';
  /** Side A is on the left of from→to as seen on screen (y down), side B on the right. */
  line: LineSpec;
  direction: 'a_to_b' | 'b_to_a' | 'both';
}
export interface DwellRule extends RuleCommon {
  kind: 'dwell';
  zone: ZoneSpec;
  /** An object in the zone for at least this long (inclusive) raises an alert. */
  seconds: number;
}
export interface OccupancyRule extends RuleCommon {
  kind: 'occupancy';
  /** Absent: the whole frame. */
  zone: ZoneSpec | null;
  /** above: count > threshold; below: count < threshold. */
  condition: 'above' | 'below';
  threshold: number;
  /** The condition must hold this long (inclusive) before the alert is raised. Default 0. */
  forSeconds: number;
}
export interface SequenceRule extends RuleCommon {
  kind: 'sequence';
  /** The object must enter these zones in order, the last within `withinSeconds` (inclusive) of the first. */
  zones: ZoneSpec[];
  withinSeconds: number;
}

export type RuleDefinition = ZoneEnterRule | ZoneExitRule | ZonePresenceRule | TripwireRule | DwellRule | OccupancyRule | SequenceRule;
export type RuleKind = RuleDefinition['kind'];
export const RULE_KINDS: readonly RuleKind[] = ['zone_enter', 'zone_exit', 'zone_presence', 'tripwire', 'dwell', 'occupancy', 'sequence'];

/** One tracked object in one frame, as the rules see it (the tracker's TrackedObject has this shape). */
export interface RuleObject {
  trackId: number;
  className: string;
  confidence: number;
  box: { x1: number; y1: number; x2: number; y2: number };
}

/** One frame of one camera after tracking (the tracker's TrackerFrameResult has this shape). */
export interface RuleFrame {
  cameraId: string;
  timestampNs: bigint;
  frameWidth: number;
  frameHeight: number;
  /** Tracks observed in this frame. Tracks not listed keep their last state until they end. */
  objects: RuleObject[];
  /** Tracks that ended in this frame: their state is dropped (presence and occupancy no longer count them). */
  endedTrackIds?: number[];
}

export type AlertEventType = Exclude<AlertState, 'acknowledged'> | 'acknowledged';

/** A transition of an alert, as streamed on the WebSocket and handed to notifiers. */
export interface AlertEvent {
  type: AlertEventType;
  /** A snapshot of the alert after the transition. */
  alert: Alert;
}
