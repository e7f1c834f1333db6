import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRule, validateRules } from '../../src/rules/validate.js';

const SQ = { points: [[0, 0], [10, 0], [10, 10]] };

test('defaults are filled in', () => {
  assert.deepEqual(validateRule({ id: 'r1', kind: 'zone_enter', zone: SQ }), {
    id: 'r1', name: 'r1', enabled: true, cameras: [], classes: [], minConfidence: 0, anchor: 'bottom_center', schedule: null,
    cooldownSeconds: 0, severity: 'warning', notify: [], kind: 'zone_enter', zone: { points: [[0, 0], [10, 0], [10, 10]], normalized: false },
  });
  const t = validateRule({ id: 't', kind: 'tripwire', line: { from: [0, 0], to: [1, 1], normalized: true }, notify: ['hook'] });
  assert.equal(t.kind === 'tripwire' && t.direction, 'both');
  assert.deepEqual(t.notify, [{ channel: 'hook', on: ['raised'], snapshot: 'link' }]);
  const o = validateRule({ id: 'o', kind: 'occupancy', condition: 'above', threshold: 3 });
  assert.equal(o.kind === 'occupancy' && o.zone, null);
});

test('errors name the bad field', () => {
  const cases: [unknown, string][] = [
    [42, 'Expected a rule object for rule but received 42'],
    [{ id: 'bad id!', kind: 'zone_enter', zone: SQ }, 'Expected an id of 1-64 letters, digits, "_", "." or "-" for rule.id but received "bad id!"'],
    [{ id: 'x', kind: 'zone', zone: SQ }, 'Expected a rule kind (zone_enter, zone_exit, zone_presence, tripwire, dwell, occupancy, sequence) for rule.kind but received "zone"'],
    [{ id: 'x', kind: 'zone_enter', zone: { points: [[0, 0], [1, 1]] } }, 'Expected an array of at least 3 points for rule.zone.points but received an array of length 2'],
    [{ id: 'x', kind: 'zone_enter', zone: { points: [[0, 0], [1, 1], [2, -1]] } }, 'Expected a pixel coordinate >= 0 for rule.zone.points[2][1] but received -1'],
    [{ id: 'x', kind: 'zone_enter', zone: { points: [[0, 0], [1, 1], [0.5, 1.5]], normalized: true } }, 'Expected a normalized coordinate from 0 to 1 for rule.zone.points[2][1] but received 1.5'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, seconds: 3 }, 'Expected no field "seconds" (not a field of a zone_enter rule) for rule.seconds but received 3'],
    [{ id: 'x', kind: 'tripwire', line: { from: [1, 1], to: [1, 1] } }, 'Expected a point different from line.from for rule.line.to but received "[1, 1]"'],
    [{ id: 'x', kind: 'tripwire', line: { from: [1, 1], to: [2, 1] }, direction: 'up' }, 'Expected "a_to_b", "b_to_a" or "both" for rule.direction but received "up"'],
    [{ id: 'x', kind: 'dwell', zone: SQ }, 'Expected a number >= 0 for rule.seconds but received undefined'],
    [{ id: 'x', kind: 'occupancy', condition: 'over', threshold: 1 }, 'Expected "above" or "below" for rule.condition but received "over"'],
    [{ id: 'x', kind: 'occupancy', condition: 'below', threshold: 0 }, 'Expected an integer >= 1 (no count is below 0) for rule.threshold but received 0'],
    [{ id: 'x', kind: 'occupancy', condition: 'above', threshold: 1.5 }, 'Expected an integer >= 0 for rule.threshold but received 1.5'],
    [{ id: 'x', kind: 'sequence', zones: [SQ], withinSeconds: 5 }, 'Expected an array of at least 2 zones for rule.zones but received an array of length 1'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, minConfidence: 1.2 }, 'Expected a number from 0 to 1 for rule.minConfidence but received 1.2'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, cameras: ['a', 3] }, 'Expected a non-empty string for rule.cameras[1] but received 3'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, schedule: { timezone: 'Mars/Olympus', windows: [] } }, 'Expected an IANA time zone name for rule.schedule.timezone but received "Mars/Olympus"'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, schedule: { windows: [{ days: ['mon', 'funday'], start: '08:00', end: '09:00' }] } }, 'Expected a weekday (mon, tue, wed, thu, fri, sat, sun) for rule.schedule.windows[0].days[1] but received "funday"'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, schedule: { windows: [{ start: '8:00', end: '09:00' }] } }, 'Expected a time "HH:MM" from 00:00 to 23:59 for rule.schedule.windows[0].start but received "8:00"'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, schedule: { windows: [{ start: '08:00', end: '24:01' }] } }, 'Expected a time "HH:MM" from 00:00 to 24:00 for rule.schedule.windows[0].end but received "24:01"'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, notify: [{ channel: 'a', on: ['fired'] }] }, 'Expected "raised", "updated" or "cleared" for rule.notify[0].on[0] but received "fired"'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, cooldownSeconds: -1 }, 'Expected a number >= 0 for rule.cooldownSeconds but received -1'],
    [{ id: 'x', kind: 'zone_enter', zone: SQ, notify: [{ channel: 'a', template: '{{alert.message}} at {{camera}}' }] }, 'Expected placeholders of {{event}}, {{alert.…}}, {{rule.…}}, {{time}}, {{snapshot_url}} for rule.notify[0].template but received "{{camera}}"'],
  ];
  for (const [raw, message] of cases) assert.throws(() => validateRule(raw), { name: 'RuleValidationError', code: 'E_RULE_INVALID', message });
});

