/**
 * Rule validation: turns what a user wrote (YAML, JSON body) into a RuleDefinition with defaults filled, or throws
 * RuleValidationError naming the offending field by its path, in the project's one message shape:
 * "Expected <what> for <path> but received <value>".
 */
import { VigilError, describeValue } from '../errors.js';
import { isValidTimeZone } from './schedule.js';
import {
  RULE_KINDS,
  WEEKDAYS,
  type LineSpec,
  type NotifySpec,
  type Point,
  type RuleDefinition,
  type ScheduleSpec,
  type ScheduleWindow,
  type Weekday,
  type ZoneSpec,
} from './types.js';

export class RuleValidationError extends VigilError {
  /** Path of the offending field, e.g. "rules[2].zone.points[1]". */
  readonly field: string;
  constructor(what: string, field: string, value: unknown) {
    super('E_RULE_INVALID', `Expected ${what} for ${field} but received ${describeValue(value)}`);
    this.field = field;
  }
}

type Obj = Record<string, unknown>;

const fail = (what: string, path: string, value: unknown): never => {
  throw new RuleValidationError(what, path, value);
};

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown, path: string, min: number, max = Infinity, what?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    fail(what ?? (max === Infinity ? `a number >= ${min}` : `a number from ${min} to ${max}`), path, v);
  }
  return v as number;
}

function str(v: unknown, path: string, what = 'a non-empty string'): string {
  if (typeof v !== 'string' || v.trim() === '') fail(what, path, v);
  return v as string;
}

function strList(v: unknown, path: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail('an array of strings', path, v);
  return (v as unknown[]).map((s, i) => str(s, `${path}[${i}]`));
}

function point(v: unknown, path: string, normalized: boolean): Point {
  if (!Array.isArray(v) || v.length !== 2) fail('a point [x, y]', path, v);
  const max = normalized ? 1 : Infinity;
  const what = normalized ? 'a normalized coordinate from 0 to 1' : 'a pixel coordinate >= 0';
  const a = v as unknown[];
  return [num(a[0], `${path}[0]`, 0, max, what), num(a[1], `${path}[1]`, 0, max, what)];
}

function zone(v: unknown, path: string): ZoneSpec {
  if (!isObj(v)) return fail('a zone object { points, normalized? }', path, v);
  const normalized = v.normalized ?? false;
  if (typeof normalized !== 'boolean') fail('a boolean', `${path}.normalized`, normalized);
  const pts = v.points;
  if (!Array.isArray(pts) || pts.length < 3) fail('an array of at least 3 points', `${path}.points`, pts);
  return { points: (pts as unknown[]).map((p, i) => point(p, `${path}.points[${i}]`, normalized as boolean)), normalized: normalized as boolean };
}

function line(v: unknown, path: string): LineSpec {
  if (!isObj(v)) return fail('a line object { from, to, normalized? }', path, v);
  const normalized = v.normalized ?? false;
  if (typeof normalized !== 'boolean') fail('a boolean', `${path}.normalized`, normalized);
  const from = point(v.from, `${path}.from`, normalized as boolean);
  const to = point(v.to, `${path}.to`, normalized as boolean);
  if (from[0] === to[0] && from[1] === to[1]) fail('a point different from line.from', `${path}.to`, `[${to.join(', ')}]`);
  return { from, to, normalized: normalized as boolean };
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

function schedule(v: unknown, path: string): ScheduleSpec | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) return fail('a schedule object { timezone?, windows }', path, v);
  const out: ScheduleSpec = { windows: [] };
  if (v.timezone !== undefined) {
    const tz = str(v.timezone, `${path}.timezone`, 'an IANA time zone name');
    if (!isValidTimeZone(tz)) fail('an IANA time zone name', `${path}.timezone`, tz);
    out.timezone = tz;
  }
  const ws = v.windows;
  if (!Array.isArray(ws) || ws.length === 0) fail('a non-empty array of windows', `${path}.windows`, ws);
  out.windows = (ws as unknown[]).map((w, i): ScheduleWindow => {
    const wp = `${path}.windows[${i}]`;
    if (!isObj(w)) return fail('a window object { days, start, end }', wp, w);
    const days = w.days ?? [...WEEKDAYS];
    if (!Array.isArray(days) || days.length === 0) fail('a non-empty array of weekdays (mon..sun)', `${wp}.days`, days);
    const d = (days as unknown[]).map((x, j) => {
      if (typeof x !== 'string' || !WEEKDAYS.includes(x.toLowerCase() as Weekday)) fail('a weekday (mon, tue, wed, thu, fri, sat, sun)', `${wp}.days[${j}]`, x);
      return (x as string).toLowerCase() as Weekday;
    });
    const start = w.start;
    const end = w.end;
    if (typeof start !== 'string' || !HHMM.test(start) || start === '24:00') fail('a time "HH:MM" from 00:00 to 23:59', `${wp}.start`, start);
    if (typeof end !== 'string' || !HHMM.test(end)) fail('a time "HH:MM" from 00:00 to 24:00', `${wp}.end`, end);
    return { days: d, start: start as string, end: end as string };
  });
  return out;
}

