/**
 * Local users: scrypt password hashes (node:crypto; N=2^15, r=8, p=1, 16-byte salt, 32-byte key) kept in LMDB.
 * First run (no users at all) creates `admin` with a generated password that is handed to `announce` once and never
 * stored in clear or logged again.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { expected } from '../errors.js';
import { isRole, type Principal, type Role } from './policy.js';
import type { AuthStore, UserRecord } from './store.js';

const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;
const MAXMEM = 64 * 1024 * 1024;

function scrypt(password: string, salt: Buffer, n: number, r: number, p: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, len, { N: n, r, p, maxmem: MAXMEM }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, N, R, P, KEYLEN);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4]!, 'base64');
  const want = Buffer.from(parts[5]!, 'base64');
  const got = await scrypt(password, salt, n, r, p, want.length);
  return got.length === want.length && timingSafeEqual(got, want);
}

export const USERNAME_RE = /^[A-Za-z0-9._@-]{3,50}$/;
export const MIN_PASSWORD_LENGTH = 8;

/** A pragmatic address check (one "@", no spaces, a dot in the domain): the address is shown, never mailed to. */
export const EMAIL_RE = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/;

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  cameras?: string[] | '*';
  email?: string;
}

/** What PATCH /users/{username} may change. */
export interface UserChanges {
  role?: Role;
  cameras?: string[] | '*';
  /** null removes the address. */
  email?: string | null;
  disabled?: boolean;
}

export function checkPassword(password: unknown, name = 'password'): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > 1024)
    throw expected(`a string of ${MIN_PASSWORD_LENGTH}-1024 characters`, name, '(hidden)');
  return password;
}

export function checkCameras(cameras: unknown, name = 'cameras'): string[] | '*' {
  if (!(cameras === '*' || (Array.isArray(cameras) && cameras.length <= 10_000 && cameras.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 128))))
    throw expected('"*" or an array of camera ids', name, cameras);
  return cameras === '*' ? '*' : [...new Set(cameras as string[])];
}

export function checkEmail(email: unknown, name = 'email'): string {
  if (typeof email !== 'string' || email.length > 254 || !EMAIL_RE.test(email)) throw expected('an e-mail address', name, email);
  return email;
}

/** Why verify() refused: wrong password (or unknown user), or a disabled user with the right password. */
export type VerifyResult = { ok: true; principal: Omit<Principal, 'family'>; email?: string } | { ok: false; reason: 'bad_credentials' | 'disabled' };

/** A local user written through LocalUsers: the new record, or null when it was removed. */
export type UserWriteListener = (username: string, record: UserRecord | null) => void;

export class LocalUsers {
  /** A hash to verify against for unknown users, so both paths cost one scrypt. */
  private dummyHash: Promise<string> | null = null;
  private readonly writeListeners = new Set<UserWriteListener>();
  constructor(private readonly store: AuthStore) {}

  /**
   * `listener` learns of every user this object creates, changes or removes from now on (a cluster node copies
   * them into the cluster's user bucket: src/cluster/users.ts). Writes made directly on the store are not reported.
   */
  onWrite(listener: UserWriteListener): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private wrote(username: string, record: UserRecord | null): void {
    for (const l of this.writeListeners) l(username, record);
  }

  async create(u: NewUser): Promise<UserRecord> {
    if (typeof u.username !== 'string' || !USERNAME_RE.test(u.username))
      throw expected('3-50 characters of A-Z a-z 0-9 . _ @ -', 'username', u.username);
    if (typeof u.password !== 'string' || u.password.length < MIN_PASSWORD_LENGTH)
      throw expected(`a string of at least ${MIN_PASSWORD_LENGTH} characters`, 'password', '(hidden)');
    if (!isRole(u.role)) throw expected('one of admin, operator, viewer', 'role', u.role);
    const cameras = checkCameras(u.cameras ?? '*');
    const email = u.email === undefined ? undefined : checkEmail(u.email);
    const rec: UserRecord = {
      username: u.username,
      passwordHash: await hashPassword(u.password),
      role: u.role,
      cameras,
      createdMs: Date.now(),
      ...(email !== undefined ? { email } : {}),
    };
    this.store.putUser(rec);
    this.wrote(rec.username, rec);
    return rec;
  }

  exists(username: string): boolean {
    return this.store.getUser(username) !== undefined;
  }

  /** The user without its password hash, or undefined. */
  get(username: string): Omit<UserRecord, 'passwordHash'> | undefined {
    const rec = this.store.getUser(username);
    if (!rec) return undefined;
    const { passwordHash: _h, ...rest } = rec;
    return rest;
  }

  /** Applies validated changes; returns the updated user (without hash), or undefined when there is none. */
  update(username: string, changes: UserChanges): Omit<UserRecord, 'passwordHash'> | undefined {
    const rec = this.store.getUser(username);
    if (!rec) return undefined;
    const next: UserRecord = { ...rec };
    if (changes.role !== undefined) next.role = changes.role;
    if (changes.cameras !== undefined) next.cameras = changes.cameras;
    if (changes.email === null) delete next.email;
    else if (changes.email !== undefined) next.email = changes.email;
    if (changes.disabled !== undefined) next.disabled = changes.disabled;
    this.store.putUser(next);
    this.wrote(username, next);
    const { passwordHash: _h, ...rest } = next;
    return rest;
  }

  async setPassword(username: string, password: string): Promise<boolean> {
    const rec = this.store.getUser(username);
    if (!rec) return false;
    const passwordHash = await hashPassword(checkPassword(password));
    // re-read: another request may have changed the user while hashing
    const now = this.store.getUser(username);
    if (!now) return false;
    const next = { ...now, passwordHash };
    this.store.putUser(next);
    this.wrote(username, next);
    return true;
  }

  remove(username: string): boolean {
    const removed = this.store.removeUser(username);
    if (removed) this.wrote(username, null);
    return removed;
  }

  /** Checks a password without the disabled flag (a self-service password change). */
  async checkPasswordOf(username: string, password: string): Promise<boolean> {
    const rec = this.store.getUser(username);
    if (!rec) return false;
    return verifyPassword(password, rec.passwordHash);
  }

  /** The principal (without family) when the password matches. Unknown users cost the same. */
  async verify(username: string, password: string): Promise<VerifyResult> {
    const rec = this.store.getUser(username);
    if (!rec) {
      this.dummyHash ??= hashPassword(randomBytes(12).toString('base64'));
      await verifyPassword(password, await this.dummyHash);
      return { ok: false, reason: 'bad_credentials' };
    }
    if (!(await verifyPassword(password, rec.passwordHash))) return { ok: false, reason: 'bad_credentials' };
    // told only after the right password: it reveals nothing a guesser could use
    if (rec.disabled) return { ok: false, reason: 'disabled' };
    return { ok: true, principal: { sub: rec.username, role: rec.role, cameras: rec.cameras, source: 'local' }, ...(rec.email !== undefined ? { email: rec.email } : {}) };
  }

  list(): Array<Omit<UserRecord, 'passwordHash'>> {
    return this.store.listUsers().map(({ passwordHash: _h, ...rest }) => rest);
  }

  /**
   * First run: when no user exists, creates `admin` (role admin, all cameras) with a generated password and passes
   * it to `announce` (once). Returns the password, or null when users already existed.
   */
  async ensureInitialAdmin(announce: (username: string, password: string) => void): Promise<string | null> {
    if (this.store.userCount() > 0) return null;
    const password = randomBytes(18).toString('base64url');
    await this.create({ username: 'admin', password, role: 'admin', cameras: '*' });
    announce('admin', password);
    return password;
  }
}
