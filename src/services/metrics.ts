/** Prometheus gauges the services register: one shape for "a value per camera, read when scraped". */
import { Gauge, type Registry } from 'prom-client';

/** A gauge labelled by camera whose values are read at scrape time. */
export function perCameraGauge(registry: Registry, name: string, help: string, read: () => Iterable<readonly [camera: string, value: number]>): void {
  new Gauge({
    name,
    help,
    labelNames: ['camera'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [camera, value] of read()) this.set({ camera }, value);
    },
  });
}
