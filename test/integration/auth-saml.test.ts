/**
 * SAML 2.0 single sign-on (issue 15 item 1) over real HTTP: Vigil's API server on loopback (createApiServer with the
 * console's cookie session, as the console and auth tests start it) and an identity provider run by this test on
 * loopback.
 *
 * The identity provider is test-built from the SAML 2.0 specifications (OASIS saml-core-2.0-os: Response, Assertion,
 * Subject, SubjectConfirmationData, Conditions, AudienceRestriction, AttributeStatement; saml-bindings-2.0-os:
 * HTTP-Redirect (3.4: DEFLATE + base64 in SAMLRequest, the query signature over SAMLRequest&RelayState&SigAlg) and
 * HTTP-POST (3.5: base64 form fields, auto-submitted form); saml-profiles-2.0-os 4.1 Web Browser SSO), not a vendor
 * product: it reads Vigil's AuthnRequest, checks it (Destination, ACS URL, Issuer, the SP's signature), and answers
 * with a Response whose assertion it signs (enveloped XML-DSig, RSA-SHA256, exclusive C14N, via xml-crypto) with a
 * key and self-signed certificate that `openssl` makes for this run. Each test picks what the IdP gets wrong.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, createVerify, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import { SignedXml } from 'xml-crypto';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import { AuthService } from '../../src/auth/service.js';
import type { SamlConfig } from '../../src/auth/saml.js';
import { CameraManager } from '../../src/camera/manager.js';
import { parseAuthSettings } from '../../src/config/auth.js';
import { loadConfig } from '../../src/config/index.js';
import { createConsole, type WebConsole } from '../../src/console/index.js';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';
import { CAMERAS } from './api-helpers.js';
import { OpenApiValidator } from './api-openapi.js';

const SP_ENTITY = 'https://vigil.test/saml/sp';
const IDP_ENTITY = 'https://idp.test/saml/idp';
const GROUPS = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const EMAIL = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

let dir = '';
const pki: Record<'idp' | 'other' | 'sp', { key: string; cert: string }> = {} as never;

/** A key and a self-signed certificate made by openssl for this run. */
function keyPair(name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${name}.test`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** One-line forms (what `${file:...}` / `${VIGIL_*}` can put into YAML): the DER's base64, no PEM lines. */
const certLine = (pem: string) => new X509Certificate(pem).raw.toString('base64');
const keyLine = (pem: string) => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }).toString('base64');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const iso = (ms: number) => new Date(ms).toISOString();
const xmlParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true });

/** What the IdP puts into (or does to) its next Response; unset fields are right. */
interface Twist {
  nameId?: string;
  groups?: string[];
  email?: string;
  /** null: no InResponseTo at all (unsolicited) */
  inResponseTo?: string | null;
  audience?: string;
  recipient?: string;
  destination?: string;
  issuer?: string;
  /** offsets from now, ms */
  notBefore?: number;
  notOnOrAfter?: number;
  /** which key signs the assertion: the IdP's (default), another one, none; 'response': only the Response */
  sign?: 'idp' | 'other' | 'none' | 'response';
  /** changes the signed XML afterwards */
  tamper?: (xml: string) => string;
  /** answer with this second-level status code under Responder and no assertion (core 3.2.2.2) */
  failStatus?: string;
}

interface AuthnRequestSeen {
  id: string;
  destination: string;
  acsUrl: string;
  issuer: string;
  binding: 'redirect' | 'post';
  signed: boolean;
}

/** The loopback identity provider. */
class TestIdp {
  server!: Server;
  url = '';
  twist: Twist = {};
  /** The user "logged in" at the IdP. */
  user = { nameId: 'alice', groups: ['vigil-operators'], email: 'alice@example.test' };
  requests: AuthnRequestSeen[] = [];
  /** The SP certificate that signs AuthnRequests, when the SP signs them. */
  spCert: string | null = null;

  async start(): Promise<void> {
    this.server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const u = new URL(req.url!, this.url);
          let seen: AuthnRequestSeen;
          let relay: string | null;
          if (req.method === 'GET' && u.pathname === '/sso') ({ seen, relay } = this.readRedirect(u));
          else if (req.method === 'POST' && u.pathname === '/sso') ({ seen, relay } = this.readPost(Buffer.concat(chunks).toString('utf8')));
          else throw new Error(`IdP: no route ${req.method} ${u.pathname}`);
          this.requests.push(seen);
          const samlResponse = Buffer.from(this.response(seen.id, seen.acsUrl)).toString('base64');
          // HTTP-POST binding (bindings 3.5.4): a form the browser submits to the ACS
          const html = `<!DOCTYPE html><html><body onload="document.forms[0].submit()"><form method="post" action="${esc(seen.acsUrl)}">` +
            `<input type="hidden" name="SAMLResponse" value="${samlResponse}"/>` +
            (relay !== null ? `<input type="hidden" name="RelayState" value="${esc(relay)}"/>` : '') +
            `<input type="submit" value="Continue"/></form></body></html>`;
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** HTTP-Redirect binding (bindings 3.4.4): DEFLATE, base64, URL-encoded; signature over the raw query parts. */
  private readRedirect(u: URL): { seen: AuthnRequestSeen; relay: string | null } {
    const req = u.searchParams.get('SAMLRequest');
    if (req === null) throw new Error('IdP: no SAMLRequest');
    const xml = inflateRawSync(Buffer.from(req, 'base64')).toString('utf8');
    let signed = false;
    if (u.searchParams.has('Signature')) {
      // 3.4.4.1: the octets signed are "SAMLRequest=value&RelayState=value&SigAlg=value", values as in the URL
      const raw = new Map(u.search.slice(1).split('&').map((kv) => [kv.slice(0, kv.indexOf('=')), kv] as const));
      const signedPart = ['SAMLRequest', 'RelayState', 'SigAlg'].filter((k) => raw.has(k)).map((k) => raw.get(k)!).join('&');
      if (u.searchParams.get('SigAlg') !== RSA_SHA256) throw new Error(`IdP: SigAlg ${u.searchParams.get('SigAlg')}`);
      if (this.spCert === null) throw new Error('IdP: a signed request but no SP certificate registered');
      const ok = createVerify('RSA-SHA256').update(signedPart).verify(createPublicKey(this.spCert), Buffer.from(u.searchParams.get('Signature')!, 'base64'));
      if (!ok) throw new Error('IdP: the AuthnRequest signature does not verify');
      signed = true;
    } else if (this.spCert !== null) throw new Error('IdP: the SP signs its requests, this one is unsigned');
    return { seen: { ...this.parseRequest(xml), binding: 'redirect', signed }, relay: u.searchParams.get('RelayState') };
  }

  /** HTTP-POST binding (bindings 3.5.4): base64 (not deflated) in a form field. */
  private readPost(body: string): { seen: AuthnRequestSeen; relay: string | null } {
    const form = new URLSearchParams(body);
    const req = form.get('SAMLRequest');
    if (req === null) throw new Error('IdP: no SAMLRequest');
    return { seen: { ...this.parseRequest(Buffer.from(req, 'base64').toString('utf8')), binding: 'post', signed: false }, relay: form.get('RelayState') };
  }

  private parseRequest(xml: string): Omit<AuthnRequestSeen, 'binding' | 'signed'> {
    const r = (xmlParser.parse(xml) as { AuthnRequest?: Record<string, unknown> }).AuthnRequest;
    if (!r) throw new Error('IdP: not an AuthnRequest');
    const issuer = r['Issuer'];
    const seen = {
      id: String(r['@ID']),
      destination: String(r['@Destination']),
      acsUrl: String(r['@AssertionConsumerServiceURL']),
      issuer: typeof issuer === 'string' ? issuer : String((issuer as Record<string, unknown>)['#text']),
    };
    if (seen.destination !== `${this.url}/sso`) throw new Error(`IdP: Destination ${seen.destination}`);
    if (r['@ProtocolBinding'] !== 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST') throw new Error('IdP: response binding');
    return seen;
  }

  /** A Response to request `requestId` for the current user, with this.twist applied (core 2.3.3, 3.3.3). */
  response(requestId: string, acsUrl: string): string {
    const t = this.twist;
    const now = Date.now();
    const irt = t.inResponseTo === undefined ? requestId : t.inResponseTo;
    const irtAttr = irt === null ? '' : ` InResponseTo="${esc(irt)}"`;
    const notBefore = iso(now + (t.notBefore ?? -60_000));
    const notOnOrAfter = iso(now + (t.notOnOrAfter ?? 300_000));
    const issuer = esc(t.issuer ?? IDP_ENTITY);
    const user = { ...this.user, ...(t.nameId !== undefined ? { nameId: t.nameId } : {}), ...(t.groups ? { groups: t.groups } : {}), ...(t.email ? { email: t.email } : {}) };
    if (t.failStatus !== undefined) {
      return (
        `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(now)}" Destination="${esc(acsUrl)}"${irtAttr}>` +
        `<saml:Issuer>${issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">` +
        `<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:${t.failStatus}"/></samlp:StatusCode></samlp:Status></samlp:Response>`
      );
    }
    const aid = `_a${randomBytes(16).toString('hex')}`;
    const assertion =
      `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${aid}" Version="2.0" IssueInstant="${iso(now)}">` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${esc(user.nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
      `<saml:SubjectConfirmationData${irtAttr} NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(t.recipient ?? acsUrl)}"/>` +
      `</saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
      `<saml:AudienceRestriction><saml:Audience>${esc(t.audience ?? SP_ENTITY)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s${randomBytes(8).toString('hex')}"><saml:AuthnContext>` +
      `<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement>` +
      `<saml:Attribute Name="${GROUPS}">${user.groups.map((g) => `<saml:AttributeValue>${esc(g)}</saml:AttributeValue>`).join('')}</saml:Attribute>` +
      `<saml:Attribute Name="${EMAIL}"><saml:AttributeValue>${esc(user.email)}</saml:AttributeValue></saml:Attribute>` +
      `</saml:AttributeStatement></saml:Assertion>`;
    let xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(now)}" Destination="${esc(t.destination ?? acsUrl)}"${irtAttr}>` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      assertion +
      `</samlp:Response>`;
    const sign = t.sign ?? 'idp';
    if (sign !== 'none') {
      const k = sign === 'other' ? pki.other : pki.idp;
      const target = sign === 'response' ? 'Response' : 'Assertion';
      const sig = new SignedXml({ privateKey: k.key, publicCert: k.cert, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
      sig.addReference({
        xpath: `//*[local-name(.)='${target}']`,
        digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
        transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
      });
      // core 5.4.1 / the schema: ds:Signature follows the Issuer of the signed element
      sig.computeSignature(xml, { location: { reference: `//*[local-name(.)='${target}']/*[local-name(.)='Issuer']`, action: 'after' } });
      xml = sig.getSignedXml();
    }
    return t.tamper ? t.tamper(xml) : xml;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

interface Vigil {
  auth: AuthService;
  srv: ApiServer;
  console: WebConsole;
  base: string;
  acs: string;
  api: OpenApiValidator;
  doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
}

const idp = new TestIdp();

async function startVigil(name: string, saml: (base: string) => SamlConfig): Promise<Vigil> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cfg = saml(base);
  // the config parser checks the section like every other (src/config/auth.ts)
  parseAuthSettings({ saml: cfg });
  const auth = await AuthService.open({
    dataDir: join(dir, name),
    jwt: { secret: 'saml-test-secret-0123456789abcdefghijklmnop' },
    announceInitialAdmin: () => {},
    rateLimits: { loginPerIp: { max: 1000, windowS: 60 } },
    saml: cfg,
  });
  const distDir = join(dir, `${name}-dist`);
  mkdirSync(distDir, { recursive: true });
  writeFileSync(join(distDir, 'index.html'), '<!doctype html><title>Vigil</title>');
  const c = createConsole({ auth, cameras: new CameraManager(), dist: distDir });
  const srv = await createApiServer({ host: '127.0.0.1', port }, { auth, cameras: new MemoryCameraListing(CAMERAS), detections: new MemoryDetectionSource([]), routes: { console: c.routes } });
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Vigil['doc'];
  return { auth, srv, console: c, base, acs: cfg.sp.acsUrl, api: new OpenApiValidator(doc as never), doc };
}

async function stopVigil(v: Vigil): Promise<void> {
  v.console.close();
  await v.srv.close();
  await v.auth.close();
}

const MAPPING: SamlConfig['groups'] = [
  { group: 'vigil-admins', role: 'admin', cameras: '*' },
  { group: 'vigil-operators', role: 'operator' },
  { group: 'gate-watch', role: 'viewer', cameras: ['cam-1'] },
];

let A: Vigil; // HTTP-Redirect binding, signed AuthnRequests
let B: Vigil; // HTTP-POST binding, unsigned AuthnRequests
let C: Vigil | null = null; // unsolicited responses allowed, tiny bounds

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-saml-'));
  pki.idp = keyPair('idp');
  pki.other = keyPair('other');
  pki.sp = keyPair('sp');
  await idp.start();
  A = await startVigil('a', (base) => ({
    // the key as one base64 line (as from ${VIGIL_*}), the certificate as PEM
    sp: { entityId: SP_ENTITY, acsUrl: `${base}/auth/saml/acs`, privateKey: keyLine(pki.sp.key), certificate: pki.sp.cert },
    idp: { entityId: IDP_ENTITY, ssoUrl: `${idp.url}/sso`, certificates: [pki.idp.cert] },
    clockSkewS: 60,
    groups: MAPPING,
  }));
  B = await startVigil('b', (base) => ({
    sp: { entityId: SP_ENTITY, acsUrl: `${base}/auth/saml/acs` },
    idp: { entityId: IDP_ENTITY, ssoUrl: `${idp.url}/sso`, certificates: [certLine(pki.idp.cert)], binding: 'post' },
    groups: MAPPING,
    afterLogin: '/ui',
  }));
});

after(async () => {
  for (const v of [A, B, C]) if (v) await stopVigil(v);
  await idp.close();
  rmSync(dir, { recursive: true, force: true });
});

interface AcsResult {
  status: number;
  location: string | null;
  cookie: string | null;
  body: { error?: { code: string; message: string } } | null;
  /** the form the IdP answered with */
  form: { action: string; fields: URLSearchParams };
}

/** The HTML form the IdP (or Vigil, for the POST binding) answered with. */
function formOf(html: string): { action: string; fields: URLSearchParams } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action, `no form in ${html.slice(0, 200)}`);
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields.set(m[1]!, m[2]!.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&#13;', '\r').replaceAll('&apos;', "'").replaceAll('&amp;', '&'));
  return { action: action.replaceAll('&amp;', '&'), fields };
}

