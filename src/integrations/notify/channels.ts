/**
 * Notification channels: configuration (validated), payload rendering, and one send function per kind.
 *
 * - webhook: POST JSON; with a `secret`, headers X-Vigil-Timestamp (Unix seconds) and
 *   X-Vigil-Signature: "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + raw body). Receivers verify with
 *   `verifyWebhookSignature` (or the same two lines in any language) and reject stale timestamps. Every attempt
 *   of one delivery carries the same X-Vigil-Delivery id, so a receiver can drop the duplicates that
 *   at-least-once delivery allows.
 * - slack: Slack incoming webhook (POST JSON { text }); Slack answers 200 "ok", or 4xx with an error word
 *   (invalid_payload, invalid_token, channel_not_found, channel_is_archived...) that retrying cannot fix, or 429
 *   with Retry-After.
 * - email: SMTP through nodemailer; Message-ID derives from the delivery id.
 * - sms: Twilio's Messages API — POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded
 *   To/From/Body, HTTP basic auth (Account SID : Auth Token); 201 with the message resource. One delivery per
 *   recipient, so a retry never re-sends to the others.
 *
 * - vms: an action in a VMS source of `integrations.vms` (src/integrations/runtime.ts vmsAction): `record` starts a
 *   recording (Hikvision, Axis, Dahua) or places a bookmark (Milestone) of `durationS` on the alert's camera;
 *   `event` pushes an analytics event (Milestone user-defined event, Axis virtual input). The VMS camera is the
 *   one an imported camera came from, or `cameras: { <vigil camera id>: <VMS camera id> }` for configured ones.
 *
 * - sns: AWS SNS Publish (Query API, POST form, SigV4-signed with the channel's credentials) to a topic ARN, the
 *   rendered text as Message and the subject line as Subject; `endpoint` defaults to https://sns.<region>.amazonaws.com
 *   (the ARN's region). Throttling and 5xx retry; other refusals (bad signature, unknown topic) are permanent.
 *
 * Every URL goes through the outbound policy (src/net): webhooks, Slack, Twilio; the SMTP host too (resolved,
 * checked, and connected to by address with the name kept for TLS).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import nodemailer from 'nodemailer';
import { VigilConfigError, VigilError } from '../../errors.js';
import { at, bool, fail as failArg, httpUrl, int, isObject, onlyKeys, str } from '../../validate.js';
import { OutboundPolicy, VigilOutboundError, VigilUrlPolicyError, policyRequest, responseOf } from '../../net/outbound.js';
import { signV4, type AwsCredentials } from './sigv4.js';

export interface WebhookChannel {
  type: 'webhook';
  url: string;
  /** HMAC-SHA256 key; without it requests are unsigned. */
  secret: string | null;
  headers: Record<string, string>;
}
export interface SlackChannel {
  type: 'slack';
  url: string;
}
export interface EmailChannel {
  type: 'email';
  host: string;
  port: number;
  /** TLS from the start (465); otherwise STARTTLS when offered. */
  secure: boolean;
  auth: { user: string; pass: string } | null;
  from: string;
  to: string[];
}
export interface SmsChannel {
  type: 'sms';
  provider: 'twilio';
  accountSid: string;
  authToken: string;
  from: string;
  to: string[];
  /** Default https://api.twilio.com — configurable for tests and regional endpoints. */
  baseUrl: string;
}
export interface VmsChannel {
  type: 'vms';
  /** Id of a VMS source under integrations.vms. */
  source: string;
  action: 'record' | 'event';
  /** Recording length or bookmark span (record). */
  durationS: number;
  /** Vigil camera id -> VMS camera id, for cameras not imported from this source. */
  cameras: Record<string, string>;
}
export interface SnsChannel {
  type: 'sns';
  topicArn: string;
  region: string;
  endpoint: string;
  credentials: AwsCredentials;
}
export type ChannelConfig = WebhookChannel | SlackChannel | EmailChannel | SmsChannel | VmsChannel | SnsChannel;

