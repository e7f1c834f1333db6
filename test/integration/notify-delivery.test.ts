/**
 * Notification delivery against real peers on loopback: an HTTP webhook receiver, a real SMTP server (npm
 * smtp-server), and simulated Slack / Twilio endpoints written from their documented APIs (Slack incoming
 * webhooks: POST JSON {text} -> 200 "ok", 4xx with an error word, 429 + Retry-After; Twilio Messages API: POST
 * /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To/From/Body, HTTP basic auth -> 201 JSON message
 * resource, 400 JSON {code, message, more_info, status} for a bad number). Those two services cannot run here.
 *
 * The peers are on loopback, so every service here uses the documented test allowance of the outbound policy:
 * `allow` with the exact address:port of each peer. The last test shows the default strict policy refusing it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { Registry } from 'prom-client';
import { NotificationService, verifyWebhookSignature, registerNotifyMetrics, type NotificationServiceOptions } from '../../src/integrations/notify/index.js';
import { validateRule } from '../../src/rules/validate.js';
import type { AlertEvent, RuleDefinition } from '../../src/rules/types.js';
import type { Alert } from '../../src/types.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-notify-'));
  dirs.push(d);
  return d;
}

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
interface Peer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}
type Reply = (r: Received, n: number) => { status: number; body?: string; headers?: Record<string, string> };

function startHttp(reply: Reply, port = 0): Promise<Peer> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const out = reply(r, received.length);
      res.writeHead(out.status, { 'content-type': 'text/plain', ...(out.headers ?? {}) });
      res.end(out.body ?? '');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        received,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const FAST = { baseDelayMs: 20, maxDelayMs: 100, pollMs: 15, timeoutMs: 3000 };

function service(channels: unknown, allowPorts: number[], extra: Partial<NotificationServiceOptions> = {}): NotificationService {
  return new NotificationService({ path: extra.path ?? tmp(), channels, policy: { allow: allowPorts.map((p) => `127.0.0.1:${p}`) }, ...FAST, ...extra });
}

let alertN = 0;
function event(type: AlertEvent['type'] = 'raised', message = 'person 1 entered Door'): AlertEvent {
  alertN++;
  const alert: Alert = {
    alertId: `A${alertN}`, ruleId: 'door', ruleName: 'Door', cameraId: 'cam1', state: type === 'cleared' ? 'cleared' : 'raised', message, trackIds: [1],
    raisedNs: 1_767_614_400_000_000_000n, updatedNs: 1_767_614_400_000_000_000n, clearedNs: null, acknowledgedBy: null, details: { kind: 'zone_enter', severity: 'critical', trackId: 1, count: 1 },
  };
  return { type, alert };
}
function rule(notify: unknown[]): RuleDefinition {
  return validateRule({ id: 'door', name: 'Door', kind: 'zone_enter', severity: 'critical', zone: { points: [[0, 0], [1, 0], [1, 1]] }, notify });
}

test('webhook: signed JSON, one delivery per alert, exact body, counters', async () => {
  const peer = await startHttp(() => ({ status: 200, body: 'ok' }));
  const svc = service({ hook: { type: 'webhook', url: `http://127.0.0.1:${peer.port}/vigil?x=1`, secret: 's3cret', headers: { 'X-Team': 'ops' } } }, [peer.port], {
    snapshotUrl: (a) => `https://vigil.example/alerts/${a.alertId}/snapshot`,
  });
  try {
    const r = rule([{ channel: 'hook', on: ['raised', 'cleared'] }]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(...(await svc.enqueue(event(), r)));
    assert.deepEqual(await svc.enqueue(event('updated'), r), []); // not subscribed
    await waitFor('5 deliveries', () => svc.stats().delivered === 5);
    await svc.idle();
    assert.equal(peer.received.length, 5);
    assert.deepEqual(peer.received.map((q) => q.headers['x-vigil-delivery']).sort(), [...ids].sort());
    const q = peer.received.find((x) => x.headers['x-vigil-delivery'] === ids[0])!;
    assert.equal(q.method, 'POST');
    assert.equal(q.url, '/vigil?x=1');
    assert.equal(q.headers['content-type'], 'application/json');
    assert.equal(q.headers['x-team'], 'ops');
    assert.equal(q.headers['x-vigil-event'], 'raised');
    assert.equal(verifyWebhookSignature('s3cret', q.headers['x-vigil-signature'] as string, q.headers['x-vigil-timestamp'] as string, q.body), true);
    assert.equal(verifyWebhookSignature('wrong', q.headers['x-vigil-signature'] as string, q.headers['x-vigil-timestamp'] as string, q.body), false);
    assert.equal(verifyWebhookSignature('s3cret', q.headers['x-vigil-signature'] as string, q.headers['x-vigil-timestamp'] as string, `${q.body} `), false);
    assert.equal(verifyWebhookSignature('s3cret', q.headers['x-vigil-signature'] as string, q.headers['x-vigil-timestamp'] as string, q.body, Number(q.headers['x-vigil-timestamp']) + 301), false);
    const body = JSON.parse(q.body);
    const alertId = body.alert.alertId as string;
    assert.deepEqual(body, {
      event: 'raised',
      text: `[critical] person 1 entered Door (camera cam1, rule Door, raised at 2026-01-05T12:00:00.000Z) https://vigil.example/alerts/${alertId}/snapshot`,
      alert: {
        alertId, ruleId: 'door', ruleName: 'Door', cameraId: 'cam1', state: 'raised', message: 'person 1 entered Door', trackIds: [1],
        raisedNs: '1767614400000000000', updatedNs: '1767614400000000000', clearedNs: null, acknowledgedBy: null,
        details: { kind: 'zone_enter', severity: 'critical', trackId: 1, count: 1 },
      },
      rule: { id: 'door', name: 'Door', kind: 'zone_enter', severity: 'critical' },
      snapshot_url: `https://vigil.example/alerts/${alertId}/snapshot`,
    });
    assert.deepEqual(svc.stats(), { delivered: 5, retried: 0, deadLettered: 0, pending: 0, inFlight: 0, deadLetterTotal: 0 });
    const reg = new Registry();
    registerNotifyMetrics(reg, svc);
    const text = await reg.metrics();
    for (const line of ['vigil_notify_delivered_total 5', 'vigil_notify_retried_total 0', 'vigil_notify_dead_lettered_total 0', 'vigil_notify_pending 0', 'vigil_notify_in_flight 0', 'vigil_notify_dead_letters 0']) {
      assert.ok(text.split('\n').includes(line), line);
    }
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('webhook: retried while the peer is down, delivered once it comes back', async () => {
  const port = await freePort();
  const svc = service({ hook: { type: 'webhook', url: `http://127.0.0.1:${port}/h`, secret: 'k' } }, [port]);
  let peer: Peer | null = null;
  try {
    const [id] = await svc.enqueue(event(), rule(['hook']));
    await waitFor('two failed attempts', () => svc.stats().retried >= 2);
    const pend = svc.pendingEntries();
    assert.equal(pend.length, 1);
    assert.equal(pend[0]!.lastError, `Request to http://127.0.0.1:${port} failed: ECONNREFUSED`);
    peer = await startHttp(() => ({ status: 204 }), port);
    await waitFor('delivery', () => svc.stats().delivered === 1);
    await svc.idle();
    assert.equal(peer.received.length, 1);
    assert.equal(peer.received[0]!.headers['x-vigil-delivery'], id);
    assert.equal(svc.stats().pending, 0);
  } finally {
    await svc.close();
    await peer?.close();
  }
});

test('webhook: 503 twice then 200 — the same delivery id each time, nothing beyond at-least-once', async () => {
  const peer = await startHttp((_r, n) => (n <= 2 ? { status: 503, body: 'busy' } : { status: 200 }));
  const svc = service({ hook: { type: 'webhook', url: `http://127.0.0.1:${peer.port}/h` } }, [peer.port]);
  try {
    const [id] = await svc.enqueue(event(), rule(['hook']));
    await waitFor('delivery', () => svc.stats().delivered === 1);
    await svc.idle();
    assert.deepEqual(peer.received.map((r) => r.headers['x-vigil-delivery']), [id, id, id]);
    assert.equal(peer.received[0]!.headers['x-vigil-signature'], undefined); // no secret configured: unsigned
    assert.deepEqual(svc.stats(), { delivered: 1, retried: 2, deadLettered: 0, pending: 0, inFlight: 0, deadLetterTotal: 0 });
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('50 alerts through a flaky peer: every delivery succeeds exactly once, nothing is sent after its success', async () => {
  const okAt = new Map<string, number>();
  const after: string[] = [];
  const peer = await startHttp((r, n) => {
    const id = String(r.headers['x-vigil-delivery']);
    if (okAt.has(id)) after.push(id);
    if (n % 3 === 0) return { status: 503 };
    okAt.set(id, n);
    return { status: 200 };
  });
  const svc = service({ hook: { type: 'webhook', url: `http://127.0.0.1:${peer.port}/h` } }, [peer.port], { concurrency: 4 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(...(await svc.enqueue(event(), rule(['hook']))));
    await waitFor('50 deliveries', () => svc.stats().delivered === 50, 20000);
    await svc.idle();
    assert.equal(new Set(ids).size, 50);
    assert.deepEqual([...okAt.keys()].sort(), [...ids].sort());
    assert.deepEqual(after, []);
    const s = svc.stats();
    assert.equal(peer.received.length, 50 + s.retried);
    assert.deepEqual({ ...s, retried: 0 }, { delivered: 50, retried: 0, deadLettered: 0, pending: 0, inFlight: 0, deadLetterTotal: 0 });
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('dead letter after N attempts, and at once for a failure retrying cannot fix', async () => {
  const peer = await startHttp((r) => (r.url === '/bad' ? { status: 400, body: 'invalid' } : { status: 500, body: 'boom' }));
  const svc = service({ down: { type: 'webhook', url: `http://127.0.0.1:${peer.port}/err` }, bad: { type: 'webhook', url: `http://127.0.0.1:${peer.port}/bad` } }, [peer.port], { maxAttempts: 3 });
  try {
    const [a] = await svc.enqueue(event(), rule(['down']));
    const [b] = await svc.enqueue(event(), rule(['bad']));
    await waitFor('two dead letters', () => svc.stats().deadLettered === 2);
    await svc.idle();
    const dead = svc.deadLetters();
    const da = dead.find((d) => d.id === a)!;
    const db = dead.find((d) => d.id === b)!;
    assert.equal(da.attempts, 3);
    assert.equal(da.lastError, `Request to http://127.0.0.1:${peer.port} answered HTTP 500: boom`);
    assert.equal(db.attempts, 1);
    assert.equal(db.lastError, `Request to http://127.0.0.1:${peer.port} answered HTTP 400: invalid`);
    assert.equal(peer.received.filter((r) => r.url === '/err').length, 3);
    assert.equal(peer.received.filter((r) => r.url === '/bad').length, 1);
    assert.deepEqual(svc.stats(), { delivered: 0, retried: 2, deadLettered: 2, pending: 0, inFlight: 0, deadLetterTotal: 2 });
    assert.equal(svc.health().status, 'degraded');
    // A dead letter can be put back.
    assert.equal(await svc.requeue(b!), true);
    await waitFor('dead again', () => svc.stats().deadLettered === 3);
    assert.equal(await svc.requeue('nope'), false);
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('a restart resumes pending deliveries from the LMDB outbox', async () => {
  const port = await freePort();
  const path = tmp();
  const channels = { hook: { type: 'webhook', url: `http://127.0.0.1:${port}/h` } };
  let svc = service(channels, [port], { path, baseDelayMs: 50, maxDelayMs: 60 });
  const ids = [...(await svc.enqueue(event(), rule(['hook']))), ...(await svc.enqueue(event(), rule(['hook'])))];
  await waitFor('a failed attempt', () => svc.stats().retried >= 2);
  await svc.close();
  assert.throws(() => svc.stats(), { code: 'E_CLOSED', message: 'NotificationService is closed' });
  const peer = await startHttp(() => ({ status: 200 }), port);
  svc = service(channels, [port], { path });
  try {
    await waitFor('both delivered after restart', () => svc.stats().delivered === 2);
    assert.deepEqual(peer.received.map((r) => r.headers['x-vigil-delivery']).sort(), [...ids].sort());
    assert.equal(svc.stats().pending, 0);
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('Slack incoming webhook (simulated from its documented API): text, 429 + Retry-After, permanent errors', async () => {
  const peer = await startHttp((r, n) => {
    let payload: { text?: unknown };
    try {
      payload = JSON.parse(r.body);
    } catch {
      return { status: 400, body: 'invalid_payload' };
    }
    if (typeof payload.text !== 'string' || payload.text === '') return { status: 400, body: 'no_text' };
    if (r.url.startsWith('/services/T0/B0/archived')) return { status: 410, body: 'channel_is_archived' };
    if (n === 1) return { status: 429, body: 'rate_limited', headers: { 'retry-after': '0' } };
    return { status: 200, body: 'ok' };
  });
  const svc = service(
    {
      slack: { type: 'slack', url: `http://127.0.0.1:${peer.port}/services/T0/B0/SECRET` },
      old: { type: 'slack', url: `http://127.0.0.1:${peer.port}/services/T0/B0/archived` },
    },
    [peer.port],
  );
  try {
    await svc.enqueue(event(), rule([{ channel: 'slack', template: ':rotating_light: {{alert.message}} on {{alert.cameraId}} ({{alert.details.count}})' }]));
    await waitFor('slack delivery', () => svc.stats().delivered === 1);
    assert.equal(peer.received.length, 2);
    assert.deepEqual(JSON.parse(peer.received[1]!.body), { text: ':rotating_light: person 1 entered Door on cam1 (1)' });
    assert.equal(svc.stats().retried, 1);
    await svc.enqueue(event(), rule(['old']));
    await waitFor('dead letter', () => svc.stats().deadLettered === 1);
    const d = svc.deadLetters()[0]!;
    assert.equal(d.lastError, `Request to http://127.0.0.1:${peer.port} answered HTTP 410: channel_is_archived`);
    assert.ok(!d.lastError!.includes('SECRET'));
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('Twilio SMS (simulated from its documented API): one message per recipient, basic auth, form fields, bad number dead-lettered', async () => {
  const SID = `AC${'0123456789abcdef'.repeat(2)}`;
  const TOKEN = 'tok3n';
  const peer = await startHttp((r) => {
    if (r.method !== 'POST' || r.url !== `/2010-04-01/Accounts/${SID}/Messages.json`) return { status: 404, body: '{"code":20404,"message":"not found","status":404}' };
    if (r.headers.authorization !== `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`) return { status: 401, body: '{"code":20003,"message":"Authenticate","status":401}' };
    const f = new URLSearchParams(r.body);
    if (!/^\+[1-9]\d{6,14}$/.test(f.get('To') ?? '')) {
      return { status: 400, body: JSON.stringify({ code: 21211, message: `The 'To' number ${f.get('To')} is not a valid phone number.`, more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }), headers: { 'content-type': 'application/json' } };
    }
    return { status: 201, body: JSON.stringify({ sid: `SM${'a'.repeat(32)}`, status: 'queued', to: f.get('To'), from: f.get('From'), body: f.get('Body') }), headers: { 'content-type': 'application/json' } };
  });
  const svc = service({ sms: { type: 'sms', accountSid: SID, authToken: TOKEN, from: '+15005550006', to: ['+15551230001', '+15551230002', 'not-a-number'], baseUrl: `http://127.0.0.1:${peer.port}` } }, [peer.port]);
  try {
    const ids = await svc.enqueue(event(), rule([{ channel: 'sms', template: 'Vigil: {{alert.message}}' }]));
    assert.equal(ids.length, 3);
    await waitFor('sms deliveries', () => svc.stats().delivered === 2 && svc.stats().deadLettered === 1);
    const forms = peer.received.map((r) => Object.fromEntries(new URLSearchParams(r.body)));
    assert.deepEqual(forms.filter((f) => f.To !== 'not-a-number').sort((a, b) => a.To!.localeCompare(b.To!)), [
      { To: '+15551230001', From: '+15005550006', Body: 'Vigil: person 1 entered Door' },
      { To: '+15551230002', From: '+15005550006', Body: 'Vigil: person 1 entered Door' },
    ]);
    assert.equal(peer.received[0]!.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.match(svc.deadLetters()[0]!.lastError!, /HTTP 400: \{"code":21211,/);
    assert.equal(svc.deadLetters()[0]!.attempts, 1);
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('email through a real SMTP server on loopback: auth, subject, body, Message-ID, attachment; 4xx retried, 5xx dead-lettered', async () => {
  const messages: { from: string; to: string[]; raw: string }[] = [];
  let busyCalls = 0;
  const smtp = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _s, cb) {
      if (auth.username === 'vigil' && auth.password === 'pw') cb(null, { user: 'vigil' });
      else cb(new Error('Invalid username or password'));
    },
    onRcptTo(addr, _s, cb) {
      if (addr.address === 'full@example.org' && ++busyCalls === 1) {
        const e = new Error('Mailbox busy, try later') as Error & { responseCode: number };
        e.responseCode = 451;
        return cb(e);
      }
      if (addr.address === 'nobody@example.org') {
        const e = new Error('No such user') as Error & { responseCode: number };
        e.responseCode = 550;
        return cb(e);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const port = (smtp.server.address() as net.AddressInfo).port;
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  const base = { type: 'email', host: '127.0.0.1', port, secure: false, auth: { user: 'vigil', pass: 'pw' }, from: 'vigil@example.org' };
  const svc = service(
    {
      mail: { ...base, to: ['ops@example.org', 'sec@example.org'] },
      busy: { ...base, to: ['full@example.org'] },
      gone: { ...base, to: ['nobody@example.org'] },
    },
    [port],
    { snapshotJpeg: async (id) => (id.startsWith('A') ? jpeg : null) },
  );
  try {
    const [id] = await svc.enqueue(event(), rule([{ channel: 'mail', snapshot: 'attach' }]));
    await waitFor('mail', () => svc.stats().delivered === 1);
    assert.equal(messages.length, 1);
    const m = messages[0]!;
    assert.equal(m.from, 'vigil@example.org');
    assert.deepEqual(m.to, ['ops@example.org', 'sec@example.org']);
    assert.match(m.raw, /^Subject: Vigil raised: person 1 entered Door\r$/m);
    assert.match(m.raw, new RegExp(`^Message-ID: <${id}@vigil>\\r$`, 'm'));
    // The text part is quoted-printable: undo its soft line breaks.
    assert.ok(m.raw.replace(/=\r\n/g, '').includes('\r\n[critical] person 1 entered Door (camera cam1, rule Door, raised at 2026-01-05T12:00:00.000Z)\r\n'));
    assert.match(m.raw, /Content-Disposition: attachment; filename=snapshot\.jpg/);
    assert.ok(m.raw.includes(jpeg.toString('base64')));

    await svc.enqueue(event(), rule(['busy']));
    await waitFor('busy delivered', () => svc.stats().delivered === 2);
    assert.equal(svc.stats().retried, 1);
    await svc.enqueue(event(), rule(['gone']));
    await waitFor('gone dead', () => svc.stats().deadLettered === 1);
    assert.match(svc.deadLetters()[0]!.lastError!, new RegExp(`^SMTP 127\\.0\\.0\\.1:${port}: .*550`));
  } finally {
    await svc.close();
    await new Promise<void>((r) => smtp.close(() => r()));
  }
});

test('default strict policy: a loopback webhook is refused before connecting and dead-lettered', async () => {
  const peer = await startHttp(() => ({ status: 200 }));
  const svc = new NotificationService({ path: tmp(), channels: { hook: { type: 'webhook', url: `http://127.0.0.1:${peer.port}/h` } }, ...FAST });
  try {
    await svc.enqueue(event(), rule(['hook']));
    await waitFor('dead letter', () => svc.stats().deadLettered === 1);
    assert.equal(svc.deadLetters()[0]!.lastError, `Refused outbound URL http://127.0.0.1:${peer.port}: address 127.0.0.1 is loopback`);
    assert.equal(peer.received.length, 0);
  } finally {
    await svc.close();
    await peer.close();
  }
});

test('channel configuration errors name the field and never echo secrets', () => {
  const mk = (channels: unknown) => () => new NotificationService({ path: tmp(), channels, autoStart: false });
  assert.throws(mk({ a: { type: 'pager' } }), { code: 'E_CONFIG', message: 'Expected a channel type ("webhook", "slack", "email", "sms", "vms", "sns") for notify.channels.a.type but received "pager"' });
  assert.throws(mk({ a: { type: 'webhook', url: 'file:///etc/passwd' } }), { message: 'Expected an http(s) URL for notify.channels.a.url but received "file:"' });
  assert.throws(mk({ a: { type: 'sms', accountSid: 'ACsecret', authToken: 't', from: '+1', to: ['+2'] } }), { message: 'Expected a Twilio Account SID (AC + 32 hex digits) for notify.channels.a.accountSid but received "(malformed)"' });
  assert.throws(mk({ a: { type: 'email', host: 'h', port: 70000, from: 'f', to: ['t'] } }), { message: 'Expected an integer from 1 to 65535 for notify.channels.a.port but received 70000' });
  assert.throws(mk({ a: { type: 'email', host: 'h', from: 'f', to: [] } }), { message: 'Expected a non-empty array of strings for notify.channels.a.to but received an array of length 0' });
});

test('templates render placeholders; unknown paths render empty', async () => {
  const { render, makeContext, DEFAULT_SMS, DEFAULT_TEXT } = await import('../../src/integrations/notify/template.js');
  const ev = event('raised', 'person 3 crossed Gate (A→B)');
  const ctx = makeContext('raised', { ...ev.alert, details: { ...ev.alert.details, direction: 'a_to_b' } }, rule([]), 'https://v.example/s/1');
  assert.equal(render(DEFAULT_SMS, ctx), 'Vigil: person 3 crossed Gate (A→B) (cam1, 2026-01-05T12:00:00.000Z)');
  assert.equal(render(DEFAULT_TEXT, ctx), '[critical] person 3 crossed Gate (A→B) (camera cam1, rule Door, raised at 2026-01-05T12:00:00.000Z)');
  assert.equal(render('{{ alert.details.direction }}|{{alert.trackIds}}|{{alert.nothing}}|{{snapshot_url}}|{{rule.kind}}', ctx), 'a_to_b|1||https://v.example/s/1|zone_enter');
});
