/**
 * Property-based fuzzing of the REST handlers in-process (issue 17): the route modules the server mounts (core and
 * ops, built as createApiServer builds them: withAuthOf + apiModule, a real AuthService, a real RuleService with a
 * rule and alerts), dispatched as src/http/server.ts's mount() does — pattern match, percent-decoded path
 * parameters (a malformed one is the transport's 400), URLSearchParams from the query string, the body as a Buffer,
 * the handler awaited and any throw turned into errorReply(err). What the transport adds on top (uWS request
 * parsing, body size limits, CORS) is covered by the over-HTTP targets in api.test.ts; this one reaches the same
 * handlers without a socket round trip per input, so a million inputs take minutes instead of hours.
 *
 * Property: no input gives a 5xx, and every reply's JSON serializes (the transport's JSON.stringify would throw on
 * a BigInt or a cycle).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { apiModule, withAuthOf } from '../../src/api/auth.js';
import { opsRoutes } from '../../src/api/routes-ops.js';
import { coreRoutes } from '../../src/api/routes.js';
import { AuthService } from '../../src/auth/service.js';
import { errorReply, patternMatches, type Reply, type RequestCtx, type Route } from '../../src/http/index.js';
import { RuleService } from '../../src/rules/service.js';
import { HealthRegistry } from '../../src/services/health.js';
import type { Alert } from '../../src/types.js';
import { AUDIENCE, CAMERAS, ISSUER, SECRET, storedDetections } from '../integration/api-helpers.js';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';
import { hostileJson, params, report, tick } from './fuzz.js';

let dir = '';
let auth: AuthService;
let rules: RuleService;
let routes: Route[] = [];
const tokens: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-rest-'));
  let adminPassword = '';
  auth = await AuthService.open({
    dataDir: join(dir, 'auth'),
    jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
    announceInitialAdmin: (_u, p) => {
      adminPassword = p;
    },
  });
  await auth.users.create({ username: 'olga', password: 'operator-pass', role: 'operator', cameras: '*' });
  await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
  tokens.admin = (await auth.login('admin', adminPassword, '127.0.0.9')).access_token;
  tokens.olga = (await auth.login('olga', 'operator-pass', '127.0.0.9')).access_token;
  tokens.vera = (await auth.login('vera', 'viewer-pass', '127.0.0.9')).access_token;
  rules = await RuleService.open({ path: join(dir, 'rules'), channels: new Set(['hook']) });
  await rules.createRule({ id: 'gate', name: 'Gate', kind: 'zone_enter', zone: { points: [[0, 0], [10, 0], [10, 10]] }, cameras: ['cam-1'] });
  const alert = (alertId: string, cameraId: string): Alert => ({
    alertId, ruleId: 'gate', ruleName: 'Gate', cameraId, state: 'raised', message: 'm', trackIds: [1], raisedNs: 1n, updatedNs: 1n, clearedNs: null, acknowledgedBy: null, details: {},
  });
  await rules.store.putAlert(alert('a-cam1', 'cam-1'));
  await rules.store.putAlert(alert('a-cam2', 'cam-2'));
  const registry = new Registry();
  const withAuth = withAuthOf(auth);
  routes = [
    apiModule('core', coreRoutes({ auth, cameras: new MemoryCameraListing(CAMERAS), detections: new MemoryDetectionSource(storedDetections()), health: new HealthRegistry(), registry }), withAuth),
    apiModule('ops', opsRoutes({ rules }), withAuth),
  ].flatMap((m) => m.routes);
});

after(async () => {
  await rules.close();
  await auth.close();
  rmSync(dir, { recursive: true, force: true });
});

const METHOD: Record<string, Route['method']> = { GET: 'get', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'del' };

/** What mount() does for one request: route lookup, parameters, handler, errorReply. */
async function dispatch(method: string, path: string, query: string, token: string | undefined, body: Buffer | null, contentType: string): Promise<Reply> {
  const route = routes.find((r) => r.method === METHOD[method] && patternMatches(r.pattern, path));
  if (!route) return { status: 404 };
  const params: Record<string, string> = {};
  const segs = path.split('/');
  const pat = route.pattern.split('/');
  try {
    pat.forEach((s, i) => {
      if (s.startsWith(':')) params[s.slice(1)] = decodeURIComponent(segs[i] ?? '');
    });
  } catch {
    return { status: 400 }; // readRequest's "Malformed request path"
  }
  const headers: Record<string, string> = { 'content-type': contentType };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const ctx: RequestCtx = { method, path, query: new URLSearchParams(query), headers, ip: '127.0.0.9', params, body: route.body ? body : null };
  try {
    return await route.handler(ctx);
  } catch (err) {
    return errorReply(err);
  }
}

