/**
 * Every YAML block of README.md is a configuration a new operator may copy (issue 17 item 10: the README's own
 * example used to break the detector, one error line per analysed frame). Each block is loaded the way the README
 * says (a file in the project root, ${VIGIL_*} secrets from the environment) and started as a server for a few
 * seconds on port 0 with a data folder of its own: it must start, analyse frames, and log no inference error.
 * Cameras and peers the example names on other hosts (RTSP cameras, a VMS, a broker) are simply unreachable here:
 * they retry in the background, which is what a server does with them too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { deepMerge, parseConfig, PROJECT_ROOT, substituteEnv } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import { modelPath } from '../../src/inference/models.js';
import type { Logger } from '../../src/log.js';
import { until } from '../helpers/wait.js';

const README = join(PROJECT_ROOT, 'README.md');

function yamlBlocks(markdown: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```yaml') continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && lines[j]!.trim() !== '```') j++;
    out.push({ line: start + 1, text: lines.slice(start, j).join('\n') });
    i = j;
  }
  return out;
}

function capturingLogger(lines: string[]): Logger {
  const log: Logger = {
    debug() {},
    info() {},
    warn(msg: string) {
      lines.push(`warn ${msg}`);
    },
    error(msg: string) {
      lines.push(`error ${msg}`);
    },
    child() {
      return log;
    },
  } as unknown as Logger;
  return log;
}

const blocks = yamlBlocks(readFileSync(README, 'utf8'));

test('README.md has YAML configuration blocks', () => {
  assert.ok(blocks.length >= 1, 'no ```yaml block found in README.md');
});

for (const block of blocks) {
  test(`README.md YAML block at line ${block.line} loads and starts a server`, async () => {
    assert.ok(existsSync(modelPath('nanodet')), `${modelPath('nanodet')} is missing: run bash scripts/setup.sh`);
    // Secrets the example takes from the environment.
    const env: NodeJS.ProcessEnv = {};
    for (const m of block.text.matchAll(/\$\{(VIGIL_[A-Za-z0-9_]+)\}/g)) env[m[1]!] = 'readme-test-secret-0123456789abcdef0123456789';
    const doc = parseYaml(substituteEnv(block.text, env, PROJECT_ROOT)) as Record<string, unknown>;
    const dir = mkdtempSync(join(tmpdir(), 'vigil-readme-'));
    const lines: string[] = [];
    try {
      // As `vigil.yaml` in the project root (what the README says), with its own data folder and a free port.
      const config = parseConfig(deepMerge(doc, { dataDir: dir, server: { host: '127.0.0.1', port: 0 }, recording: { minFreeGb: 0 } }), PROJECT_ROOT);
      config.auth = { ...config.auth, announceInitialAdmin: () => {} };
      const server = await createServer(config, { log: capturingLogger(lines) });
      try {
        if (config.detector && config.cameras.some((c) => c.source.kind === 'test' || c.source.kind === 'file')) {
          await until(() => server.stats().framesAnalysed >= 5, 30_000, '5 analysed frames');
        }
        await new Promise((r) => setTimeout(r, 2000));
        const res = await fetch(`http://127.0.0.1:${server.http!.port}/health`);
        assert.ok(res.status === 200 || res.status === 503, `GET /health answered ${res.status}`);
      } finally {
        await server.stop();
      }
      const inference = lines.filter((l) => l.startsWith('error inference'));
      assert.deepEqual(inference, [], 'inference errors while running the README example');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
