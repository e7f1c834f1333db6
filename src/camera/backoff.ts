/** Capped exponential backoff with jitter. Never gives up: the caller decides when to stop asking. */
export interface BackoffOptions {
  /** First delay, ms. */
  initialMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
  factor: number;
  /** Fraction of the delay removed at random (0..1): 0.2 gives a delay in [0.8 d, d]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** Delay before retry number `attempt` (1-based), ms. */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * o.factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - o.jitter * random()));
}
