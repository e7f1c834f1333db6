/**
 * deploy/ on real parts: Debian's nginx (scripts/setup.d/65-deploy.sh) runs deploy/nginx/vigil.conf, with only
 * its ports, upstream address and certificate paths replaced, in front of a real `vigil serve` child process (JSON
 * logs from the config file's `log:` section). A self-signed certificate is made here with the openssl CLI.
 * Checked through the proxy: TLS termination, the HTTP -> HTTPS redirect, /health passed through, the login rate
 * limit (answered in the API's error shape), the /ws upgrade carrying the FlatBuffers stream, and Prometheus's
 * path: deploy/prometheus/vigil-token.sh fetches a token and GET /metrics exports every metric the Grafana
 * dashboard (deploy/grafana/vigil-dashboard.json) queries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { readMessage, WirePayload } from '../../src/index.js';
import { until } from '../helpers/wait.js';

const NGINX = '/usr/sbin/nginx';
const DEPLOY = join(PACKAGE_ROOT, 'deploy');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/** Replaces `from` (which must occur exactly `times` times) so a drifting deploy file fails here, not silently. */
function replaceExactly(text: string, from: string, to: string, times: number): string {
  const n = text.split(from).length - 1;
  assert.equal(n, times, `${JSON.stringify(from)} occurs ${n} times in deploy/nginx/vigil.conf, expected ${times}`);
  return text.split(from).join(to);
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  protocol: string | null;
}

function request(url: string, o: { method?: string; body?: string; headers?: Record<string, string>; ca?: Buffer; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: o.method ?? 'GET',
        headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        ...(o.ca ? { ca: o.ca, servername: 'localhost' } : {}),
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), protocol: (res.socket as TLSSocket).getProtocol?.() ?? null }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

