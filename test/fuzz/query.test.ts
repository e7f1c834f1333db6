/**
 * Property-based fuzzing of REST query parsing: the alert query (src/rules/query.ts) and the request helpers
 * (src/http/request.ts) with arbitrary parameter names and values, repeated parameters, huge numbers, ISO dates out
 * of range, unicode and percent-encoded junk. Accepted (and then within the documented bounds) or refused with a
 * VigilError / HttpError (a VigilError too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAlertQuery } from '../../src/rules/query.js';
import { queryBool, queryInt, queryOne, queryRequired } from '../../src/http/request.js';
import { acceptOrRefuse, params, report } from './fuzz.js';

const NAMES = ['camera_id', 'rule_id', 'state', 'start_time', 'end_time', 'limit', 'cursor', 'order', 'page', 'page_size', 'x'];
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^\d{1,30}$/),
  fc.constantFrom('18446744073709551616', '99999999999999999999', '-1', '0', '1e3', ' 1', '0x10', 'NaN', 'raised,cleared', 'raised,,x', 'asc', 'DESC',
    '2026-12-06T10:00:00Z', '+275760-09-13T00:00:00.000Z', '9999-99-99T99:99', '1970-01-01T00:00:00Z', 'true', '1', 'yes', '%00', 'a'.repeat(200)),
  fc.integer().map(String),
  fc.double().map(String),
);
const query = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { maxLength: 8 }).map((kv) => new URLSearchParams(kv)),
  fc.string({ maxLength: 200 }).map((s) => new URLSearchParams(s)),
);

test('parseAlertQuery: arbitrary query strings', () => {
  const p = params<[URLSearchParams]>(8000);
  fc.assert(
    fc.property(query, (q) => {
      const f = acceptOrRefuse(() => parseAlertQuery(q));
      if (f) {
        if (f.limit !== undefined) assert.ok(Number.isInteger(f.limit) && f.limit >= 1 && f.limit <= 1000);
        if (f.since !== undefined) assert.equal(typeof f.since, 'bigint');
        if (f.order !== undefined) assert.ok(f.order === 'asc' || f.order === 'desc');
      }
    }),
    p,
  );
  report('query.parseAlertQuery', p.numRuns!);
});

test('request helpers: queryInt / queryBool / queryOne / queryRequired', () => {
  const p = params<[URLSearchParams]>(8000);
  fc.assert(
    fc.property(query, (q) => {
      const n = acceptOrRefuse(() => queryInt(q, 'page', 1, 1, 1_000_000));
      if (n !== null) assert.ok(Number.isSafeInteger(n) && n >= 1 && n <= 1_000_000);
      acceptOrRefuse(() => queryBool(q, 'order', false));
      acceptOrRefuse(() => queryOne(q, 'state'));
      acceptOrRefuse(() => queryRequired(q, 'cursor'));
    }),
    p,
  );
  report('query.helpers', p.numRuns!);
});
