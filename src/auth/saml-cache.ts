/**
 * The two memories of the SAML service provider (src/auth/saml.ts), both bounded:
 *
 * - `PendingRequests`: ids of the AuthnRequests this process sent (SP-initiated login), each usable once, for
 *   `ttlMs`. In memory: anyone can ask for a login request, so when full the oldest is dropped (and counted) rather
 *   than refusing new logins; a server restart forgets them (a login in progress is started again).
 * - `AssertionReplayCache`: ids of the assertions already used for a login, in LMDB (the auth scope, sub-database
 *   `saml_assertions`), kept until the assertion could no longer be accepted anyway (its NotOnOrAfter plus the
 *   clock skew), so a restart does not reopen the replay window. Only assertions with a valid IdP signature get
 *   here; when it is full of live entries a login is refused (E_SAML_REPLAY_CACHE_FULL, counted) rather than an id
 *   forgotten early.
 */
import type { Database } from 'lmdb';

export class PendingRequests {
  private readonly ids = new Map<string, number>();
  /** Requests dropped unused because the map was full. */
  evicted = 0;

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  add(id: string): void {
    const t = this.now();
    if (this.ids.size >= this.max) this.prune(t);
    while (this.ids.size >= this.max) {
      const oldest = this.ids.keys().next().value as string;
      this.ids.delete(oldest);
      this.evicted++;
    }
    this.ids.set(id, t + this.ttlMs);
  }

  /** Whether `id` names an unexpired request of ours; it is used up either way. */
  take(id: string): boolean {
    const until = this.ids.get(id);
    if (until === undefined) return false;
    this.ids.delete(id);
    return this.now() < until;
  }

  private prune(t: number): void {
    for (const [id, until] of this.ids) if (until <= t) this.ids.delete(id);
  }
}

export type ConsumeResult = 'ok' | 'replay' | 'full';

export class AssertionReplayCache {
  private count: number;
  /** Logins refused because the cache held `max` unexpired assertion ids. */
  refusedFull = 0;

  constructor(
    private readonly db: Database<number, string>,
    private readonly max: number,
    private readonly now: () => number,
  ) {
    this.count = db.getCount();
  }

  /** Whether `id` was used already (and has not expired from the cache). */
  seen(id: string): boolean {
    const until = this.db.get(id);
    return until !== undefined && until > this.now();
  }

  /** Records `id` as used until `untilMs`, atomically with the check that it was not used already. */
  consume(id: string, untilMs: number): ConsumeResult {
    const t = this.now();
    const r = this.db.transactionSync((): ConsumeResult => {
      const until = this.db.get(id);
      if (until !== undefined && until > t) return 'replay';
      if (until === undefined && this.count >= this.max) this.prune(t);
      if (until === undefined && this.count >= this.max) return 'full';
      this.db.putSync(id, untilMs);
      if (until === undefined) this.count++;
      return 'ok';
    });
    if (r === 'full') this.refusedFull++;
    return r;
  }

  /** Removes expired ids; returns how many. */
  prune(t = this.now()): number {
    let n = 0;
    this.db.transactionSync(() => {
      for (const { key, value } of this.db.getRange()) {
        if (value <= t) {
          this.db.removeSync(key);
          n++;
        }
      }
    });
    this.count -= n;
    return n;
  }

  get size(): number {
    return this.count;
  }
}
