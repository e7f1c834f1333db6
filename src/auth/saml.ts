/**
 * SAML 2.0 single sign-on, Vigil as the service provider (SP), Web Browser SSO profile, SP-initiated:
 *
 *   GET /auth/saml/login → AuthnRequest to the IdP (HTTP-Redirect binding: deflated + base64 in the query, signed
 *   with SigAlg/Signature when the SP has a key; or HTTP-POST binding: an auto-submitting form) → the IdP POSTs the
 *   Response to the assertion consumer service (HTTP-POST binding, POST /auth/saml/acs) → the session a password
 *   login gets (AuthService: JWT access + refresh family; the console's refresh cookie).
 *
 * Who checks what. `@node-saml/node-saml` does the XML-DSig part: the assertion must carry a valid enveloped
 * signature by one of the configured IdP certificates (a signed Response alone is not enough), exactly one
 * assertion, references that point at the signed element (no signature wrapping), the IdP's status. Its own
 * condition checks are switched off (clock skew -1, audience false, InResponseTo never) and Vigil checks the
 * verified assertion itself, in this order, each refusal with its own code: issuer (E_SAML_ISSUER), the Response's
 * Destination and the bearer SubjectConfirmationData's Recipient against the ACS URL (E_SAML_RECIPIENT), the time
 * window of the confirmation and the Conditions with `clockSkewS` either way (E_SAML_EXPIRED, E_SAML_NOT_YET_VALID),
 * audience (E_SAML_AUDIENCE), replay of an assertion id (E_SAML_REPLAY), InResponseTo naming an unexpired request
 * of ours, once (E_SAML_IN_RESPONSE_TO). Why not the library's: its expiry surfaces as "no valid subject
 * confirmation", its time is the wall clock, it checks neither Recipient nor the assertion's Issuer, and it keeps
 * no assertion ids.
 *
 * Attributes map to a role and cameras through `groups` exactly like LDAP groups (ldap.ts mapGroups).
 */
import { randomBytes } from 'node:crypto';
import { SAML, SamlStatusError, ValidateInResponseTo, generateServiceProviderMetadata, type Profile } from '@node-saml/node-saml';
import { XMLParser } from 'fast-xml-parser';
import { VigilError } from '../errors.js';
import { mapGroups, type LdapGroupMapping } from './ldap.js';
import type { Principal, Role } from './policy.js';
import { AssertionReplayCache, PendingRequests } from './saml-cache.js';
import type { AuthStore } from './store.js';
import { EMAIL_RE } from './users.js';

/** `auth.saml` (checked by src/config/auth.ts parseSamlSettings). */
export interface SamlConfig {
  sp: {
    /** This SP's entity id: the Issuer of its AuthnRequests and the Audience the IdP must name. */
    entityId: string;
    /** Absolute URL of POST /auth/saml/acs as the browser reaches it (behind a proxy: the public URL). */
    acsUrl: string;
    /** PEM private key that signs AuthnRequests (RSA-SHA256); omitted: requests are not signed. */
    privateKey?: string;
    /** PEM certificate of that key, published in the SP metadata. */
    certificate?: string;
  };
  idp: {
    /** The IdP's entity id: the assertion's Issuer must be exactly this. */
    entityId: string;
    /** The IdP's single sign-on service URL. */
    ssoUrl: string;
    /** PEM certificates (or bare base64 bodies) whose keys may sign assertions; several during a key rollover. */
    certificates: string[];
    /** How the AuthnRequest travels: 'redirect' (HTTP-Redirect, default) or 'post' (HTTP-POST form). */
    binding?: 'redirect' | 'post';
  };
  /** NameID format asked for; default urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified. */
  nameIdFormat?: string;
  /** Allowed clock difference with the IdP either way, seconds (0-300); default 60. */
  clockSkewS?: number;
  /** How long a login request waits for its response, seconds; default 300. */
  requestTtlS?: number;
  /** Outstanding login requests kept (oldest dropped first); default 10000. */
  maxPendingRequests?: number;
  /** Assertion ids remembered against replay until they expire; default 100000. */
  replayCacheSize?: number;
  /** Accept IdP-initiated responses (no InResponseTo); default false. */
  allowUnsolicited?: boolean;
  /** Attribute names; username omitted: the NameID. Defaults are the integration document's claim URIs. */
  attributes?: { username?: string; email?: string; groups?: string };
  /** Group attribute values -> role and cameras, as auth.ldap.groups. */
  groups: LdapGroupMapping[];
  /** Role for users in no mapped group; omit to refuse them. */
  defaultRole?: Role;
  /** Where the browser goes after a login without a `next` path; default "/" (the console). */
  afterLogin?: string;
}

