/**
 * AuthService: local users first, then LDAP (when configured) for usernames that are not local; login rate limits
 * per client address (every attempt) and per (username, client address) (failed attempts, with a doubling lockout:
 * a guesser elsewhere never locks the real user out); token issue / refresh / logout / verify; user changes that
 * end the user's sessions. Behind a reverse proxy listed in `trustedProxies` the client address comes from
 * X-Forwarded-For (src/net/address.ts clientAddress).
 */
import type { DatabaseScope } from '../db/database.js';
import { AuthStore } from './store.js';
import { AuthError, authErrors } from './errors.js';
import { LdapAuthenticator, type LdapConfig } from './ldap.js';
import type { Principal, PrincipalSource } from './policy.js';
import { SamlServiceProvider, type SamlConfig } from './saml.js';
import { FailureBackoff, RateLimiter, type RateLimit } from './ratelimit.js';
import { TokenService, loadJwtSecret, type TokenPair } from './tokens.js';
import { LocalUsers } from './users.js';
import { clientAddress, type AddressList } from '../net/address.js';
import { parseTrustedProxies } from './proxies.js';

export { parseTrustedProxies };

export interface AuthConfig {
  /** Folder for the LMDB auth store and the generated JWT secret. */
  dataDir: string;
  /** The `auth` scope of the server's Database (src/db/); omitted: a Database of its own in `<dataDir>/auth`. */
  database?: DatabaseScope;
  jwt?: {
    /** At least 32 bytes (UTF-8); omitted: generated into `<dataDir>/jwt-secret` on first run. */
    secret?: string;
    issuer?: string;
    audience?: string;
    accessTtlS?: number;
    refreshTtlS?: number;
  };
  ldap?: LdapConfig;
  /** SAML 2.0 SSO (src/auth/saml.ts); routes under /auth/saml/ exist only when this is set. */
  saml?: SamlConfig;
  /**
   * `loginPerIp`: every attempt from one client address. `loginFailuresPerUser`: failed attempts for one username
   * from one client address; past `max` that pair is locked for `windowS`, doubling with each further lockout.
   */
  rateLimits?: { loginPerIp?: RateLimit; loginFailuresPerUser?: RateLimit };
  /**
   * Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client; from any other peer the
   * header is ignored. Default none.
   */
  trustedProxies?: string[];
  /** Receives the generated first-run admin password (once). Default: printed to stdout. */
  announceInitialAdmin?: (username: string, password: string) => void;
  /** Test clock (ms since the epoch) for tokens and limits. */
  now?: () => number;
}

export interface LoginResult extends TokenPair {
  user: { id: string; username: string; email?: string; roles: string[]; cameras: string[] | '*'; source: PrincipalSource };
}

export class AuthService {
  /** Hourly removal of expired refresh-token families. */
  private readonly pruneTimer: NodeJS.Timeout;
  private constructor(
    readonly store: AuthStore,
    readonly tokens: TokenService,
    readonly users: LocalUsers,
    private readonly ldap: LdapAuthenticator | null,
    private readonly perIp: RateLimiter,
    private readonly perUser: FailureBackoff,
    now: () => number,
    private readonly trusted: AddressList,
    /** The SAML service provider; null when auth.saml is not configured. */
    readonly saml: SamlServiceProvider | null,
  ) {
    this.pruneTimer = setInterval(() => {
      try {
        this.store.pruneFamilies(now());
      } catch {
        /* store closed between ticks */
      }
    }, 3600_000);
    this.pruneTimer.unref();
  }