const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('18446744073709551616', '99999999999999999999999', '-1', '0', '1e400', 'NaN', '2026-12-06T10:00:00Z', '+275760-09-13T00:00:00Z',
    '%', '%zz', 'cam-1', 'cam-2', 'cam-1,cam-2', 'person,car', '', ' ', '\u0000', '1000001', '0.5', 'true', 'raised', 'acknowledged', 'gate'),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double().map(String),
);
const NAMES = ['camera_id', 'rule_id', 'start_time', 'end_time', 'confidence_min', 'class', 'page', 'page_size', 'limit', 'cursor', 'order', 'state', 'x'];
const queryString = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { maxLength: 6 }).map((kv) => new URLSearchParams(kv).toString()),
  fc.string({ maxLength: 80 }),
);
const id = fc.oneof(fc.constantFrom('cam-1', 'cam-2', 'gate', 'a-cam1', 'a-cam2', 'vera', 'nobody', '%00', '%zz', '%E0%A4%A', '..', ''), fc.string({ maxLength: 20 }).map(encodeURIComponent));
const GETS = ['/detections', '/cameras', '/cameras/:id', '/health', '/users', '/users/:id', '/metrics', '/rules', '/rules/:id', '/alerts', '/alerts/:id'];
const token = fc.constantFrom<string | undefined>('admin', 'olga', 'vera', undefined, 'garbage').map((t) => (t === undefined ? undefined : tokens[t] ?? 'not.a.jwt'));

test('REST in-process: hostile query strings on every GET route never give a 5xx', async () => {
  const p = params<[string, string, string, string | undefined]>(2000);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...GETS), id, queryString, token, async (pattern, pid, qs, tok) => {
      const path = pattern.replace(':id', pid);
      const r = await dispatch('GET', path, qs, tok, null, '');
      assert.ok(r.status < 500, `GET ${path}?${qs} -> ${r.status} ${JSON.stringify(r.json)?.slice(0, 300)}`);
      assert.doesNotThrow(() => JSON.stringify(r.json ?? null));
      tick('api.rest-query-inprocess');
    }),
    p,
  );
  report('api.rest-query-inprocess', p.numRuns!);
});

test('REST in-process: hostile JSON bodies on the write routes never give a 5xx', async () => {
  const user = fc.record(
    { username: fc.oneof(fc.string({ maxLength: 70 }), hostileJson), password: fc.oneof(fc.string({ maxLength: 80 }), hostileJson), role: fc.oneof(fc.constantFrom('admin', 'operator', 'viewer'), hostileJson), cameras: fc.oneof(fc.constant('*'), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), hostileJson) },
    { requiredKeys: [] },
  );
  const rule = fc.record(
    { id: fc.oneof(fc.constantFrom('gate', 'x', ''), hostileJson), name: hostileJson, kind: fc.oneof(fc.constantFrom('zone_enter', 'zone_exit', 'line_cross', 'loiter', 'count'), hostileJson), zone: hostileJson, line: hostileJson, cameras: fc.oneof(fc.constantFrom(['cam-1'], ['cam-2'], '*'), hostileJson), classes: hostileJson, notify: hostileJson, enabled: hostileJson },
    { requiredKeys: [] },
  );
  // Writes as olga (operator: user writes are refused after the body is read; rule writes need admin, so the
  // rule routes run as admin and reach validation; a valid rule may be created, and is then edited or deleted).
  const WRITES: Array<[string, string, string]> = [
    ['POST', '/users', 'olga'], ['PATCH', '/users/vera', 'olga'], ['POST', '/users/vera/password', 'olga'],
    ['POST', '/auth/refresh', 'olga'], ['POST', '/rules', 'admin'], ['PUT', '/rules/gate', 'admin'], ['PATCH', '/rules/gate', 'admin'], ['PATCH', '/rules/x', 'admin'],
    ['POST', '/alerts/a-cam1/acknowledge', 'vera'], ['POST', '/alerts/a-cam2/acknowledge', 'olga'],
  ];
  const p = params<[[string, string, string], unknown, boolean]>(1500);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...WRITES), fc.oneof(user, rule, hostileJson), fc.boolean(), async ([method, path, who], json, asJson) => {
      const r = await dispatch(method, path, '', tokens[who], Buffer.from(JSON.stringify(json) ?? 'undefined'), asJson ? 'application/json' : 'text/plain');
      assert.ok(r.status < 500, `${method} ${path} ${JSON.stringify(json)?.slice(0, 200)} -> ${r.status} ${JSON.stringify(r.json)?.slice(0, 300)}`);
      assert.doesNotThrow(() => JSON.stringify(r.json ?? null));
      tick('api.rest-body-inprocess');
    }),
    p,
  );
  report('api.rest-body-inprocess', p.numRuns!);
});
