/**
 * A failure that can repeat on every frame (an inference error) must not flood the log: the first occurrence of
 * each distinct message is logged at once, repeats are counted and summed up in one line per `summaryMs` while
 * they go on ("... (repeated 148 times in the last 60 s)"). The total is a Prometheus counter and recent failures
 * make a health check degraded, so an operator sees them without reading the log.
 */
import { Counter, type Registry } from 'prom-client';
import type { HealthCheck, HealthCheckResult } from './health.js';

export interface ErrorTallyOptions {
  /** Logs one line (the first occurrence, then the summaries). */
  log: (message: string, fields: Record<string, unknown>) => void;
  /** Prometheus counter name, e.g. vigil_inference_errors_total; its help text. */
  metric?: { registry: Registry; name: string; help: string };
  /** Interval of the repeat summaries and the health window (default 60 s). */
  summaryMs?: number;
  now?: () => number;
}

interface Entry {
  count: number;
  /** Repeats since the last line logged about this message. */
  unlogged: number;
  lastLogged: number;
  last: number;
}

/** Distinct messages tracked at once; past it the oldest is forgotten (its next occurrence is logged again). */
const MAX_MESSAGES = 64;

export class ErrorTally {
  readonly #entries = new Map<string, Entry>();
  readonly #counter: Counter | null;
  readonly #summaryMs: number;
  readonly #now: () => number;
  #total = 0;
  #lastAt = -Infinity;
  #lastMessage = '';

  constructor(private readonly what: string, private readonly o: ErrorTallyOptions) {
    this.#summaryMs = o.summaryMs ?? 60_000;
    this.#now = o.now ?? Date.now;
    this.#counter = o.metric ? new Counter({ name: o.metric.name, help: o.metric.help, registers: [o.metric.registry] }) : null;
  }

  get total(): number {
    return this.#total;
  }

  report(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const now = this.#now();
    this.#total++;
    this.#counter?.inc();
    this.#lastAt = now;
    this.#lastMessage = message;
    let e = this.#entries.get(message);
    if (!e) {
      if (this.#entries.size >= MAX_MESSAGES) this.#entries.delete(this.#entries.keys().next().value!);
      e = { count: 1, unlogged: 0, lastLogged: now, last: now };
      this.#entries.set(message, e);
      this.o.log(`${this.what}: ${message}`, { count: 1 });
      return;
    }
    e.count++;
    e.unlogged++;
    e.last = now;
    if (now - e.lastLogged >= this.#summaryMs) this.#summarise(message, e, now);
  }

  /** Logs the repeats not logged yet (stop() calls it so the last ones are not lost). */
  flush(): void {
    const now = this.#now();
    for (const [message, e] of this.#entries) if (e.unlogged > 0) this.#summarise(message, e, now);
  }

  #summarise(message: string, e: Entry, now: number): void {
    this.o.log(`${this.what}: ${message} (repeated ${e.unlogged} times in the last ${Math.round((now - e.lastLogged) / 1000)} s)`, { count: e.count });
    e.unlogged = 0;
    e.lastLogged = now;
  }

  /** Degraded while a failure happened within the summary interval; the detail says how many and the last one. */
  healthCheck(): HealthCheck {
    return {
      critical: false,
      check: (): HealthCheckResult => {
        if (this.#now() - this.#lastAt > this.#summaryMs) return { status: 'ok' };
        return { status: 'degraded', detail: `${this.#total} ${this.what} errors since start; last: ${this.#lastMessage}` };
      },
    };
  }
}