const fail = (what: string, path: string, value: unknown): never => {
  throw failArg(what, path, value);
};
const isObj = isObject;
const url = httpUrl;
const list = (v: unknown, path: string): string[] => {
  if (!Array.isArray(v) || v.length === 0) return fail('a non-empty array of strings', path, v);
  return v.map((x, i) => str(x, at(path, i)));
};

/**
 * The one parser of the notification channels (`notify.channels` of the config, or NotificationService's
 * `channels`): messages carry the key path and never a secret value. Raises VigilConfigError (E_CONFIG): channels
 * come from the config file.
 */
export function parseChannelOptions(raw: unknown, path = 'notify.channels'): Map<string, ChannelConfig> {
  try {
    return parseChannels(raw, path);
  } catch (err) {
    if (err instanceof VigilError && err.code === 'E_ARGUMENT') throw new VigilConfigError(err.message);
    throw err;
  }
}

/** The keys of each channel type (unknown keys are refused with a suggestion). */
const CHANNEL_KEYS: Record<string, readonly string[]> = {
  webhook: ['type', 'url', 'secret', 'headers'],
  slack: ['type', 'url'],
  email: ['type', 'host', 'port', 'secure', 'auth', 'from', 'to'],
  sms: ['type', 'provider', 'accountSid', 'authToken', 'from', 'to', 'baseUrl'],
  vms: ['type', 'source', 'action', 'durationS', 'cameras'],
  sns: ['type', 'topicArn', 'region', 'endpoint', 'credentials'],
};
// arn:aws:sns:<region>:<account>:<topic> (also the aws-cn and aws-us-gov partitions)
const SNS_ARN = /^arn:aws(?:-cn|-us-gov)?:sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,256}(?:\.fifo)?)$/;

