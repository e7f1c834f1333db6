/**
 * NotificationService: at-least-once delivery of alert notifications.
 *
 * - `enqueue(event, rule)` renders one delivery per (rule notify entry, channel[, SMS recipient]) and writes them
 *   to the LMDB outbox before returning (the promise resolves when they are durable).
 * - A pump delivers due entries (bounded concurrency). Success removes the entry. A retryable failure (network,
 *   timeout, 5xx, 408, 429, SMTP 4xx) schedules the next attempt after a capped exponential backoff with jitter
 *   (base * 2^(attempt-1), capped at maxDelayMs, then "equal jitter": half fixed, half random; a longer
 *   Retry-After wins, still capped). After `maxAttempts` attempts, or at once for a failure retrying cannot fix
 *   (refused by the URL policy, redirect, other 4xx, SMTP 5xx), the entry moves to the dead-letter database.
 * - The outbox survives restarts: `open` resumes every pending entry. An entry whose delivery was in flight when
 *   the process died is delivered again — at-least-once; receivers dedupe on the delivery id (webhook header
 *   X-Vigil-Delivery, email Message-ID).
 * - Counters for metrics and /health: delivered, retried, deadLettered (since start), pending and deadLetterTotal
 *   (in the database), inFlight.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from 'lmdb';
import { DatabaseScope, resolveSource } from '../../db/database.js';
import { VigilClosedError, VigilConfigError, expected } from '../../errors.js';
import { OutboundPolicy, type OutboundPolicyOptions } from '../../net/outbound.js';
import type { AlertEvent, NotifySpec, RuleDefinition } from '../../rules/types.js';
import type { Alert } from '../../types.js';
import { PermanentDeliveryError, RetryableDeliveryError, send, parseChannelOptions, type ChannelConfig, type Payload, type VmsActionRunner } from './channels.js';
import { DEFAULT_SMS, DEFAULT_SUBJECT, DEFAULT_TEXT, makeContext, render } from './template.js';

export interface OutboxEntry {
  id: string;
  channel: string;
  alertId: string;
  ruleId: string;
  event: string;
  payload: Payload;
  attempts: number;
  createdMs: number;
  nextAttemptMs: number;
  lastError: string | null;
}

export interface DeadLetter extends OutboxEntry {
  deadMs: number;
}

export interface NotifyStats {
  delivered: number;
  retried: number;
  deadLettered: number;
  pending: number;
  inFlight: number;
  deadLetterTotal: number;
}

export interface NotificationServiceOptions {
  /** The `notify` scope of the server's Database; or omit it and give `path`. */
  database?: DatabaseScope;
  /** Folder of an outbox Database of its own (created if missing); ignored when `database` is given. */
  path?: string;
  /** The `notify.channels` config map (validated here). */
  channels: unknown;
  /** Outbound URL policy (or its options). Default: strict. */
  policy?: OutboundPolicy | OutboundPolicyOptions;
  /** Attempts before dead-lettering, default 8. */
  maxAttempts?: number;
  /** First retry delay, default 1000 ms. */
  baseDelayMs?: number;
  /** Retry delay cap, default 300000 ms (5 min). */
  maxDelayMs?: number;
  /** Deliveries in flight at once, default 4. */
  concurrency?: number;
  /** How often due entries are looked for, default 500 ms (new entries are tried at once). */
  pollMs?: number;
  /** Per-attempt timeout, default 10000 ms. */
  timeoutMs?: number;
  /** Link to an alert's snapshot for messages ("link"), e.g. `${publicUrl}/alerts/${id}/snapshot`. */
  snapshotUrl?: (alert: Alert) => string | null;
  /** JPEG of an alert's snapshot for email attachments ("attach"). */
  snapshotJpeg?: (alertId: string) => Promise<Buffer | null>;
  /** Runs `vms` channels' actions (the server's Integrations.vmsAction); absent: they are dead-lettered. */
  vms?: VmsActionRunner;
  /** Start the pump at once (default true). */
  autoStart?: boolean;
  /** Random source for jitter (tests), default Math.random. */
  random?: () => number;
}

