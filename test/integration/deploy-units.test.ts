/**
 * deploy/systemd: the units pass `systemd-analyze verify` (with /opt/vigil pointed at this checkout, so the
 * programs they start must exist here) and keep their hardening options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root.js';

const UNITS = join(PACKAGE_ROOT, 'deploy', 'systemd');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

/** `key=value` lines of one section. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inside = line === `[${name}]`;
    else if (inside && line && !line.startsWith('#')) {
      const i = line.indexOf('=');
      const k = line.slice(0, i);
      out.set(k, [...(out.get(k) ?? []), line.slice(i + 1)]);
    }
  }
  return out;
}

test('systemd units verify and keep their hardening', () => {
  assert.ok(existsSync(SYSTEMD_ANALYZE), `${SYSTEMD_ANALYZE} is missing: run bash scripts/setup.sh (65-deploy.sh installs systemd)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-units-'));
  try {
    for (const unit of ['vigil.service', 'vigil-prometheus-token.service', 'vigil-prometheus-token.timer']) {
      writeFileSync(join(dir, unit), readFileSync(join(UNITS, unit), 'utf8').replaceAll('/opt/vigil', PACKAGE_ROOT));
    }
    for (const unit of ['vigil.service', 'vigil-prometheus-token.service', 'vigil-prometheus-token.timer']) {
      const r = spawnSync(SYSTEMD_ANALYZE, ['verify', '--man=no', join(dir, unit)], { encoding: 'utf8', cwd: dir });
      assert.deepEqual([r.status, r.stderr.trim(), r.stdout.trim()], [0, '', ''], unit);
    }
    const svc = section(readFileSync(join(UNITS, 'vigil.service'), 'utf8'), 'Service');
    const expected: Record<string, string> = {
      User: 'vigil',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      ProtectSystem: 'strict',
      ReadWritePaths: '/var/lib/vigil',
      StateDirectory: 'vigil',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      SystemCallFilter: '@system-service',
      SystemCallArchitectures: 'native',
      DevicePolicy: 'closed',
      Restart: 'on-failure',
      ExecReload: '/bin/kill -HUP $MAINPID',
      ExecStart: '/usr/bin/node /opt/vigil/scripts/vigil.mjs serve --config /etc/vigil/vigil.yaml',
    };
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(svc.get(k), [v], k);
    assert.deepEqual(svc.get('RestrictAddressFamilies'), ['AF_UNIX AF_INET AF_INET6 AF_NETLINK']);
    assert.deepEqual(svc.get('DeviceAllow'), ['char-drm rw', '/dev/nvidiactl rw', '/dev/nvidia0 rw', '/dev/nvidia-uvm rw']);
    // The token refresher is a oneshot on a 10-minute timer (access tokens live 15 minutes).
    const timer = section(readFileSync(join(UNITS, 'vigil-prometheus-token.timer'), 'utf8'), 'Timer');
    assert.deepEqual(timer.get('OnUnitActiveSec'), ['10min']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
