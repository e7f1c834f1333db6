/**
 * The `auth:` section of the config, checked at start: a typo, a missing LDAP key or the integration document's
 * spelling (`server_url`, `bind_dn`) is a config error naming its path, not a failure at the first login
 * ("undefined is an invalid LDAP URL"). The mapping is passed on as it is (the auth module reads it); only what is
 * checked here is guaranteed. A key the auth module starts to read must be added to its list below.
 */
import type { AuthConfig } from '../auth/service.js';
import { parseTrustedProxies } from '../auth/proxies.js';
import { ROLES } from '../auth/policy.js';
import { bool, fail, int, object, oneOf, onlyKeys, optObject, str, url, type Raw } from '../validate.js';
import { JWT_HINTS, LDAP_HINTS, SAML_HINTS, SAML_IDP_HINTS, SAML_SP_HINTS } from './doc-keys.js';
import { CERT_LABELS, KEY_LABELS, localPath, normalizePem } from '../auth/saml.js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { VigilArgumentError } from '../errors.js';

export const AUTH_KEYS = ['jwt', 'ldap', 'saml', 'rateLimits', 'trustedProxies'];
export const SAML_KEYS = ['sp', 'idp', 'nameIdFormat', 'clockSkewS', 'requestTtlS', 'maxPendingRequests', 'replayCacheSize', 'allowUnsolicited', 'attributes', 'groups', 'defaultRole', 'afterLogin'];
const SAML_SP_KEYS = ['entityId', 'acsUrl', 'privateKey', 'certificate'];
const SAML_IDP_KEYS = ['entityId', 'ssoUrl', 'certificates', 'binding'];
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
  onlyKeys(a, path, AUTH_KEYS, { authentication: 'auth', saml_settings: 'saml' });
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
    groupMappings(l.groups, `${p}.groups`);
    if (l.groups === undefined) (a.ldap as Raw).groups = [];
    if (l.defaultRole !== undefined) oneOf(l.defaultRole, `${p}.defaultRole`, ROLES);
    if (l.timeoutMs !== undefined) int(l.timeoutMs, `${p}.timeoutMs`, 100, 120_000);
    if (l.emailAttribute !== undefined) str(l.emailAttribute, `${p}.emailAttribute`, { re: /^[A-Za-z][A-Za-z0-9-]*$/, what: 'an LDAP attribute name' });
  }
  if (a.saml !== undefined) parseSamlSettings(a.saml, `${path}.saml`);
  if (a.rateLimits !== undefined) {
    const p = `${path}.rateLimits`;
    const r = object(a.rateLimits, p);
    onlyKeys(r, p, RATE_KEYS);
    for (const k of RATE_KEYS) rate(r[k], `${p}.${k}`);
  }
  if (a.trustedProxies !== undefined) parseTrustedProxies(a.trustedProxies, `${path}.trustedProxies`);
  return a as Omit<AuthConfig, 'dataDir'>;
}

/** `groups` of auth.ldap and auth.saml: a list of { group, role, cameras }. */
function groupMappings(v: unknown, path: string): void {
  if (v !== undefined && !Array.isArray(v)) throw fail('a list of { group, role, cameras }', path, v);
  ((v ?? []) as unknown[]).forEach((g, i) => {
    const gp = `${path}[${i}]`;
    const m = object(g, gp);
    onlyKeys(m, gp, ['group', 'role', 'cameras']);
    str(m.group, `${gp}.group`);
    oneOf(m.role, `${gp}.role`, ROLES);
    if (m.cameras !== undefined && m.cameras !== '*' && !(Array.isArray(m.cameras) && m.cameras.every((c) => typeof c === 'string' && c !== ''))) {
      throw fail('"*" or a list of camera ids', `${gp}.cameras`, m.cameras);
    }
  });
}

const CERT_WHAT = 'a PEM certificate ("-----BEGIN CERTIFICATE-----...") or its base64 body on one line';
const KEY_WHAT = 'a PEM private key ("-----BEGIN PRIVATE KEY-----...") or its base64 body on one line';

function certificate(v: unknown, path: string): void {
  str(v, path, { max: 65536, what: CERT_WHAT });
  const p = normalizePem(v as string, CERT_LABELS);
  if (p === null) throw fail(CERT_WHAT, path, v);
  try {
    new X509Certificate(p);
  } catch {
    throw new VigilArgumentError(`Expected ${CERT_WHAT} for ${path} but received an unreadable certificate`);
  }
}

