/**
 * Configuration typos fail loudly (issue 17 item 5): unknown keys anywhere are errors at start that name the path
 * and the key most likely meant; missing required keys name their path; the integration document's spellings
 * (auth.ldap.server_url ...) are refused with Vigil's key; `vigil config check` prints the same without starting.
 * Per-environment files (issue 15 item 4): VIGIL_ENV picks config/<env>.yaml over config/default.yaml, deep-merged;
 * secrets come from VIGIL_* variables, VIGIL_*_FILE files or ${file:...} references.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFiles, deepMerge, loadConfig, parseConfig, substituteEnv } from '../../src/config/index.js';
import { closestKey, keyDistance, onlyKeys } from '../../src/validate.js';
import { configCheck } from '../../src/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');

function refused(raw: unknown, message: string): void {
  assert.throws(() => parseConfig(raw, '/tmp'), (e: Error & { code?: string }) => {
    assert.equal(e.message, message);
    assert.equal(e.code, 'E_CONFIG');
    return true;
  });
}

const cam = (id: string, extra: Record<string, unknown> = {}) => ({ id, source: 'test:smpte', ...extra });

test('edit distance and the suggested key', () => {
  assert.equal(keyDistance('camras', 'cameras'), 1);
  assert.equal(keyDistance('detectr', 'detector'), 1);
  assert.equal(keyDistance('bind_dn', 'bindDN'), 0);
  assert.equal(keyDistance('ab', 'ba'), 1);
  assert.equal(closestKey('camras', ['server', 'cameras', 'cameraDefaults']), 'cameras');
  assert.equal(closestKey('zzz', ['server', 'cameras']), null);
  assert.throws(() => onlyKeys({ a: 1, colour: 2 }, 'x', ['a', 'color']), { code: 'E_ARGUMENT', message: 'Unknown key x.colour (did you mean color?)' });
  assert.throws(() => onlyKeys({ zzz: 1 }, 'x', ['a', 'b']), { message: 'Unknown key x.zzz (known keys: a, b)' });
  assert.throws(() => onlyKeys({ base_url: 1 }, 'v', ['url'], { base_url: 'url' }), { message: 'Unknown key v.base_url (in Vigil: url)' });
});

test('the issue\'s file (camras:, detectr:) is refused instead of running the sample camera', () => {
  refused({ camras: [cam('a')] }, 'Unknown key camras (did you mean cameras?)');
  refused({ cameras: [cam('a')], detectr: { model: 'nanodet' } }, 'Unknown key detectr (did you mean detector?)');
});

test('unknown keys are refused in every section, with their path', () => {
  const cases: Array<[unknown, string]> = [
    [{ server: { prot: 1 } }, 'Unknown key server.prot (did you mean port?)'],
    [{ snapshots: { qualty: 50 } }, 'Unknown key snapshots.qualty (did you mean quality?)'],
    [{ search: { embedderModel: 'x' } }, 'Unknown key search.embedderModel (did you mean embedderModelPath?)'],
    [{ analysis: { quietFPS: 1 } }, 'Unknown key analysis.quietFPS (did you mean quietFps?)'],
    [{ recording: { minFreeGB: 1 } }, 'Unknown key recording.minFreeGB (did you mean minFreeGb?)'],
    [{ notify: { chanels: {} } }, 'Unknown key notify.chanels (did you mean channels?)'],
    [{ cameraDefaults: { detectFPS: 3 } }, 'Unknown key cameraDefaults.detectFPS (did you mean detectFps?)'],
    [{ cameras: [cam('a'), cam('b'), cam('c', { detect_fps: 3 })] }, 'Unknown key cameras[2].detect_fps (did you mean detectFps?)'],
    [{ cameras: [cam('a'), cam('b'), { id: 'c', source: { kind: 'rtsp', uri: 'rtsp://h/x' } }] }, 'Unknown key cameras[2].source.uri (did you mean url?)'],
    [{ cameras: [{ id: 'c', source: { kind: 'file', path: '/x.mp4', looop: true } }] }, 'Unknown key cameras[0].source.looop (did you mean loop?)'],
    [{ cameras: [{ id: 'c', source: { kind: 'test', patern: 'ball' } }] }, 'Unknown key cameras[0].source.patern (did you mean pattern?)'],
    [{ cameras: [{ id: 'c', inputs: [{ role: 'detect', sourse: 'test:ball' }] }] }, 'Unknown key cameras[0].inputs[0].sourse (did you mean source?)'],
    [{ cameras: [cam('c', { motion: { sensitivty: 0.5 } })] }, 'Unknown key cameras[0].motion.sensitivty (did you mean sensitivity?)'],
    [{ cameras: [cam('c', { record: { mode: 'event', preRoll: 3 } })] }, 'Unknown key cameras[0].record.preRoll (did you mean preRollS?)'],
    [{ cameras: [cam('c', { backoff: { initalMs: 100 } })] }, 'Unknown key cameras[0].backoff.initalMs (did you mean initialMs?)'],
    [{ detector: false, cameras: [cam('c', { tensor: { widht: 320 } })] }, 'Unknown key cameras[0].tensor.widht (did you mean width?)'],
    [{ detector: false, cameras: [cam('c', { tensor: { regions: { enabeld: true } } })] }, 'Unknown key cameras[0].tensor.regions.enabeld (did you mean enabled?)'],
    [{ detector: { precison: 'int8' } }, 'Unknown key detector.precison (did you mean precision?)'],
    [{ notify: { channels: { ops: { type: 'slack', url: 'https://hooks.example/x', chanel: '#ops' } } } }, 'Unknown key notify.channels.ops.chanel (known keys: type, url)'],
    [{ notify: { channels: { ops: { type: 'webhook', url: 'https://hooks.example/x', secrett: 'x' } } } }, 'Unknown key notify.channels.ops.secrett (did you mean secret?)'],
    [{ integrations: { queues: [{ name: 'k', type: 'kafka', brokers: ['k:9092'], sasl: { mechanism: 'plain', user: 'u', password: 'p' } }] } }, 'Unknown key integrations.queues[0].sasl.user (known keys: mechanism, username, password)'],
    [{ integrations: { queues: [{ name: 'r', type: 'redis', backoff: { maxMS: 100 } }] } }, 'Unknown key integrations.queues[0].backoff.maxMS (did you mean maxMs?)'],
    [{ auth: { jwt: { secrt: 'x' } } }, 'Unknown key auth.jwt.secrt (did you mean secret?)'],
    [{ auth: { rateLimits: { loginPerIP: { max: 1, windowS: 1 } } } }, 'Unknown key auth.rateLimits.loginPerIP (did you mean loginPerIp?)'],
  ];
  for (const [raw, message] of cases) refused(raw, message);
});

test('missing required keys name their path', () => {
  refused({ cameras: [cam('a'), cam('b'), { id: 'c', source: { kind: 'rtsp' } }] }, 'Expected a non-empty string for cameras[2].source.url but received undefined');
  refused({ cameras: [{ source: 'test:ball' }] }, 'Expected an id of 1-64 letters, digits, _ or - for cameras[0].id but received undefined');
  refused({ auth: { ldap: { url: 'ldap://dc.example:389', bindDN: 'cn=svc', bindPassword: 'pw', userFilter: '(uid={username})' } } }, 'Expected a non-empty string for auth.ldap.userSearchBase but received undefined');
});

test('auth.ldap in the integration document\'s spelling is refused at start with Vigil\'s keys', () => {
  const seed = {
    server_url: 'ldap://dc.company.com:389',
    base_dn: 'dc=company,dc=com',
    bind_dn: 'cn=surveillance,ou=service-accounts,dc=company,dc=com',
    bind_password: 'pw',
    user_search_base: 'ou=users,dc=company,dc=com',
    group_search_base: 'ou=groups,dc=company,dc=com',
  };
  refused({ auth: { ldap: seed } }, 'Unknown key auth.ldap.server_url (in Vigil: url)');
  refused({ auth: { ldap: { url: 'ldap://dc:389', bind_dn: 'x' } } }, 'Unknown key auth.ldap.bind_dn (in Vigil: bindDN)');
  refused({ authentication: { ldap: seed } }, 'Unknown key authentication (in Vigil: auth (auth.jwt, auth.ldap))');
  refused({ vms_systems: {} }, 'Unknown key vms_systems (in Vigil: integrations.vms (a list: { id, type, url, username, password }))');
  refused({ auth: { ldap: { url: 'http://dc:389' } } }, 'Expected a ldap:// or ldaps:// URL for auth.ldap.url but received "http:"');
  // The Vigil spelling loads.
  const c = parseConfig({
    cameras: [cam('a')],
    auth: { ldap: { url: 'ldap://dc.company.com:389', bindDN: 'cn=svc,dc=company,dc=com', bindPassword: 'pw', userSearchBase: 'ou=users,dc=company,dc=com', userFilter: '(uid={username})', groups: [{ group: 'cn=ops,dc=company,dc=com', role: 'operator', cameras: ['a'] }] } },
  }, '/tmp');
  assert.equal(c.auth.ldap?.url, 'ldap://dc.company.com:389');
  assert.deepEqual(c.auth.ldap?.groups, [{ group: 'cn=ops,dc=company,dc=com', role: 'operator', cameras: ['a'] }]);
});

test('a camera tensor the detector cannot take is a start-up error naming the camera', () => {
  refused(
    { cameras: [cam('a'), cam('pattern', { tensor: { width: 640, height: 640, layout: 'nhwc-u8' } })] },
    'Expected the detector\'s 416x416 nchw-f32 tensor (detector.model nanodet) for cameras[1].tensor of camera pattern but received 640x640 nhwc-u8 (leave tensor out: cameras get the detector\'s)',
  );
  refused(
    { cameraDefaults: { tensor: { width: 320, height: 320 } }, cameras: [cam('a')] },
    'Expected the detector\'s 416x416 nchw-f32 tensor (detector.model nanodet) for cameraDefaults.tensor of camera a but received 320x320 nchw-f32 (leave tensor out: cameras get the detector\'s)',
  );
  // Without a detector any tensor is the camera's own business; without a tensor the camera gets the detector's.
  assert.equal(parseConfig({ detector: false, cameras: [cam('a', { tensor: { width: 640, height: 640, layout: 'nhwc-u8' } })] }, '/tmp').cameras[0]!.tensor.layout, 'nhwc-u8');
  const t = parseConfig({ detector: { inputSize: 320 }, cameras: [cam('a')] }, '/tmp').cameras[0]!.tensor;
  assert.deepEqual([t.width, t.height, t.layout], [320, 320, 'nchw-f32']);
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'vigil-config-'));
}

test('VIGIL_ENV: config/default.yaml + config/<env>.yaml, deep-merged, validated', () => {
  const dir = tempDir();
  try {
    const cfgDir = join(dir, 'config');
    mkdirSync(cfgDir);
    writeFileSync(join(cfgDir, 'default.yaml'), [
      'server: { port: 8001, host: 127.0.0.1 }',
      'dataDir: data',
      'cameras:',
      '  - { id: lobby, source: "test:ball", detectFps: 2 }',
      'snapshots: { quality: 70, maxWidth: 320 }',
      '',
    ].join('\n'));
    writeFileSync(join(cfgDir, 'production.yaml'), [
      'environment: production',
      'server: { port: 9000 }',
      'snapshots: { quality: 90 }',
      'auth: { jwt: { secret: "${VIGIL_JWT_SECRET}" } }',
      '',
    ].join('\n'));
    writeFileSync(join(cfgDir, 'staging.yaml'), 'environment: production\n');
    writeFileSync(join(cfgDir, 'typo.yaml'), 'sever: { port: 1 }\n');
    const secretFile = join(dir, 'jwt-secret.txt');
    writeFileSync(secretFile, 'x'.repeat(40) + '\n');
    const env = { VIGIL_ENV: 'production', VIGIL_CONFIG_DIR: cfgDir, VIGIL_JWT_SECRET_FILE: secretFile };
    assert.deepEqual(configFiles(undefined, env).files, [join(cfgDir, 'default.yaml'), join(cfgDir, 'production.yaml')]);
    const c = loadConfig(undefined, env);
    assert.equal(c.server.port, 9000); // from production.yaml
    assert.equal(c.server.host, '127.0.0.1'); // kept from default.yaml (mappings merge key by key)
    assert.equal(c.snapshots.quality, 90);
    assert.equal(c.snapshots.maxWidth, 320);
    assert.equal(c.cameras[0]!.id, 'lobby');
    assert.equal(c.dataDir, join(cfgDir, 'data')); // relative to the config files' folder
    assert.equal(c.auth.jwt?.secret, 'x'.repeat(40)); // from VIGIL_JWT_SECRET_FILE, final line break dropped
    // A folder given as the config path works the same way.
    assert.equal(loadConfig(cfgDir, { ...env }).server.port, 9000);
    assert.throws(() => loadConfig(undefined, { ...env, VIGIL_ENV: 'qa' }), { code: 'E_CONFIG', message: `Config file not found: ${join(cfgDir, 'qa.yaml')} (VIGIL_ENV=qa)` });
    assert.throws(() => loadConfig(undefined, { ...env, VIGIL_ENV: 'staging' }), { code: 'E_CONFIG', message: `Config file ${join(cfgDir, 'staging.yaml')} is for environment "production" but VIGIL_ENV is staging` });
    assert.throws(() => loadConfig(undefined, { ...env, VIGIL_ENV: 'typo' }), { code: 'E_CONFIG', message: 'Unknown key sever (did you mean server?)' });
    assert.throws(() => loadConfig(undefined, { ...env, VIGIL_ENV: '../x' }), { code: 'E_CONFIG', message: 'Expected an environment name of letters, digits, "_", "." or "-" for VIGIL_ENV but received "../x"' });
    assert.throws(() => loadConfig(undefined, { VIGIL_ENV: 'production', VIGIL_CONFIG_DIR: cfgDir }), { code: 'E_CONFIG', message: 'The config uses ${VIGIL_JWT_SECRET} but it is not set in the environment' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deep merge: mappings merge, lists and scalars replace', () => {
  assert.deepEqual(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), { a: { b: 1, c: [3] }, d: 1, e: 2 });
  assert.deepEqual(deepMerge({ a: { b: 1 } }, { a: false }), { a: false });
});

test('secrets from files: ${file:...} relative to the config folder, VIGIL_*_FILE; the variable itself wins', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'pw'), 's3cret: #1\n');
    assert.equal(substituteEnv('password: "${file:pw}"', {}, dir), 'password: "s3cret: #1"');
    assert.equal(substituteEnv('p: ${VIGIL_PW}', { VIGIL_PW_FILE: join(dir, 'pw') }, dir), 'p: s3cret: #1');
    assert.equal(substituteEnv('p: ${VIGIL_PW}', { VIGIL_PW: 'env', VIGIL_PW_FILE: join(dir, 'pw') }, dir), 'p: env');
    assert.throws(() => substituteEnv('p: ${file:nope}', {}, dir), { code: 'E_CONFIG', message: `The config reads \${file:nope} from ${join(dir, 'nope')}, which cannot be read (ENOENT)` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil config check prints the same errors without starting, and exits non-zero', () => {
  const dir = tempDir();
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'camras:\n  - { id: a, source: "test:ball" }\n');
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'detector: false\ncameras:\n  - { id: a, source: "test:ball" }\n  - { id: b, source: "test:smpte" }\n');
    assert.deepEqual(configCheck([bad], {}), { ok: false, lines: [`${bad}: Unknown key camras (did you mean cameras?)`] });
    const ok = configCheck([good], {});
    assert.equal(ok.ok, true);
    assert.equal(ok.lines[0], `${good}: OK`);
    assert.equal(ok.lines[1], '  cameras: 2 (a, b)');
    assert.equal(ok.lines[2], '  detector: off');
    // The command itself: exit status 1 and the message on stderr; 0 and the summary on stdout.
    const cli = (file: string) => spawnSync(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'config', 'check', file], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    const r1 = cli(bad);
    assert.equal(r1.status, 1);
    assert.equal(r1.stderr, `${bad}: Unknown key camras (did you mean cameras?)\n`);
    const r2 = cli(good);
    assert.equal(r2.status, 0);
    assert.equal(r2.stdout.split('\n')[0], `${good}: OK`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
