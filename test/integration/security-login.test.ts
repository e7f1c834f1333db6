/**
 * Lockout abuse (issue #17 item 8) over HTTP: failed logins lock one (user, client address) pair with a doubling
 * lockout, never the user everywhere; behind a trusted proxy (auth.trustedProxies) the client address is the
 * nearest untrusted hop of X-Forwarded-For, and from any other peer the header is ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './api-helpers.js';

async function login(base: string, password: string, forwardedFor?: string) {
  const r = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ username: 'olga', password }),
  });
  const body = (await r.json()) as { error?: { code: string } };
  return { status: r.status, code: body.error?.code ?? null, retryAfter: r.headers.get('retry-after') };
}

test('behind a trusted proxy: a guesser locks out its own address, not the real user', async () => {
  const frozen = Date.now(); // lockout times exact whatever scrypt costs on a busy machine
  const h = await startHarness({ auth: { now: () => frozen, trustedProxies: ['127.0.0.0/8'], rateLimits: { loginFailuresPerUser: { max: 3, windowS: 60 } } } });
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual(await login(h.base, `guess-${i}`, '203.0.113.7'), { status: 401, code: 'E_AUTH_BAD_CREDENTIALS', retryAfter: null });
    assert.deepEqual(await login(h.base, 'operator-pass', '203.0.113.7'), { status: 429, code: 'E_RATE_LIMITED', retryAfter: '60' });
    // prepending a made-up address does not help: the proxy appended the real one last
    assert.deepEqual(await login(h.base, 'operator-pass', '198.51.100.2, 203.0.113.7'), { status: 429, code: 'E_RATE_LIMITED', retryAfter: '60' });
    // the real user, elsewhere, is not locked out (before the fix: 429 for everybody)
    assert.equal((await login(h.base, 'operator-pass', '198.51.100.2')).status, 200);
    // a trusted hop in the chain is skipped: the client is the address before it
    assert.equal((await login(h.base, 'operator-pass', '198.51.100.9, 127.0.0.5')).status, 200);
    assert.deepEqual(await login(h.base, 'operator-pass', '203.0.113.7, 127.0.0.5'), { status: 429, code: 'E_RATE_LIMITED', retryAfter: '60' });
  } finally {
    await h.close();
  }
});

test('without a trusted proxy X-Forwarded-For is ignored: it cannot be used to dodge the lockout', async () => {
  const frozen = Date.now();
  const h = await startHarness({ auth: { now: () => frozen, rateLimits: { loginFailuresPerUser: { max: 2, windowS: 30 } } } });
  try {
    for (let i = 0; i < 2; i++) assert.equal((await login(h.base, `guess-${i}`, `192.0.2.${i}`)).status, 401);
    assert.deepEqual(await login(h.base, 'operator-pass', '198.51.100.2'), { status: 429, code: 'E_RATE_LIMITED', retryAfter: '30' });
  } finally {
    await h.close();
  }
});

test('auth.trustedProxies entries are checked', async () => {
  await assert.rejects(startHarness({ auth: { trustedProxies: ['10.0.0.0/33'] } }), {
    code: 'E_CONFIG',
    message: 'Expected an IP address or CIDR range such as "10.0.0.0/8" for auth.trustedProxies[0] but received "10.0.0.0/33"',
  });
});