function alertJson(a: Alert): Record<string, unknown> {
  return { ...a, raisedNs: a.raisedNs.toString(), updatedNs: a.updatedNs.toString(), clearedNs: a.clearedNs === null ? null : a.clearedNs.toString() };
}

let idSeq = 0;
const idSalt = randomBytes(3).toString('hex');
function newId(nowMs: number): string {
  idSeq = (idSeq + 1) % 0x100000000;
  return `${String(nowMs).padStart(15, '0')}-${idSeq.toString(16).padStart(8, '0')}${idSalt}`;
}

export class NotificationService {
  readonly channels: ReadonlyMap<string, ChannelConfig>;
  private env: DatabaseScope | null;
  private readonly ownsDatabase: boolean;
  private readonly outbox: Database<OutboxEntry, string>;
  private readonly dead: Database<DeadLetter, string>;
  private readonly policy: OutboundPolicy;
  private readonly o: Required<Omit<NotificationServiceOptions, 'policy' | 'snapshotUrl' | 'snapshotJpeg' | 'channels' | 'path' | 'database' | 'vms'>>;
  private readonly vms: VmsActionRunner | undefined;
  private readonly snapshotUrl: ((alert: Alert) => string | null) | undefined;
  private readonly snapshotJpeg: ((alertId: string) => Promise<Buffer | null>) | undefined;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** id -> next attempt (ms), mirrors the outbox so the pump never decodes entries that are not due. */
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  private closing = false;
  private pumpAgain = false;
  private counters = { delivered: 0, retried: 0, deadLettered: 0 };
  private idleWaiters: (() => void)[] = [];

  constructor(opts: NotificationServiceOptions) {
    if (opts?.database !== undefined && !(opts.database instanceof DatabaseScope)) throw expected('a DatabaseScope', 'notify.database', opts.database);
    if (opts?.database === undefined && (typeof opts?.path !== 'string' || opts.path === '')) throw expected('a folder path', 'notify.path', opts?.path);
    this.channels = parseChannelOptions(opts.channels);
    this.policy = opts.policy instanceof OutboundPolicy ? opts.policy : new OutboundPolicy(opts.policy ?? {});
    const o = {
      maxAttempts: opts.maxAttempts ?? 8,
      baseDelayMs: opts.baseDelayMs ?? 1000,
      maxDelayMs: opts.maxDelayMs ?? 300_000,
      concurrency: opts.concurrency ?? 4,
      pollMs: opts.pollMs ?? 500,
      timeoutMs: opts.timeoutMs ?? 10_000,
      autoStart: opts.autoStart ?? true,
      random: opts.random ?? Math.random,
    };
    for (const k of ['maxAttempts', 'concurrency'] as const) if (!Number.isInteger(o[k]) || o[k] < 1) throw expected('an integer >= 1', `notify.${k}`, o[k]);
    for (const k of ['baseDelayMs', 'maxDelayMs', 'pollMs', 'timeoutMs'] as const) if (typeof o[k] !== 'number' || !(o[k] > 0)) throw expected('a number > 0', `notify.${k}`, o[k]);
    this.o = o;
    this.snapshotUrl = opts.snapshotUrl;
    this.snapshotJpeg = opts.snapshotJpeg;
    this.vms = opts.vms;
    const { scope, owned } = resolveSource(opts.database ?? opts.path!, 'notify.path');
    this.env = scope;
    this.ownsDatabase = owned;
    this.outbox = scope.open<OutboxEntry, string>('outbox');
    this.dead = scope.open<DeadLetter, string>('deadletter');
    for (const { key, value } of this.outbox.getRange({})) this.due.set(key, value.nextAttemptMs);
    if (o.autoStart) this.start();
  }

  /** Names of the configured channels (for rule validation). */
  channelNames(): Set<string> {
    return new Set(this.channels.keys());
  }

  /** Starts (or resumes) delivering, including entries left pending by an earlier run. */
  start(): void {
    this.live();
    if (this.timer) return;
    this.timer = setInterval(() => this.pump(), this.o.pollMs);
    this.timer.unref();
    this.pump();
  }