/** Roots a notification template may use (see integrations/notify/template.ts). */
const TEMPLATE_ROOTS = ['event', 'alert', 'rule', 'time', 'snapshot_url'];

function notify(v: unknown, path: string, channels: ReadonlySet<string> | null): NotifySpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return fail('an array of { channel, on?, template?, snapshot? }', path, v);
  return (v as unknown[]).map((n, i): NotifySpec => {
    const np = `${path}[${i}]`;
    if (typeof n === 'string') n = { channel: n };
    if (!isObj(n)) return fail('a notify object { channel, on?, template?, snapshot? }', np, n);
    const channel = str(n.channel, `${np}.channel`, 'a channel name');
    if (channels && !channels.has(channel)) fail(`a configured channel (${[...channels].join(', ') || 'none configured'})`, `${np}.channel`, channel);
    const on = n.on ?? ['raised'];
    if (!Array.isArray(on) || on.length === 0) fail('a non-empty array of "raised", "updated", "cleared"', `${np}.on`, on);
    for (const [j, e] of (on as unknown[]).entries()) {
      if (e !== 'raised' && e !== 'updated' && e !== 'cleared') fail('"raised", "updated" or "cleared"', `${np}.on[${j}]`, e);
    }
    const snapshot = n.snapshot ?? 'link';
    if (snapshot !== 'none' && snapshot !== 'link' && snapshot !== 'attach') fail('"none", "link" or "attach"', `${np}.snapshot`, snapshot);
    const out: NotifySpec = { channel, on: on as NotifySpec['on'], snapshot: snapshot as NotifySpec['snapshot'] };
    if (n.template !== undefined) {
      const tpl = str(n.template, `${np}.template`, 'a non-empty template string');
      for (const m of tpl.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
        const path = m[1]!;
        const root = path.split('.')[0]!;
        if (!/^[A-Za-z0-9_.]+$/.test(path) || !TEMPLATE_ROOTS.includes(root)) {
          fail(`placeholders of ${TEMPLATE_ROOTS.map((r) => `{{${r}${r === 'alert' || r === 'rule' ? '.…' : ''}}}`).join(', ')}`, `${np}.template`, `{{${path}}}`);
        }
      }
      out.template = tpl;
    }
    return out;
  });
}

const COMMON_KEYS = ['id', 'name', 'kind', 'enabled', 'cameras', 'classes', 'minConfidence', 'anchor', 'schedule', 'cooldownSeconds', 'severity', 'notify'];
const KIND_KEYS: Record<string, string[]> = {
  zone_enter: ['zone'],
  zone_exit: ['zone'],
  zone_presence: ['zone'],
  tripwire: ['line', 'direction'],
  dwell: ['zone', 'seconds'],
  occupancy: ['zone', 'condition', 'threshold', 'forSeconds'],
  sequence: ['zones', 'withinSeconds'],
};