function privateKey(v: unknown, path: string): void {
  str(v, path, { max: 65536, secret: true, what: KEY_WHAT });
  const p = normalizePem(v as string, KEY_LABELS);
  let ok = p !== null;
  try {
    if (ok) createPrivateKey(p!);
  } catch {
    ok = false;
  }
  if (!ok) throw fail(KEY_WHAT, path, v, true);
}

/**
 * `auth.saml` (src/auth/saml.ts SamlConfig): the SP's entity id and ACS URL, the IdP's entity id, SSO URL and
 * signing certificates are required; the SP key (signs AuthnRequests) and certificate (metadata) come together.
 * Defaults are filled in the auth module, not here.
 */
export function parseSamlSettings(raw: unknown, path = 'auth.saml'): void {
  const s = object(raw, path);
  onlyKeys(s, path, SAML_KEYS, SAML_HINTS);
  const sp = object(s.sp, `${path}.sp`);
  onlyKeys(sp, `${path}.sp`, SAML_SP_KEYS, SAML_SP_HINTS);
  str(sp.entityId, `${path}.sp.entityId`);
  url(sp.acsUrl, `${path}.sp.acsUrl`, ['http:', 'https:'], { what: 'the absolute http(s) URL of POST /auth/saml/acs as browsers reach it' });
  if (!new URL(sp.acsUrl as string).pathname.endsWith('/auth/saml/acs')) throw fail('the absolute http(s) URL of POST /auth/saml/acs as browsers reach it', `${path}.sp.acsUrl`, sp.acsUrl);
  if (sp.privateKey !== undefined && sp.certificate === undefined) throw fail('the PEM certificate of privateKey (published in the SP metadata)', `${path}.sp.certificate`, undefined);
  if (sp.certificate !== undefined && sp.privateKey === undefined) throw fail('the PEM private key of certificate (signs AuthnRequests)', `${path}.sp.privateKey`, undefined);
  if (sp.privateKey !== undefined) privateKey(sp.privateKey, `${path}.sp.privateKey`);
  if (sp.certificate !== undefined) certificate(sp.certificate, `${path}.sp.certificate`);
  const idp = object(s.idp, `${path}.idp`);
  onlyKeys(idp, `${path}.idp`, SAML_IDP_KEYS, SAML_IDP_HINTS);
  str(idp.entityId, `${path}.idp.entityId`);
  url(idp.ssoUrl, `${path}.idp.ssoUrl`, ['http:', 'https:']);
  const certs = idp.certificates;
  if (!Array.isArray(certs) || certs.length === 0) throw fail('a list of PEM certificates (at least one)', `${path}.idp.certificates`, certs);
  certs.forEach((c, i) => certificate(c, `${path}.idp.certificates[${i}]`));
  if (idp.binding !== undefined) oneOf(idp.binding, `${path}.idp.binding`, ['redirect', 'post']);
  if (s.nameIdFormat !== undefined) str(s.nameIdFormat, `${path}.nameIdFormat`, { re: /^urn:/, what: 'a NameID format URN' });
  if (s.clockSkewS !== undefined) int(s.clockSkewS, `${path}.clockSkewS`, 0, 300);
  if (s.requestTtlS !== undefined) int(s.requestTtlS, `${path}.requestTtlS`, 10, 3600);
  if (s.maxPendingRequests !== undefined) int(s.maxPendingRequests, `${path}.maxPendingRequests`, 1, 1_000_000);
  if (s.replayCacheSize !== undefined) int(s.replayCacheSize, `${path}.replayCacheSize`, 1, 10_000_000);
  if (s.allowUnsolicited !== undefined) bool(s.allowUnsolicited, `${path}.allowUnsolicited`);
  if (s.attributes !== undefined) {
    const a = object(s.attributes, `${path}.attributes`);
    onlyKeys(a, `${path}.attributes`, ['username', 'email', 'groups']);
    for (const k of ['username', 'email', 'groups']) if (a[k] !== undefined) str(a[k], `${path}.attributes.${k}`);
  }
  groupMappings(s.groups, `${path}.groups`);
  if (s.groups === undefined) s.groups = [];
  if (s.defaultRole !== undefined) oneOf(s.defaultRole, `${path}.defaultRole`, ROLES);
  if (s.afterLogin !== undefined && localPath(s.afterLogin) === null) throw fail('a local path such as "/" or "/ui"', `${path}.afterLogin`, s.afterLogin);
}
