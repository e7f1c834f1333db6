/**
 * Authorization holes from issue #17 (items 1 and 7) and the user routes of issue #15 (item 2), on the real server:
 * a camera-scoped admin can grant, see and act on no more than its own scope; camera-scoped users do not see other
 * cameras' rules, channel names, metric series or alerts (404, exactly as for an alert that does not exist); the
 * anonymous /health says only healthy/degraded/unhealthy; users can be changed, deleted and re-passworded with the
 * same validation and scope rules, and such changes end the user's sessions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuleService } from '../../src/rules/service.js';
import { integrationRoutes, type IntegrationsApi } from '../../src/api/routes-integrations.js';
import { perCameraGauge } from '../../src/services/metrics.js';
import type { Alert } from '../../src/types.js';
import { startHarness, type Harness } from './api-helpers.js';
import { OpenApiValidator } from './api-openapi.js';

const SQUARE = { points: [[100, 100], [300, 100], [300, 300], [100, 300]] };
let h: Harness;
let api: OpenApiValidator;
let rules: RuleService;
let rulesDir: string;
const syncCalls: string[] = [];
/** sam: admin limited to cam-1; otto: operator limited to cam-1 */
const tok: Record<string, string> = {};

function alert(alertId: string, cameraId: string): Alert {
  return { alertId, ruleId: 'r', ruleName: 'R', cameraId, state: 'raised', message: 'm', trackIds: [1], raisedNs: 1n, updatedNs: 1n, clearedNs: null, acknowledgedBy: null, details: {} };
}

before(async () => {
  rulesDir = mkdtempSync(join(tmpdir(), 'vigil-sec-rules-'));
  rules = await RuleService.open({ path: rulesDir, channels: new Set(['hook', 'pager']) });
  const rt = {
    vmsSources: () => [],
    syncVms: async (id: string) => {
      syncCalls.push(id);
      return { source: id, added: [], updated: [], removed: [], unchanged: 0 } as never;
    },
    sinks: () => [],
    localMediaPath: () => null,
    media: { store: { kind: 'local' } },
  } as unknown as IntegrationsApi;
  h = await startHarness({ deps: { rules, routes: { integrations: integrationRoutes(rt) } } });
  api = new OpenApiValidator(await (await fetch(`${h.base}/openapi.json`)).json());
  await h.auth.users.create({ username: 'sam', password: 'scoped-admin', role: 'admin', cameras: ['cam-1'] });
  await h.auth.users.create({ username: 'otto', password: 'scoped-operator', role: 'operator', cameras: ['cam-1'] });
  tok.sam = (await h.auth.login('sam', 'scoped-admin', '127.0.0.9')).access_token;
  tok.otto = (await h.auth.login('otto', 'scoped-operator', '127.0.0.9')).access_token;
  tok.admin = h.tokens.admin.access_token;
  tok.olga = h.tokens.olga.access_token;
  tok.vera = h.tokens.vera.access_token;
  await rules.createRule({ id: 'gate', name: 'Gate', kind: 'zone_enter', zone: SQUARE, cameras: ['cam-1'], notify: ['hook'] });
  await rules.createRule({ id: 'lobby', name: 'Lobby', kind: 'zone_enter', zone: SQUARE, cameras: ['cam-2'], notify: ['pager'] });
  await rules.createRule({ id: 'both', name: 'Both', kind: 'zone_enter', zone: SQUARE, cameras: ['cam-1', 'cam-2'] });
  await rules.createRule({ id: 'everywhere', name: 'Everywhere', kind: 'zone_enter', zone: SQUARE, notify: ['pager'] });
  await rules.store.putAlert(alert('a-cam1', 'cam-1'));
  await rules.store.putAlert(alert('a-cam2', 'cam-2'));
  perCameraGauge(h.srv.registry, 'vigil_test_camera_fps', 'test', () => [['cam-1', 10], ['cam-2', 15]]);
});
after(async () => {
  await h.close();
  await rules.close();
  rmSync(rulesDir, { recursive: true, force: true });
});