  /**
   * Queues the notifications a rule asks for on this alert transition. Resolves with the delivery ids once they
   * are durable in the outbox. Unknown channels are a configuration error (rules are validated against the
   * channel names, so this only happens when a channel was removed from the config).
   */
  async enqueue(event: AlertEvent, rule: RuleDefinition | undefined): Promise<string[]> {
    this.live();
    if (!rule) return [];
    const now = Date.now();
    const entries: OutboxEntry[] = [];
    for (const spec of rule.notify) {
      if (!(spec.on as string[]).includes(event.type)) continue;
      const ch = this.channels.get(spec.channel);
      if (!ch) throw new VigilConfigError(`Rule ${rule.id} notifies channel "${spec.channel}", which is not configured`);
      for (const payload of this.render(ch, spec, event, rule)) {
        entries.push({ id: newId(now), channel: spec.channel, alertId: event.alert.alertId, ruleId: rule.id, event: event.type, payload, attempts: 0, createdMs: now, nextAttemptMs: now, lastError: null });
      }
    }
    if (entries.length === 0) return [];
    await this.outbox.transaction(() => {
      for (const e of entries) this.outbox.put(e.id, e);
    });
    for (const e of entries) this.due.set(e.id, e.nextAttemptMs);
    this.pump();
    return entries.map((e) => e.id);
  }

  stats(): NotifyStats {
    this.live();
    return {
      ...this.counters,
      pending: this.outbox.getCount(),
      inFlight: this.inFlight.size,
      deadLetterTotal: this.dead.getCount(),
    };
  }

  /** For /health: degraded when something was dead-lettered since start or the outbox backs up. */
  health(backlogLimit = 1000): { status: 'ok' | 'degraded'; stats: NotifyStats } {
    const s = this.stats();
    return { status: s.deadLettered > 0 || s.pending > backlogLimit ? 'degraded' : 'ok', stats: s };
  }

  pendingEntries(): OutboxEntry[] {
    this.live();
    return [...this.outbox.getRange({})].map((e) => e.value);
  }

  deadLetters(): DeadLetter[] {
    this.live();
    return [...this.dead.getRange({})].map((e) => e.value);
  }

  /** Moves a dead letter back into the outbox with a fresh attempt budget. */
  async requeue(id: string): Promise<boolean> {
    this.live();
    const d = this.dead.get(id);
    if (!d) return false;
    const { deadMs: _deadMs, ...entry } = d;
    const next = Date.now();
    await this.outbox.transaction(() => {
      this.outbox.put(id, { ...entry, attempts: 0, nextAttemptMs: next, lastError: d.lastError });
      this.dead.remove(id);
    });
    this.due.set(id, next);
    this.pump();
    return true;
  }