async function postAcs(v: Vigil, fields: URLSearchParams): Promise<Omit<AcsResult, 'form'>> {
  const r = await fetch(`${v.base}/auth/saml/acs`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields.toString() });
  const text = await r.text();
  const body = (r.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : null;
  if (body !== null) v.api.check('POST', '/auth/saml/acs', r.status, body);
  else assert.ok(v.doc.paths['/auth/saml/acs']!['post']!.responses[String(r.status)], `POST /auth/saml/acs -> ${r.status} is not documented`);
  return { status: r.status, location: r.headers.get('location'), cookie: r.headers.get('set-cookie'), body };
}

/**
 * A whole SP-initiated login as a browser does it: GET /auth/saml/login, follow the redirect (or submit the form) to
 * the IdP, submit the IdP's form to the ACS. The IdP applies `twist`.
 */
async function login(v: Vigil, twist: Twist = {}, next?: string): Promise<AcsResult> {
  idp.twist = twist;
  const start = await fetch(`${v.base}/auth/saml/login${next !== undefined ? `?next=${encodeURIComponent(next)}` : ''}`, { redirect: 'manual' });
  let idpPage: Response;
  if (start.status === 302) {
    const location = start.headers.get('location')!;
    assert.ok(location.startsWith(`${idp.url}/sso?SAMLRequest=`), location);
    idpPage = await fetch(location, { redirect: 'manual' });
  } else {
    assert.equal(start.status, 200);
    const f = formOf(await start.text());
    idpPage = await fetch(f.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: f.fields.toString() });
  }
  const html = await idpPage.text();
  assert.equal(idpPage.status, 200, html);
  const form = formOf(html);
  assert.equal(form.action, v.acs);
  return { ...(await postAcs(v, form.fields)), form };
}

