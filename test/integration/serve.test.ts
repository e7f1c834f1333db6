/** `vigil serve` as a user runs it: frames flow, a per-camera status line with fps, clean stop on SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, media } from '../helpers/media.js';

test('vigil serve: status lines with fps per camera, stop on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-serve-'));
  const config = join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    [
      'statusIntervalS: 1',
      'server: { host: 127.0.0.1, port: 0 }',
      `dataDir: ${join(dir, 'data')}`,
      'cameras:',
      `  - id: clip`,
      `    source: { kind: file, path: ${media('vtest-h264.mp4')}, loop: true }`,
      '    detectFps: 5',
      '  - id: pattern',
      '    source: { kind: test, pattern: ball, width: 320, height: 240, fps: 10 }',
      '    detectFps: 0',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'serve', '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no status lines within 30 s:\n${log}`)), 30_000);
      const check = () => {
        const clip = /vigil\.camera clip running ([\d.]+) fps decoded=(\d+) handedOn=(\d+)/.exec(log);
        const pattern = /vigil\.camera pattern running ([\d.]+) fps/.exec(log);
        if (clip && pattern && Number(clip[3]) > 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr.on('data', check);
    });
    assert.match(log, /vigil\.camera clip added source=\S+vtest-h264\.mp4 detectFps=5/);
    assert.match(log, /vigil serving cameras=2/);

    // Hot reload of the config's rules on SIGHUP: a good set is swapped in, a bad one refused; cameras untouched.
    writeFileSync(config, readFileSync(config, 'utf8') + '\nrules:\n  - { id: line, name: Line, kind: tripwire, line: { from: [0, 100], to: [320, 100] } }\n');
    child.kill('SIGHUP');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reload line:\n${log}`)), 10_000);
      const check = () => /rules reloaded/.test(log) && (clearTimeout(t), resolve());
      child.stderr.on('data', check);
      check();
    });
    writeFileSync(config, readFileSync(config, 'utf8').replace('kind: tripwire, line: { from: [0, 100], to: [320, 100] }', 'kind: tripwire'));
    child.kill('SIGHUP');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no refusal line:\n${log}`)), 10_000);
      const check = () => /rules not reloaded: Expected a line object \{ from, to, normalized\? \} for rules\[0\]\.line but received undefined code=E_CONFIG/.test(log) && (clearTimeout(t), resolve());
      child.stderr.on('data', check);
      check();
    });
    assert.doesNotMatch(log, /clip running -> /, 'cameras were not restarted');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(log, /received SIGTERM, stopping/);
    assert.match(log, /vigil stopped/);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
