/**
 * The SAML routes (mounted by src/api/server.ts when auth.saml is configured):
 *
 * - `GET /auth/saml/login?next=/path`: starts an SP-initiated login. HTTP-Redirect binding: 302 to the IdP with the
 *   deflated AuthnRequest (and SigAlg + Signature when the SP has a key); HTTP-POST binding: a page whose form posts
 *   the AuthnRequest to the IdP. `next` (a local path) comes back as RelayState.
 * - `POST /auth/saml/acs`: the assertion consumer service (HTTP-POST binding, form fields SAMLResponse and
 *   RelayState). A valid response starts the session a password login starts and answers 303 to `next` with the
 *   console's refresh cookie (src/console/session.ts), which the console turns into an access token through
 *   POST /console/session/refresh. A refusal is the API's JSON error with its E_SAML_* code; no session starts.
 * - `GET /auth/saml/metadata`: the SP metadata (XML) to register at the IdP.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuthService } from './service.js';
import { localPath } from './saml.js';
import { consoleSessionCookie } from '../console/session.js';
import { HttpError, contentType, type Reply, type Route } from '../http/index.js';

const FORM = 'application/x-www-form-urlencoded';

function samlMetrics(auth: AuthService, registry: Registry): void {
  const sp = auth.saml!;
  const names = ['vigil_saml_logins_total', 'vigil_saml_pending_requests', 'vigil_saml_pending_requests_dropped_total', 'vigil_saml_replay_cache_entries', 'vigil_saml_replay_cache_full_total'];
  for (const n of names) registry.removeSingleMetric(n);
  new Counter({
    name: names[0]!,
    help: 'SAML assertion consumer calls by outcome (ok or the refusal code)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of sp.outcomes) this.inc({ outcome }, n);
    },
  });
  new Gauge({ name: names[1]!, help: 'SP-initiated SAML login requests waiting for their response', registers: [registry], collect() { this.set(sp.pendingRequests.size); } });
  new Gauge({ name: names[2]!, help: 'SAML login requests dropped unanswered because the pending set was full', registers: [registry], collect() { this.set(sp.pendingRequests.evicted); } });
  new Gauge({ name: names[3]!, help: 'Assertion ids remembered against replay', registers: [registry], collect() { this.set(sp.replay.size); } });
  new Gauge({ name: names[4]!, help: 'SAML logins refused because the replay cache was full of live ids', registers: [registry], collect() { this.set(sp.replay.refusedFull); } });
}

export function samlRoutes(auth: AuthService, registry?: Registry): Route[] {
  const sp = auth.saml;
  if (!sp) return [];
  if (registry) samlMetrics(auth, registry);
  return [
    {
      method: 'get',
      pattern: '/auth/saml/login',
      handler: async (ctx): Promise<Reply> => {
        const raw = ctx.query.get('next');
        const next = raw === null ? null : localPath(raw);
        if (raw !== null && next === null) throw new HttpError(400, 'E_VALIDATION', `Expected a local path such as "/ui" for next but received ${JSON.stringify(raw.slice(0, 100))}`);
        const start = await sp.start(next);
        if (start.binding === 'redirect') return { status: 302, headers: { location: start.url }, text: '' };
        return {
          status: 200,
          text: start.html,
          contentType: 'text/html; charset=utf-8',
          // the page only posts its form to the IdP
          headers: { 'content-security-policy': `default-src 'none'; script-src 'unsafe-inline'; form-action ${new URL(sp.cfg.idp.ssoUrl).origin}; frame-ancestors 'none'` },
        };
      },
    },
    {
      method: 'post',
      pattern: '/auth/saml/acs',
      body: true,
      maxBodyBytes: 512 * 1024,
      handler: async (ctx) => {
        if (contentType(ctx) !== FORM) throw new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', `Expected Content-Type ${FORM}`);
        const form = new URLSearchParams((ctx.body ?? Buffer.alloc(0)).toString('utf8'));
        const samlResponse = form.get('SAMLResponse');
        if (samlResponse === null) throw new HttpError(400, 'E_SAML_REQUEST', 'Expected the form field SAMLResponse');
        const relayState = form.get('RelayState') ?? undefined;
        const r = await auth.samlLogin(samlResponse, relayState, auth.clientAddress(ctx.ip, ctx.headers['x-forwarded-for']));
        return {
          status: 303,
          text: '',
          headers: { location: r.next, 'set-cookie': consoleSessionCookie(ctx, r.refresh_token, r.refresh_expires_in) },
        };
      },
    },
    {
      method: 'get',
      pattern: '/auth/saml/metadata',
      handler: async () => ({ status: 200, text: sp.metadata(), contentType: 'application/samlmetadata+xml' }),
    },
  ];
}