function parseChannels(raw: unknown, path: string): Map<string, ChannelConfig> {
  const out = new Map<string, ChannelConfig>();
  if (raw === undefined || raw === null) return out;
  if (!isObj(raw)) return fail('a map of channel name to channel', path, raw);
  for (const [name, c] of Object.entries(raw)) {
    const p = `${path}.${name}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) fail('a channel name of letters, digits, "_", "." or "-"', p, name);
    if (!isObj(c)) fail('a channel object with a type', p, c);
    const ch = c as Record<string, unknown>;
    if (typeof ch.type === 'string' && Object.hasOwn(CHANNEL_KEYS, ch.type)) onlyKeys(ch, p, CHANNEL_KEYS[ch.type]!);
    switch (ch.type) {
      case 'webhook': {
        const headers: Record<string, string> = {};
        if (ch.headers !== undefined) {
          if (!isObj(ch.headers)) fail('a map of header names to strings', `${p}.headers`, ch.headers);
          for (const [k, v] of Object.entries(ch.headers as object)) headers[k.toLowerCase()] = str(v, `${p}.headers.${k}`);
        }
        out.set(name, { type: 'webhook', url: url(ch.url, `${p}.url`), secret: ch.secret === undefined ? null : str(ch.secret, `${p}.secret`, { secret: true }), headers });
        break;
      }
      case 'slack':
        out.set(name, { type: 'slack', url: url(ch.url, `${p}.url`) });
        break;
      case 'email': {
        const port = int(ch.port, `${p}.port`, 1, 65535, 587);
        const secure = bool(ch.secure, `${p}.secure`, port === 465);
        let auth: EmailChannel['auth'] = null;
        if (ch.auth !== undefined) {
          if (!isObj(ch.auth)) fail('an object { user, pass }', `${p}.auth`, ch.auth);
          const a = ch.auth as Record<string, unknown>;
          onlyKeys(a, `${p}.auth`, ['user', 'pass']);
          auth = { user: str(a.user, `${p}.auth.user`), pass: str(a.pass, `${p}.auth.pass`, { secret: true }) };
        }
        out.set(name, { type: 'email', host: str(ch.host, `${p}.host`), port, secure, auth, from: str(ch.from, `${p}.from`), to: list(ch.to, `${p}.to`) });
        break;
      }
      case 'sms': {
        const provider = ch.provider ?? 'twilio';
        if (provider !== 'twilio') fail('"twilio"', `${p}.provider`, provider);
        const sid = str(ch.accountSid, `${p}.accountSid`, { secret: true });
        if (!/^AC[0-9a-fA-F]{32}$/.test(sid)) fail('a Twilio Account SID (AC + 32 hex digits)', `${p}.accountSid`, '(malformed)');
        out.set(name, {
          type: 'sms',
          provider: 'twilio',
          accountSid: sid,
          authToken: str(ch.authToken, `${p}.authToken`, { secret: true }),
          from: str(ch.from, `${p}.from`),
          to: list(ch.to, `${p}.to`),
          baseUrl: ch.baseUrl === undefined ? 'https://api.twilio.com' : url(ch.baseUrl, `${p}.baseUrl`).replace(/\/+$/, ''),
        });
        break;
      }
      case 'vms': {
        const action = ch.action ?? 'record';
        if (action !== 'record' && action !== 'event') fail('"record" or "event"', `${p}.action`, action);
        const cameras: Record<string, string> = {};
        if (ch.cameras !== undefined) {
          if (!isObj(ch.cameras)) fail('a map of Vigil camera ids to VMS camera ids', `${p}.cameras`, ch.cameras);
          for (const [k, v] of Object.entries(ch.cameras as object)) cameras[k] = str(v, `${p}.cameras.${k}`, { max: 256 });
        }
        out.set(name, {
          type: 'vms',
          source: str(ch.source, `${p}.source`, { max: 64 }),
          action: action as VmsChannel['action'],
          durationS: int(ch.durationS, `${p}.durationS`, 1, 3600, 60),
          cameras,
        });
        break;
      }
      case 'sns': {
        const arn = str(ch.topicArn, `${p}.topicArn`, { re: SNS_ARN, what: 'an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)' });
        const region = str(ch.region, `${p}.region`, { dflt: SNS_ARN.exec(arn)![1]!, re: /^[a-z]{2}(-[a-z]+)+-\d$/, what: 'an AWS region such as "eu-west-1"' });
        if (!isObj(ch.credentials)) fail('an object { accessKeyId, secretAccessKey[, sessionToken] }', `${p}.credentials`, ch.credentials);
        const c = ch.credentials as Record<string, unknown>;
        onlyKeys(c, `${p}.credentials`, ['accessKeyId', 'secretAccessKey', 'sessionToken']);
        out.set(name, {
          type: 'sns',
          topicArn: arn,
          region,
          endpoint: (ch.endpoint === undefined ? `https://sns.${region}.amazonaws.com` : url(ch.endpoint, `${p}.endpoint`)).replace(/\/+$/, ''),
          credentials: {
            accessKeyId: str(c.accessKeyId, `${p}.credentials.accessKeyId`),
            secretAccessKey: str(c.secretAccessKey, `${p}.credentials.secretAccessKey`, { secret: true }),
            ...(c.sessionToken !== undefined ? { sessionToken: str(c.sessionToken, `${p}.credentials.sessionToken`, { secret: true }) } : {}),
          },
        });
        break;
      }
      default:
        fail('a channel type ("webhook", "slack", "email", "sms", "vms", "sns")', `${p}.type`, ch.type);
    }
  }
  return out;
}

