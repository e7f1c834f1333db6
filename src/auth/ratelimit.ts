/** Token-bucket limiter keyed by string (IP, username). Bounded: the oldest-touched keys are evicted past maxKeys. */
export interface RateLimit {
  /** Bucket size: attempts allowed in a burst. */
  max: number;
  /** Seconds for an empty bucket to refill completely. */
  windowS: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  private bucket(key: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.limit.max, atMs: t };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    } else {
      const refill = ((t - b.atMs) / 1000) * (this.limit.max / this.limit.windowS);
      b.tokens = Math.min(this.limit.max, b.tokens + refill);
      b.atMs = t;
      this.buckets.delete(key); // re-insert: Map order = least recently touched first
    }
    this.buckets.set(key, b);
    return b;
  }

  /** Seconds until one attempt is allowed (0 = allowed now). Does not consume. */
  retryAfterS(key: string): number {
    const b = this.bucket(key);
    if (b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - b.tokens) * this.limit.windowS) / this.limit.max));
  }

  /** Consumes one attempt. */
  take(key: string): void {
    const b = this.bucket(key);
    b.tokens = Math.max(0, b.tokens - 1);
  }

  reset(key: string): void {
    this.buckets.delete(key);
  }
}

interface Strikes {
  failures: number;
  /** Lockouts in a row without a success: each one doubles the next lock. */
  lockouts: number;
  lockedUntilMs: number;
  atMs: number;
}

/**
 * Failed logins per key (user and client address): `limit.max` failures, then the key is locked for
 * `limit.windowS` seconds, doubling with every further lockout (capped at `maxLockS`) until a success resets it.
 * Keyed per client, so an attacker guessing from one address locks out that address, never the real user at
 * another one. Bounded like RateLimiter: the least recently touched keys go first past maxKeys.
 */
export class FailureBackoff {
  private readonly keys = new Map<string, Strikes>();
  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
    readonly maxLockS = 3600,
    private readonly maxKeys = 100_000,
  ) {}

  /** Seconds until the key may try again (0: now). */
  retryAfterS(key: string): number {
    const s = this.keys.get(key);
    if (!s) return 0;
    const wait = s.lockedUntilMs - this.now();
    return wait > 0 ? Math.max(1, Math.ceil(wait / 1000)) : 0;
  }

  fail(key: string): void {
    const t = this.now();
    let s = this.keys.get(key);
    if (s) this.keys.delete(key);
    else {
      if (this.keys.size >= this.maxKeys) {
        const oldest = this.keys.keys().next();
        if (!oldest.done) this.keys.delete(oldest.value);
      }
      s = { failures: 0, lockouts: 0, lockedUntilMs: 0, atMs: t };
    }
    // a quiet day forgets old strikes
    if (t - s.atMs > 86_400_000) s = { failures: 0, lockouts: 0, lockedUntilMs: 0, atMs: t };
    s.atMs = t;
    s.failures++;
    if (s.failures >= this.limit.max) {
      s.failures = 0;
      s.lockouts++;
      const lockS = Math.min(this.maxLockS, this.limit.windowS * 2 ** Math.min(30, s.lockouts - 1));
      s.lockedUntilMs = t + lockS * 1000;
    }
    this.keys.set(key, s);
  }

  reset(key: string): void {
    this.keys.delete(key);
  }
}
