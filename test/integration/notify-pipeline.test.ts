/**
 * The chain the server wires: detections -> tracker -> rule service (LMDB alerts) -> notification outbox ->
 * webhook receiver on loopback (the outbound policy allows exactly its address:port: the documented test allowance).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrackerRegistry } from '../../src/tracking/tracker.js';
import { RuleService } from '../../src/rules/service.js';
import { NotificationService, verifyWebhookSignature } from '../../src/integrations/notify/index.js';
import type { DetectionBatch } from '../../src/types.js';

test('a person walking across a tripwire reaches a signed webhook once, and the alert is stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pipe-'));
  const bodies: { body: string; sig: string; ts: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ body: Buffer.concat(chunks).toString(), sig: String(req.headers['x-vigil-signature']), ts: String(req.headers['x-vigil-timestamp']) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const notify = new NotificationService({
    path: join(dir, 'notify'),
    channels: { ops: { type: 'webhook', url: `http://127.0.0.1:${port}/alerts`, secret: 'k3y' } },
    policy: { allow: [`127.0.0.1:${port}`] },
    baseDelayMs: 20,
    maxDelayMs: 100,
    pollMs: 20,
  });
  const rules = await RuleService.open({
    path: join(dir, 'rules'),
    channels: notify.channelNames(),
    configRules: [{ id: 'gate', name: 'Gate', kind: 'tripwire', line: { from: [0, 300], to: [768, 300] }, direction: 'a_to_b', classes: ['person'], notify: [{ channel: 'ops', template: '{{alert.message}} on {{alert.cameraId}}' }] }],
  });
  const pending: Promise<unknown>[] = [];
  rules.onAlert((ev, rule) => pending.push(notify.enqueue(ev, rule)));
  const tracker = new TrackerRegistry();
  try {
    const t0 = 1_767_614_400_000_000_000n;
    for (let i = 0; i < 20; i++) {
      const y2 = 200 + 10 * i; // feet cross y=300 between frames 10 and 11
      const batch: DetectionBatch = {
        cameraId: 'vtest', frameSequence: i, timestampNs: t0 + BigInt(i) * 100_000_000n, frameWidth: 768, frameHeight: 576,
        detections: [
          { classId: 0, className: 'person', confidence: 0.85, box: { x1: 300, y1: y2 - 120, x2: 350, y2 } },
          { classId: 2, className: 'car', confidence: 0.9, box: { x1: 500, y1: 250 + 5 * i, x2: 600, y2: 330 + 5 * i } }, // a car crossing too: not a person
        ],
      };
      rules.processFrame(tracker.update(batch));
    }
    await Promise.all(pending);
    await rules.flush();
    const stored = rules.listAlerts();
    assert.deepEqual(stored.alerts.map((a) => [a.ruleId, a.cameraId, a.trackIds, a.message, a.raisedNs]), [['gate', 'vtest', [1], 'person crossed Gate (A→B)', t0 + 11n * 100_000_000n]]);
    const deadline = Date.now() + 8000;
    while (notify.stats().delivered < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await notify.idle();
    assert.equal(bodies.length, 1);
    assert.equal(verifyWebhookSignature('k3y', bodies[0]!.sig, bodies[0]!.ts, bodies[0]!.body), true);
    const body = JSON.parse(bodies[0]!.body);
    assert.equal(body.text, 'person crossed Gate (A→B) on vtest');
    assert.equal(body.alert.alertId, stored.alerts[0]!.alertId);
    assert.deepEqual(body.alert.details, { kind: 'tripwire', severity: 'warning', direction: 'a_to_b', aToB: 1, bToA: 0, count: 1 });
    assert.deepEqual(rules.engine.counts('gate', 'vtest'), { aToB: 1, bToA: 0 });
  } finally {
    await rules.close();
    await notify.close();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});