async function call(method: string, path: string, token: string | undefined, json?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${h.base}${path}`, { method, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  const text = await r.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const body: any = (r.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text;
  return { status: r.status, body };
}

test('a camera-scoped admin cannot create users wider than itself, nor see wider ones', async () => {
  let r = await call('POST', '/users', tok.sam, { username: 'wide', password: 'password-1', role: 'viewer', cameras: '*' });
  assert.deepEqual([r.status, r.body], [403, { error: { code: 'E_FORBIDDEN_CAMERA', message: 'Camera scope "*" (all cameras) is wider than this user\'s scope' } }]);
  r = await call('POST', '/users', tok.sam, { username: 'wide', password: 'password-1', role: 'viewer', cameras: ['cam-1', 'cam-2'] });
  assert.deepEqual([r.status, r.body.error.code, r.body.error.message], [403, 'E_FORBIDDEN_CAMERA', 'Camera "cam-2" is outside this user\'s scope']);
  r = await call('POST', '/users', tok.sam, { username: 'narrow', password: 'password-1', role: 'viewer', cameras: ['cam-1'] });
  assert.equal(r.status, 201);
  api.check('POST', '/users', 201, r.body);
  // no cameras given: the creator's own scope, never "*"
  r = await call('POST', '/users', tok.sam, { username: 'defaulted', password: 'password-1', role: 'viewer' });
  assert.deepEqual([r.status, r.body.cameras], [201, ['cam-1']]);
  r = await call('GET', '/users', tok.sam);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.users.map((u: { username: string }) => u.username).sort(), ['defaulted', 'narrow', 'otto', 'sam', 'vera']);
  // an unscoped admin sees everybody
  r = await call('GET', '/users', tok.admin);
  assert.deepEqual(r.body.users.map((u: { username: string }) => u.username).sort(), ['admin', 'defaulted', 'narrow', 'olga', 'otto', 'sam', 'vera']);
});

test('a camera-scoped admin cannot create, change or delete rules outside its cameras, nor run a VMS sync', async () => {
  let r = await call('POST', '/rules', tok.sam, { id: 's1', kind: 'zone_enter', zone: SQUARE, cameras: ['cam-2'] });
  assert.deepEqual([r.status, r.body.error.code, r.body.error.message], [403, 'E_FORBIDDEN_CAMERA', 'Camera "cam-2" is outside this user\'s scope']);
  r = await call('POST', '/rules', tok.sam, { id: 's1', kind: 'zone_enter', zone: SQUARE });
  assert.deepEqual([r.status, r.body.error.code], [403, 'E_FORBIDDEN_CAMERA']);
  r = await call('POST', '/rules', tok.sam, { id: 's1', kind: 'zone_enter', zone: SQUARE, cameras: ['cam-1'] });
  assert.equal(r.status, 201);
  r = await call('PATCH', '/rules/s1', tok.sam, { cameras: ['cam-1', 'cam-2'] });
  assert.deepEqual([r.status, r.body.error.code], [403, 'E_FORBIDDEN_CAMERA']);
  r = await call('PUT', '/rules/s1', tok.sam, { kind: 'zone_enter', zone: SQUARE });
  assert.deepEqual([r.status, r.body.error.code], [403, 'E_FORBIDDEN_CAMERA']);
  // rules of other cameras (and of all cameras) do not exist for it
  for (const id of ['lobby', 'both', 'everywhere']) {
    r = await call('PATCH', `/rules/${id}`, tok.sam, { name: 'mine now' });
    assert.deepEqual([r.status, r.body.error.code], [id === 'everywhere' ? 403 : 404, id === 'everywhere' ? 'E_FORBIDDEN_CAMERA' : 'E_RULE_NOT_FOUND'], id);
    r = await call('DELETE', `/rules/${id}`, tok.sam);
    assert.deepEqual([r.status, r.body.error.code], [id === 'everywhere' ? 403 : 404, id === 'everywhere' ? 'E_FORBIDDEN_CAMERA' : 'E_RULE_NOT_FOUND'], id);
  }
  assert.deepEqual(rules.listRules().map((e) => [e.rule.id, e.rule.name]), [['gate', 'Gate'], ['lobby', 'Lobby'], ['both', 'Both'], ['everywhere', 'Everywhere'], ['s1', 's1']]);
  r = await call('DELETE', '/rules/s1', tok.sam);
  assert.equal(r.status, 204);
  // a VMS sync adds and removes cameras across the site: only unscoped admins
  r = await call('POST', '/integrations/vms/hq/sync', tok.sam);
  assert.deepEqual([r.status, r.body.error.code, r.body.error.message], [403, 'E_FORBIDDEN_CAMERA', 'Camera scope "*" (all cameras) is wider than this user\'s scope']);
  assert.deepEqual(syncCalls, []);
});

test('camera-scoped users see only their cameras\' rules, no channel names of site-wide rules', async () => {
  for (const who of ['vera', 'otto', 'sam']) {
    const r = await call('GET', '/rules', tok[who]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.map((e: { rule: { id: string; notify: unknown[] } }) => [e.rule.id, e.rule.notify.length]), [['gate', 1], ['everywhere', 0]], who);
    const lobby = await call('GET', '/rules/lobby', tok[who]);
    const none = await call('GET', '/rules/no-such-rule', tok[who]);
    assert.deepEqual([lobby.status, lobby.body.error.code, lobby.body.error.message], [404, 'E_RULE_NOT_FOUND', 'No rule with id "lobby"']);
    assert.equal(none.status, 404);
  }
  const all = await call('GET', '/rules', tok.olga);
  assert.deepEqual(all.body.map((e: { rule: { id: string } }) => e.rule.id), ['gate', 'lobby', 'both', 'everywhere']);
});

test('another camera\'s alert is a 404, exactly like an alert that does not exist', async () => {
  const other = await call('GET', '/alerts/a-cam2', tok.vera);
  const missing = await call('GET', '/alerts/a-nope', tok.vera);
  assert.deepEqual([other.status, other.body], [404, { error: { code: 'E_ALERT_NOT_FOUND', message: 'No alert with id "a-cam2"' } }]);
  assert.deepEqual([missing.status, missing.body], [404, { error: { code: 'E_ALERT_NOT_FOUND', message: 'No alert with id "a-nope"' } }]);
  const ack = await call('POST', '/alerts/a-cam2/acknowledge', tok.otto);
  assert.deepEqual([ack.status, ack.body.error.code], [404, 'E_ALERT_NOT_FOUND']);
  const clip = await call('GET', '/events/a-cam2/clip', tok.otto);
  assert.deepEqual([clip.status, clip.body.error.code], [404, 'E_ALERT_NOT_FOUND']);
  assert.equal((await call('GET', '/alerts/a-cam1', tok.vera)).status, 200);
  assert.equal((await call('GET', '/alerts/a-cam2', tok.olga)).status, 200);
});

test('/alerts?camera_id= of another camera answers as a camera that does not exist: 200, an empty page', async () => {
  const empty = { alerts: [], next_cursor: null };
  const other = await call('GET', '/alerts?camera_id=cam-2', tok.vera);
  const missing = await call('GET', '/alerts?camera_id=cam-nope', tok.vera);
  const missingForAdmin = await call('GET', '/alerts?camera_id=cam-nope', tok.admin);
  assert.deepEqual([other.status, other.body], [200, empty]);
  assert.deepEqual([missing.status, missing.body], [200, empty]);
  assert.deepEqual([missingForAdmin.status, missingForAdmin.body], [200, empty]);
  api.check('get', '/alerts', 200, other.body);
  // a page size of 1 on the other camera: still no cursor that would tell its alerts exist
  assert.deepEqual((await call('GET', '/alerts?camera_id=cam-2&limit=1', tok.otto)).body, empty);
  // the caller's own camera and callers that see cam-2 get its alerts
  assert.deepEqual((await call('GET', '/alerts?camera_id=cam-1', tok.vera)).body.alerts.map((a: { alertId: string }) => a.alertId), ['a-cam1']);
  assert.deepEqual((await call('GET', '/alerts?camera_id=cam-2', tok.olga)).body.alerts.map((a: { alertId: string }) => a.alertId), ['a-cam2']);
});

test('metrics: a camera-scoped operator gets only its cameras\' series', async () => {
  const scoped = await call('GET', '/metrics', tok.otto);
  assert.equal(scoped.status, 200);
  assert.match(scoped.body, /^vigil_test_camera_fps\{camera="cam-1"\} 10$/m);
  assert.doesNotMatch(scoped.body, /cam-2/);
  const full = await call('GET', '/metrics', tok.olga);
  assert.match(full.body, /^vigil_test_camera_fps\{camera="cam-2"\} 15$/m);
});

test('anonymous /health tells only the overall status; operators get the details', async () => {
  const off = h.srv.health.register('vms:hq', { check: () => ({ status: 'degraded', detail: 'connect ECONNREFUSED 10.0.0.20:80' }), critical: false });
  try {
    let r = await call('GET', '/health', undefined);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['status', 'timestamp']);
    assert.equal(r.body.status, 'degraded');
    api.check('GET', '/health', 200, r.body);
    // a viewer is not an operator; a bad token is anonymous (load balancers send none)
    for (const t of [tok.vera, 'not-a-token']) {
      r = await call('GET', '/health', t);
      assert.deepEqual(Object.keys(r.body).sort(), ['status', 'timestamp']);
    }
    r = await call('GET', '/health', tok.olga);
    assert.deepEqual(Object.keys(r.body.services).sort(), ['auth_store', 'vms:hq']);
    assert.equal(r.body.services['vms:hq'].detail, 'connect ECONNREFUSED 10.0.0.20:80');
    api.check('GET', '/health', 200, r.body);
  } finally {
    off();
  }
});

test('users: PATCH, DELETE and password changes with validation, scope rules and session ends', async () => {
  let r = await call('POST', '/users', tok.admin, { username: 'pat', password: 'password-1', role: 'viewer', cameras: ['cam-1'], email: 'pat@example.com' });
  assert.deepEqual([r.status, r.body.email], [201, 'pat@example.com']);
  const login = await call('POST', '/auth/login', undefined, { username: 'pat', password: 'password-1' });
  assert.equal(login.status, 200);
  api.check('POST', '/auth/login', 200, login.body);
  assert.deepEqual(login.body.user, { id: 'local:pat', username: 'pat', email: 'pat@example.com', roles: ['viewer'], cameras: ['cam-1'], source: 'local' });
  const pat = login.body.access_token as string;

  // validation: exact messages
  r = await call('PATCH', '/users/pat', tok.admin, { role: 'root' });
  assert.deepEqual([r.status, r.body.error], [400, { code: 'E_VALIDATION', message: 'Expected one of admin, operator, viewer for role but received "root"' }]);
  r = await call('PATCH', '/users/pat', tok.admin, { email: 'not an address' });
  assert.deepEqual([r.status, r.body.error], [400, { code: 'E_VALIDATION', message: 'Expected an e-mail address for email but received "not an address"' }]);
  r = await call('PATCH', '/users/pat', tok.admin, { password: 'x' });
  assert.deepEqual([r.status, r.body.error], [400, { code: 'E_VALIDATION', message: 'Unknown field "password"' }]);
  r = await call('PATCH', '/users/pat', tok.admin, { disabled: 'yes' });
  assert.deepEqual([r.status, r.body.error], [400, { code: 'E_VALIDATION', message: 'Expected a boolean for disabled but received "yes"' }]);
  r = await call('PATCH', '/users/nobody', tok.admin, { role: 'viewer' });
  assert.deepEqual([r.status, r.body.error], [404, { code: 'E_USER_NOT_FOUND', message: 'No user "nobody"' }]);
  api.check('PATCH', '/users/{username}', 404, r.body);
  // scope: sam cannot see olga (unscoped), nor widen pat
  r = await call('PATCH', '/users/olga', tok.sam, { role: 'viewer' });
  assert.deepEqual([r.status, r.body.error.code], [404, 'E_USER_NOT_FOUND']);
  r = await call('PATCH', '/users/pat', tok.sam, { cameras: '*' });
  assert.deepEqual([r.status, r.body.error.code], [403, 'E_FORBIDDEN_CAMERA']);
  r = await call('PATCH', '/users/pat', tok.vera, { role: 'admin' });
  assert.deepEqual([r.status, r.body.error.code], [403, 'E_FORBIDDEN']);

  // an e-mail change keeps the session; a role change ends it (the token carries the role)
  r = await call('PATCH', '/users/pat', tok.sam, { email: 'pat@site.example' });
  assert.deepEqual([r.status, r.body.email, r.body.role], [200, 'pat@site.example', 'viewer']);
  api.check('PATCH', '/users/{username}', 200, r.body);
  assert.equal((await call('GET', '/cameras', pat)).status, 200);
  r = await call('PATCH', '/users/pat', tok.sam, { role: 'operator' });
  assert.deepEqual([r.status, r.body.role], [200, 'operator']);
  r = await call('GET', '/cameras', pat);
  assert.deepEqual([r.status, r.body.error.code], [401, 'E_AUTH_REVOKED']);

  // self password change: the current password is required and checked; other sessions end
  const s1 = (await call('POST', '/auth/login', undefined, { username: 'pat', password: 'password-1' })).body.access_token as string;
  const s2 = (await call('POST', '/auth/login', undefined, { username: 'pat', password: 'password-1' })).body.access_token as string;
  r = await call('POST', '/users/pat/password', s1, { new_password: 'password-2' });
  assert.deepEqual([r.status, r.body.error], [400, { code: 'E_VALIDATION', message: 'Expected the current password for current_password but received undefined' }]);
  r = await call('POST', '/users/pat/password', s1, { current_password: 'wrong-pass', new_password: 'password-2' });
  assert.deepEqual([r.status, r.body.error], [403, { code: 'E_AUTH_BAD_CREDENTIALS', message: 'Current password is wrong' }]);
  r = await call('POST', '/users/pat/password', s1, { current_password: 'password-1', new_password: 'short' });
  assert.deepEqual([r.status, r.body.error], [400, { code: 'E_VALIDATION', message: 'Expected a string of 8-1024 characters for new_password but received "(hidden)"' }]);
  r = await call('POST', '/users/pat/password', s1, { current_password: 'password-1', new_password: 'password-2' });
  assert.equal(r.status, 204);
  assert.equal((await call('GET', '/cameras', s1)).status, 200);
  assert.equal((await call('GET', '/cameras', s2)).body.error.code, 'E_AUTH_REVOKED');
  assert.equal((await call('POST', '/auth/login', undefined, { username: 'pat', password: 'password-1' })).status, 401);
  // a viewer may not change someone else's password; an admin may without the current one (in scope only)
  r = await call('POST', '/users/pat/password', tok.vera, { current_password: 'viewer-pass', new_password: 'password-9' });
  assert.deepEqual([r.status, r.body.error.code], [403, 'E_FORBIDDEN']);
  r = await call('POST', '/users/olga/password', tok.sam, { new_password: 'password-9' });
  assert.deepEqual([r.status, r.body.error.code], [404, 'E_USER_NOT_FOUND']);
  r = await call('POST', '/users/pat/password', tok.sam, { new_password: 'password-3' });
  assert.equal(r.status, 204);
  assert.equal((await call('GET', '/cameras', s1)).body.error.code, 'E_AUTH_REVOKED');

  // disabled: no login, sessions ended
  const s3 = (await call('POST', '/auth/login', undefined, { username: 'pat', password: 'password-3' })).body.access_token as string;
  r = await call('PATCH', '/users/pat', tok.admin, { disabled: true });
  assert.deepEqual([r.status, r.body.disabled], [200, true]);
  assert.equal((await call('GET', '/cameras', s3)).body.error.code, 'E_AUTH_REVOKED');
  r = await call('POST', '/auth/login', undefined, { username: 'pat', password: 'password-3' });
  assert.deepEqual([r.status, r.body.error], [403, { code: 'E_AUTH_DISABLED', message: 'User is disabled' }]);

  // the last unscoped, enabled admin cannot be demoted, disabled or deleted
  r = await call('PATCH', '/users/admin', tok.admin, { role: 'operator' });
  assert.deepEqual([r.status, r.body.error], [409, { code: 'E_LAST_ADMIN', message: 'At least one enabled admin with all cameras must remain' }]);
  r = await call('DELETE', '/users/admin', tok.admin);
  assert.deepEqual([r.status, r.body.error.code], [409, 'E_LAST_ADMIN']);

  // delete: gone, sessions ended, out-of-scope users invisible
  const s4 = (await call('POST', '/auth/login', undefined, { username: 'narrow', password: 'password-1' })).body.access_token as string;
  r = await call('DELETE', '/users/olga', tok.sam);
  assert.deepEqual([r.status, r.body.error.code], [404, 'E_USER_NOT_FOUND']);
  r = await call('DELETE', '/users/narrow', tok.sam);
  assert.equal(r.status, 204);
  assert.equal((await call('GET', '/cameras', s4)).body.error.code, 'E_AUTH_REVOKED');
  r = await call('DELETE', '/users/narrow', tok.sam);
  assert.equal(r.status, 404);
});