export interface ValidateOptions {
  /** Field path prefix for messages, default "rule". */
  path?: string;
  /** Known notification channel names; when given, `notify[].channel` must be one of them. */
  channels?: ReadonlySet<string> | null;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateRule(raw: unknown, options: ValidateOptions = {}): RuleDefinition {
  const p = options.path ?? 'rule';
  if (!isObj(raw)) return fail('a rule object', p, raw);
  const id = raw.id;
  if (typeof id !== 'string' || !ID.test(id)) fail('an id of 1-64 letters, digits, "_", "." or "-"', `${p}.id`, id);
  const kind = raw.kind;
  if (typeof kind !== 'string' || !(RULE_KINDS as readonly string[]).includes(kind)) fail(`a rule kind (${RULE_KINDS.join(', ')})`, `${p}.kind`, kind);
  const allowed = new Set([...COMMON_KEYS, ...KIND_KEYS[kind as string]!]);
  for (const k of Object.keys(raw)) if (!allowed.has(k)) fail(`no field "${k}" (not a field of a ${kind as string} rule)`, `${p}.${k}`, raw[k]);
  const enabled = raw.enabled ?? true;
  if (typeof enabled !== 'boolean') fail('a boolean', `${p}.enabled`, enabled);
  const anchor = raw.anchor ?? 'bottom_center';
  if (anchor !== 'bottom_center' && anchor !== 'center') fail('"bottom_center" or "center"', `${p}.anchor`, anchor);
  const severity = raw.severity ?? 'warning';
  if (severity !== 'info' && severity !== 'warning' && severity !== 'critical') fail('"info", "warning" or "critical"', `${p}.severity`, severity);
  const common = {
    id: id as string,
    name: raw.name === undefined ? (id as string) : str(raw.name, `${p}.name`),
    enabled: enabled as boolean,
    cameras: strList(raw.cameras, `${p}.cameras`),
    classes: strList(raw.classes, `${p}.classes`),
    minConfidence: raw.minConfidence === undefined ? 0 : num(raw.minConfidence, `${p}.minConfidence`, 0, 1),
    anchor: anchor as 'bottom_center' | 'center',
    schedule: schedule(raw.schedule, `${p}.schedule`),
    cooldownSeconds: raw.cooldownSeconds === undefined ? 0 : num(raw.cooldownSeconds, `${p}.cooldownSeconds`, 0),
    severity: severity as 'info' | 'warning' | 'critical',
    notify: notify(raw.notify, `${p}.notify`, options.channels ?? null),
  };
  switch (kind) {
    case 'zone_enter':
    case 'zone_exit':
    case 'zone_presence':
      return { ...common, kind, zone: zone(raw.zone, `${p}.zone`) };
    case 'tripwire': {
      const direction = raw.direction ?? 'both';
      if (direction !== 'a_to_b' && direction !== 'b_to_a' && direction !== 'both') fail('"a_to_b", "b_to_a" or "both"', `${p}.direction`, direction);
      return { ...common, kind, line: line(raw.line, `${p}.line`), direction: direction as 'a_to_b' | 'b_to_a' | 'both' };
    }
    case 'dwell':
      return { ...common, kind, zone: zone(raw.zone, `${p}.zone`), seconds: num(raw.seconds, `${p}.seconds`, 0) };
    case 'occupancy': {
      const condition = raw.condition;
      if (condition !== 'above' && condition !== 'below') fail('"above" or "below"', `${p}.condition`, condition);
      const threshold = raw.threshold;
      if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) fail('an integer >= 0', `${p}.threshold`, threshold);
      if (condition === 'below' && threshold === 0) fail('an integer >= 1 (no count is below 0)', `${p}.threshold`, threshold);
      return {
        ...common,
        kind,
        zone: raw.zone === undefined || raw.zone === null ? null : zone(raw.zone, `${p}.zone`),
        condition: condition as 'above' | 'below',
        threshold: threshold as number,
        forSeconds: raw.forSeconds === undefined ? 0 : num(raw.forSeconds, `${p}.forSeconds`, 0),
      };
    }
    default: {
      // sequence
      const zs = raw.zones;
      if (!Array.isArray(zs) || zs.length < 2) fail('an array of at least 2 zones', `${p}.zones`, zs);
      return {
        ...common,
        kind: 'sequence',
        zones: (zs as unknown[]).map((z, i) => zone(z, `${p}.zones[${i}]`)),
        withinSeconds: num(raw.withinSeconds, `${p}.withinSeconds`, 0),
      };
    }
  }
}

/** Validates a list; ids must be unique. Paths are "rules[i]...". */
export function validateRules(raw: unknown, options: Omit<ValidateOptions, 'path'> & { path?: string } = {}): RuleDefinition[] {
  const p = options.path ?? 'rules';
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return fail('an array of rules', p, raw);
  const seen = new Set<string>();
  return (raw as unknown[]).map((r, i) => {
    const def = validateRule(r, { ...options, path: `${p}[${i}]` });
    if (seen.has(def.id)) fail('a rule id not used by an earlier rule', `${p}[${i}].id`, def.id);
    seen.add(def.id);
    return def;
  });
}
