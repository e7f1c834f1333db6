/**
 * Health aggregation: other modules register a check; GET /health runs them all in parallel with a timeout and
 * reports each one's status and response time. Overall: every check ok → healthy; a failing critical check →
 * unhealthy (HTTP 503); anything else failing or degraded → degraded.
 */
export type ServiceStatus = 'ok' | 'degraded' | 'down';

export interface HealthCheckResult {
  status: ServiceStatus;
  /** Short human-readable detail; never a secret. */
  detail?: string;
}

export interface HealthCheck {
  check(): Promise<HealthCheckResult | ServiceStatus> | HealthCheckResult | ServiceStatus;
  /** A down critical service makes the whole server unhealthy (default true). */
  critical?: boolean;
  timeoutMs?: number;
}

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy';
  timestamp: string;
  services: Record<string, { status: ServiceStatus; response_time: number; detail?: string }>;
}

export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): () => void {
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  async run(): Promise<HealthReport> {
    const services: HealthReport['services'] = {};
    let overall: HealthReport['status'] = 'healthy';
    await Promise.all(
      [...this.checks].map(async ([name, hc]) => {
        const t0 = performance.now();
        let res: HealthCheckResult;
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<HealthCheckResult>((resolve) => {
            timer = setTimeout(() => resolve({ status: 'down', detail: 'timed out' }), hc.timeoutMs ?? 2000);
          });
          const r = await Promise.race([Promise.resolve().then(() => hc.check()), timeout]);
          res = typeof r === 'string' ? { status: r } : r;
        } catch (err) {
          res = { status: 'down', detail: err instanceof Error ? err.message : 'check failed' };
        } finally {
          clearTimeout(timer);
        }
        const ms = Math.round((performance.now() - t0) * 1000) / 1000;
        services[name] = { status: res.status, response_time: ms, ...(res.detail ? { detail: res.detail } : {}) };
        if (res.status === 'down' && (hc.critical ?? true)) overall = 'unhealthy';
        else if (res.status !== 'ok' && overall === 'healthy') overall = 'degraded';
      }),
    );
    return { status: overall, timestamp: new Date().toISOString(), services };
  }
}