/** "sha256=<hex>" over `${timestamp}.${body}`. */
export function signWebhook(secret: string, timestamp: number, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Checks a received webhook: the signature over timestamp + "." + raw body, in constant time, and the timestamp
 * within `toleranceSeconds` of `nowSeconds` (replay protection).
 */
export function verifyWebhookSignature(secret: string, signature: string | undefined, timestamp: string | undefined, body: string | Buffer, nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = 300): boolean {
  if (!signature || !timestamp || !/^\d+$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const want = Buffer.from(signWebhook(secret, ts, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** What one delivery sends, fixed when it is enqueued. */
export type Payload =
  | { kind: 'webhook'; body: string; event: string }
  | { kind: 'slack'; body: string }
  | { kind: 'email'; subject: string; text: string; attachSnapshotOf: string | null }
  | { kind: 'sms'; to: string; body: string }
  | { kind: 'vms'; cameraId: string; label: string; message: string; time: string }
  | { kind: 'sns'; subject: string; message: string; attributes: Record<string, string> };

/** Runs a `vms` channel's action (the server's Integrations.vmsAction); throws Permanent/RetryableDeliveryError. */
export type VmsActionRunner = (channel: VmsChannel, payload: Extract<Payload, { kind: 'vms' }>) => Promise<SendResult>;

/** A failure retrying cannot fix (refused URL, 4xx other than 408/429, SMTP 5xx): dead-lettered at once. */
export class PermanentDeliveryError extends Error {}

export interface SendContext {
  deliveryId: string;
  policy: OutboundPolicy;
  timeoutMs: number;
  /** For email attachments: the JPEG of an alert's snapshot, when the server can make one. */
  snapshotJpeg?: ((alertId: string) => Promise<Buffer | null>) | undefined;
  /** For vms channels: the server's VMS sources; absent: such deliveries are dead-lettered. */
  vms?: VmsActionRunner | undefined;
}

export interface SendResult {
  /** Peer's id for the message where it gives one (Twilio SID, SMTP message id). */
  remoteId: string | null;
}

/** Seconds from a Retry-After header (delta-seconds form), or null. */
function retryAfterMs(err: unknown): number | null {
  const h = responseOf(err)?.headers['retry-after'];
  if (typeof h === 'string' && /^\d+$/.test(h)) return Number(h) * 1000;
  return null;
}

export class RetryableDeliveryError extends Error {
  constructor(message: string, readonly retryAfterMs: number | null = null) {
    super(message);
  }
}

function classifyHttp(err: unknown): never {
  if (err instanceof VigilUrlPolicyError) throw new PermanentDeliveryError(err.message);
  if (err instanceof VigilOutboundError) {
    const s = err.status;
    const body = responseOf(err)?.body?.slice(0, 200);
    const msg = body ? `${err.message}: ${body}` : err.message;
    if (err.code === 'E_URL_REDIRECT') throw new PermanentDeliveryError(msg);
    if (s !== null && s >= 400 && s < 500 && s !== 408 && s !== 429) throw new PermanentDeliveryError(msg);
    throw new RetryableDeliveryError(msg, retryAfterMs(err));
  }
  throw new RetryableDeliveryError((err as Error).message ?? String(err));
}

export async function send(ch: ChannelConfig, payload: Payload, ctx: SendContext): Promise<SendResult> {
  switch (ch.type) {
    case 'sns': {
      if (payload.kind !== 'sns') throw new PermanentDeliveryError('payload does not match the channel');
      const form = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', TopicArn: ch.topicArn, Message: payload.message, Subject: payload.subject });
      let i = 0;
      for (const [k, v] of Object.entries(payload.attributes)) {
        i++;
        form.set(`MessageAttributes.entry.${i}.Name`, k);
        form.set(`MessageAttributes.entry.${i}.Value.DataType`, 'String');
        form.set(`MessageAttributes.entry.${i}.Value.StringValue`, v);
      }
      const body = form.toString();
      const target = `${ch.endpoint}/`;
      const headers = signV4(
        { method: 'POST', url: target, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body },
        { credentials: ch.credentials, region: ch.region, service: 'sns' },
      );
      try {
        const res = await policyRequest(ctx.policy, target, { method: 'POST', headers, body, timeoutMs: ctx.timeoutMs });
        return { remoteId: /<MessageId>([^<]{1,128})<\/MessageId>/.exec(res.body)?.[1] ?? null };
      } catch (err) {
        // SNS says Throttling with 400: retry that one; other 4xx cannot succeed as sent.
        const code = /<Code>([^<]{1,64})<\/Code>/.exec(responseOf(err)?.body ?? '')?.[1];
        if (code === 'Throttling' || code === 'ThrottlingException') throw new RetryableDeliveryError(`SNS: ${code}`, retryAfterMs(err));
        return classifyHttp(err);
      }
    }
    case 'vms': {
      if (payload.kind !== 'vms') throw new PermanentDeliveryError('payload does not match the channel');
      if (!ctx.vms) throw new PermanentDeliveryError('no VMS sources are configured (integrations.vms)');
      return ctx.vms(ch, payload);
    }
    case 'webhook': {
      if (payload.kind !== 'webhook') throw new PermanentDeliveryError('payload does not match the channel');
      const ts = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = { ...ch.headers, 'content-type': 'application/json', 'x-vigil-delivery': ctx.deliveryId, 'x-vigil-event': payload.event };
      if (ch.secret) {
        headers['x-vigil-timestamp'] = String(ts);
        headers['x-vigil-signature'] = signWebhook(ch.secret, ts, payload.body);
      }
      try {
        await policyRequest(ctx.policy, ch.url, { method: 'POST', headers, body: payload.body, timeoutMs: ctx.timeoutMs });
      } catch (err) {
        classifyHttp(err);
      }
      return { remoteId: null };
    }
    case 'slack': {
      if (payload.kind !== 'slack') throw new PermanentDeliveryError('payload does not match the channel');
      try {
        await policyRequest(ctx.policy, ch.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload.body, timeoutMs: ctx.timeoutMs });
      } catch (err) {
        classifyHttp(err);
      }
      return { remoteId: null };
    }
    case 'sms': {
      if (payload.kind !== 'sms') throw new PermanentDeliveryError('payload does not match the channel');
      const form = new URLSearchParams({ To: payload.to, From: ch.from, Body: payload.body }).toString();
      const auth = Buffer.from(`${ch.accountSid}:${ch.authToken}`).toString('base64');
      try {
        const res = await policyRequest(ctx.policy, `${ch.baseUrl}/2010-04-01/Accounts/${ch.accountSid}/Messages.json`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${auth}`, accept: 'application/json' },
          body: form,
          timeoutMs: ctx.timeoutMs,
        });
        let sid: string | null = null;
        try {
          sid = (JSON.parse(res.body) as { sid?: string }).sid ?? null;
        } catch {
          sid = null;
        }
        return { remoteId: sid };
      } catch (err) {
        return classifyHttp(err);
      }
    }
    case 'email': {
      if (payload.kind !== 'email') throw new PermanentDeliveryError('payload does not match the channel');
      let addr: { address: string };
      try {
        addr = await ctx.policy.checkHost(ch.host, ch.port, `smtp://${ch.host}:${ch.port}`);
      } catch (err) {
        throw new PermanentDeliveryError((err as Error).message);
      }
      const transport = nodemailer.createTransport({
        host: addr.address,
        port: ch.port,
        secure: ch.secure,
        ...(ch.auth ? { auth: { user: ch.auth.user, pass: ch.auth.pass } } : {}),
        tls: { servername: ch.host },
        name: 'vigil',
        connectionTimeout: ctx.timeoutMs,
        greetingTimeout: ctx.timeoutMs,
        socketTimeout: ctx.timeoutMs,
      });
      try {
        const attachments: { filename: string; content: Buffer; contentType: string }[] = [];
        if (payload.attachSnapshotOf && ctx.snapshotJpeg) {
          const jpeg = await ctx.snapshotJpeg(payload.attachSnapshotOf);
          if (jpeg) attachments.push({ filename: 'snapshot.jpg', content: jpeg, contentType: 'image/jpeg' });
        }
        const info = await transport.sendMail({
          from: ch.from,
          to: ch.to,
          subject: payload.subject,
          text: payload.text,
          messageId: `<${ctx.deliveryId}@vigil>`,
          attachments,
        });
        return { remoteId: info.messageId ?? null };
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        const msg = `SMTP ${ch.host}:${ch.port}: ${(err as Error).message}`;
        if (typeof code === 'number' && code >= 500) throw new PermanentDeliveryError(msg);
        throw new RetryableDeliveryError(msg);
      } finally {
        transport.close();
      }
    }
  }
}
