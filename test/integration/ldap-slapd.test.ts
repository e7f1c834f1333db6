/**
 * LDAP login against a real OpenLDAP slapd (Debian package, scripts/setup.d/55-ldap.sh) started by this test on
 * loopback at a free high port, with a temporary test tree loaded by slapadd; the server is killed afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthService } from '../../src/auth/service.js';
import { LdapAuthenticator, type LdapConfig } from '../../src/auth/ldap.js';

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const BASE = 'dc=vigil,dc=test';

let dir = '';
let slapd: ChildProcess | null = null;
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function canConnect(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port: p });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

const person = (uid: string, password: string, extra: string[] = []) => `dn: uid=${uid},ou=people,${BASE}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid}
sn: ${uid}
userPassword: ${password}
${extra.map((l) => `${l}\n`).join('')}`;
const group = (cn: string, members: string[]) => `dn: cn=${cn},ou=groups,${BASE}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: uid=${m},ou=people,${BASE}`).join('\n')}
`;

before(async () => {
  assert.ok(existsSync(SLAPD) && existsSync(SLAPADD), 'slapd is not installed: run scripts/setup.d/55-ldap.sh');
  dir = mkdtempSync(join(tmpdir(), 'vigil-slapd-'));
  mkdirSync(join(dir, 'db'));
  writeFileSync(
    join(dir, 'slapd.conf'),
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
database mdb
maxsize 16777216
suffix "${BASE}"
rootdn "cn=root,${BASE}"
rootpw root-secret
directory ${dir}/db
access to attrs=userPassword by anonymous auth by self read by * none
access to * by users read by * none
`,
  );
  const ldif = [
    `dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: vigil\no: Vigil test\n`,
    `dn: ou=people,${BASE}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${BASE}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=services,${BASE}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: cn=vigil-svc,ou=services,${BASE}\nobjectClass: person\ncn: vigil-svc\nsn: svc\nuserPassword: svc-password\n`,
    person('alice', 'alice-password'),
    person('bob', 'bob-password', ['mail: bob@vigil.test']),
    // two mail values, the first not an address; an address in another attribute (emailAttribute)
    person('carol', 'carol-password', ['mail: carol at the lobby', 'mail: carol@vigil.test', 'description: carol@lobby.vigil.test']),
    person('dave', 'dave-password'),
    group('vigil-admins', ['alice']),
    group('vigil-operators', ['bob', 'carol']),
    group('vigil-lobby', ['carol']),
    group('unrelated', ['dave']),
  ].join('\n');
  writeFileSync(join(dir, 'tree.ldif'), ldif);
  const add = spawnSync(SLAPADD, ['-f', join(dir, 'slapd.conf'), '-l', join(dir, 'tree.ldif')], { encoding: 'utf8' });
  assert.equal(add.status, 0, `slapadd failed: ${add.stderr}`);
  port = await freePort();
  slapd = spawn(SLAPD, ['-d', '0', '-h', `ldap://127.0.0.1:${port}/`, '-f', join(dir, 'slapd.conf')], { stdio: 'ignore' });
  const t0 = Date.now();
  while (!(await canConnect(port))) {
    assert.equal(slapd.exitCode, null, 'slapd exited during start-up');
    assert.ok(Date.now() - t0 < 15_000, 'slapd did not start listening within 15 s');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  if (slapd && slapd.exitCode === null) {
    const exited = new Promise((r) => slapd!.once('exit', r));
    slapd.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (slapd.exitCode === null) slapd.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function config(): LdapConfig {
  return {
    url: `ldap://127.0.0.1:${port}`,
    bindDN: `cn=vigil-svc,ou=services,${BASE}`,
    bindPassword: 'svc-password',
    userSearchBase: `ou=people,${BASE}`,
    userFilter: '(&(objectClass=inetOrgPerson)(uid={username}))',
    groupSearchBase: `ou=groups,${BASE}`,
    groups: [
      { group: `cn=vigil-admins,ou=groups,${BASE}`, role: 'admin' },
      { group: `cn=vigil-operators,ou=groups,${BASE}`, role: 'operator', cameras: ['cam-1'] },
      { group: `cn=vigil-lobby,ou=groups,${BASE}`, role: 'viewer', cameras: ['cam-2'] },
    ],
    timeoutMs: 5000,
  };
}

test('good logins map groups to roles and camera scopes', async () => {
  const ldap = new LdapAuthenticator(config());
  const alice = await ldap.authenticate('alice', 'alice-password');
  assert.deepEqual(alice, {
    ok: true,
    principal: { sub: 'alice', source: 'ldap', role: 'admin', cameras: '*' },
    dn: `uid=alice,ou=people,${BASE}`,
    groups: [`cn=vigil-admins,ou=groups,${BASE}`],
  });
  const carol = await ldap.authenticate('carol', 'carol-password');
  assert.ok(carol.ok);
  assert.deepEqual(carol.principal, { sub: 'carol', source: 'ldap', role: 'operator', cameras: ['cam-1', 'cam-2'] });
});

test('e-mail from the user entry: mail by default (the first value that is an address), or emailAttribute', async () => {
  const ldap = new LdapAuthenticator(config());
  const bob = await ldap.authenticate('bob', 'bob-password');
  assert.ok(bob.ok);
  assert.equal(bob.email, 'bob@vigil.test');
  const carol = await ldap.authenticate('carol', 'carol-password');
  assert.ok(carol.ok);
  assert.equal(carol.email, 'carol@vigil.test');
  // alice has no mail: no email key at all (see the deepEqual above)
  const byDescription = new LdapAuthenticator({ ...config(), emailAttribute: 'description' });
  const carol2 = await byDescription.authenticate('carol', 'carol-password');
  assert.ok(carol2.ok);
  assert.equal(carol2.email, 'carol@lobby.vigil.test');
  const bob2 = await byDescription.authenticate('bob', 'bob-password');
  assert.ok(bob2.ok);
  assert.equal('email' in bob2, false);
});

test('bad password, unknown user, empty password, no mapped group', async () => {
  const ldap = new LdapAuthenticator(config());
  assert.deepEqual(await ldap.authenticate('alice', 'wrong-password'), { ok: false, reason: 'bad_password' });
  assert.deepEqual(await ldap.authenticate('mallory', 'whatever'), { ok: false, reason: 'not_found' });
  assert.deepEqual(await ldap.authenticate('alice', ''), { ok: false, reason: 'empty_password' });
  assert.deepEqual(await ldap.authenticate('dave', 'dave-password'), { ok: false, reason: 'no_role' });
});

test('filter injection strings match nobody', async () => {
  const ldap = new LdapAuthenticator(config());
  for (const u of ['*', '*)(uid=*))(|(uid=*', 'alice)(uid=*', 'a*', '*)(objectClass=*', 'alice\\', '\0alice']) {
    for (const pw of ['alice-password', 'bob-password']) {
      const r = await ldap.authenticate(u, pw);
      assert.deepEqual(r, { ok: false, reason: 'not_found' }, JSON.stringify(u));
    }
  }
});

test('wrong service account password or an unreachable server is an E_LDAP error, not a login', async () => {
  const ldap = new LdapAuthenticator({ ...config(), bindPassword: 'nope' });
  await assert.rejects(ldap.authenticate('alice', 'alice-password'), { code: 'E_LDAP', message: 'LDAP service account bind failed' });
  const closedPort = await freePort();
  const down = new LdapAuthenticator({ ...config(), url: `ldap://127.0.0.1:${closedPort}`, timeoutMs: 2000 });
  await assert.rejects(down.authenticate('alice', 'alice-password'), { code: 'E_LDAP', message: 'LDAP service account bind failed' });
});

test('AuthService: LDAP users get tokens with their mapped role; local users win; failures are 401/403', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-ldapauth-'));
  const svc = await AuthService.open({ dataDir, jwt: { secret: 'ldap-test-secret-0123456789abcdef0123' }, ldap: config(), announceInitialAdmin: () => undefined });
  t.after(async () => {
    await svc.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const bob = await svc.login('bob', 'bob-password', '127.0.0.1');
  assert.deepEqual(bob.user, { id: 'ldap:bob', username: 'bob', email: 'bob@vigil.test', roles: ['operator'], cameras: ['cam-1'], source: 'ldap' });
  const p = await svc.verifyAccess(bob.access_token);
  assert.deepEqual([p.sub, p.role, p.cameras, p.source], ['bob', 'operator', ['cam-1'], 'ldap']);
  const rotated = await svc.refresh(bob.refresh_token);
  assert.equal((await svc.verifyAccess(rotated.access_token)).role, 'operator');
  await assert.rejects(svc.login('bob', 'wrong', '127.0.0.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await assert.rejects(svc.login('bob', '', '127.0.0.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await assert.rejects(svc.login('*)(uid=*))(|(uid=*', 'bob-password', '127.0.0.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  await assert.rejects(svc.login('dave', 'dave-password', '127.0.0.1'), { code: 'E_AUTH_NO_ROLE', status: 403 });
  // a local user of the same name takes precedence over the directory
  await svc.users.create({ username: 'alice', password: 'local-alice-pw', role: 'viewer', cameras: [] });
  await assert.rejects(svc.login('alice', 'alice-password', '127.0.0.1'), { code: 'E_AUTH_BAD_CREDENTIALS' });
  assert.equal((await svc.login('alice', 'local-alice-pw', '127.0.0.1')).user.source, 'local');
  // an LDAP user without a mail attribute: no email in the login response
  const dataDir2 = mkdtempSync(join(tmpdir(), 'vigil-ldapauth-'));
  const carolNoMail = await AuthService.open({
    dataDir: dataDir2,
    jwt: { secret: 'ldap-test-secret-0123456789abcdef0123' },
    ldap: { ...config(), emailAttribute: 'telephoneNumber' },
    announceInitialAdmin: () => undefined,
  });
  t.after(async () => {
    await carolNoMail.close();
    rmSync(dataDir2, { recursive: true, force: true });
  });
  assert.deepEqual((await carolNoMail.login('carol', 'carol-password', '127.0.0.1')).user, {
    id: 'ldap:carol', username: 'carol', roles: ['operator'], cameras: ['cam-1', 'cam-2'], source: 'ldap',
  });
});
