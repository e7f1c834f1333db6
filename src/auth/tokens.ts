/**
 * JWT access and refresh tokens with jose: HS256 only (the algorithm list is pinned, so `none` and every other alg
 * are refused), `iss` and `aud` checked, distinct `typ` headers for access (15 min) and refresh (7 days) tokens.
 * Refresh rotates: each family (one login) has exactly one usable refresh jti; presenting an older one is reuse and
 * revokes the family, which also kills its access tokens (they carry the family id and are checked against it).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { VigilConfigError } from '../errors.js';
import { AuthError, authErrors } from './errors.js';
import { PRINCIPAL_SOURCES, isRole, type Principal, type PrincipalSource } from './policy.js';
import type { AuthStore, FamilyRecord } from './store.js';

export const ACCESS_TYP = 'vigil-access+jwt';
export const REFRESH_TYP = 'vigil-refresh+jwt';
export const MIN_SECRET_BYTES = 32;

/**
 * The HS256 secret: `configured` (UTF-8 bytes; refused when shorter than 256 bits), or else `<dataDir>/jwt-secret`,
 * created with 32 random bytes (base64url, mode 0600) on first run.
 */
export function loadJwtSecret(configured: string | undefined, dataDir: string): Uint8Array {
  if (configured !== undefined) {
    const bytes = new TextEncoder().encode(configured);
    if (bytes.length < MIN_SECRET_BYTES)
      throw new VigilConfigError(
        `auth.jwt.secret must be at least 256 bits (32 bytes); received ${bytes.length} bytes`,
      );
    return bytes;
  }
  const file = join(dataDir, 'jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const bytes = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  if (bytes.length < MIN_SECRET_BYTES)
    throw new VigilConfigError(`${file} must hold at least 256 bits (32 bytes); it holds ${bytes.length} bytes`);
  return new Uint8Array(bytes);
}

export interface TokenOptions {
  secret: Uint8Array;
  issuer: string;
  audience: string;
  accessTtlS?: number;
  refreshTtlS?: number;
  /** Clock for tests (ms since the epoch). */
  now?: () => number;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
  refresh_expires_in: number;
}

type Claims = { typ?: unknown; role?: unknown; cams?: unknown; src?: unknown; fam?: unknown; sub?: unknown; jti?: unknown };

export class TokenService {
  readonly accessTtlS: number;
  readonly refreshTtlS: number;
  private readonly now: () => number;
  private constructor(
    private readonly key: webcrypto.CryptoKey,
    private readonly secret: Buffer,
    private readonly opts: TokenOptions,
    private readonly store: AuthStore,
  ) {
    this.accessTtlS = opts.accessTtlS ?? 15 * 60;
    this.refreshTtlS = opts.refreshTtlS ?? 7 * 24 * 3600;
    this.now = opts.now ?? Date.now;
  }

  static async create(opts: TokenOptions, store: AuthStore): Promise<TokenService> {
    if (opts.secret.length < MIN_SECRET_BYTES)
      throw new VigilConfigError(
        `JWT secret must be at least 256 bits (32 bytes); received ${opts.secret.length} bytes`,
      );
    const key = await webcrypto.subtle.importKey('raw', opts.secret, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    return new TokenService(key, Buffer.from(opts.secret), opts, store);
  }

  /** Starts a new family (a login) and returns its first token pair. */
  async issue(p: Omit<Principal, 'family'>): Promise<TokenPair> {
    const family = randomUUID();
    const jti = randomUUID();
    const nowMs = this.now();
    this.store.putFamily(family, {
      sub: p.sub,
      role: p.role,
      cameras: p.cameras === '*' ? '*' : [...p.cameras],
      source: p.source,
      currentJti: jti,
      revoked: false,
      expiresMs: nowMs + this.refreshTtlS * 1000,
    });
    return this.pair({ ...p, family }, jti, nowMs);
  }

  private async pair(p: Principal, refreshJti: string, nowMs: number): Promise<TokenPair> {
    const iat = Math.floor(nowMs / 1000);
    const access = await new SignJWT({ role: p.role, cams: p.cameras, src: p.source, fam: p.family })
      .setProtectedHeader({ alg: 'HS256', typ: ACCESS_TYP })
      .setSubject(p.sub)
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.accessTtlS)
      .setJti(randomUUID())
      .sign(this.key);
    const refresh = await new SignJWT({ fam: p.family })
      .setProtectedHeader({ alg: 'HS256', typ: REFRESH_TYP })
      .setSubject(p.sub)
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.refreshTtlS)
      .setJti(refreshJti)
      .sign(this.key);
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: this.accessTtlS,
      refresh_expires_in: this.refreshTtlS,
    };
  }

  private async verify(token: string, typ: string): Promise<Claims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        typ,
        currentDate: new Date(this.now()),
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      return payload as Claims;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw authErrors.expired();
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'typ') throw authErrors.wrongType();
      throw authErrors.invalid();
    }
  }

  /** Verifies an access token and returns its principal; the session must not be revoked. */
  async verifyAccess(token: string): Promise<Principal> {
    return this.principalOf(await this.verify(token, ACCESS_TYP));
  }

  /**
   * The same verification as `verifyAccess`, synchronously, for the WebSocket upgrade: uWS 20.30 (the build that
   * loads here) lost about 1 in 75 connections (closed right after the 101) when the upgrade completed from the
   * promise continuation of an async verify, and none in 300 when upgrading synchronously. jose has no sync API
   * (WebCrypto), so this mirrors jose's checks in jose's order with node:crypto: compact form, header `alg` exactly
   * HS256 (`none` and every other alg refused) and no `crit`, HMAC-SHA256 compared in constant time, then `typ`,
   * required claims, `iss`, `aud`, `nbf`, `exp` (expired when exp <= now). test/unit/auth-tokens.test.ts checks
   * that both verifiers agree on every forged token.
   */
  verifyAccessSync(token: string): Principal {
    return this.principalOf(this.verifySync(token, ACCESS_TYP));
  }

  private verifySync(token: string, typ: string): Claims {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]*$/.test(p))) throw authErrors.invalid();
    const [h, p, sig] = parts as [string, string, string];
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      throw authErrors.invalid();
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw authErrors.invalid();
    const hd = header as Record<string, unknown>;
    if (hd['alg'] !== 'HS256' || 'crit' in hd || hd['b64'] !== undefined) throw authErrors.invalid();
    const want = createHmac('sha256', this.secret).update(`${h}.${p}`).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw authErrors.invalid();
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw authErrors.invalid();
    const c = claims as Record<string, unknown>;
    const norm = (t: string) => t.toLowerCase().replace(/^application\//, '');
    if (typeof hd['typ'] !== 'string' || norm(hd['typ']) !== norm(typ)) throw authErrors.wrongType();
    for (const k of ['iss', 'aud', 'sub', 'exp', 'iat', 'jti']) if (!Object.hasOwn(c, k)) throw authErrors.invalid();
    if (c['iss'] !== this.opts.issuer) throw authErrors.invalid();
    const aud = c['aud'];
    if (!(aud === this.opts.audience || (Array.isArray(aud) && aud.includes(this.opts.audience)))) throw authErrors.invalid();
    const now = Math.floor(this.now() / 1000);
    const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    if (!num(c['iat']) || !num(c['exp']) || (c['nbf'] !== undefined && !num(c['nbf']))) throw authErrors.invalid();
    if (c['nbf'] !== undefined && (c['nbf'] as number) > now) throw authErrors.invalid();
    if ((c['exp'] as number) <= now) throw authErrors.expired();
    return c as Claims;
  }

  private principalOf(c: Claims): Principal {
    if (
      typeof c.sub !== 'string' ||
      !isRole(c.role) ||
      typeof c.fam !== 'string' ||
      !PRINCIPAL_SOURCES.includes(c.src as PrincipalSource) ||
      !(c.cams === '*' || (Array.isArray(c.cams) && c.cams.every((x) => typeof x === 'string')))
    )
      throw authErrors.invalid();
    const fam = this.store.getFamily(c.fam);
    if (!fam || fam.revoked) throw authErrors.revoked();
    const exp = (c as { exp?: unknown }).exp;
    return {
      sub: c.sub,
      role: c.role,
      cameras: c.cams as string[] | '*',
      source: c.src as PrincipalSource,
      family: c.fam,
      ...(typeof exp === 'number' ? { expiresMs: exp * 1000 } : {}),
    };
  }

  /** Whether a session (family) is still live: not revoked, not pruned. For open streams' re-checks. */
  familyLive(family: string): boolean {
    const f = this.store.getFamily(family);
    return f !== undefined && !f.revoked;
  }

  private readonly revokeListeners = new Set<(families: readonly string[]) => void>();

  /** `listener` learns of every family revoked from now on (logout, reuse, user changes): open streams end. */
  onRevoked(listener: (families: readonly string[]) => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  private revoked(families: readonly string[]): void {
    if (families.length === 0) return;
    for (const l of this.revokeListeners) {
      try {
        l(families);
      } catch {
        /* a listener's failure must not undo a revocation */
      }
    }
  }

  /** Revokes every live session of one user except `keep` (its own, on a self-service password change). */
  revokeUser(sub: string, source: PrincipalSource, keep?: string): string[] {
    const ids = this.store.atomically(() => {
      const out: string[] = [];
      for (const id of this.store.liveFamiliesOf(sub, source)) {
        if (id === keep) continue;
        const f = this.store.getFamily(id)!;
        this.store.putFamily(id, { ...f, revoked: true });
        out.push(id);
      }
      return out;
    });
    this.revoked(ids);
    return ids;
  }

  /** Rotates: returns a new pair for the family of `refreshToken`. A stale (already rotated) token revokes it. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const c = await this.verify(refreshToken, REFRESH_TYP);
    if (typeof c.fam !== 'string' || typeof c.jti !== 'string' || typeof c.sub !== 'string') throw authErrors.invalid();
    const fam = c.fam;
    const presented = c.jti;
    const next = randomUUID();
    const nowMs = this.now();
    let reusedFamily = false;
    const outcome = this.store.atomically((): FamilyRecord | AuthError => {
      const f = this.store.getFamily(fam);
      if (!f || f.sub !== c.sub) return authErrors.invalid();
      if (f.revoked) return authErrors.revoked();
      if (f.currentJti !== presented) {
        this.store.putFamily(fam, { ...f, revoked: true });
        reusedFamily = true;
        return authErrors.reused();
      }
      const updated = { ...f, currentJti: next, expiresMs: nowMs + this.refreshTtlS * 1000 };
      this.store.putFamily(fam, updated);
      return updated;
    });
    if (reusedFamily) this.revoked([fam]);
    if (outcome instanceof AuthError) throw outcome;
    return this.pair(
      { sub: outcome.sub, role: outcome.role, cameras: outcome.cameras, source: outcome.source, family: fam },
      next,
      nowMs,
    );
  }

  /** Revokes the family of a refresh token (logout). Already-revoked families are fine; invalid tokens throw. */
  async revokeByRefresh(refreshToken: string): Promise<void> {
    const c = await this.verify(refreshToken, REFRESH_TYP);
    if (typeof c.fam !== 'string') throw authErrors.invalid();
    this.revokeFamily(c.fam);
  }

  revokeFamily(family: string): void {
    this.store.atomically(() => {
      const f = this.store.getFamily(family);
      if (f && !f.revoked) this.store.putFamily(family, { ...f, revoked: true });
    });
    // told even when it was revoked already: a stream may still be open on it
    this.revoked([family]);
  }
}
