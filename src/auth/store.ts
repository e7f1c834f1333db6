/**
 * LMDB persistence for auth: local users and refresh-token families, two sub-databases of the `auth` scope of the
 * server's Database (src/db/), or, given a folder, of a Database of its own in `<dataDir>/auth`. Writes are
 * synchronous transactions: login/refresh rates are small and the compare-and-rotate of a refresh family must be
 * atomic.
 */
import { join } from 'node:path';
import type { Database } from 'lmdb';
import { DatabaseScope, resolveSource } from '../db/database.js';
import { VigilClosedError } from '../errors.js';
import type { PrincipalSource, Role } from './policy.js';

export interface UserRecord {
  username: string;
  /** `scrypt$N$r$p$saltB64$hashB64` */
  passwordHash: string;
  role: Role;
  cameras: string[] | '*';
  createdMs: number;
  /** Shown in the login response and the user list; absent when not known. */
  email?: string;
  /** A disabled user cannot log in (its sessions were ended when it was disabled). */
  disabled?: boolean;
}

export interface FamilyRecord {
  sub: string;
  role: Role;
  cameras: string[] | '*';
  source: PrincipalSource;
  /** jti of the one refresh token of this family that may still be used. */
  currentJti: string;
  revoked: boolean;
  /** Family ends when its newest refresh token expires. */
  expiresMs: number;
}

export class AuthStore {
  private readonly scope: DatabaseScope;
  private readonly owned: boolean;
  readonly users: Database<UserRecord, string>;
  readonly families: Database<FamilyRecord, string>;
  private closed = false;

  /** `source`: the `auth` scope of the server's Database, or a data folder (a Database of its own in `<it>/auth`). */
  constructor(source: DatabaseScope | string) {
    const { scope, owned } = resolveSource(source instanceof DatabaseScope ? source : typeof source === 'string' && source !== '' ? join(source, 'auth') : source, 'dataDir');
    this.scope = scope;
    this.owned = owned;
    this.users = scope.open<UserRecord, string>('users');
    this.families = scope.open<FamilyRecord, string>('refresh_families');
  }

  private check(): void {
    if (this.closed) throw new VigilClosedError('AuthStore');
  }

  getUser(username: string): UserRecord | undefined {
    this.check();
    return this.users.get(username);
  }
  putUser(u: UserRecord): void {
    this.check();
    this.users.putSync(u.username, u);
  }
  removeUser(username: string): boolean {
    this.check();
    return this.users.removeSync(username);
  }
  /** Ids of the refresh-token families (sessions) of one user that are not revoked. */
  liveFamiliesOf(sub: string, source: PrincipalSource): string[] {
    this.check();
    const out: string[] = [];
    for (const { key, value } of this.families.getRange()) if (value.sub === sub && value.source === source && !value.revoked) out.push(key);
    return out;
  }
  listUsers(): UserRecord[] {
    this.check();
    return [...this.users.getRange().map(({ value }) => value)];
  }
  userCount(): number {
    this.check();
    return this.users.getCount();
  }

  getFamily(id: string): FamilyRecord | undefined {
    this.check();
    return this.families.get(id);
  }
  putFamily(id: string, f: FamilyRecord): void {
    this.check();
    this.families.putSync(id, f);
  }
  /** Another named sub-database of the auth scope (the SAML assertion-replay cache, src/auth/saml-cache.ts). */
  subDatabase<V>(name: string): Database<V, string> {
    this.check();
    return this.scope.open<V, string>(name);
  }
  /** Runs `fn` inside one synchronous write transaction. */
  atomically<T>(fn: () => T): T {
    this.check();
    return this.scope.transactionSync(fn);
  }
  /** Deletes expired families; returns how many. */
  pruneFamilies(nowMs: number): number {
    this.check();
    let n = 0;
    this.scope.transactionSync(() => {
      for (const { key, value } of this.families.getRange()) {
        if (value.expiresMs < nowMs) {
          this.families.removeSync(key);
          n++;
        }
      }
    });
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) await this.scope.database.close();
  }
}
