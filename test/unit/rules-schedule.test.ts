import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchedule, scheduleActive, localTime } from '../../src/rules/schedule.js';
import { RuleEngine } from '../../src/rules/engine.js';
import { validateRule } from '../../src/rules/validate.js';
import type { ScheduleSpec } from '../../src/rules/types.js';

const at = (iso: string): number => Date.parse(iso);
function check(spec: ScheduleSpec, tz: string, cases: [string, boolean][]): void {
  const s = compileSchedule(spec, tz);
  for (const [iso, want] of cases) assert.equal(scheduleActive(s, at(iso)), want, `${iso} (local ${JSON.stringify(localTime(s.timezone, at(iso)))})`);
}

test('local time through Intl, both sides of the Berlin DST changes', () => {
  assert.deepEqual(localTime('Europe/Berlin', at('2026-03-29T00:59:59Z')), { day: 'sun', time: '01:59:59' });
  assert.deepEqual(localTime('Europe/Berlin', at('2026-03-29T01:00:00Z')), { day: 'sun', time: '03:00:00' });
  assert.deepEqual(localTime('Europe/Berlin', at('2026-10-25T00:59:59Z')), { day: 'sun', time: '02:59:59' });
  assert.deepEqual(localTime('Europe/Berlin', at('2026-10-25T01:00:00Z')), { day: 'sun', time: '02:00:00' });
  assert.deepEqual(localTime('America/New_York', at('2026-01-10T04:30:00Z')), { day: 'fri', time: '23:30:00' });
});

test('a window across midnight belongs to the day it starts on', () => {
  // Friday 22:00 to Saturday 06:00, Berlin winter time (UTC+1).
  check({ windows: [{ days: ['fri'], start: '22:00', end: '06:00' }] }, 'Europe/Berlin', [
    ['2026-01-09T04:00:00Z', false], // Fri 05:00: the Thursday night is not scheduled
    ['2026-01-09T20:59:59Z', false], // Fri 21:59:59
    ['2026-01-09T21:00:00Z', true], // Fri 22:00:00 (start inclusive)
    ['2026-01-09T23:00:00Z', true], // Sat 00:00:00
    ['2026-01-10T04:59:59Z', true], // Sat 05:59:59
    ['2026-01-10T05:00:00Z', false], // Sat 06:00:00 (end exclusive)
    ['2026-01-10T21:00:00Z', false], // Sat 22:00: Saturday is not a start day
  ]);
});

test('spring forward: a 01:00-04:00 window lasts two real hours; an overnight window loses an hour', () => {
  check({ windows: [{ days: ['sun'], start: '01:00', end: '04:00' }] }, 'Europe/Berlin', [
    ['2026-03-28T23:59:59Z', false], // 00:59:59 CET
    ['2026-03-29T00:00:00Z', true], // 01:00:00 CET
    ['2026-03-29T01:00:00Z', true], // 03:00:00 CEST (02:xx does not exist)
    ['2026-03-29T01:59:59Z', true], // 03:59:59 CEST
    ['2026-03-29T02:00:00Z', false], // 04:00:00 CEST
  ]);
  check({ windows: [{ days: ['sat'], start: '22:00', end: '06:00' }] }, 'Europe/Berlin', [
    ['2026-03-28T20:59:59Z', false], // Sat 21:59:59 CET
    ['2026-03-28T21:00:00Z', true], // Sat 22:00 CET
    ['2026-03-29T03:59:59Z', true], // Sun 05:59:59 CEST
    ['2026-03-29T04:00:00Z', false], // Sun 06:00 CEST: 7 real hours after the start
  ]);
});

test('fall back: a 02:00-02:30 window is active during both 02:15s', () => {
  check({ windows: [{ days: ['sun'], start: '02:00', end: '02:30' }] }, 'Europe/Berlin', [
    ['2026-10-24T23:59:59Z', false], // 01:59:59 CEST
    ['2026-10-25T00:15:00Z', true], // 02:15 CEST
    ['2026-10-25T00:45:00Z', false], // 02:45 CEST
    ['2026-10-25T01:15:00Z', true], // 02:15 CET (again)
    ['2026-10-25T01:30:00Z', false], // 02:30 CET
  ]);
  // New York: 01:00-02:00 on 2026-11-01 happens twice (EDT then EST).
  check({ windows: [{ days: ['sun'], start: '01:00', end: '02:00' }] }, 'America/New_York', [
    ['2026-11-01T04:59:59Z', false], // 00:59:59 EDT
    ['2026-11-01T05:30:00Z', true], // 01:30 EDT
    ['2026-11-01T06:30:00Z', true], // 01:30 EST
    ['2026-11-01T07:00:00Z', false], // 02:00 EST
  ]);
});

test('several windows, 24:00 ends and whole days; the schedule zone overrides the default', () => {
  const spec: ScheduleSpec = { timezone: 'Asia/Tokyo', windows: [{ days: ['mon', 'tue'], start: '18:00', end: '24:00' }, { days: ['sun'], start: '00:00', end: '00:00' }] };
  check(spec, 'UTC', [
    ['2026-01-05T08:59:59Z', false], // Mon 17:59:59 JST
    ['2026-01-05T09:00:00Z', true], // Mon 18:00 JST
    ['2026-01-05T14:59:59Z', true], // Mon 23:59:59 JST
    ['2026-01-05T15:00:00Z', false], // Tue 00:00 JST: Monday's window ended at 24:00, Tuesday's starts at 18:00
    ['2026-01-03T15:00:00Z', true], // Sun 00:00 JST (whole day)
    ['2026-01-04T14:59:59Z', true], // Sun 23:59:59 JST
    ['2026-01-04T15:00:00Z', false], // Mon 00:00 JST
  ]);
});

test('the engine applies a schedule in its configured zone across midnight', () => {
  const engine = new RuleEngine({ timezone: 'America/New_York', newAlertId: (ns) => String(ns) });
  engine.setRules([validateRule({ id: 'night', kind: 'zone_enter', zone: { points: [[0, 0], [100, 0], [100, 100], [0, 100]] }, schedule: { windows: [{ days: ['fri'], start: '22:00', end: '06:00' }] } })], 0n);
  const raised: string[] = [];
  let track = 0;
  for (const iso of ['2026-01-10T02:59:00Z', '2026-01-10T03:00:00Z', '2026-01-10T10:59:59Z', '2026-01-10T11:00:00Z']) {
    const ns = BigInt(at(iso)) * 1_000_000n;
    const ev = engine.process({ cameraId: 'c', timestampNs: ns, frameWidth: 640, frameHeight: 480, objects: [{ trackId: ++track, className: 'person', confidence: 1, box: { x1: 40, y1: 10, x2: 60, y2: 50 } }] });
    for (const e of ev) raised.push(new Date(Number(e.alert.raisedNs / 1_000_000n)).toISOString());
  }
  // Fri 21:59 EST no; Fri 22:00 yes; Sat 05:59:59 yes; Sat 06:00 no.
  assert.deepEqual(raised, ['2026-01-10T03:00:00.000Z', '2026-01-10T10:59:59.000Z']);
});
