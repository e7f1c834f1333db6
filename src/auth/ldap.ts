/**
 * LDAP / Active Directory login through ldapts: bind as the service account, search for the user with the
 * RFC 4515-escaped username, bind as the DN found (with the user's password), then map the user's groups to a Vigil
 * role and camera scope by configuration. Empty passwords are refused before any network traffic (an LDAP simple
 * bind with an empty password is an "unauthenticated bind" that many servers accept).
 */
import { Client } from 'ldapts';
import { VigilError } from '../errors.js';
import { roleRank, type Principal, type Role } from './policy.js';

export interface LdapGroupMapping {
  /** Group DN (compared case-insensitively) */
  group: string;
  role: Role;
  /** Cameras the group grants; '*' for all. Scopes of several matching groups are merged. */
  cameras?: string[] | '*';
}

export interface LdapConfig {
  url: string;
  bindDN: string;
  bindPassword: string;
  userSearchBase: string;
  /** Filter with `{username}` where the escaped username goes, e.g. `(uid={username})` or `(sAMAccountName={username})`. */
  userFilter: string;
  /** Where groups are searched with `(|(member={dn})(uniqueMember={dn}))`; omit to read `memberOf` from the user. */
  groupSearchBase?: string;
  groups: LdapGroupMapping[];
  /** Role for users in no mapped group; omit to refuse them. */
  defaultRole?: Role;
  timeoutMs?: number;
  /**
   * The user entry's attribute holding the e-mail address returned at login (`user.email`); default `mail`
   * (inetOrgPerson, Active Directory). The first value that looks like an address is used; none: no `email`.
   */
  emailAttribute?: string;
}

/** RFC 4515 value escaping: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`. */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '\\':
        out += '\\5c';
        break;
      case '*':
        out += '\\2a';
        break;
      case '(':
        out += '\\28';
        break;
      case ')':
        out += '\\29';
        break;
      case '\0':
        out += '\\00';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

export class LdapError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LDAP', message, options);
  }
}

export type LdapResult =
  | { ok: true; principal: Omit<Principal, 'family'>; dn: string; groups: string[]; email?: string }
  | { ok: false; reason: 'empty_password' | 'not_found' | 'ambiguous' | 'bad_password' | 'no_role' };

/** The first value of an attribute (string or Buffer, one or many) that looks like an e-mail address. */
function emailOf(v: unknown): string | undefined {
  const values = Array.isArray(v) ? v : v === undefined ? [] : [v];
  for (const x of values) {
    const s = (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)).trim();
    if (/^[^\s@]+@[^\s@]+$/.test(s)) return s;
  }
  return undefined;
}

export class LdapAuthenticator {
  constructor(private readonly cfg: LdapConfig) {}

  private client(): Client {
    const t = this.cfg.timeoutMs ?? 5000;
    return new Client({ url: this.cfg.url, timeout: t, connectTimeout: t });
  }

  async authenticate(username: string, password: string): Promise<LdapResult> {
    if (password.length === 0) return { ok: false, reason: 'empty_password' };
    const svc = this.client();
    let dn: string;
    let email: string | undefined;
    let memberOf: string[] = [];
    let groups: string[] = [];
    try {
      try {
        await svc.bind(this.cfg.bindDN, this.cfg.bindPassword);
      } catch (err) {
        throw new LdapError('LDAP service account bind failed', { cause: err });
      }
      const filter = this.cfg.userFilter.replaceAll('{username}', escapeFilterValue(username));
      const { searchEntries } = await svc.search(this.cfg.userSearchBase, {
        scope: 'sub',
        filter,
        attributes: ['dn', 'memberOf', this.emailAttribute()],
        sizeLimit: 2,
      });
      if (searchEntries.length === 0) return { ok: false, reason: 'not_found' };
      if (searchEntries.length > 1) return { ok: false, reason: 'ambiguous' };
      const entry = searchEntries[0]!;
      dn = entry.dn;
      const mo = entry['memberOf'];
      memberOf = (Array.isArray(mo) ? mo : mo === undefined ? [] : [mo]).map(String);
      email = emailOf(entry[this.emailAttribute()]);
      if (this.cfg.groupSearchBase !== undefined) {
        const edn = escapeFilterValue(dn);
        const res = await svc.search(this.cfg.groupSearchBase, {
          scope: 'sub',
          filter: `(|(member=${edn})(uniqueMember=${edn}))`,
          attributes: ['dn'],
        });
        groups = res.searchEntries.map((e) => e.dn);
      } else {
        groups = memberOf;
      }
    } catch (err) {
      if (err instanceof LdapError) throw err;
      throw new LdapError('LDAP search failed', { cause: err });
    } finally {
      await svc.unbind().catch(() => undefined);
    }
    const user = this.client();
    try {
      await user.bind(dn, password);
    } catch {
      return { ok: false, reason: 'bad_password' };
    } finally {
      await user.unbind().catch(() => undefined);
    }
    const mapped = this.mapGroups(groups);
    if (!mapped) return { ok: false, reason: 'no_role' };
    return { ok: true, principal: { sub: username, source: 'ldap', ...mapped }, dn, groups, ...(email !== undefined ? { email } : {}) };
  }

  private emailAttribute(): string {
    return this.cfg.emailAttribute ?? 'mail';
  }

  /** Strongest role among the matching groups; camera scopes of the matching groups merged. */
  mapGroups(groups: string[]): { role: Role; cameras: string[] | '*' } | null {
    return mapGroups(this.cfg.groups, this.cfg.defaultRole, groups);
  }
}

/**
 * The one group -> role / camera-scope mapping (LDAP groups, SAML group attribute values): the strongest role among
 * the matching groups (compared case-insensitively), their camera scopes merged ('*' wins); no matching group gives
 * `defaultRole` with no cameras, or null (refused) without one.
 */
export function mapGroups(
  mappings: readonly LdapGroupMapping[],
  defaultRole: Role | undefined,
  groups: readonly string[],
): { role: Role; cameras: string[] | '*' } | null {
  const lower = new Set(groups.map((g) => g.toLowerCase()));
  let role: Role | null = null;
  let cameras: Set<string> | '*' = new Set();
  for (const m of mappings) {
    if (!lower.has(m.group.toLowerCase())) continue;
    if (role === null || roleRank(m.role) > roleRank(role)) role = m.role;
    const c = m.cameras ?? '*';
    if (c === '*') cameras = '*';
    else if (cameras !== '*') for (const id of c) cameras.add(id);
  }
  if (role === null) {
    if (defaultRole === undefined) return null;
    return { role: defaultRole, cameras: [] };
  }
  return { role, cameras: cameras === '*' ? '*' : [...cameras] };
}
