/**
 * Property-based fuzzing of rule validation (src/rules/validate.ts), the input of POST/PUT /rules and of the
 * config's rules: near-valid rules of every kind with hostile field values (zones with NaN or huge points, self-
 * intersecting shapes, odd schedules and time zones), and arbitrary JSON. Accepted or refused with a VigilError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateRule, validateRules } from '../../src/rules/validate.js';
import { RULE_KINDS } from '../../src/rules/types.js';
import { acceptOrRefuse, hostileJson, params, report } from './fuzz.js';

const coord = fc.oneof(fc.double({ min: -10, max: 5000, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity, 1e308, -0));
const point = fc.oneof(fc.tuple(coord, coord), fc.record({ x: coord, y: coord }), hostileJson);
const polygon = fc.oneof(fc.array(point, { maxLength: 8 }), hostileJson);
const normalized = fc.oneof(fc.boolean(), hostileJson);
const zone = fc.oneof(fc.record({ points: polygon, normalized }, { requiredKeys: [] }), hostileJson);
const line = fc.oneof(fc.record({ from: point, to: point, normalized }, { requiredKeys: [] }), hostileJson);
const window = fc.record(
  {
    days: fc.oneof(fc.array(fc.constantFrom('mon', 'tue', 'sun', 'xyz', 1), { maxLength: 8 }), hostileJson),
    start: fc.oneof(fc.constantFrom('00:00', '23:59', '24:00', '7:5', '12:60'), hostileJson),
    end: fc.oneof(fc.constantFrom('00:00', '23:59', '24:00', '99:99'), hostileJson),
  },
  { requiredKeys: [] },
);

const rule = fc.record(
  {
    id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), fc.string({ maxLength: 70 }), hostileJson),
    kind: fc.oneof(fc.constantFrom(...RULE_KINDS), hostileJson),
    name: fc.oneof(fc.string({ maxLength: 300 }), hostileJson),
    enabled: fc.oneof(fc.boolean(), hostileJson),
    cameras: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), hostileJson),
    classes: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), hostileJson),
    minConfidence: fc.oneof(fc.double(), hostileJson),
    anchor: fc.oneof(fc.constantFrom('bottom_center', 'center'), hostileJson),
    severity: fc.oneof(fc.constantFrom('info', 'warning', 'critical'), hostileJson),
    cooldownSeconds: fc.oneof(fc.double(), hostileJson),
    schedule: fc.oneof(
      fc.record(
        {
          timezone: fc.oneof(fc.constantFrom('UTC', 'Europe/Paris', 'Not/AZone', '', '+05:00'), hostileJson),
          windows: fc.oneof(fc.array(window, { maxLength: 3 }), hostileJson),
        },
        { requiredKeys: [] },
      ),
      hostileJson,
    ),
    notify: fc.oneof(fc.array(fc.record({ channel: fc.constantFrom('ops', 'nope'), on: fc.oneof(fc.array(fc.constantFrom('raised', 'cleared', 'x')), hostileJson) }, { requiredKeys: [] }), { maxLength: 2 }), hostileJson),
    zone,
    zones: fc.oneof(fc.array(zone, { maxLength: 4 }), hostileJson),
    line,
    direction: fc.oneof(fc.constantFrom('any', 'left_to_right', 'right_to_left', 'in', 'out'), hostileJson),
    seconds: fc.oneof(fc.double(), hostileJson),
    condition: fc.oneof(fc.constantFrom('>', '>=', '<', '<=', '==', 'gt', 'lt'), hostileJson),
    threshold: fc.oneof(fc.integer({ min: -2, max: 1e6 }), hostileJson),
    forSeconds: fc.oneof(fc.double(), hostileJson),
    withinSeconds: fc.oneof(fc.double(), hostileJson),
  },
  { requiredKeys: [] },
);

test('validateRule: near-valid rules of every kind and arbitrary JSON', () => {
  const p = params<[unknown]>(5000);
  fc.assert(
    fc.property(fc.oneof(rule, hostileJson), (raw) => {
      const r = acceptOrRefuse(() => validateRule(raw, { channels: new Set(['ops']) }));
      if (r) {
        assert.ok(typeof r.id === 'string' && r.id.length >= 1 && r.id.length <= 64);
        assert.ok((RULE_KINDS as readonly string[]).includes(r.kind));
        assert.ok(r.minConfidence >= 0 && r.minConfidence <= 1);
        // an accepted rule survives its own JSON round trip (it is persisted and served as JSON)
        assert.deepEqual(acceptOrRefuse(() => validateRule(JSON.parse(JSON.stringify(r)), { channels: new Set(['ops']) })) !== null, true);
      }
    }),
    p,
  );
  report('rules.validateRule', p.numRuns!);
});

test('validateRules: lists with duplicates and hostile entries', () => {
  const p = params<[unknown]>(1500);
  fc.assert(fc.property(fc.oneof(fc.array(rule, { maxLength: 4 }), hostileJson), (raw) => void acceptOrRefuse(() => validateRules(raw))), p);
  report('rules.validateRules', p.numRuns!);
});