export const DEFAULT_EMAIL_ATTRIBUTE = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
export const DEFAULT_GROUPS_ATTRIBUTE = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const UNSPECIFIED_NAMEID = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export class SamlError extends VigilError {
  constructor(
    code: string,
    message: string,
    readonly status: 400 | 401 | 403 | 503 = 401,
  ) {
    super(code, message);
  }
}

const refuse = {
  request: (why: string) => new SamlError('E_SAML_REQUEST', why, 400),
  signature: (why: string) => new SamlError('E_SAML_SIGNATURE', `SAML response refused: ${why}`),
  status: (why: string) => new SamlError('E_SAML_STATUS', `The identity provider refused the login: ${why}`),
  invalid: (why: string) => new SamlError('E_SAML_INVALID', `SAML response refused: ${why}`),
  issuer: (got: string | null, want: string) =>
    new SamlError('E_SAML_ISSUER', `SAML assertion issuer ${JSON.stringify(got)} is not the configured identity provider ${JSON.stringify(want)}`),
  recipient: (what: string, got: string | null, want: string) =>
    new SamlError('E_SAML_RECIPIENT', `SAML ${what} ${JSON.stringify(got)} is not this server's ACS URL ${JSON.stringify(want)}`),
  expired: (what: string, at: string) => new SamlError('E_SAML_EXPIRED', `SAML assertion expired: ${what} NotOnOrAfter ${at} has passed`),
  early: (what: string, at: string) => new SamlError('E_SAML_NOT_YET_VALID', `SAML assertion not yet valid: ${what} NotBefore ${at}`),
  audience: (got: string[], want: string) =>
    new SamlError('E_SAML_AUDIENCE', `SAML assertion audience ${JSON.stringify(got)} does not name this service provider ${JSON.stringify(want)}`),
  replay: (id: string) => new SamlError('E_SAML_REPLAY', `SAML assertion ${JSON.stringify(id)} was used already`),
  inResponseTo: (why: string) => new SamlError('E_SAML_IN_RESPONSE_TO', why),
  full: () => new SamlError('E_SAML_REPLAY_CACHE_FULL', 'Too many recent SAML logins to remember; retry shortly', 503),
};

/** What an assertion consumer call proved. */
export interface SamlLogin {
  principal: Omit<Principal, 'family'>;
  email?: string;
  /** Local path to go to (from RelayState), or the configured afterLogin. */
  next: string;
  nameId: string;
  groups: string[];
}

export type SamlLoginStart = { binding: 'redirect'; url: string } | { binding: 'post'; html: string };

/** A local path (no scheme, no host, no `//` or `/\`): what `next` / RelayState may name (no open redirect). */
export function localPath(v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > 512) return null;
  if (!v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\') || /[\u0000-\u001f\\]/.test(v)) return null;
  return v;
}

/**
 * A PEM value as config files can carry it: a PEM block (line breaks or folded onto one line), or only its base64
 * body (one line: what `${file:...}` / `${VIGIL_*}` can insert into YAML, e.g. `openssl x509 -outform der | base64
 * -w0`). Returns a normalized PEM with one of `labels` (a bare body gets the first), or null when it is neither.
 */