const families = (v: Vigil) => v.auth.store.families.getCount();

/** The refresh cookie -> an access token through the console's own session route. */
async function consoleSession(v: Vigil, setCookie: string) {
  const cookie = setCookie.split(';')[0]!;
  const r = await fetch(`${v.base}/console/session/refresh`, { method: 'POST', headers: { cookie, 'x-vigil-console': '1' } });
  return { status: r.status, body: (await r.json()) as { access_token: string; user: unknown } };
}

async function refused(v: Vigil, twist: Twist, status: number, code: string, message: string | RegExp): Promise<void> {
  const before = families(v);
  const r = await login(v, twist);
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code);
  if (typeof message === 'string') assert.equal(r.body?.error?.message, message);
  else assert.match(r.body!.error!.message, message);
  assert.equal(r.cookie, null, 'a refusal sets no cookie');
  assert.equal(r.location, null);
  assert.equal(families(v), before, 'no session was started');
}

describe('SAML SSO, HTTP-Redirect binding with signed AuthnRequests', () => {
  test('a valid signed response logs in with the mapped role; the console session works for REST calls', async () => {
    idp.spCert = pki.sp.cert;
    idp.user = { nameId: 'alice', groups: ['vigil-operators', 'unrelated'], email: 'alice@example.test' };
    const before = families(A);
    const r = await login(A, {}, '/ui/cameras');
    // the IdP saw a signed, deflated AuthnRequest for our ACS, from our entity id
    const seen = idp.requests.at(-1)!;
    assert.deepEqual({ ...seen, id: seen.id.length }, { id: 41, destination: `${idp.url}/sso`, acsUrl: A.acs, issuer: SP_ENTITY, binding: 'redirect', signed: true });
    assert.equal(r.status, 303);
    assert.equal(r.location, '/ui/cameras');
    assert.match(r.cookie!, /^vigil_refresh=[A-Za-z0-9_.-]+; Path=\/console\/session; Max-Age=604800; HttpOnly; SameSite=Strict$/);
    assert.equal(families(A), before + 1);
    const s = await consoleSession(A, r.cookie!);
    assert.equal(s.status, 200);
    assert.deepEqual(s.body.user, { username: 'alice', role: 'operator', cameras: '*', source: 'saml' });
    const cams = await fetch(`${A.base}/cameras`, { headers: { authorization: `Bearer ${s.body.access_token}` } });
    assert.equal(cams.status, 200);
    assert.deepEqual(((await cams.json()) as Array<{ id: string }>).map((c) => c.id), ['cam-1', 'cam-2', 'cam-3']);
    // an operator may read metrics, not manage users
    assert.equal((await fetch(`${A.base}/users`, { headers: { authorization: `Bearer ${s.body.access_token}` } })).status, 403);
    const metrics = await (await fetch(`${A.base}/metrics`, { headers: { authorization: `Bearer ${s.body.access_token}` } })).text();
    assert.match(metrics, /^vigil_saml_logins_total\{outcome="ok"\} 1$/m);
  });

  test('a camera-scoped SAML user sees only its cameras', async () => {
    idp.user = { nameId: 'carol', groups: ['gate-watch'], email: 'carol@example.test' };
    const r = await login(A);
    assert.equal(r.status, 303);
    assert.equal(r.location, '/');
    const s = await consoleSession(A, r.cookie!);
    assert.deepEqual(s.body.user, { username: 'carol', role: 'viewer', cameras: ['cam-1'], source: 'saml' });
    const auth = { authorization: `Bearer ${s.body.access_token}` };
    assert.deepEqual(((await (await fetch(`${A.base}/cameras`, { headers: auth })).json()) as Array<{ id: string }>).map((c) => c.id), ['cam-1']);
    const other = await fetch(`${A.base}/cameras/cam-2`, { headers: auth });
    assert.equal(other.status, 403);
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'E_FORBIDDEN_CAMERA');
  });

  test('concurrent logins each end in their own session', async () => {
    idp.user = { nameId: 'alice', groups: ['vigil-operators'], email: 'alice@example.test' };
    const before = families(A);
    const rs = await Promise.all([0, 1, 2, 3].map((i) => login(A, {}, `/ui/${i}`)));
    assert.deepEqual(rs.map((r) => [r.status, r.location]), [[303, '/ui/0'], [303, '/ui/1'], [303, '/ui/2'], [303, '/ui/3']]);
    assert.equal(families(A), before + 4);
  });

  test('forged: signed by another key (its certificate in KeyInfo) is refused', async () => {
    idp.user = { nameId: 'alice', groups: ['vigil-admins'], email: 'alice@example.test' };
    await refused(A, { sign: 'other' }, 401, 'E_SAML_SIGNATURE', "SAML response refused: no valid signature by the identity provider's certificates (Invalid signature)");
  });

  test('unsigned is refused', async () => {
    await refused(A, { sign: 'none' }, 401, 'E_SAML_SIGNATURE', 'SAML response refused: the assertion is not signed');
  });

  test('a signed Response around an unsigned assertion is refused (assertions must be signed)', async () => {
    await refused(A, { sign: 'response' }, 401, 'E_SAML_SIGNATURE', "SAML response refused: no valid signature by the identity provider's certificates (Invalid signature)");
  });

  test('tampered after signing (group changed to the admins) is refused', async () => {
    idp.user = { nameId: 'carol', groups: ['gate-watch'], email: 'carol@example.test' };
    await refused(A, { tamper: (x) => x.replace('>gate-watch<', '>vigil-admins<') }, 401, 'E_SAML_SIGNATURE', "SAML response refused: no valid signature by the identity provider's certificates (Invalid signature)");
  });

  test('expired (NotOnOrAfter 5 minutes ago, beyond the 60 s skew) is refused', async () => {
    const r = await refusedAt(A, { notBefore: -600_000, notOnOrAfter: -300_000 });
    assert.equal(r.code, 'E_SAML_EXPIRED');
    assert.match(r.message, /^SAML assertion expired: SubjectConfirmationData NotOnOrAfter \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z has passed$/);
  });

  test('not yet valid (NotBefore in 5 minutes) is refused', async () => {
    const r = await refusedAt(A, { notBefore: 300_000, notOnOrAfter: 600_000 });
    assert.equal(r.code, 'E_SAML_NOT_YET_VALID');
    assert.match(r.message, /^SAML assertion not yet valid: Conditions NotBefore \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('within the clock skew (60 s) either way is accepted', async () => {
    idp.user = { nameId: 'alice', groups: ['vigil-operators'], email: 'alice@example.test' };
    assert.equal((await login(A, { notBefore: -120_000, notOnOrAfter: -30_000 })).status, 303, 'NotOnOrAfter 30 s ago');
    assert.equal((await login(A, { notBefore: 30_000, notOnOrAfter: 300_000 })).status, 303, 'NotBefore in 30 s');
  });

  test('replayed: the same response a second time is refused', async () => {
    const first = await login(A);
    assert.equal(first.status, 303);
    const before = families(A);
    const again = await postAcs(A, first.form.fields);
    const id = /ID="(_a[0-9a-f]+)"/.exec(Buffer.from(first.form.fields.get('SAMLResponse')!, 'base64').toString('utf8'))![1]!;
    assert.deepEqual({ status: again.status, body: again.body, cookie: again.cookie }, {
      status: 401,
      body: { error: { code: 'E_SAML_REPLAY', message: `SAML assertion ${JSON.stringify(id)} was used already` } },
      cookie: null,
    });
    assert.equal(families(A), before);
  });

  test('wrong audience is refused', async () => {
    await refused(A, { audience: 'https://other-sp.example/saml' }, 401, 'E_SAML_AUDIENCE', `SAML assertion audience ["https://other-sp.example/saml"] does not name this service provider "${SP_ENTITY}"`);
  });

  test('wrong recipient is refused', async () => {
    await refused(A, { recipient: 'https://elsewhere.example/auth/saml/acs' }, 401, 'E_SAML_RECIPIENT', `SAML SubjectConfirmationData Recipient "https://elsewhere.example/auth/saml/acs" is not this server's ACS URL "${A.acs}"`);
  });

  test('wrong destination is refused', async () => {
    await refused(A, { destination: 'https://elsewhere.example/auth/saml/acs' }, 401, 'E_SAML_RECIPIENT', `SAML Response Destination "https://elsewhere.example/auth/saml/acs" is not this server's ACS URL "${A.acs}"`);
  });

  test('InResponseTo naming no request of ours is refused; so is an unsolicited response', async () => {
    await refused(A, { inResponseTo: '_not-a-request-of-vigil' }, 401, 'E_SAML_IN_RESPONSE_TO', 'SAML InResponseTo "_not-a-request-of-vigil" names no login request of this server (unknown, expired or already answered)');
    await refused(A, { inResponseTo: null }, 401, 'E_SAML_IN_RESPONSE_TO', 'Unsolicited SAML response (no InResponseTo): start the login at /auth/saml/login (auth.saml.allowUnsolicited is false)');
  });

  test('another issuer (signed with the right key) is refused', async () => {
    await refused(A, { issuer: 'https://evil-idp.example' }, 401, 'E_SAML_ISSUER', `SAML assertion issuer "https://evil-idp.example" is not the configured identity provider "${IDP_ENTITY}"`);
  });

  test('the IdP refusing the login (status Responder / AuthnFailed) is reported as E_SAML_STATUS', async () => {
    await refused(A, { failStatus: 'AuthnFailed' }, 401, 'E_SAML_STATUS', 'The identity provider refused the login: SAML provider returned Responder error: AuthnFailed');
  });

  test('a user in no mapped group (no defaultRole) is refused with E_AUTH_NO_ROLE', async () => {
    idp.user = { nameId: 'dave', groups: ['marketing'], email: 'dave@example.test' };
    await refused(A, {}, 403, 'E_AUTH_NO_ROLE', 'User has no Vigil role');
  });

  test('malformed posts: no SAMLResponse, not XML, wrong content type, next not a local path', async () => {
    let r = await postAcs(A, new URLSearchParams({ RelayState: '/' }));
    assert.deepEqual([r.status, r.body], [400, { error: { code: 'E_SAML_REQUEST', message: 'Expected the form field SAMLResponse' } }]);
    r = await postAcs(A, new URLSearchParams({ SAMLResponse: Buffer.from('hello').toString('base64') }));
    assert.deepEqual([r.status, r.body], [400, { error: { code: 'E_SAML_REQUEST', message: 'Expected a base64-encoded XML document for SAMLResponse' } }]);
    r = await postAcs(A, new URLSearchParams({ SAMLResponse: Buffer.from('<x></x>').toString('base64') }));
    assert.deepEqual([r.status, r.body], [400, { error: { code: 'E_SAML_REQUEST', message: 'Expected a SAML Response in SAMLResponse' } }]);
    r = await postAcs(A, new URLSearchParams({ SAMLResponse: Buffer.from('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>').toString('base64') }));
    assert.deepEqual([r.status, r.body], [400, { error: { code: 'E_SAML_REQUEST', message: 'SAMLResponse must not contain a DOCTYPE' } }]);
    const j = await fetch(`${A.base}/auth/saml/acs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.deepEqual([j.status, await j.json()], [415, { error: { code: 'E_UNSUPPORTED_MEDIA_TYPE', message: 'Expected Content-Type application/x-www-form-urlencoded' } }]);
    const n = await fetch(`${A.base}/auth/saml/login?next=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' });
    assert.deepEqual([n.status, await n.json()], [400, { error: { code: 'E_VALIDATION', message: 'Expected a local path such as "/ui" for next but received "https://evil.example/"' } }]);
  });

  test('SP metadata is served as XML', async () => {
    const r = await fetch(`${A.base}/auth/saml/metadata`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/samlmetadata+xml');
    const md = xmlParser.parse(await r.text()) as { EntityDescriptor: Record<string, any> };
    const sp = md.EntityDescriptor['SPSSODescriptor'];
    assert.equal(md.EntityDescriptor['@entityID'], SP_ENTITY);
    assert.equal(sp['@AuthnRequestsSigned'], 'true');
    assert.equal(sp['@WantAssertionsSigned'], 'true');
    assert.deepEqual(sp['AssertionConsumerService'], { '@index': '1', '@isDefault': 'true', '@Binding': 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', '@Location': A.acs });
    const cert = sp['KeyDescriptor']['KeyInfo']['X509Data']['X509Certificate'];
    assert.equal(cert.replace(/\s/g, ''), pki.sp.cert.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''));
    assert.equal(sp['KeyDescriptor']['@use'], 'signing');
  });
});

/** refused() for messages with times in them: returns the error. */
async function refusedAt(v: Vigil, twist: Twist): Promise<{ code: string; message: string }> {
  const before = families(v);
  const r = await login(v, twist);
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.cookie, null);
  assert.equal(families(v), before);
  return r.body!.error!;
}

describe('SAML SSO, HTTP-POST binding for the AuthnRequest', () => {
  test('GET /auth/saml/login answers a form that posts the AuthnRequest; the login ends at afterLogin', async () => {
    idp.spCert = null;
    idp.user = { nameId: 'erin', groups: ['vigil-admins'], email: 'erin@example.test' };
    const page = await fetch(`${B.base}/auth/saml/login`);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('content-security-policy'), `default-src 'none'; script-src 'unsafe-inline'; form-action ${idp.url}; frame-ancestors 'none'`);
    const f = formOf(await page.text());
    assert.equal(f.action, `${idp.url}/sso`);
    assert.deepEqual([...f.fields.keys()], ['SAMLRequest']);
    const r = await login(B);
    assert.equal(idp.requests.at(-1)!.binding, 'post');
    assert.equal(r.status, 303);
    assert.equal(r.location, '/ui');
    const s = await consoleSession(B, r.cookie!);
    assert.deepEqual(s.body.user, { username: 'erin', role: 'admin', cameras: '*', source: 'saml' });
    // an admin may list users
    assert.equal((await fetch(`${B.base}/users`, { headers: { authorization: `Bearer ${s.body.access_token}` } })).status, 200);
  });

  test('a response to the other server\'s request is refused there (request ids are per server)', async () => {
    idp.user = { nameId: 'erin', groups: ['vigil-admins'], email: 'erin@example.test' };
    // a login started at A, answered for B's ACS: B never asked
    idp.spCert = pki.sp.cert;
    idp.twist = {};
    const start = await fetch(`${A.base}/auth/saml/login`, { redirect: 'manual' });
    const idpPage = await fetch(start.headers.get('location')!);
    const form = formOf(await idpPage.text());
    const xml = Buffer.from(form.fields.get('SAMLResponse')!, 'base64').toString('utf8');
    const requestId = /InResponseTo="([^"]+)"/.exec(xml)![1]!;
    idp.twist = { inResponseTo: requestId };
    const forB = Buffer.from(idp.response(requestId, B.acs)).toString('base64');
    const r = await postAcs(B, new URLSearchParams({ SAMLResponse: forB }));
    assert.deepEqual([r.status, r.body?.error], [401, { code: 'E_SAML_IN_RESPONSE_TO', message: `SAML InResponseTo ${JSON.stringify(requestId)} names no login request of this server (unknown, expired or already answered)` }]);
  });
});

describe('auth.saml in the config file', () => {
  const good = () => ({
    sp: { entityId: SP_ENTITY, acsUrl: 'https://vigil.example.com/auth/saml/acs' },
    idp: { entityId: IDP_ENTITY, ssoUrl: 'https://idp.example.com/sso', certificates: [pki.idp.cert] },
    groups: [{ group: 'vigil-admins', role: 'admin' }],
  });
  const refusedCfg = (saml: unknown, message: string) => assert.throws(() => parseAuthSettings({ saml }), { code: 'E_ARGUMENT', message });

  test('a valid section passes; typos and missing keys are refused naming their path', () => {
    parseAuthSettings({ saml: good() });
    refusedCfg({ ...good(), clockSkew: 30 }, 'Unknown key auth.saml.clockSkew (did you mean clockSkewS?)');
    refusedCfg({ ...good(), idp: { ...good().idp, ssoURL: 'https://idp.example.com/sso' } }, 'Unknown key auth.saml.idp.ssoURL (did you mean ssoUrl?)');
    refusedCfg({ ...good(), idp: { ...good().idp, x509cert: 'MII' } }, 'Unknown key auth.saml.idp.x509cert (in Vigil: certificates (a list))');
    refusedCfg({ ...good(), idp: { entityId: IDP_ENTITY, ssoUrl: 'https://idp.example.com/sso' } }, 'Expected a list of PEM certificates (at least one) for auth.saml.idp.certificates but received undefined');
    refusedCfg({ ...good(), idp: { ...good().idp, certificates: ['not a cert'] } }, 'Expected a PEM certificate ("-----BEGIN CERTIFICATE-----...") or its base64 body on one line for auth.saml.idp.certificates[0] but received "not a cert"');
    refusedCfg({ ...good(), idp: { ...good().idp, certificates: ['A'.repeat(100)] } }, 'Expected a PEM certificate ("-----BEGIN CERTIFICATE-----...") or its base64 body on one line for auth.saml.idp.certificates[0] but received an unreadable certificate');
    refusedCfg({ ...good(), sp: { ...good().sp, acsUrl: 'https://vigil.example.com/login' } }, 'Expected the absolute http(s) URL of POST /auth/saml/acs as browsers reach it for auth.saml.sp.acsUrl but received "https://vigil.example.com/login"');
    refusedCfg({ ...good(), sp: { ...good().sp, privateKey: 'x' } }, 'Expected the PEM certificate of privateKey (published in the SP metadata) for auth.saml.sp.certificate but received undefined');
    refusedCfg({ ...good(), sp: { ...good().sp, privateKey: 'secret-not-a-key', certificate: pki.sp.cert } }, 'Expected a PEM private key ("-----BEGIN PRIVATE KEY-----...") or its base64 body on one line for auth.saml.sp.privateKey but received (hidden)');
    refusedCfg({ ...good(), clockSkewS: 3600 }, 'Expected an integer from 0 to 300 for auth.saml.clockSkewS but received 3600');
    refusedCfg({ ...good(), groups: [{ group: 'g', role: 'root' }] }, 'Expected one of "admin", "operator", "viewer" for auth.saml.groups[0].role but received "root"');
    refusedCfg({ ...good(), afterLogin: 'https://evil.example/' }, 'Expected a local path such as "/" or "/ui" for auth.saml.afterLogin but received "https://evil.example/"');
    assert.throws(() => parseAuthSettings({ saml_settings: {} }), { code: 'E_ARGUMENT', message: 'Unknown key auth.saml_settings (in Vigil: saml)' });
  });

  test('a config file takes the IdP certificate from ${file:...} and the SP key from ${VIGIL_*}, one line each', () => {
    const cfgDir = join(dir, 'cfg');
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(join(cfgDir, 'idp.b64'), certLine(pki.idp.cert) + '\n');
    writeFileSync(
      join(cfgDir, 'vigil.yaml'),
      `cameras: []
detector: false
auth:
  saml:
    sp:
      entityId: ${SP_ENTITY}
      acsUrl: https://vigil.example.com/auth/saml/acs
      privateKey: "\${VIGIL_SAML_SP_KEY}"
      certificate: |
${pki.sp.cert.trim().split('\n').map((l) => `        ${l}`).join('\n')}
    idp: { entityId: ${IDP_ENTITY}, ssoUrl: https://idp.example.com/sso, certificates: ["\${file:idp.b64}"] }
    groups: [{ group: vigil-admins, role: admin }]
`,
    );
    const cfg = loadConfig(join(cfgDir, 'vigil.yaml'), { VIGIL_SAML_SP_KEY: keyLine(pki.sp.key) });
    const saml = cfg.auth.saml!;
    assert.equal(saml.idp.certificates[0], certLine(pki.idp.cert));
    assert.equal(saml.sp.privateKey, keyLine(pki.sp.key));
    assert.equal(saml.sp.certificate, pki.sp.cert.trim() + '\n');
    const typo = join(cfgDir, 'typo.yaml');
    writeFileSync(typo, readFileSync(join(cfgDir, 'vigil.yaml'), 'utf8').replace('ssoUrl:', 'ssoURL:'));
    assert.throws(() => loadConfig(typo, { VIGIL_SAML_SP_KEY: keyLine(pki.sp.key) }), { code: 'E_CONFIG', message: new RegExp('Unknown key auth\\.saml\\.idp\\.ssoURL \\(did you mean ssoUrl\\?\\)') });
  });
});

describe('SAML SSO bounds: pending requests, the persisted replay cache, IdP-initiated logins', () => {
  const cCfg = (base: string): SamlConfig => ({
    sp: { entityId: SP_ENTITY, acsUrl: `${base}/auth/saml/acs` },
    idp: { entityId: IDP_ENTITY, ssoUrl: `${idp.url}/sso`, certificates: [pki.idp.cert] },
    groups: MAPPING,
    defaultRole: 'viewer',
    allowUnsolicited: true,
    maxPendingRequests: 1,
    replayCacheSize: 1,
  });
  let accepted = '';

  test('a second login request drops the first when maxPendingRequests is 1 (counted); its answer is refused', async () => {
    idp.spCert = null;
    idp.twist = {};
    C = await startVigil('c', cCfg);
    const first = await fetch((await fetch(`${C.base}/auth/saml/login`, { redirect: 'manual' })).headers.get('location')!);
    await fetch(`${C.base}/auth/saml/login`, { redirect: 'manual' });
    const r = await postAcs(C, formOf(await first.text()).fields);
    assert.equal(r.status, 401);
    assert.equal(r.body?.error?.code, 'E_SAML_IN_RESPONSE_TO');
  });

  test('an IdP-initiated response is accepted when allowed; an unmapped user gets defaultRole with no cameras', async () => {
    idp.user = { nameId: 'frank', groups: ['marketing'], email: 'frank@example.test' };
    idp.twist = { inResponseTo: null };
    accepted = Buffer.from(idp.response('unused', C!.acs)).toString('base64');
    const r = await postAcs(C!, new URLSearchParams({ SAMLResponse: accepted, RelayState: '/ui/events' }));
    assert.equal(r.status, 303);
    assert.equal(r.location, '/ui/events');
    const s = await consoleSession(C!, r.cookie!);
    assert.deepEqual(s.body.user, { username: 'frank', role: 'viewer', cameras: [], source: 'saml' });
    assert.deepEqual(await (await fetch(`${C!.base}/cameras`, { headers: { authorization: `Bearer ${s.body.access_token}` } })).json(), []);
  });

  test('a full replay cache refuses further logins (503), counted in /metrics; ids survive a restart', async () => {
    idp.user = { nameId: 'alice', groups: ['vigil-operators'], email: 'alice@example.test' };
    const saved = Buffer.from(idp.response('unused', C!.acs)).toString('base64');
    const before = families(C!);
    const full = await postAcs(C!, new URLSearchParams({ SAMLResponse: saved }));
    assert.deepEqual([full.status, full.body, full.cookie], [503, { error: { code: 'E_SAML_REPLAY_CACHE_FULL', message: 'Too many recent SAML logins to remember; retry shortly' } }, null]);
    assert.equal(families(C!), before);
    // an operator of this server reads the counters
    await C!.auth.users.create({ username: 'olga', password: 'operator-pass', role: 'operator', cameras: '*' });
    const op = await C!.auth.login('olga', 'operator-pass', '127.0.0.1');
    const metrics = await (await fetch(`${C!.base}/metrics`, { headers: { authorization: `Bearer ${op.access_token}` } })).text();
    const lines = metrics.split('\n').filter((l) => l.startsWith('vigil_saml_'));
    assert.deepEqual(lines, [
      'vigil_saml_logins_total{outcome="E_SAML_IN_RESPONSE_TO"} 1',
      'vigil_saml_logins_total{outcome="ok"} 1',
      'vigil_saml_logins_total{outcome="E_SAML_REPLAY_CACHE_FULL"} 1',
      'vigil_saml_pending_requests 1',
      'vigil_saml_pending_requests_dropped_total 1',
      'vigil_saml_replay_cache_entries 1',
      'vigil_saml_replay_cache_full_total 1',
    ]);
    // the used assertion id is in LMDB: after a restart (same data folder) its replay is still refused
    await stopVigil(C!);
    C = null;
    C = await startVigil('c', cCfg);
    const id = /ID="(_a[0-9a-f]+)"/.exec(Buffer.from(accepted, 'base64').toString('utf8'))![1]!;
    const again = await postAcs(C, new URLSearchParams({ SAMLResponse: accepted }));
    assert.deepEqual([again.status, again.body, again.cookie], [401, { error: { code: 'E_SAML_REPLAY', message: `SAML assertion ${JSON.stringify(id)} was used already` } }, null]);
  });
});
