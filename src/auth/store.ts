/**
 * LMDB persistence for auth: local users and refresh-token families, in `<dataDir>/auth` (one LMDB environment,
 * two named databases). Writes are synchronous transactions: login/refresh rates are small and the
 * compare-and-rotate of a refresh family must be atomic.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { VigilClosedError } from '../errors.js';
import type { Role } from './policy.js';

export interface UserRecord {
  username: string;
  /** `scrypt$N$r$p$saltB64$hashB64` */
  passwordHash: string;
  role: Role;
  cameras: string[] | '*';
  createdMs: number;
}

export interface FamilyRecord {
  sub: string;
  role: Role;
  cameras: string[] | '*';
  source: 'local' | 'ldap';
  /** jti of the one refresh token of this family that may still be used. */
  currentJti: string;
  revoked: boolean;
  /** Family ends when its newest refresh token expires. */
  expiresMs: number;
}

export class AuthStore {
  private readonly root: RootDatabase;
  readonly users: Database<UserRecord, string>;
  readonly families: Database<FamilyRecord, string>;
  private closed = false;

  constructor(dataDir: string) {
    const path = join(dataDir, 'auth');
    mkdirSync(path, { recursive: true });
    this.root = open({ path, compression: false });
    this.users = this.root.openDB<UserRecord, string>({ name: 'users' });
    this.families = this.root.openDB<FamilyRecord, string>({ name: 'refresh_families' });
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
  /** Runs `fn` inside one synchronous write transaction. */
  atomically<T>(fn: () => T): T {
    this.check();
    return this.root.transactionSync(fn);
  }
  /** Deletes expired families; returns how many. */
  pruneFamilies(nowMs: number): number {
    this.check();
    let n = 0;
    this.root.transactionSync(() => {
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
    await this.root.close();
  }
}
