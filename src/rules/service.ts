/**
 * RuleService: what the server wires in. Owns the rule set (config rules + API rules, persisted), the engine
 * (hot-reloaded on every change), and the alert store; hands every alert transition to listeners (WebSocket
 * stream, notifications).
 *
 * Rule sources: rules from the config file have source "config" and are replaced as a set on (re)load
 * (`syncConfigRules`); rules created through the REST API have source "api" and are changed one by one. A config
 * rule cannot be changed or deleted through the API (E_RULE_READONLY), and ids are unique across both.
 */
import type { DatabaseScope } from '../db/database.js';
import { VigilError } from '../errors.js';
import type { Alert } from '../types.js';
import { RuleEngine } from './engine.js';
import { RuleStore, type AlertFilter, type AlertPage, type RuleSource } from './store.js';
import type { AlertEvent, RuleDefinition, RuleFrame } from './types.js';
import { validateRule, validateRules } from './validate.js';

export class RuleNotFoundError extends VigilError {
  constructor(what: 'rule' | 'alert', id: string) {
    super(what === 'rule' ? 'E_RULE_NOT_FOUND' : 'E_ALERT_NOT_FOUND', `No ${what} with id ${JSON.stringify(id)}`);
  }
}
export class RuleConflictError extends VigilError {}

export interface RuleServiceOptions {
  /** The `rules` scope of the server's Database (src/db/), or a folder for a Database of its own. */
  path: string | DatabaseScope;
  /** IANA zone for schedules without their own. Default "UTC". */
  timezone?: string;
  /** Rules from the config file (unvalidated; validated here, paths "rules[i]..."). */
  configRules?: unknown;
  /** Known notification channel names: rules naming others are refused. Null/absent: not checked. */
  channels?: ReadonlySet<string> | null;
  /**
   * Persists an alert transition: `write` stores the alert and must run inside a transaction of the same Database,
   * e.g. `(alert, write) => eventLog.appendWith({ kind: 'alerts', alert }, write)` so the alert and its stream
   * event-log entry commit together. Default: the alert alone (RuleStore.putAlert).
   */
  persistAlert?: (alert: Alert, write: () => void) => Promise<unknown>;
  /** Clock for API-driven transitions (ack, reload). Default Date.now() in ns. */
  nowNs?: () => bigint;
}

export interface RuleEntry {
  source: RuleSource;
  rule: RuleDefinition;
}

export type AlertListener = (event: AlertEvent, rule: RuleDefinition | undefined) => void;

export class RuleService {
  readonly store: RuleStore;
  readonly engine: RuleEngine;
  private entries = new Map<string, RuleEntry>();
  private readonly listeners = new Set<AlertListener>();
  private readonly channels: ReadonlySet<string> | null;
  private readonly nowNs: () => bigint;
  private readonly persistAlert: ((alert: Alert, write: () => void) => Promise<unknown>) | undefined;
  private pending = new Set<Promise<unknown>>();
  private writeError: unknown = null;

  private constructor(opts: RuleServiceOptions) {
    this.channels = opts.channels ?? null;
    this.nowNs = opts.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.persistAlert = opts.persistAlert;
    this.engine = new RuleEngine(opts.timezone === undefined ? {} : { timezone: opts.timezone });
    this.store = new RuleStore(opts.path);
  }

  static async open(opts: RuleServiceOptions): Promise<RuleService> {
    const s = new RuleService(opts);
    try {
      for (const r of s.store.listRules()) s.entries.set(r.definition.id, { source: r.source, rule: r.definition });
      if (opts.configRules !== undefined) await s.syncConfigRules(opts.configRules);
      else s.reload();
    } catch (err) {
      await s.store.close();
      throw err;
    }
    return s;
  }

