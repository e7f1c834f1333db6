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

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  cameras?: string[] | '*';
}

export class LocalUsers {
  /** A hash to verify against for unknown users, so both paths cost one scrypt. */
  private dummyHash: Promise<string> | null = null;
  constructor(private readonly store: AuthStore) {}

  async create(u: NewUser): Promise<UserRecord> {
    if (typeof u.username !== 'string' || !USERNAME_RE.test(u.username))
      throw expected('3-50 characters of A-Z a-z 0-9 . _ @ -', 'username', u.username);
    if (typeof u.password !== 'string' || u.password.length < MIN_PASSWORD_LENGTH)
      throw expected(`a string of at least ${MIN_PASSWORD_LENGTH} characters`, 'password', '(hidden)');
    if (!isRole(u.role)) throw expected('one of admin, operator, viewer', 'role', u.role);
    const cameras = u.cameras ?? '*';
    if (!(cameras === '*' || (Array.isArray(cameras) && cameras.every((c) => typeof c === 'string'))))
      throw expected('"*" or an array of camera ids', 'cameras', cameras);
    const rec: UserRecord = {
      username: u.username,
      passwordHash: await hashPassword(u.password),
      role: u.role,
      cameras: cameras === '*' ? '*' : [...cameras],
      createdMs: Date.now(),
    };
    this.store.putUser(rec);
    return rec;
  }

  exists(username: string): boolean {
    return this.store.getUser(username) !== undefined;
  }

  /** The principal (without family) when the password matches, else null. Unknown users cost the same. */
  async verify(username: string, password: string): Promise<Omit<Principal, 'family'> | null> {
    const rec = this.store.getUser(username);
    if (!rec) {
      this.dummyHash ??= hashPassword(randomBytes(12).toString('base64'));
      await verifyPassword(password, await this.dummyHash);
      return null;
    }
    if (!(await verifyPassword(password, rec.passwordHash))) return null;
    return { sub: rec.username, role: rec.role, cameras: rec.cameras, source: 'local' };
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
