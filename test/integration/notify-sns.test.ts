/**
 * The AWS SNS notification channel against a simulated SNS Query API endpoint on loopback: the simulator
 * recomputes the SigV4 signature (service "sns") from the request and the secret it knows, checks the payload hash
 * and the signed headers, and answers like SNS (PublishResponse / ErrorResponse XML). Delivered, retried on
 * Throttling and 5xx, dead-lettered on a bad signature; config errors name the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotificationService, parseChannelOptions } from '../../src/integrations/notify/index.js';
import { validateRule } from '../../src/rules/validate.js';
import type { AlertEvent } from '../../src/rules/types.js';
import { until } from '../helpers/wait.js';
import { PeerServer } from '../helpers/peer-server.js';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const REGION = 'eu-west-1';
const ARN = `arn:aws:sns:${REGION}:123456789012:vigil-alerts`;

const sha = (d: string | Buffer): string => createHash('sha256').update(d).digest('hex');
const hmac = (k: string | Buffer, d: string): Buffer => createHmac('sha256', k).update(d).digest();

class SnsSim extends PeerServer {
  readonly published: Array<Record<string, string>> = [];
  readonly failures: string[] = [];
  /** Answers queued for the next requests (then: success). */
  readonly script: Array<'throttle' | '500'> = [];
  private error(res: http.ServerResponse, status: number, type: string, code: string, message: string): void {
    this.failures.push(code);
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(`<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`);
  }
  /** SigV4 header form, recomputed here; null when it holds. */
  private verify(req: http.IncomingMessage, body: Buffer): string | null {
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/sns\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
    if (!m) return 'IncompleteSignature';
    const [, akid, date, region, signedList, signature] = m;
    if (akid !== AKID) return 'InvalidClientTokenId';
    if (region !== REGION) return 'SignatureDoesNotMatch';
    const signed = signedList!.split(';');
    for (const h of ['host', 'x-amz-date', 'content-type']) if (!signed.includes(h)) return 'IncompleteSignature';
    const amzDate = String(req.headers['x-amz-date']);
    if (amzDate.slice(0, 8) !== date || Math.abs(Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`) - Date.now()) > 300_000) return 'RequestExpired';
    if (req.headers['x-amz-content-sha256'] !== undefined && req.headers['x-amz-content-sha256'] !== sha(body)) return 'SignatureDoesNotMatch';
    const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonical = ['POST', '/', '', headers, signedList, sha(body)].join('\n');
    const scope = `${date}/${region}/sns/aws4_request`;
    const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, date!), region!), 'sns'), 'aws4_request');
    const want = createHmac('sha256', key).update(['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n')).digest('hex');
    return want === signature ? null : 'SignatureDoesNotMatch';
  }
  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const bad = this.verify(req, body);
    if (bad) return this.error(res, 403, 'Sender', bad, 'The request signature we calculated does not match the signature you provided.');
    const form = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    const next = this.script.shift();
    if (next === 'throttle') return this.error(res, 400, 'Sender', 'Throttling', 'Rate exceeded');
    if (next === '500') return this.error(res, 500, 'Receiver', 'InternalError', 'internal');
    if (form.Action !== 'Publish' || form.TopicArn !== ARN) return this.error(res, 404, 'Sender', 'NotFound', 'Topic does not exist');
    this.published.push(form);
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-${this.published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`);
  }
}