test('lists: paths carry the index, ids must be unique, channels are checked when known', () => {
  assert.throws(() => validateRules([{ id: 'a', kind: 'zone_enter', zone: SQ }, { id: 'a', kind: 'zone_exit', zone: SQ }]), {
    message: 'Expected a rule id not used by an earlier rule for rules[1].id but received "a"',
  });
  assert.throws(() => validateRules([{ id: 'a', kind: 'zone_enter', zone: { points: 'x' } }]), {
    message: 'Expected an array of at least 3 points for rules[0].zone.points but received "x"',
  });
  assert.throws(() => validateRules([{ id: 'a', kind: 'zone_enter', zone: SQ, notify: [{ channel: 'pager' }] }], { channels: new Set(['hook', 'mail']) }), {
    field: 'rules[0].notify[0].channel',
    message: 'Expected a configured channel (hook, mail) for rules[0].notify[0].channel but received "pager"',
  });
  assert.deepEqual(validateRules(undefined), []);
});

test('GET /alerts query parsing', async () => {
  const { parseAlertQuery } = await import('../../src/rules/query.js');
  assert.deepEqual(parseAlertQuery(new URLSearchParams('camera_id=cam1&rule_id=gate&state=raised,updated&start_time=1767614400000000000&end_time=2026-01-05T13:00:00Z&limit=50&order=asc')), {
    cameraId: 'cam1', ruleId: 'gate', state: ['raised', 'updated'], since: 1767614400000000000n, until: 1767618000000000000n, limit: 50, order: 'asc',
  });
  assert.throws(() => parseAlertQuery(new URLSearchParams('state=open')), { code: 'E_ARGUMENT', message: 'Expected an alert state (raised, updated, cleared, acknowledged) for state but received "open"' });
  assert.throws(() => parseAlertQuery(new URLSearchParams('limit=5000')), { message: 'Expected an integer from 1 to 1000 for limit but received "5000"' });
  assert.throws(() => parseAlertQuery(new URLSearchParams('start_time=yesterday')), { message: 'Expected nanoseconds since the epoch or an ISO 8601 date-time for start_time but received "yesterday"' });
  assert.throws(() => parseAlertQuery(new URLSearchParams('page=2')), { message: 'Expected one of the parameters camera_id, rule_id, state, start_time, end_time, limit, cursor, order for query but received "page"' });
});
