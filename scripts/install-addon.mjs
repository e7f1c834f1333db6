#!/usr/bin/env node
// package.json's `install` script. In a checkout (src/ present) it builds the addon with cmake-js, incrementally,
// as `npm run build:addon` does. In an installed package it keeps the prebuilt build/Release/vigil.node that the
// tarball carries when that loads here (same Node ABI, GStreamer libraries present) and builds from native/ with
// cmake-js otherwise; VIGIL_BUILD_ADDON=1 always builds. The load check runs in a child process so that a broken
// binary cannot take the installer down with it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'vigil.node');
const checkout = existsSync(join(root, 'src'));
const force = process.env.VIGIL_BUILD_ADDON === '1';

function loads(path) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path)})`], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) process.stderr.write(`vigil: the prebuilt addon does not load here, building it (${String(r.stderr).trim().split('\n')[0]})\n`);
  return r.status === 0;
}

if (!checkout && !force && existsSync(addon) && loads(addon)) {
  process.stdout.write(`vigil: using the prebuilt addon ${addon}\n`);
  process.exit(0);
}
const require = createRequire(import.meta.url);
const pkg = require.resolve('cmake-js/package.json');
const { bin } = require(pkg);
const cli = join(dirname(pkg), typeof bin === 'string' ? bin : bin['cmake-js']);
const r = spawnSync(process.execPath, [cli, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
