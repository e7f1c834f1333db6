/**
 * Browser tests' helpers: a real `vigil serve` (child process, test media, port 0) and Debian's chromium driven by
 * playwright-core (headless, --no-sandbox). Screenshots go to test/browser/artifacts/ (git-ignored).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { media, ROOT } from '../helpers/media.js';

export const ARTIFACTS = join(ROOT, 'test', 'browser', 'artifacts');
export const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';

export interface Vigil {
  url: string;
  port: number;
  /** The server process (for CPU measurements). */
  pid: number;
  adminPassword: string;
  dir: string;
  log: () => string;
  /** A bearer token for REST calls from the test itself. */
  token(username?: string, password?: string): Promise<string>;
  api<T = unknown>(path: string, init?: { method?: string; body?: unknown; token?: string }): Promise<{ status: number; json: T }>;
  stop(): Promise<void>;
}

/** Starts `vigil serve` on a config made of `yaml` lines (server, dataDir and log are added). */
export async function startVigil(yaml: string[]): Promise<Vigil> {
  if (!existsSync(join(ROOT, 'web', 'dist', 'index.html'))) throw new Error('web/dist is missing: run `bash scripts/setup.d/66-web.sh`');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-browser-'));
  const config = join(dir, 'vigil.yaml');
  writeFileSync(config, ['server: { host: 127.0.0.1, port: 0 }', `dataDir: ${join(dir, 'data')}`, 'statusIntervalS: 60', ...yaml].join('\n'));
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'serve', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const { port, password } = await new Promise<{ port: number; password: string }>((resolve, reject) => {
    // Generous: on this shared 2-core machine a start under load can take over a minute. A server that did not
    // start is killed, so a failed before() leaves no process behind.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vigil serve did not start within 150 s:\n${out}`));
    }, 150_000);
    const check = (): void => {
      const pw = /created user "admin" with password (\S+)/.exec(out);
      const p = /listening port=(\d+)/.exec(out);
      if (pw && p) {
        clearTimeout(timer);
        resolve({ port: Number(p[1]), password: pw[1]! });
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`vigil serve exited with ${code}:\n${out}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<{ status: number; json: T }> => {
    const res = await fetch(url + path, {
      method: init.method ?? 'GET',
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
  };
  return {
    url,
    port,
    pid: child.pid!,
    adminPassword: password,
    dir,
    log: () => out,
    api,
    async token(username = 'admin', pw = password) {
      const r = await api<{ access_token: string }>('/auth/login', { method: 'POST', body: { username, password: pw } });
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json.access_token;
    },
    async stop() {
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/setup.d/66-web.sh\` (installs Debian's chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

export async function loginAs(page: Page, url: string, username: string, password: string): Promise<void> {
  // Waits, not timing assertions: on this shared 2-core machine a page step can take tens of seconds under load.
  page.setDefaultTimeout(60_000);
  await page.goto(url + '/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** An alert as GET /alerts returns it (the fields the browser tests read). */
export interface AlertJson {
  alertId: string;
  raisedNs: string;
  cameraId: string;
  state: string;
  acknowledgedBy: string | null;
}

/**
 * The two-camera site of the events and rules tests: vtest (people; a dwell rule raises after 6 s in frame; recorded
 * in 2 s segments when `record`) and a quiet lobby camera, an operator `olga` on every camera and a viewer `vic`
 * scoped to the lobby. Returns the server, a browser and the first-run admin's token.
 */
export async function startTwoCameraSite(opts: { record: boolean }): Promise<{ vigil: Vigil; browser: Browser; token: string }> {
  const [vigil, browser] = await Promise.all([
    startVigil([
      'cameras:',
      '  - id: vtest',
      `    source: { kind: file, path: ${media('vtest-h264.mp4')}, loop: true }`,
      '    detectFps: 5',
      ...(opts.record ? ['    record: { mode: continuous, segmentSeconds: 2 }'] : []),
      '  - id: lobby',
      `    source: { kind: file, path: ${media('quiet-360p15.mp4')}, loop: true }`,
      '    detectFps: 1',
      'rules:',
      '  - { id: linger, name: Lingering, kind: dwell, cameras: [vtest], classes: [person], seconds: 6, zone: { points: [[0, 0], [1, 0], [1, 1], [0, 1]], normalized: true } }',
    ]),
    launchBrowser(),
  ]);
  const token = await vigil.token();
  for (const u of [
    { username: 'olga', password: 'operator-pw-1', role: 'operator', cameras: '*' },
    { username: 'vic', password: 'viewer-pw-12', role: 'viewer', cameras: ['lobby'] },
  ]) {
    const r = await vigil.api('/users', { method: 'POST', body: u, token });
    if (r.status !== 201) throw new Error(`creating user ${u.username} answered ${r.status}`);
  }
  return { vigil, browser, token };
}
