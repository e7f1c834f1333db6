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