test('SNS channel: SigV4-signed Publish, attributes, retries on Throttling and 5xx, bad credentials dead-lettered', async () => {
  const sim = await new SnsSim().start();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sns-'));
  const port = new URL(sim.url).port;
  const channels = {
    sns: { type: 'sns', topicArn: ARN, endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } },
    'sns-bad': { type: 'sns', topicArn: ARN, endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: 'not-the-secret' } },
  };
  const notify = new NotificationService({ path: dir, channels, policy: { allow: [`127.0.0.1:${port}`] }, baseDelayMs: 20, maxDelayMs: 50, maxAttempts: 4 });
  const rule = validateRule({ id: 'door', name: 'Door', kind: 'zone_enter', severity: 'critical', zone: { points: [[0, 0], [1, 0], [1, 1]] }, notify: [{ channel: 'sns' }] });
  const badRule = validateRule({ id: 'door2', name: 'Door', kind: 'zone_enter', severity: 'critical', zone: { points: [[0, 0], [1, 0], [1, 1]] }, notify: [{ channel: 'sns-bad' }] });
  const ev = (id: string): AlertEvent => ({
    type: 'raised',
    alert: {
      alertId: id, ruleId: 'door', ruleName: 'Door', cameraId: 'cam1', state: 'raised', message: 'person 1 entered Door', trackIds: [1],
      raisedNs: 1_767_614_400_000_000_000n, updatedNs: 1_767_614_400_000_000_000n, clearedNs: null, acknowledgedBy: null, details: {},
    },
  });
  try {
    sim.script.push('throttle', '500');
    await notify.enqueue(ev('A1'), rule);
    await notify.enqueue(ev('A2'), badRule);
    await until(() => notify.stats().delivered === 1 && notify.stats().deadLettered === 1, 10_000, 'one delivered, one dead-lettered');
    assert.equal(notify.stats().retried, 2);
    assert.deepEqual([...sim.failures].sort(), ['InternalError', 'SignatureDoesNotMatch', 'Throttling']);
    assert.equal(sim.published.length, 1);
    assert.deepEqual(sim.published[0], {
      Action: 'Publish',
      Version: '2010-03-31',
      TopicArn: ARN,
      Message: '[critical] person 1 entered Door (camera cam1, rule Door, raised at 2026-01-05T12:00:00.000Z)',
      Subject: sim.published[0]!.Subject,
      'MessageAttributes.entry.1.Name': 'event',
      'MessageAttributes.entry.1.Value.DataType': 'String',
      'MessageAttributes.entry.1.Value.StringValue': 'raised',
      'MessageAttributes.entry.2.Name': 'camera',
      'MessageAttributes.entry.2.Value.DataType': 'String',
      'MessageAttributes.entry.2.Value.StringValue': 'cam1',
      'MessageAttributes.entry.3.Name': 'rule',
      'MessageAttributes.entry.3.Value.DataType': 'String',
      'MessageAttributes.entry.3.Value.StringValue': 'door',
      'MessageAttributes.entry.4.Name': 'severity',
      'MessageAttributes.entry.4.Value.DataType': 'String',
      'MessageAttributes.entry.4.Value.StringValue': 'critical',
      'MessageAttributes.entry.5.Name': 'alert',
      'MessageAttributes.entry.5.Value.DataType': 'String',
      'MessageAttributes.entry.5.Value.StringValue': 'A1',
    });
    assert.match(sim.published[0]!.Subject!, /^[\x20-\x7e]{1,100}$/);
    const dead = notify.deadLetters();
    assert.deepEqual(dead.map((d) => [d.channel, d.attempts]), [['sns-bad', 1]]);
    assert.match(String(dead[0]!.lastError), /403.*SignatureDoesNotMatch/s);
    assert.ok(!String(dead[0]!.lastError).includes('not-the-secret'));
  } finally {
    await notify.close();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // Config errors name the key and never echo a secret.
  assert.throws(() => parseChannelOptions({ s: { type: 'sns', topicArn: 'arn:aws:sqs:eu-west-1:123456789012:q', credentials: {} } }), {
    code: 'E_CONFIG',
    message: 'Expected an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>) for notify.channels.s.topicArn but received "arn:aws:sqs:eu-west-1:123456789012:q"',
  });
  assert.throws(() => parseChannelOptions({ s: { type: 'sns', topicArn: ARN, credentials: { accessKeyId: AKID, secretAccessKey: 5 } } }), {
    code: 'E_CONFIG',
    message: 'Expected a non-empty string for notify.channels.s.credentials.secretAccessKey but received (hidden)',
  });
  const parsed = parseChannelOptions({ s: { type: 'sns', topicArn: ARN, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } } }).get('s');
  assert.deepEqual(parsed, { type: 'sns', topicArn: ARN, region: REGION, endpoint: `https://sns.${REGION}.amazonaws.com`, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
});