  static async open(cfg: AuthConfig): Promise<AuthService> {
    const trusted = parseTrustedProxies(cfg.trustedProxies);
    const secret = loadJwtSecret(cfg.jwt?.secret, cfg.dataDir);
    const store = new AuthStore(cfg.database ?? cfg.dataDir);
    try {
      const tokens = await TokenService.create(
        {
          secret,
          issuer: cfg.jwt?.issuer ?? 'vigil',
          audience: cfg.jwt?.audience ?? 'vigil-api',
          ...(cfg.jwt?.accessTtlS !== undefined ? { accessTtlS: cfg.jwt.accessTtlS } : {}),
          ...(cfg.jwt?.refreshTtlS !== undefined ? { refreshTtlS: cfg.jwt.refreshTtlS } : {}),
          ...(cfg.now ? { now: cfg.now } : {}),
        },
        store,
      );
      const users = new LocalUsers(store);
      await users.ensureInitialAdmin(
        cfg.announceInitialAdmin ??
          ((u, p) => process.stdout.write(`Vigil first run: created user "${u}" with password ${p} (shown once)\n`)),
      );
      const now = cfg.now ?? Date.now;
      return new AuthService(
        store,
        tokens,
        users,
        cfg.ldap ? new LdapAuthenticator(cfg.ldap) : null,
        new RateLimiter(cfg.rateLimits?.loginPerIp ?? { max: 20, windowS: 60 }, now),
        new FailureBackoff(cfg.rateLimits?.loginFailuresPerUser ?? { max: 5, windowS: 60 }, now),
        now,
        trusted,
        cfg.saml ? new SamlServiceProvider(cfg.saml, store, now) : null,
      );
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** The client's address for a request from `peer` (see clientAddress: X-Forwarded-For only from trusted proxies). */
  clientAddress(peer: string, forwardedFor: string | undefined): string {
    return clientAddress(peer, forwardedFor, this.trusted);
  }

  async login(username: string, password: string, ip: string): Promise<LoginResult> {
    const ipWait = this.perIp.retryAfterS(ip);
    if (ipWait > 0) throw authErrors.rateLimited(ipWait);
    // one user from one client: a guesser elsewhere never locks the real user out
    const userKey = `${username.toLowerCase()}\n${ip}`;
    const userWait = this.perUser.retryAfterS(userKey);
    if (userWait > 0) throw authErrors.rateLimited(userWait);
    this.perIp.take(ip);
    let principal: Omit<Principal, 'family'> | null = null;
    let email: string | undefined;
    if (this.users.exists(username) || !this.ldap) {
      const r = await this.users.verify(username, password);
      if (r.ok) {
        principal = r.principal;
        email = r.email;
      } else if (r.reason === 'disabled') throw authErrors.disabled();
    } else {
      const r = await this.ldap.authenticate(username, password);
      if (r.ok) {
        principal = r.principal;
        email = r.email;
      } else if (r.reason === 'no_role') throw authErrors.noRole();
    }
    if (!principal) {
      this.perUser.fail(userKey);
      throw authErrors.badCredentials();
    }
    this.perUser.reset(userKey);
    return this.session(principal, email);
  }

  /**
   * A login through SAML: the HTTP-POST binding's SAMLResponse checked by the service provider (throws SamlError),
   * counted against the per-address login limit like a password attempt, then the same session a password login
   * starts. `next`: the local path the browser goes to.
   */
  async samlLogin(samlResponse: string, relayState: string | undefined, ip: string): Promise<LoginResult & { next: string }> {
    if (!this.saml) throw authErrors.invalid();
    const ipWait = this.perIp.retryAfterS(ip);
    if (ipWait > 0) throw authErrors.rateLimited(ipWait);
    this.perIp.take(ip);
    const r = await this.saml.consume(samlResponse, relayState);
    return { ...(await this.session(r.principal, r.email)), next: r.next };
  }

  /** Starts a session (a refresh family) for an authenticated principal. */
  private async session(principal: Omit<Principal, 'family'>, email: string | undefined): Promise<LoginResult> {
    const pair = await this.tokens.issue(principal);
    return {
      ...pair,
      user: {
        id: `${principal.source}:${principal.sub}`,
        username: principal.sub,
        ...(email !== undefined ? { email } : {}),
        roles: [principal.role],
        cameras: principal.cameras === '*' ? '*' : [...principal.cameras],
        source: principal.source,
      },
    };
  }

  /** Ends every session of a local user but `keep` (role, scope or password changed; user disabled or deleted). */
  endSessionsOf(username: string, keep?: string): void {
    this.tokens.revokeUser(username, 'local', keep);
  }

  /** `listener` learns of every revoked session (family id): open streams of those sessions end. */
  onSessionsRevoked(listener: (families: readonly string[]) => void): () => void {
    return this.tokens.onRevoked(listener);
  }

  /** Whether a session is still live (not logged out or revoked). */
  sessionLive(family: string): boolean {
    try {
      return this.tokens.familyLive(family);
    } catch {
      return false; // store closed
    }
  }

  refresh(refreshToken: string): Promise<TokenPair> {
    return this.tokens.refresh(refreshToken);
  }

  logout(refreshToken: string): Promise<void> {
    return this.tokens.revokeByRefresh(refreshToken);
  }

  /** Verifies an access token (bearer) → principal. Throws AuthError. */
  verifyAccess(token: string | undefined): Promise<Principal> {
    if (!token) return Promise.reject(authErrors.missing());
    return this.tokens.verifyAccess(token);
  }

  /** Synchronous twin of verifyAccess (see TokenService.verifyAccessSync): for the WebSocket upgrade. */
  verifyAccessSync(token: string | undefined): Principal {
    if (!token) throw authErrors.missing();
    return this.tokens.verifyAccessSync(token);
  }

  close(): Promise<void> {
    clearInterval(this.pruneTimer);
    return this.store.close();
  }
}

export { AuthError };
