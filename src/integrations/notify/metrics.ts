/**
 * Prometheus metrics for notification delivery, read from the service's counters at scrape time:
 * vigil_notify_delivered_total, vigil_notify_retried_total, vigil_notify_dead_lettered_total (since start),
 * vigil_notify_pending, vigil_notify_in_flight, vigil_notify_dead_letters (stored).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NotificationService } from './service.js';

export function registerNotifyMetrics(registry: Registry, service: NotificationService): void {
  const read = () => {
    try {
      return service.stats();
    } catch {
      return null; // closed: report nothing new
    }
  };
  const counter = (name: string, help: string, pick: (s: NonNullable<ReturnType<typeof read>>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const s = read();
        if (!s) return;
        this.reset();
        this.inc(pick(s));
      },
    });
  const gauge = (name: string, help: string, pick: (s: NonNullable<ReturnType<typeof read>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = read();
        if (s) this.set(pick(s));
      },
    });
  counter('vigil_notify_delivered_total', 'Notifications delivered since start', (s) => s.delivered);
  counter('vigil_notify_retried_total', 'Failed notification attempts scheduled for retry since start', (s) => s.retried);
  counter('vigil_notify_dead_lettered_total', 'Notifications moved to the dead-letter store since start', (s) => s.deadLettered);
  gauge('vigil_notify_pending', 'Notifications waiting in the outbox', (s) => s.pending);
  gauge('vigil_notify_in_flight', 'Notification deliveries in progress', (s) => s.inFlight);
  gauge('vigil_notify_dead_letters', 'Notifications in the dead-letter store', (s) => s.deadLetterTotal);
}
