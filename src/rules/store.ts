/**
 * Persistence for rules and alerts: two sub-databases of the `rules` scope of the server's Database (src/db/), or,
 * given a folder, of a Database of its own there.
 * - `alerts`: key = alertId (starts with the raise time as 20 digits, so key order = raise order), value = the
 *   alert with its nanosecond fields as decimal strings (exact, whatever the msgpack settings).
 * - `rules`: key = rule id, value = { source: "config" | "api", definition }.
 * Writes are LMDB's batched asynchronous puts (durable when the returned promise resolves); reads are synchronous.
 */
import type { Database } from 'lmdb';
import { DatabaseScope, resolveSource } from '../db/database.js';
import type { Alert, AlertState } from '../types.js';
import type { RuleDefinition } from './types.js';
import { VigilClosedError, expected } from '../errors.js';

type StoredAlert = Omit<Alert, 'raisedNs' | 'updatedNs' | 'clearedNs'> & { raisedNs: string; updatedNs: string; clearedNs: string | null };

export type RuleSource = 'config' | 'api';
export interface StoredRule {
  source: RuleSource;
  definition: RuleDefinition;
}

function toStored(a: Alert): StoredAlert {
  return { ...a, raisedNs: a.raisedNs.toString(), updatedNs: a.updatedNs.toString(), clearedNs: a.clearedNs === null ? null : a.clearedNs.toString() };
}
function fromStored(s: StoredAlert): Alert {
  return { ...s, raisedNs: BigInt(s.raisedNs), updatedNs: BigInt(s.updatedNs), clearedNs: s.clearedNs === null ? null : BigInt(s.clearedNs) };
}

export interface AlertFilter {
  cameraId?: string;
  ruleId?: string;
  state?: AlertState | AlertState[];
  /** Raised at or after (ns since the epoch). */
  since?: bigint;
  /** Raised before (ns since the epoch). */
  until?: bigint;
  /** Page size, default 100, at most 1000. */
  limit?: number;
  /** Cursor from a previous page (`nextCursor`): continue after this alert id. */
  cursor?: string;
  /** Default "desc" (newest first). */
  order?: 'asc' | 'desc';
}

export interface AlertPage {
  alerts: Alert[];
  /** Pass as `cursor` for the next page; null when there is none. */
  nextCursor: string | null;
}

const STATES: readonly AlertState[] = ['raised', 'updated', 'cleared', 'acknowledged'];

export class RuleStore {
  private scope: DatabaseScope | null;
  private readonly owned: boolean;
  private readonly alerts: Database<StoredAlert, string>;
  private readonly rules: Database<StoredRule, string>;

  /** `source`: the `rules` scope of the server's Database, or a folder (a Database of its own there). */
  constructor(source: DatabaseScope | string) {
    if (!(source instanceof DatabaseScope) && (typeof source !== 'string' || source === '')) throw expected('a folder path or a DatabaseScope', 'rules.path', source);
    const { scope, owned } = resolveSource(source, 'rules.path');
    this.scope = scope;
    this.owned = owned;
    this.alerts = scope.open<StoredAlert, string>('alerts');
    this.rules = scope.open<StoredRule, string>('rules');
  }

  private live(): DatabaseScope {
    if (!this.scope) throw new VigilClosedError('RuleStore');
    return this.scope;
  }

  putAlert(a: Alert): Promise<boolean> {
    this.live();
    return this.alerts.put(a.alertId, toStored(a));
  }

  /**
   * The alert's write as a function to run inside a transaction of the same Database (e.g. the detection store's
   * `appendEvent(event, write)`, so the alert and its stream event-log entry commit together).
   */
  alertWrite(a: Alert): () => void {
    this.live();
    const stored = toStored(a);
    return () => {
      this.alerts.putSync(a.alertId, stored);
    };
  }

  getAlert(id: string): Alert | undefined {
    this.live();
    const s = this.alerts.get(id);
    return s ? fromStored(s) : undefined;
  }

  listAlerts(f: AlertFilter = {}): AlertPage {
    this.live();
    const limit = f.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw expected('an integer from 1 to 1000', 'limit', f.limit);
    const states = f.state === undefined ? null : new Set(Array.isArray(f.state) ? f.state : [f.state]);
    if (states) for (const s of states) if (!STATES.includes(s)) throw expected(`an alert state (${STATES.join(', ')})`, 'state', s);
    const desc = (f.order ?? 'desc') === 'desc';
    // Keys start with the raise time: bound the scan by since/until.
    const lo = f.since !== undefined ? f.since.toString().padStart(20, '0') : undefined;
    const hi = f.until !== undefined ? f.until.toString().padStart(20, '0') : undefined;
    const opts: { start?: string; end?: string; reverse: boolean } = { reverse: desc };
    if (desc) {
      if (hi !== undefined) opts.start = hi;
      if (f.cursor !== undefined && (opts.start === undefined || f.cursor < opts.start)) opts.start = f.cursor;
      if (lo !== undefined) opts.end = lo;
    } else {
      if (lo !== undefined) opts.start = lo;
      if (f.cursor !== undefined && (opts.start === undefined || f.cursor > opts.start)) opts.start = f.cursor;
      if (hi !== undefined) opts.end = hi;
    }
    const out: Alert[] = [];
    let next: string | null = null;
    for (const { key, value } of this.alerts.getRange(opts)) {
      if (key === f.cursor) continue;
      const raised = BigInt(value.raisedNs);
      if (f.since !== undefined && raised < f.since) continue;
      if (f.until !== undefined && raised >= f.until) continue;
      if (f.cameraId !== undefined && value.cameraId !== f.cameraId) continue;
      if (f.ruleId !== undefined && value.ruleId !== f.ruleId) continue;
      if (states && !states.has(value.state)) continue;
      if (out.length === limit) {
        next = out[out.length - 1]!.alertId;
        break;
      }
      out.push(fromStored(value));
    }
    return { alerts: out, nextCursor: next };
  }

  listRules(): StoredRule[] {
    this.live();
    return [...this.rules.getRange({})].map((e) => e.value);
  }

  putRule(r: StoredRule): Promise<boolean> {
    this.live();
    return this.rules.put(r.definition.id, r);
  }

  removeRule(id: string): Promise<boolean> {
    this.live();
    return this.rules.remove(id);
  }

  /** Replaces every stored rule of one source in one transaction. */
  replaceSource(source: RuleSource, rules: RuleDefinition[]): Promise<void> {
    this.live();
    return this.rules.transaction(() => {
      for (const { key, value } of this.rules.getRange({})) if (value.source === source) this.rules.remove(key);
      for (const d of rules) this.rules.put(d.id, { source, definition: d });
    }) as Promise<void>;
  }

  /** Resolves when every write issued so far is durable. */
  async flushed(): Promise<void> {
    await this.live().database.flushed();
  }

  async close(): Promise<void> {
    if (!this.scope) return;
    const scope = this.scope;
    this.scope = null;
    if (this.owned) await scope.database.close();
  }
}
