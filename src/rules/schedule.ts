/**
 * Schedules in an IANA time zone, through Intl (the ICU data shipped with Node): the local weekday and wall-clock
 * time of an instant decide whether a window is active, so DST changes are handled by the zone rules — on the
 * spring-forward day a 01:00-04:00 window lasts two real hours, on the fall-back day a 02:00-02:30 window is active
 * during both 02:15s. A window whose end is not after its start runs past midnight into the next day and belongs
 * to the day it starts on ("fri 22:00-06:00" covers Saturday 05:59 but not Friday 05:59).
 */
import { WEEKDAYS, type ScheduleSpec, type Weekday } from './types.js';

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

interface Local {
  /** 0 = Sunday. */
  dow: number;
  /** Seconds since local midnight. */
  sec: number;
}

const SHORT: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

class ZoneClock {
  private readonly fmt: Intl.DateTimeFormat;
  private lastSecond = Number.NaN;
  private last: Local = { dow: 0, sec: 0 };
  constructor(tz: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  /** Local weekday and time of an instant (ms since the epoch); cached per whole second. */
  at(ms: number): Local {
    const s = Math.floor(ms / 1000);
    if (s === this.lastSecond) return this.last;
    let dow = 0;
    let h = 0;
    let m = 0;
    let sec = 0;
    for (const p of this.fmt.formatToParts(s * 1000)) {
      if (p.type === 'weekday') dow = SHORT[p.value] ?? 0;
      else if (p.type === 'hour') h = Number(p.value);
      else if (p.type === 'minute') m = Number(p.value);
      else if (p.type === 'second') sec = Number(p.value);
    }
    this.lastSecond = s;
    this.last = { dow, sec: h * 3600 + m * 60 + sec };
    return this.last;
  }
}

const clocks = new Map<string, ZoneClock>();
function clock(tz: string): ZoneClock {
  let c = clocks.get(tz);
  if (!c) {
    c = new ZoneClock(tz);
    clocks.set(tz, c);
  }
  return c;
}

/** Local weekday (mon..sun) and "HH:MM:SS" of an instant in a zone: for messages and tests. */
export function localTime(tz: string, ms: number): { day: Weekday; time: string } {
  const l = clock(tz).at(ms);
  const hh = Math.floor(l.sec / 3600);
  const mm = Math.floor((l.sec % 3600) / 60);
  const ss = l.sec % 60;
  return { day: WEEKDAYS[l.dow]!, time: [hh, mm, ss].map((n) => String(n).padStart(2, '0')).join(':') };
}

interface CompiledWindow {
  days: boolean[]; // by dow
  start: number;
  end: number;
}

export interface CompiledSchedule {
  timezone: string;
  windows: CompiledWindow[];
}

const toSec = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 3600 + Number(hhmm.slice(3, 5)) * 60;

export function compileSchedule(spec: ScheduleSpec, defaultTimezone: string): CompiledSchedule {
  return {
    timezone: spec.timezone ?? defaultTimezone,
    windows: spec.windows.map((w) => ({
      days: WEEKDAYS.map((d) => w.days.includes(d)),
      start: toSec(w.start),
      end: toSec(w.end),
    })),
  };
}

/** Whether the schedule is active at an instant (ms since the epoch). */
export function scheduleActive(s: CompiledSchedule, ms: number): boolean {
  const { dow, sec } = clock(s.timezone).at(ms);
  const prev = (dow + 6) % 7;
  for (const w of s.windows) {
    if (w.start < w.end) {
      if (w.days[dow] && sec >= w.start && sec < w.end) return true;
    } else {
      // Runs past midnight (start == end: a full 24 h from start).
      if (w.days[dow] && sec >= w.start) return true;
      if (w.days[prev] && sec < w.end) return true;
    }
  }
  return false;
}
