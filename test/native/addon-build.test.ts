/** Both build files produce a working addon, and a missing or broken binary gives one clear error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates, addonPath, loadFailure } from '../../bindings/index.js';
import { ROOT } from '../helpers/media.js';

test('the cmake-js build is what loads by default', () => {
  assert.equal(addonPath(), join(ROOT, 'build', 'Release', 'vigil.node'));
});

test('the node-gyp build of the same sources passes the tensor tests', () => {
  const gyp = join(ROOT, '.cache', 'build-gyp', 'build', 'Release', 'vigil.node');
  assert.ok(existsSync(gyp), `${gyp} is missing: scripts/setup.d/12-addon-gyp.sh builds it`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', 'test/native/ingest-tensor.test.ts'], {
    cwd: ROOT,
    env: { ...process.env, VIGIL_ADDON_PATH: gyp },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('VIGIL_ADDON_PATH comes first in the search', () => {
  assert.deepEqual(addonCandidates({ VIGIL_ADDON_PATH: '/opt/x/vigil.node' }), ['/opt/x/vigil.node', join(ROOT, 'build', 'Release', 'vigil.node')]);
});

test('missing, foreign-ABI and broken binaries each say what to run', () => {
  const missing = loadFailure(null, ['/a/vigil.node', '/b/vigil.node']);
  assert.equal(missing.code, 'E_ADDON_MISSING');
  assert.equal(
    missing.message,
    "Vigil's native addon is not built (looked for /a/vigil.node, /b/vigil.node). Run `bash scripts/setup.sh` (installs GStreamer and builds it) or `npm run build:addon`.",
  );
  const abi = loadFailure('/a/vigil.node', [], new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 108.'));
  assert.equal(abi.code, 'E_ADDON_ABI');
  assert.equal(
    abi.message,
    `Vigil's native addon at /a/vigil.node was built for another Node.js ABI (this is Node ${process.version}, ABI ${process.versions.modules}). Run \`npm run build:addon\` to rebuild it.`,
  );
  // A real load of a file that is not a shared object, in a child process with the override set.
  const dir = mkdtempSync(join(tmpdir(), 'vigil-addon-'));
  try {
    const bogus = join(dir, 'vigil.node');
    writeFileSync(bogus, 'not an ELF file');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./bindings/index.ts').then((b) => b.loadAddon()).catch((e) => { console.log(e.code); })"], {
      cwd: ROOT,
      env: { ...process.env, VIGIL_ADDON_PATH: bogus },
      encoding: 'utf8',
    });
    assert.equal(r.stdout.trim(), 'E_ADDON_LOAD');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
