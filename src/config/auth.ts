/**
 * The `auth:` section of the config, checked at start: a typo, a missing LDAP key or the integration document's
 * spelling (`server_url`, `bind_dn`) is a config error naming its path, not a failure at the first login
 * ("undefined is an invalid LDAP URL"). The mapping is passed on as it is (the auth module reads it); only what is
 * checked here is guaranteed. A key the auth module starts to read must be added to its list below.
 */
import type { AuthConfig } from '../auth/service.js';
import { parseTrustedProxies } from '../auth/proxies.js';
import { ROLES } from '../auth/policy.js';
import { fail, int, object, oneOf, onlyKeys, optObject, str, url, type Raw } from '../validate.js';
import { JWT_HINTS, LDAP_HINTS } from './doc-keys.js';

export const AUTH_KEYS = ['jwt', 'ldap', 'rateLimits', 'trustedProxies'];
export const JWT_KEYS = ['secret', 'issuer', 'audience', 'accessTtlS', 'refreshTtlS'];
export const LDAP_KEYS = ['url', 'bindDN', 'bindPassword', 'userSearchBase', 'userFilter', 'groupSearchBase', 'groups', 'defaultRole', 'timeoutMs', 'emailAttribute'];
const RATE_KEYS = ['loginPerIp', 'loginFailuresPerUser'];

function rate(v: unknown, path: string): void {
  if (v === undefined) return;
  const r = object(v, path);
  onlyKeys(r, path, ['max', 'windowS']);
  int(r.max, `${path}.max`, 1, 1_000_000);
  int(r.windowS, `${path}.windowS`, 1, 86_400);
}

/** Checks `auth` (E_ARGUMENT errors naming the path); returns it unchanged for the auth module. */
export function parseAuthSettings(raw: unknown, path = 'auth'): Omit<AuthConfig, 'dataDir'> {
  const a = optObject(raw, path);
  onlyKeys(a, path, AUTH_KEYS, { authentication: 'auth' });
  if (a.jwt !== undefined) {
    const p = `${path}.jwt`;
    const j = object(a.jwt, p);
    onlyKeys(j, p, JWT_KEYS, JWT_HINTS);
    if (j.secret !== undefined) str(j.secret, `${p}.secret`, { secret: true });
    if (j.issuer !== undefined) str(j.issuer, `${p}.issuer`);
    if (j.audience !== undefined) str(j.audience, `${p}.audience`);
    if (j.accessTtlS !== undefined) int(j.accessTtlS, `${p}.accessTtlS`, 10, 86_400);
    if (j.refreshTtlS !== undefined) int(j.refreshTtlS, `${p}.refreshTtlS`, 60, 365 * 86_400);
  }
  if (a.ldap !== undefined) {
    const p = `${path}.ldap`;
    const l = object(a.ldap, p);
    onlyKeys(l, p, LDAP_KEYS, LDAP_HINTS);
    url(l.url, `${p}.url`, ['ldap:', 'ldaps:']);
    str(l.bindDN, `${p}.bindDN`);
    str(l.bindPassword, `${p}.bindPassword`, { secret: true, what: 'a string' });
    str(l.userSearchBase, `${p}.userSearchBase`);
    str(l.userFilter, `${p}.userFilter`, { re: /\{username\}/, what: 'an LDAP filter with {username}, e.g. "(uid={username})"' });
    if (l.groupSearchBase !== undefined) str(l.groupSearchBase, `${p}.groupSearchBase`);
    if (l.groups !== undefined && !Array.isArray(l.groups)) throw fail('a list of { group, role, cameras }', `${p}.groups`, l.groups);
    ((l.groups ?? []) as unknown[]).forEach((g, i) => {
      const gp = `${p}.groups[${i}]`;
      const m = object(g, gp);
      onlyKeys(m, gp, ['group', 'role', 'cameras']);
      str(m.group, `${gp}.group`);
      oneOf(m.role, `${gp}.role`, ROLES);
      if (m.cameras !== undefined && m.cameras !== '*' && !(Array.isArray(m.cameras) && m.cameras.every((c) => typeof c === 'string' && c !== ''))) {
        throw fail('"*" or a list of camera ids', `${gp}.cameras`, m.cameras);
      }
    });
    if (l.groups === undefined) (a.ldap as Raw).groups = [];
    if (l.defaultRole !== undefined) oneOf(l.defaultRole, `${p}.defaultRole`, ROLES);
    if (l.timeoutMs !== undefined) int(l.timeoutMs, `${p}.timeoutMs`, 100, 120_000);
    if (l.emailAttribute !== undefined) str(l.emailAttribute, `${p}.emailAttribute`, { re: /^[A-Za-z][A-Za-z0-9-]*$/, what: 'an LDAP attribute name' });
  }
  if (a.rateLimits !== undefined) {
    const p = `${path}.rateLimits`;
    const r = object(a.rateLimits, p);
    onlyKeys(r, p, RATE_KEYS);
    for (const k of RATE_KEYS) rate(r[k], `${p}.${k}`);
  }
  if (a.trustedProxies !== undefined) parseTrustedProxies(a.trustedProxies, `${path}.trustedProxies`);
  return a as Omit<AuthConfig, 'dataDir'>;
}
