/** JWT issue/verify/rotation, the secret rules, local users, the role/scope policy, RFC 4515 escaping, rate limits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, generateKeyPair } from 'jose';
import { AuthService } from '../../src/auth/service.js';
import { ACCESS_TYP, REFRESH_TYP, loadJwtSecret } from '../../src/auth/tokens.js';
import { authorize, scopeCameras, type Principal } from '../../src/auth/policy.js';
import { escapeFilterValue, LdapAuthenticator } from '../../src/auth/ldap.js';
import { RateLimiter } from '../../src/auth/ratelimit.js';
import { hashPassword, verifyPassword } from '../../src/auth/users.js';

const SECRET = 'unit-test-secret-0123456789abcdef-0123456789';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-auth-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function open(t: Parameters<typeof tempDir>[0], clock: { ms: number }) {
  let adminPassword = '';
  const svc = await AuthService.open({
    dataDir: tempDir(t),
    jwt: { secret: SECRET, issuer: 'vigil-test', audience: 'vigil-api' },
    announceInitialAdmin: (_u, p) => {
      adminPassword = p;
    },
    now: () => clock.ms,
  });
  t.after(() => svc.close());
  return { svc, adminPassword };
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

test('secret: shorter than 256 bits is refused; absent, one is generated into the data folder once', (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadJwtSecret('x'.repeat(31), dir), {
    code: 'E_CONFIG',
    message: 'auth.jwt.secret must be at least 256 bits (32 bytes); received 31 bytes',
  });
  assert.equal(loadJwtSecret('x'.repeat(32), dir).length, 32);
  const a = loadJwtSecret(undefined, dir);
  const b = loadJwtSecret(undefined, dir);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.equal(statSync(join(dir, 'jwt-secret')).mode & 0o777, 0o600);
  assert.equal(Buffer.from(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim(), 'base64url').length, 32);
});

test('first run creates admin once; login issues access (15 min) and refresh (7 d) tokens with distinct typ', async (t) => {
  const clock = { ms: Date.UTC(2026, 0, 1) };
  const { svc, adminPassword } = await open(t, clock);
  assert.match(adminPassword, /^[A-Za-z0-9_-]{24}$/);
  assert.equal(await svc.users.ensureInitialAdmin(() => assert.fail('announced twice')), null);
  const r = await svc.login('admin', adminPassword, '10.0.0.1');
  assert.equal(r.expires_in, 900);
  assert.equal(r.refresh_expires_in, 604800);
  assert.deepEqual(r.user, { id: 'local:admin', username: 'admin', roles: ['admin'], cameras: '*', source: 'local' });
  const header = JSON.parse(Buffer.from(r.access_token.split('.')[0]!, 'base64url').toString());
  assert.deepEqual(header, { alg: 'HS256', typ: ACCESS_TYP });
  assert.equal(JSON.parse(Buffer.from(r.refresh_token.split('.')[0]!, 'base64url').toString()).typ, REFRESH_TYP);
  const p = await svc.verifyAccess(r.access_token);
  // expiresMs: when the token ends (open streams close then)
  assert.deepEqual({ ...p, family: typeof p.family }, { sub: 'admin', role: 'admin', cameras: '*', source: 'local', family: 'string', expiresMs: Date.UTC(2026, 0, 1) + 900_000 });
  clock.ms += 15 * 60 * 1000 + 1000;
  await assert.rejects(svc.verifyAccess(r.access_token), { code: 'E_AUTH_EXPIRED', message: 'Token expired' });
});

test('forged and misused tokens are all refused', async (t) => {
  const clock = { ms: Date.now() };
  const { svc, adminPassword } = await open(t, clock);
  const r = await svc.login('admin', adminPassword, '10.0.0.1');
  const payload = JSON.parse(Buffer.from(r.access_token.split('.')[1]!, 'base64url').toString());
  const key = new TextEncoder().encode(SECRET);
  const sign = (alg: string, claims: object, typ = ACCESS_TYP) =>
    new SignJWT({ ...payload, ...claims }).setProtectedHeader({ alg, typ }).sign(key);
  const rsa = await generateKeyPair('RS256');
  const forged: Array<[string, string, string]> = [
    ['alg none', `${b64({ alg: 'none', typ: ACCESS_TYP })}.${b64(payload)}.`, 'E_AUTH_INVALID'],
    ['HS512 with the same secret', await sign('HS512', {}), 'E_AUTH_INVALID'],
    ['RS256', await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: ACCESS_TYP }).sign(rsa.privateKey), 'E_AUTH_INVALID'],
    ['wrong iss', await sign('HS256', { iss: 'someone-else' }), 'E_AUTH_INVALID'],
    ['wrong aud', await sign('HS256', { aud: 'other-api' }), 'E_AUTH_INVALID'],
    ['refresh token as access', r.refresh_token, 'E_AUTH_TOKEN_TYPE'],
    ['tampered signature', r.access_token.slice(0, -2) + (r.access_token.endsWith('AA') ? 'BB' : 'AA'), 'E_AUTH_INVALID'],
    ['tampered payload', `${r.access_token.split('.')[0]}.${b64({ ...payload, role: 'admin', cams: '*', sub: 'x' })}.${r.access_token.split('.')[2]}`, 'E_AUTH_INVALID'],
    ['role escalation re-signed with another key', await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: ACCESS_TYP }).sign(new TextEncoder().encode('another-secret-another-secret-another')), 'E_AUTH_INVALID'],
    ['garbage', 'not.a.jwt', 'E_AUTH_INVALID'],
  ];
  // more: array audience, nbf in the future, crit header, expired — checked by both the jose and the sync verifier
  const now = Math.floor(clock.ms / 1000);
  forged.push(
    ['nbf in the future', await sign('HS256', { nbf: now + 60 }), 'E_AUTH_INVALID'],
    ['expired', await sign('HS256', { iat: now - 1000, exp: now - 1 }), 'E_AUTH_EXPIRED'],
    ['missing jti', await new SignJWT({ ...payload, jti: undefined }).setProtectedHeader({ alg: 'HS256', typ: ACCESS_TYP }).sign(key), 'E_AUTH_INVALID'],
    ['crit header', await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: ACCESS_TYP, crit: ['x'], x: 1 } as never).sign(key).catch(() => `${b64({ alg: 'HS256', typ: ACCESS_TYP, crit: ['x'], x: 1 })}.${b64(payload)}.AAAA`), 'E_AUTH_INVALID'],
    ['four parts', `${r.access_token}.x`, 'E_AUTH_INVALID'],
  );
  for (const [name, token, code] of forged) {
    await assert.rejects(svc.verifyAccess(token), (err: { code?: string; status?: number }) => {
      assert.equal(err.code, code, name);
      assert.equal(err.status, 401, name);
      return true;
    });
    assert.throws(() => svc.verifyAccessSync(token), (err: { code?: string; status?: number }) => {
      assert.equal(err.code, code, `sync: ${name}`);
      return true;
    });
  }
  // both verifiers accept the genuine token and an array audience that contains ours, with the same principal
  assert.deepEqual(svc.verifyAccessSync(r.access_token), await svc.verifyAccess(r.access_token));
  const multiAud = await sign('HS256', { aud: ['other', 'vigil-api'] });
  assert.deepEqual(svc.verifyAccessSync(multiAud), await svc.verifyAccess(multiAud));
  await assert.rejects(svc.verifyAccess(undefined), { code: 'E_AUTH_MISSING' });
  assert.throws(() => svc.verifyAccessSync(undefined), { code: 'E_AUTH_MISSING' });
  // an access token is not a refresh token either
  await assert.rejects(svc.refresh(r.access_token), { code: 'E_AUTH_TOKEN_TYPE' });
});

test('refresh rotates; reusing an old refresh token revokes the whole family, access tokens included', async (t) => {
  const clock = { ms: Date.now() };
  const { svc, adminPassword } = await open(t, clock);
  const first = await svc.login('admin', adminPassword, '10.0.0.1');
  const second = await svc.refresh(first.refresh_token);
  assert.notEqual(second.refresh_token, first.refresh_token);
  await svc.verifyAccess(second.access_token);
  const third = await svc.refresh(second.refresh_token);
  await assert.rejects(svc.refresh(first.refresh_token), {
    code: 'E_AUTH_REFRESH_REUSED',
    message: 'Refresh token reuse detected: session revoked',
  });
  await assert.rejects(svc.refresh(third.refresh_token), { code: 'E_AUTH_REVOKED' });
  await assert.rejects(svc.verifyAccess(third.access_token), { code: 'E_AUTH_REVOKED' });
  // another login is a new family and unaffected
  const other = await svc.login('admin', adminPassword, '10.0.0.1');
  await svc.verifyAccess(other.access_token);
  // logout revokes
  await svc.logout(other.refresh_token);
  await assert.rejects(svc.verifyAccess(other.access_token), { code: 'E_AUTH_REVOKED' });
  await assert.rejects(svc.refresh(other.refresh_token), { code: 'E_AUTH_REVOKED' });
  // refresh tokens expire after 7 days
  const late = await svc.login('admin', adminPassword, '10.0.0.1');
  clock.ms += 7 * 24 * 3600 * 1000 + 1000;
  await assert.rejects(svc.refresh(late.refresh_token), { code: 'E_AUTH_EXPIRED' });
});

test('users persist across reopen; wrong passwords and unknown users are the same error', async (t) => {
  const dir = tempDir(t);
  const cfg = { dataDir: dir, jwt: { secret: SECRET }, announceInitialAdmin: () => undefined };
  const a = await AuthService.open(cfg);
  await a.users.create({ username: 'vera', password: 'correct horse', role: 'viewer', cameras: ['cam-1'] });
  await a.close();
  const b = await AuthService.open(cfg);
  t.after(() => b.close());
  const r = await b.login('vera', 'correct horse', '10.0.0.2');
  assert.deepEqual(r.user, { id: 'local:vera', username: 'vera', roles: ['viewer'], cameras: ['cam-1'], source: 'local' });
  await assert.rejects(b.login('vera', 'wrong horse', '10.0.0.2'), { code: 'E_AUTH_BAD_CREDENTIALS', message: 'Invalid username or password' });
  await assert.rejects(b.login('nobody', 'whatever1', '10.0.0.2'), { code: 'E_AUTH_BAD_CREDENTIALS', message: 'Invalid username or password' });
  await assert.rejects(b.users.create({ username: 'x', password: 'long enough', role: 'viewer' }), {
    code: 'E_ARGUMENT',
    message: 'Expected 3-50 characters of A-Z a-z 0-9 . _ @ - for username but received "x"',
  });
  await assert.rejects(b.users.create({ username: 'xyz', password: 'long enough', role: 'root' as never }), {
    message: 'Expected one of admin, operator, viewer for role but received "root"',
  });
});

test('scrypt hashes: salted, verifiable, wrong password fails', async () => {
  const h1 = await hashPassword('pa55word!');
  const h2 = await hashPassword('pa55word!');
  assert.notEqual(h1, h2);
  assert.match(h1, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.equal(await verifyPassword('pa55word!', h1), true);
  assert.equal(await verifyPassword('pa55word?', h1), false);
  assert.equal(await verifyPassword('pa55word!', 'md5$abc'), false);
});

test('login rate limits: per IP (all attempts) and per (user, client) failures with a doubling lockout', async (t) => {
  const clock = { ms: Date.now() };
  const svc = await AuthService.open({
    dataDir: tempDir(t),
    jwt: { secret: SECRET },
    announceInitialAdmin: () => undefined,
    rateLimits: { loginPerIp: { max: 4, windowS: 60 }, loginFailuresPerUser: { max: 2, windowS: 30 } },
    now: () => clock.ms,
  });
  t.after(() => svc.close());
  await svc.users.create({ username: 'olga', password: 'operator-pass', role: 'operator' });
  await assert.rejects(svc.login('olga', 'bad-pass-1', '1.1.1.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await assert.rejects(svc.login('olga', 'bad-pass-2', '1.1.1.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  // that client is locked for olga (2 failures), even with the right password...
  await assert.rejects(svc.login('olga', 'operator-pass', '1.1.1.1'), { code: 'E_RATE_LIMITED', status: 429, retryAfterS: 30, message: 'Too many login attempts; retry in 30 s' });
  // ...but the real user elsewhere is not locked out
  await svc.login('olga', 'operator-pass', '3.3.3.3');
  clock.ms += 30_000;
  // the next lockout of the same pair lasts twice as long
  await assert.rejects(svc.login('olga', 'bad-pass-3', '1.1.1.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await assert.rejects(svc.login('olga', 'bad-pass-4', '1.1.1.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await assert.rejects(svc.login('olga', 'operator-pass', '1.1.1.1'), { code: 'E_RATE_LIMITED', retryAfterS: 60 });
  clock.ms += 60_000;
  await svc.login('olga', 'operator-pass', '1.1.1.1');
  // per IP: 4 attempts, then refused whatever the user
  for (let i = 0; i < 3; i++) await assert.rejects(svc.login(`u${i}xx`, 'whatever', '9.9.9.9'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await svc.login('olga', 'operator-pass', '9.9.9.9');
  await assert.rejects(svc.login('olga', 'operator-pass', '9.9.9.9'), { code: 'E_RATE_LIMITED', retryAfterS: 15 });
  const rl = new RateLimiter({ max: 1, windowS: 10 }, () => clock.ms);
  assert.equal(rl.retryAfterS('k'), 0);
  rl.take('k');
  assert.equal(rl.retryAfterS('k'), 10);
});

test('policy: roles and camera scopes decided in one place', () => {
  const viewer: Principal = { sub: 'v', role: 'viewer', cameras: ['cam-1'], source: 'local', family: 'f' };
  const op: Principal = { sub: 'o', role: 'operator', cameras: '*', source: 'local', family: 'f' };
  authorize(viewer, 'cameras:read', 'cam-1');
  assert.throws(() => authorize(viewer, 'cameras:read', 'cam-2'), {
    code: 'E_FORBIDDEN_CAMERA',
    status: 403,
    message: 'Camera "cam-2" is outside this user\'s scope',
  });
  assert.throws(() => authorize(viewer, 'metrics:read'), { code: 'E_FORBIDDEN', message: 'Role may not metrics:read' });
  authorize(op, 'metrics:read');
  assert.throws(() => authorize(op, 'users:write'), { code: 'E_FORBIDDEN' });
  assert.deepEqual(scopeCameras(viewer, undefined), ['cam-1']);
  assert.equal(scopeCameras(op, undefined), '*');
  assert.throws(() => scopeCameras(viewer, ['cam-1', 'cam-9']), { code: 'E_FORBIDDEN_CAMERA' });
});

test('RFC 4515 escaping and LDAP group mapping', async () => {
  assert.equal(escapeFilterValue('*)(uid=*))(|(uid=*'), '\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a');
  assert.equal(escapeFilterValue('a\\b\0c'), 'a\\5cb\\00c');
  assert.equal(escapeFilterValue('Émile'), 'Émile');
  const ldap = new LdapAuthenticator({
    url: 'ldap://127.0.0.1:1',
    bindDN: 'cn=svc',
    bindPassword: 'x',
    userSearchBase: 'ou=people',
    userFilter: '(uid={username})',
    groups: [
      { group: 'cn=Operators,ou=groups,dc=t', role: 'operator', cameras: ['cam-1'] },
      { group: 'cn=Lobby,ou=groups,dc=t', role: 'viewer', cameras: ['cam-2'] },
      { group: 'cn=Admins,ou=groups,dc=t', role: 'admin' },
    ],
  });
  assert.deepEqual(ldap.mapGroups(['CN=operators,ou=groups,dc=t', 'cn=Lobby,ou=groups,dc=t']), { role: 'operator', cameras: ['cam-1', 'cam-2'] });
  assert.deepEqual(ldap.mapGroups(['cn=Admins,ou=groups,dc=t', 'cn=Lobby,ou=groups,dc=t']), { role: 'admin', cameras: '*' });
  assert.equal(ldap.mapGroups(['cn=Other,ou=groups,dc=t']), null);
  // empty password refused before any network traffic (the URL above is unreachable)
  assert.deepEqual(await ldap.authenticate('alice', ''), { ok: false, reason: 'empty_password' });
});