  /** Resolves when nothing is in flight and nothing is due now (tests, shutdown). */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.inFlight.size === 0 && !this.hasDue(Date.now())) return;
      await new Promise<void>((r) => {
        this.idleWaiters.push(r);
        setTimeout(r, 20).unref();
      });
    }
  }

  /** Stops the pump, waits for deliveries in flight, closes the database. Pending entries stay for the next run. */
  async close(): Promise<void> {
    if (!this.env) return;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
    const env = this.env;
    this.env = null;
    // the outbox's writes are awaited where they are made; a shared Database is closed by its owner
    if (this.ownsDatabase) await env.database.close();
  }

  private live(): DatabaseScope {
    if (!this.env) throw new VigilClosedError('NotificationService');
    return this.env;
  }

  private render(ch: ChannelConfig, spec: NotifySpec, event: AlertEvent, rule: RuleDefinition): Payload[] {
    const snapshotUrl = spec.snapshot === 'none' ? null : (this.snapshotUrl?.(event.alert) ?? null);
    const ctx = makeContext(event.type, event.alert, rule, snapshotUrl);
    let text = render(spec.template ?? (ch.type === 'sms' ? DEFAULT_SMS : DEFAULT_TEXT), ctx);
    if (snapshotUrl && !(spec.template ?? '').includes('snapshot_url') && (ch.type !== 'email' || spec.snapshot === 'link')) text += ` ${snapshotUrl}`;
    switch (ch.type) {
      case 'webhook':
        return [{ kind: 'webhook', event: event.type, body: JSON.stringify({ event: event.type, text, alert: alertJson(event.alert), rule: { id: rule.id, name: rule.name, kind: rule.kind, severity: rule.severity }, snapshot_url: snapshotUrl }) }];
      case 'slack':
        return [{ kind: 'slack', body: JSON.stringify({ text }) }];
      case 'email':
        return [{ kind: 'email', subject: render(DEFAULT_SUBJECT, ctx), text, attachSnapshotOf: spec.snapshot === 'attach' ? event.alert.alertId : null }];
      case 'sms':
        return ch.to.map((to) => ({ kind: 'sms' as const, to, body: text.slice(0, 1600) }));
      case 'sns':
        return [{
          kind: 'sns',
          // SNS subjects: at most 100 printable ASCII characters, no line breaks.
          subject: render(DEFAULT_SUBJECT, ctx).replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
          message: text,
          attributes: { event: event.type, camera: event.alert.cameraId, rule: rule.id, severity: rule.severity, alert: event.alert.alertId },
        }];
      case 'vms':
        return [{ kind: 'vms', cameraId: event.alert.cameraId, label: rule.name, message: text, time: new Date(Number(event.alert.raisedNs / 1_000_000n)).toISOString() }];
    }
  }

  private hasDue(now: number): boolean {
    for (const [id, next] of this.due) if (next <= now && !this.inFlight.has(id)) return true;
    return false;
  }

  private pump(): void {
    if (!this.env || this.closing) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const now = Date.now();
        for (const [id, next] of this.due) {
          if (this.inFlight.size >= this.o.concurrency) break;
          if (next > now || this.inFlight.has(id)) continue;
          const value = this.outbox.get(id);
          if (!value) {
            this.due.delete(id);
            continue;
          }
          const p = this.deliver(value).finally(() => {
            this.inFlight.delete(id);
            const w = this.idleWaiters;
            this.idleWaiters = [];
            for (const r of w) r();
            this.pump();
          });
          this.inFlight.set(id, p);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private backoff(attempts: number, retryAfter: number | null): number {
    const exp = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.min(attempts - 1, 30));
    const jittered = exp / 2 + this.o.random() * (exp / 2);
    return Math.min(this.o.maxDelayMs, Math.max(jittered, retryAfter ?? 0));
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const ch = this.channels.get(entry.channel);
    let error: Error;
    try {
      if (!ch) throw new PermanentDeliveryError(`channel "${entry.channel}" is no longer configured`);
      await send(ch, entry.payload, { deliveryId: entry.id, policy: this.policy, timeoutMs: this.o.timeoutMs, snapshotJpeg: this.snapshotJpeg, vms: this.vms });
      if (!this.env) return;
      await this.outbox.remove(entry.id);
      this.due.delete(entry.id);
      this.counters.delivered++;
      return;
    } catch (err) {
      error = err as Error;
    }
    if (!this.env) return;
    const attempts = entry.attempts + 1;
    const lastError = error.message;
    if (error instanceof PermanentDeliveryError || attempts >= this.o.maxAttempts) {
      const dead: DeadLetter = { ...entry, attempts, lastError, deadMs: Date.now() };
      await this.outbox.transaction(() => {
        this.dead.put(entry.id, dead);
        this.outbox.remove(entry.id);
      });
      this.due.delete(entry.id);
      this.counters.deadLettered++;
      return;
    }
    const retryAfter = error instanceof RetryableDeliveryError ? error.retryAfterMs : null;
    const next = Date.now() + this.backoff(attempts, retryAfter);
    await this.outbox.put(entry.id, { ...entry, attempts, lastError, nextAttemptMs: next });
    this.due.set(entry.id, next);
    this.counters.retried++;
  }
}