test('nginx (deploy/nginx/vigil.conf) in front of vigil serve: TLS, redirect, /health, login limit, /ws, Prometheus token and the Grafana queries', async () => {
  assert.ok(existsSync(NGINX), `${NGINX} is missing: run bash scripts/setup.sh (scripts/setup.d/65-deploy.sh installs nginx)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-deploy-'));
  chmodSync(dir, 0o755); // nginx workers (nobody when run as root) read the config folder
  const [vigilPort, tlsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  let vigil: ChildProcess | null = null;
  let nginx: ChildProcess | null = null;
  const stderr: string[] = [];
  let stdout = '';
  try {
    // A self-signed certificate for localhost / 127.0.0.1.
    const crt = join(dir, 'vigil.crt');
    const key = join(dir, 'vigil.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const ca = readFileSync(crt);

    // vigil serve with JSON logs from the config file.
    writeFileSync(join(dir, 'vigil.yaml'), [
      `server: { host: 127.0.0.1, port: ${vigilPort}, publicUrl: "https://localhost:${tlsPort}" }`,
      `dataDir: ${join(dir, 'data')}`,
      'log: { level: info, format: json }',
      'search: false',
      'snapshots: false',
      'auth: { trustedProxies: [127.0.0.1] }',
      'cameras:',
      '  - { id: cam, source: { kind: test, pattern: ball, width: 320, height: 240, fps: 5 }, detectFps: 1 }',
      '',
    ].join('\n'));
    const env = { ...process.env };
    delete env.VIGIL_LOG_FORMAT;
    delete env.VIGIL_LOG_LEVEL;
    delete env.VIGIL_CONFIG;
    vigil = spawn(process.execPath, [join(PACKAGE_ROOT, 'scripts', 'vigil.mjs'), 'serve', '--config', join(dir, 'vigil.yaml')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    vigil.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    let partial = '';
    vigil.stderr!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      stderr.push(...lines.filter((l) => l.length > 0));
    });
    await until(() => stderr.some((l) => l.includes('"msg":"serving"')), 60_000, 'vigil serve to start');
    const password = /created user "admin" with password (\S+)/.exec(stdout)?.[1];
    assert.ok(password, `first-run admin password on stdout: ${stdout}`);
    // Every log line is one JSON object (log: { format: json } in the config file, no environment variable).
    for (const line of stderr) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(['level', 'msg', 'scope', 'time'].filter((k) => k in rec), ['level', 'msg', 'scope', 'time'], line);
    }

    // nginx with the deploy config: only ports, upstream, certificate paths and server name replaced.
    let site = readFileSync(join(DEPLOY, 'nginx', 'vigil.conf'), 'utf8');
    site = replaceExactly(site, 'server 127.0.0.1:8001', `server 127.0.0.1:${vigilPort}`, 1);
    site = replaceExactly(site, 'listen 443 ssl http2;', `listen 127.0.0.1:${tlsPort} ssl http2;`, 1);
    site = replaceExactly(site, 'listen [::]:443 ssl http2;', '', 1);
    site = replaceExactly(site, 'listen 80;', `listen 127.0.0.1:${httpPort};`, 1);
    site = replaceExactly(site, 'listen [::]:80;', '', 1);
    site = replaceExactly(site, '/etc/ssl/certs/vigil.crt', crt, 1);
    site = replaceExactly(site, '/etc/ssl/private/vigil.key', key, 1);
    site = replaceExactly(site, 'server_name vigil.example.com;', 'server_name localhost;', 2);
    writeFileSync(join(dir, 'vigil.conf'), site);
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      mkdirSync(join(dir, 'tmp', t), { recursive: true });
      chmodSync(join(dir, 'tmp', t), 0o777);
    }
    chmodSync(join(dir, 'tmp'), 0o755);
    writeFileSync(join(dir, 'nginx.conf'), [
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'daemon off;',
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${join(dir, 'access.log')};`,
      ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t === 'body' ? 'client_body' : t}_temp_path ${join(dir, 'tmp', t)};`),
      `  include ${join(dir, 'vigil.conf')};`,
      '}',
      '',
    ].join('\n'));
    const nginxArgs = ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')];
    execFileSync(NGINX, ['-t', ...nginxArgs], { stdio: 'pipe' });
    nginx = spawn(NGINX, nginxArgs, { stdio: 'ignore' });
    const base = `https://localhost:${tlsPort}`;
    await until(async () => (await request(`${base}/health`, { ca }).catch(() => ({ status: 0 }))).status === 200, 15_000, 'nginx to answer');

    // TLS termination and the security headers; plain HTTP is redirected.
    let r = await request(`${base}/health`, { ca });
    assert.equal(r.status, 200);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.equal(r.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.ok(['healthy', 'degraded'].includes((JSON.parse(r.body) as { status: string }).status), r.body);
    r = await request(`http://127.0.0.1:${httpPort}/health`, { headers: { host: 'localhost' } });
    assert.deepEqual([r.status, r.headers.location], [301, 'https://localhost/health']);
    // /health is passed through without a rate limit.
    for (let i = 0; i < 40; i++) assert.equal((await request(`${base}/health`, { ca })).status, 200);

    // Login through the proxy: the first 6 attempts of a burst reach Vigil (401), the rest are refused by nginx
    // in the API's error shape. A separate loopback source address gets its own bucket.
    // Sent at once: a login costs Vigil a password hash, and the bucket refills one attempt per 6 s.
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      request(`${base}/auth/login`, { ca, method: 'POST', body: JSON.stringify({ username: `nobody${i}`, password: 'wrong-password' }), localAddress: '127.0.0.2' })));
    assert.deepEqual(burst.map((b) => b.status).sort(), [401, 401, 401, 401, 401, 401, 429, 429, 429, 429]);
    const limited = burst.find((b) => b.status === 429)!;
    assert.deepEqual(JSON.parse(limited.body), { error: { code: 'E_RATE_LIMITED', message: 'Too many requests' } });
    assert.deepEqual([limited.headers['x-rate-limited-by'], limited.headers['retry-after'], limited.headers['content-type']], ['nginx', '10', 'application/json']);
    assert.equal(burst.find((b) => b.status === 401)!.headers['x-rate-limited-by'], undefined);

    // An admin session through the proxy; an operator account for Prometheus.
    r = await request(`${base}/auth/login`, { ca, method: 'POST', body: JSON.stringify({ username: 'admin', password }) });
    assert.equal(r.status, 200);
    const token = (JSON.parse(r.body) as { access_token: string }).access_token;
    r = await request(`${base}/users`, { ca, method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ username: 'prometheus', password: 'scrape-"pass"\\1', role: 'operator' }) });
    assert.equal(r.status, 201, r.body);

    // The event stream through the proxy: HTTP/1.1 upgrade over TLS, ServerHello, then a SubscribeAck.
    const ws = new WebSocket(`wss://localhost:${tlsPort}/ws`, ['vigil.v1', `bearer.${token}`], { ca });
    const inbox: Buffer[] = [];
    ws.on('message', (d: Buffer) => inbox.push(d));
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    assert.equal(ws.protocol, 'vigil.v1');
    await until(() => inbox.length >= 1, 5000, 'ServerHello');
    assert.equal(readMessage(new Uint8Array(inbox[0]!)).payloadType(), WirePayload.ServerHello);
    ws.send(JSON.stringify({ type: 'subscribe', id: 's1', cameras: ['cam'] }));
    await until(() => inbox.some((b) => readMessage(new Uint8Array(b)).payloadType() === WirePayload.SubscribeAck), 5000, 'SubscribeAck');
    ws.close();

    // Prometheus: the token script logs in through nginx (with its CA); /metrics with that token exports every
    // metric the Grafana dashboard queries.
    writeFileSync(join(dir, 'prom-password'), 'scrape-"pass"\\1');
    execFileSync(join(DEPLOY, 'prometheus', 'vigil-token.sh'), {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', VIGIL_URL: base, VIGIL_METRICS_USER: 'prometheus', VIGIL_METRICS_PASSWORD_FILE: join(dir, 'prom-password'), VIGIL_TOKEN_FILE: join(dir, 'vigil.token'), VIGIL_CA_FILE: crt },
      stdio: 'pipe',
    });
    const scrapeToken = readFileSync(join(dir, 'vigil.token'), 'utf8');
    assert.match(scrapeToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const prom = parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<Record<string, unknown>> };
    const job = prom.scrape_configs.find((j) => j.job_name === 'vigil')!;
    assert.deepEqual([job.scheme, job.metrics_path, job.authorization], ['https', '/metrics', { type: 'Bearer', credentials_file: '/etc/prometheus/vigil.token' }]);
    r = await request(`${base}${job.metrics_path as string}`, { ca, headers: { authorization: `Bearer ${scrapeToken}` } });
    assert.equal(r.status, 200);
    const exported = new Map<string, string>();
    for (const m of r.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) exported.set(m[1]!, m[2]!);
    const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'vigil-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    assert.ok(dashboard.panels.length >= 15);
    const queried = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, `${panel.title} has queries`);
      for (const { expr } of panel.targets) {
        const names = [...expr.matchAll(/\b((?:vigil|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
        assert.ok(names.length > 0, `${panel.title}: ${expr} names a metric`);
        for (const n of names) {
          const base = n.replace(/_(bucket|sum|count)$/, '');
          const ok = exported.has(n) || (exported.get(base) === 'histogram' && base !== n);
          assert.ok(ok, `${panel.title}: ${n} is not exported by /metrics`);
          queried.add(n);
        }
      }
    }
    assert.ok(queried.size >= 25, `${queried.size} metrics queried`);

    // A clean stop on SIGTERM.
    const exited = new Promise<number | null>((resolve) => vigil!.once('exit', (code) => resolve(code)));
    vigil.kill('SIGTERM');
    assert.equal(await exited, 0);
    vigil = null;
  } finally {
    nginx?.kill('SIGQUIT');
    vigil?.kill('SIGKILL');
    if (nginx) await new Promise((r) => nginx!.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