export function normalizePem(value: string, labels: readonly string[]): string | null {
  const m = /^\s*-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END ([A-Z ]+)-----\s*$/.exec(value);
  if (m && (m[1] !== m[3] || !labels.includes(m[1]!))) return null;
  const label = m ? m[1]! : labels[0]!;
  const body = (m ? m[2]! : value).replace(/\s+/g, '');
  if (body.length < 64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return null;
  return `-----BEGIN ${label}-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}
export const CERT_LABELS = ['CERTIFICATE'] as const;
export const KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'] as const;

function pem(value: string, labels: readonly string[], what: string): string {
  const p = normalizePem(value, labels);
  if (p === null) throw new VigilError('E_ARGUMENT', `Expected a PEM ${what} for auth.saml`);
  return p;
}

type X = Record<string, unknown> & { $?: Record<string, string>; _?: string };
const kids = (node: unknown, name: string): X[] => {
  const v = (node as Record<string, unknown> | undefined)?.[name];
  return Array.isArray(v) ? (v as X[]) : [];
};
const attr = (node: X | undefined, name: string): string | null => node?.$?.[name] ?? null;
const text = (node: X | undefined): string | null => (typeof node === 'string' ? node : (node?._ ?? null));

function values(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is string => typeof x === 'string');
}

export class SamlServiceProvider {
  private readonly saml: SAML;
  private readonly pending: PendingRequests;
  readonly replay: AssertionReplayCache;
  private readonly skewMs: number;
  private readonly metadataXml: string;
  /** Logins by outcome code ('ok' or an E_SAML_* / E_AUTH_* code): /metrics. */
  readonly outcomes = new Map<string, number>();

  constructor(
    readonly cfg: SamlConfig,
    store: AuthStore,
    private readonly now: () => number,
  ) {
    this.skewMs = (cfg.clockSkewS ?? 60) * 1000;
    this.pending = new PendingRequests(cfg.maxPendingRequests ?? 10_000, (cfg.requestTtlS ?? 300) * 1000, now);
    this.replay = new AssertionReplayCache(store.subDatabase<number>('saml_assertions'), cfg.replayCacheSize ?? 100_000, now);
    const key = cfg.sp.privateKey !== undefined ? pem(cfg.sp.privateKey, KEY_LABELS, 'private key') : undefined;
    const spCert = cfg.sp.certificate !== undefined ? pem(cfg.sp.certificate, CERT_LABELS, 'certificate') : undefined;
    const signing = key !== undefined ? { privateKey: key, signatureAlgorithm: 'sha256' as const } : {};
    const nameIdFormat = cfg.nameIdFormat ?? UNSPECIFIED_NAMEID;
    this.saml = new SAML({
      issuer: cfg.sp.entityId,
      callbackUrl: cfg.sp.acsUrl,
      entryPoint: cfg.idp.ssoUrl,
      idpCert: cfg.idp.certificates.map((c) => pem(c, CERT_LABELS, 'certificate')),
      authnRequestBinding: cfg.idp.binding === 'post' ? 'HTTP-POST' : 'HTTP-Redirect',
      // HTTP-POST binding (bindings 3.5.4) carries plain base64; node-saml would deflate it as for HTTP-Redirect
      skipRequestCompression: cfg.idp.binding === 'post',
      identifierFormat: nameIdFormat,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      disableRequestedAuthnContext: true,
      // checked here on the verified assertion (see the header)
      acceptedClockSkewMs: -1,
      audience: false,
      validateInResponseTo: ValidateInResponseTo.never,
      // node-saml asks for one id per AuthnRequest (it would keep them only with its own InResponseTo check, which
      // is off): remembered here, at once, so concurrent logins cannot mix their ids up
      generateUniqueId: () => {
        const id = `_${randomBytes(20).toString('hex')}`;
        this.pending.add(id);
        return id;
      },
      ...signing,
    });
    this.metadataXml = generateServiceProviderMetadata({
      issuer: cfg.sp.entityId,
      callbackUrl: cfg.sp.acsUrl,
      identifierFormat: nameIdFormat,
      wantAssertionsSigned: true,
      ...(key !== undefined ? { privateKey: key, signatureAlgorithm: 'sha256' as const, publicCerts: spCert ?? null } : {}),
    });
  }

  /** The SP metadata (EntityDescriptor) to register at the IdP. */
  metadata(): string {
    return this.metadataXml;
  }

  get pendingRequests(): { size: number; evicted: number } {
    return { size: this.pending.size, evicted: this.pending.evicted };
  }

  /** Starts an SP-initiated login: the AuthnRequest by the configured binding, `next` carried as RelayState. */
  async start(next: string | null): Promise<SamlLoginStart> {
    const relay = next ?? '';
    if (this.cfg.idp.binding === 'post') return { binding: 'post', html: await this.saml.getAuthorizeFormAsync(relay, undefined, {}) };
    return { binding: 'redirect', url: await this.saml.getAuthorizeUrlAsync(relay, undefined, {}) };
  }

  private count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** Checks an HTTP-POST binding Response (the form's SAMLResponse and RelayState). Throws SamlError. */
  async consume(samlResponse: string, relayState: string | undefined): Promise<SamlLogin> {
    try {
      const r = await this.check(samlResponse, relayState);
      this.count('ok');
      return r;
    } catch (err) {
      this.count((err as { code?: string }).code ?? 'E_INTERNAL');
      throw err;
    }
  }

  private async check(samlResponse: string, relayState: string | undefined): Promise<SamlLogin> {
    if (samlResponse.length === 0 || !/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) throw refuse.request('Expected base64 for SAMLResponse');
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    if (!xml.trimStart().startsWith('<')) throw refuse.request('Expected a base64-encoded XML document for SAMLResponse');
    if (/<!DOCTYPE/i.test(xml)) throw refuse.request('SAMLResponse must not contain a DOCTYPE');
    // Peeked before the signature check only to answer a replay with its own code: an id gets into the cache
    // only after its assertion was verified, so a forged document gains nothing here.
    const peekId = this.peekAssertionId(xml);
    if (peekId !== null && this.replay.seen(peekId)) throw refuse.replay(peekId);

    let profile: Profile | null;
    try {
      ({ profile } = await this.saml.validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err) {
      throw this.classify(err, xml);
    }
    if (!profile) throw refuse.invalid('no assertion (a passive or logout response)');
    const assertion = (profile.getAssertion?.() as { Assertion?: X } | undefined)?.Assertion;
    if (!assertion) throw refuse.invalid('no assertion');
    const nowMs = this.now();
    const acs = this.cfg.sp.acsUrl;

    const issuer = text(kids(assertion, 'Issuer')[0]);
    if (issuer !== this.cfg.idp.entityId) throw refuse.issuer(issuer, this.cfg.idp.entityId);

    const response = this.responseAttributes(xml);
    if (response.destination !== null && response.destination !== acs) throw refuse.recipient('Response Destination', response.destination, acs);

    // the bearer confirmation: Recipient, time window, InResponseTo (SAML 2.0 profiles 4.1.4.2)
    const subject = kids(assertion, 'Subject')[0];
    const bearers = kids(subject, 'SubjectConfirmation')
      .filter((c) => attr(c, 'Method') === BEARER)
      .map((c) => kids(c, 'SubjectConfirmationData')[0])
      .filter((d): d is X => d !== undefined);
    if (bearers.length === 0) throw refuse.invalid('no bearer SubjectConfirmationData');
    const forUs = bearers.filter((d) => attr(d, 'Recipient') === acs);
    if (forUs.length === 0) throw refuse.recipient('SubjectConfirmationData Recipient', attr(bearers[0], 'Recipient'), acs);
    let confirmation: X | null = null;
    let timeErr: SamlError | null = null;
    for (const d of forUs) {
      const e = this.window(nowMs, 'SubjectConfirmationData', attr(d, 'NotBefore'), attr(d, 'NotOnOrAfter'), true);
      if (e === null) {
        confirmation = d;
        break;
      }
      timeErr ??= e;
    }
    if (confirmation === null) throw timeErr!;
    const conditions = kids(assertion, 'Conditions');
    if (conditions.length > 1) throw refuse.invalid('more than one Conditions element');
    const cond = conditions[0];
    const condErr = cond ? this.window(nowMs, 'Conditions', attr(cond, 'NotBefore'), attr(cond, 'NotOnOrAfter'), false) : null;
    if (condErr) throw condErr;

    // every AudienceRestriction must name us (SAML 2.0 core 2.5.1.4); one is required (profiles 4.1.4.2)
    const restrictions = kids(cond, 'AudienceRestriction');
    if (restrictions.length === 0) throw refuse.audience([], this.cfg.sp.entityId);
    for (const r of restrictions) {
      const auds = kids(r, 'Audience').map((a) => text(a) ?? '');
      if (!auds.includes(this.cfg.sp.entityId)) throw refuse.audience(auds, this.cfg.sp.entityId);
    }

    const assertionId = attr(assertion, 'ID');
    if (assertionId === null || assertionId.length === 0) throw refuse.invalid('the assertion has no ID');
    if (this.replay.seen(assertionId)) throw refuse.replay(assertionId);

    // SP-initiated: the signed confirmation's InResponseTo (and the Response's, when both are there) must name an
    // unexpired request of ours, used once
    const signedIrt = attr(confirmation, 'InResponseTo');
    const irt = signedIrt ?? response.inResponseTo;
    if (signedIrt !== null && response.inResponseTo !== null && signedIrt !== response.inResponseTo)
      throw refuse.inResponseTo(`SAML InResponseTo of the Response ${JSON.stringify(response.inResponseTo)} differs from the assertion's ${JSON.stringify(signedIrt)}`);
    if (irt === null) {
      if (!this.cfg.allowUnsolicited) throw refuse.inResponseTo('Unsolicited SAML response (no InResponseTo): start the login at /auth/saml/login (auth.saml.allowUnsolicited is false)');
    } else if (!this.pending.take(irt)) {
      throw refuse.inResponseTo(`SAML InResponseTo ${JSON.stringify(irt)} names no login request of this server (unknown, expired or already answered)`);
    }

    const ends = [attr(confirmation, 'NotOnOrAfter'), attr(cond, 'NotOnOrAfter')].filter((s): s is string => s !== null).map((s) => Date.parse(s));
    const keepUntil = Math.min(...ends, nowMs + 24 * 3600_000) + this.skewMs;
    const consumed = this.replay.consume(assertionId, keepUntil);
    if (consumed === 'replay') throw refuse.replay(assertionId);
    if (consumed === 'full') throw refuse.full();

    // who: NameID or the username attribute; what: the group attribute mapped like LDAP groups
    const names = this.cfg.attributes ?? {};
    const attrs = (profile.attributes ?? {}) as Record<string, unknown>;
    const nameId = profile.nameID;
    const username = names.username !== undefined ? values(attrs[names.username])[0] : nameId;
    if (typeof username !== 'string' || username.length === 0 || username.length > 256)
      throw refuse.invalid(names.username !== undefined ? `no usable ${JSON.stringify(names.username)} attribute for the username` : 'no usable NameID');
    const groups = values(attrs[names.groups ?? DEFAULT_GROUPS_ATTRIBUTE]);
    const mapped = mapGroups(this.cfg.groups, this.cfg.defaultRole, groups);
    if (!mapped) throw new SamlError('E_AUTH_NO_ROLE', 'User has no Vigil role', 403);
    const email = values(attrs[names.email ?? DEFAULT_EMAIL_ATTRIBUTE])[0];
    return {
      principal: { sub: username, role: mapped.role, cameras: mapped.cameras, source: 'saml' },
      ...(email !== undefined && email.length <= 254 && EMAIL_RE.test(email) ? { email } : {}),
      next: localPath(relayState) ?? this.cfg.afterLogin ?? '/',
      nameId,
      groups,
    };
  }

  /** null when within [NotBefore - skew, NotOnOrAfter + skew); `required`: NotOnOrAfter must be present. */
  private window(nowMs: number, what: string, notBefore: string | null, notOnOrAfter: string | null, required: boolean): SamlError | null {
    if (notOnOrAfter === null && required) return refuse.invalid(`${what} has no NotOnOrAfter`);
    const ms = (s: string, name: string): number => {
      const t = Date.parse(s);
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) || !Number.isFinite(t))
        throw refuse.invalid(`${what} ${name} ${JSON.stringify(s)} is not an xs:dateTime`);
      return t;
    };
    if (notBefore !== null && nowMs + this.skewMs < ms(notBefore, 'NotBefore')) return refuse.early(what, notBefore);
    if (notOnOrAfter !== null && nowMs - this.skewMs >= ms(notOnOrAfter, 'NotOnOrAfter')) return refuse.expired(what, notOnOrAfter);
    return null;
  }

  private static readonly parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, processEntities: false });

  /** The Response element's Destination and InResponseTo (not covered by an assertion-only signature). */
  private responseAttributes(xml: string): { destination: string | null; inResponseTo: string | null } {
    const doc = SamlServiceProvider.parser.parse(xml) as { Response?: Record<string, unknown> };
    const r = doc.Response ?? {};
    const s = (v: unknown) => (typeof v === 'string' ? v : null);
    return { destination: s(r['@Destination']), inResponseTo: s(r['@InResponseTo']) };
  }

  private peekAssertionId(xml: string): string | null {
    try {
      const doc = SamlServiceProvider.parser.parse(xml) as { Response?: { Assertion?: unknown } };
      const a = doc.Response?.Assertion;
      const id = (Array.isArray(a) ? a[0] : a) as Record<string, unknown> | undefined;
      return typeof id?.['@ID'] === 'string' ? (id['@ID'] as string) : null;
    } catch {
      return null;
    }
  }

  /** node-saml's refusal -> a SamlError (its messages, lib/saml.js validatePostResponseAsync). */
  private classify(err: unknown, xml: string): SamlError {
    if (err instanceof SamlStatusError) return refuse.status(err.message);
    const msg = err instanceof Error ? err.message : String(err);
    if (/No response found|Unknown SAML response/.test(msg)) return refuse.request('Expected a SAML Response in SAMLResponse');
    if (/signature/i.test(msg)) {
      if (!/<([A-Za-z_][\w.-]*:)?Signature[\s>]/.test(xml)) return refuse.signature('the assertion is not signed');
      return refuse.signature(`no valid signature by the identity provider's certificates (${msg})`);
    }
    if (/Not a valid XML document|non-whitespace|Unexpected|unclosed|Invalid character/i.test(msg)) return refuse.request(`SAMLResponse is not well-formed XML`);
    if (/Missing SAML assertion/.test(msg)) return refuse.invalid(msg);
    if (/EncryptedAssertion|decryption/i.test(msg)) return refuse.invalid('encrypted assertions are not supported');
    return refuse.invalid(msg);
  }
}