  /** Subscribes to alert transitions; returns the unsubscribe function. */
  onAlert(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listRules(): RuleEntry[] {
    return [...this.entries.values()].map((e) => ({ source: e.source, rule: e.rule }));
  }

  getRule(id: string): RuleEntry {
    const e = this.entries.get(id);
    if (!e) throw new RuleNotFoundError('rule', id);
    return { source: e.source, rule: e.rule };
  }

  async createRule(raw: unknown): Promise<RuleDefinition> {
    const def = validateRule(raw, { channels: this.channels });
    if (this.entries.has(def.id)) throw new RuleConflictError('E_RULE_EXISTS', `A rule with id ${JSON.stringify(def.id)} exists already`);
    this.entries.set(def.id, { source: 'api', rule: def });
    await this.store.putRule({ source: 'api', definition: def });
    this.reload();
    return def;
  }

  /** Replaces an API rule; the body's id, when present, must match. */
  async updateRule(id: string, raw: unknown): Promise<RuleDefinition> {
    const e = this.editable(id);
    const body = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { id, ...(raw as object) } : raw;
    const def = validateRule(body, { channels: this.channels });
    if (def.id !== id) throw new RuleConflictError('E_RULE_ID_MISMATCH', `The rule id in the body (${JSON.stringify(def.id)}) differs from ${JSON.stringify(id)}`);
    e.rule = def;
    await this.store.putRule({ source: 'api', definition: def });
    this.reload();
    return def;
  }

  /** Merges top-level fields over an API rule (PATCH); `id` cannot change. */
  async patchRule(id: string, raw: unknown): Promise<RuleDefinition> {
    const e = this.editable(id);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return this.updateRule(id, raw);
    return this.updateRule(id, { ...(e.rule as unknown as Record<string, unknown>), ...(raw as Record<string, unknown>) });
  }

  async deleteRule(id: string): Promise<void> {
    this.editable(id);
    this.entries.delete(id);
    await this.store.removeRule(id);
    this.reload();
  }

  /** Replaces the config rules as a set (config (re)load). All-or-nothing: nothing changes when one is invalid. */
  async syncConfigRules(raw: unknown): Promise<void> {
    const defs = validateRules(raw, { channels: this.channels });
    for (const d of defs) {
      const e = this.entries.get(d.id);
      if (e && e.source === 'api') throw new RuleConflictError('E_RULE_EXISTS', `Config rule ${JSON.stringify(d.id)} has the id of a rule created through the API`);
    }
    const next = new Map<string, RuleEntry>();
    // Keep the existing order: config rules first in config order, then API rules.
    for (const d of defs) next.set(d.id, { source: 'config', rule: d });
    for (const [id, e] of this.entries) if (e.source === 'api') next.set(id, e);
    this.entries = next;
    await this.store.replaceSource('config', defs);
    this.reload();
  }

  /** Evaluates one tracked frame; alert transitions are persisted (asynchronously) and handed to listeners. */
  processFrame(frame: RuleFrame): AlertEvent[] {
    const events = this.engine.process(frame);
    this.emit(events);
    return events;
  }

  /** A camera stopped or was removed: its open condition alerts clear and its rule state is dropped. */
  dropCamera(cameraId: string): AlertEvent[] {
    const events = this.engine.dropCamera(cameraId, this.nowNs());
    this.emit(events);
    return events;
  }

  listAlerts(filter: AlertFilter = {}): AlertPage {
    return this.store.listAlerts(filter);
  }

  getAlert(id: string): Alert {
    const a = this.store.getAlert(id);
    if (!a) throw new RuleNotFoundError('alert', id);
    return a;
  }

  /** Acknowledges an alert for a user; a cleared alert keeps its state and records who acknowledged it. */
  async acknowledge(alertId: string, user: string): Promise<Alert> {
    const now = this.nowNs();
    let a = this.engine.acknowledge(alertId, user, now);
    if (!a) {
      const stored = this.store.getAlert(alertId);
      if (!stored) throw new RuleNotFoundError('alert', alertId);
      a = { ...stored, state: stored.state === 'cleared' ? 'cleared' : 'acknowledged', acknowledgedBy: user, updatedNs: now };
    }
    await this.persist(a);
    this.emit([{ type: 'acknowledged', alert: a }], false);
    return a;
  }

  /** Resolves when every alert write so far is durable; rejects with the first write error. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
    await this.store.flushed();
    if (this.writeError) throw this.writeError;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.store.close();
  }

  private editable(id: string): RuleEntry {
    const e = this.entries.get(id);
    if (!e) throw new RuleNotFoundError('rule', id);
    if (e.source === 'config') throw new RuleConflictError('E_RULE_READONLY', `Rule ${JSON.stringify(id)} is defined in the config file; change it there`);
    return e;
  }

  /** Stores an alert (with its event-log entry when the server wired `persistAlert`). */
  private persist(alert: Alert): Promise<unknown> {
    return this.persistAlert ? this.persistAlert(alert, this.store.alertWrite(alert)) : this.store.putAlert(alert);
  }

  private reload(): void {
    const events = this.engine.setRules([...this.entries.values()].map((e) => e.rule), this.nowNs());
    this.emit(events);
  }

  private emit(events: AlertEvent[], persist = true): void {
    for (const ev of events) {
      if (persist) {
        const p = this.persist(ev.alert).catch((err: unknown) => {
          this.writeError ??= err;
        });
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      }
      const rule = this.entries.get(ev.alert.ruleId)?.rule;
      for (const l of this.listeners) {
        try {
          l(ev, rule);
        } catch {
          // A listener's failure must not stop rule evaluation or other listeners.
        }
      }
    }
  }
}
