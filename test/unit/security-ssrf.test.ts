/**
 * SSRF guard gaps (issue #17 item 9): the SIIT form of IPv4-translated addresses (::ffff:0:a.b.c.d, RFC 6145) is
 * judged by its IPv4 address, and the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215), whose translator can reach
 * any private IPv4 network, is refused; the outbound policy refuses them in URLs; VMS adapters given an `allow`
 * list go through the same policy (loopback refused unless listed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { classifyAddress } from '../../src/net/address.js';
import { OutboundPolicy } from '../../src/net/outbound.js';
import { createVmsAdapter } from '../../src/integrations/vms/factory.js';

test('IPv4-translated (SIIT) addresses are judged by their IPv4 address', () => {
  assert.deepEqual(classifyAddress('::ffff:0:127.0.0.1'), { allowed: false, category: 'loopback (IPv4 127.0.0.1 inside IPv6)' });
  assert.deepEqual(classifyAddress('::ffff:0:7f00:1'), { allowed: false, category: 'loopback (IPv4 127.0.0.1 inside IPv6)' });
  assert.deepEqual(classifyAddress('::ffff:0:a9fe:a9fe'), { allowed: false, category: 'link-local (cloud metadata) (IPv4 169.254.169.254 inside IPv6)' });
  assert.deepEqual(classifyAddress('::ffff:0:10.1.2.3'), { allowed: false, category: 'private (IPv4 10.1.2.3 inside IPv6)' });
  assert.deepEqual(classifyAddress('::ffff:0:0:0'), { allowed: false, category: 'unspecified (IPv4 0.0.0.0 inside IPv6)' });
  // a public IPv4 address in the same form stays public
  assert.deepEqual(classifyAddress('::ffff:0:8.8.8.8'), { allowed: true, category: 'public' });
});

test('the local-use NAT64 prefix 64:ff9b:1::/48 is refused whatever it embeds', () => {
  for (const a of ['64:ff9b:1::7f00:1', '64:ff9b:1::808:808', '64:ff9b:1:ffff::1', '64:ff9b:1:a00:102::']) {
    assert.deepEqual(classifyAddress(a), { allowed: false, category: 'local-use NAT64 (RFC 8215)' }, a);
  }
  // the well-known NAT64 prefix keeps its IPv4 judgement
  assert.deepEqual(classifyAddress('64:ff9b::808:808'), { allowed: true, category: 'public' });
  assert.equal(classifyAddress('64:ff9b::7f00:1').allowed, false);
});

test('the outbound policy refuses both forms in URLs', async () => {
  const policy = new OutboundPolicy();
  await assert.rejects(policy.check('http://[::ffff:0:127.0.0.1]:8080/hook'), {
    code: 'E_URL_POLICY',
    message: 'Refused outbound URL http://[::ffff:0:7f00:1]:8080: address ::ffff:0:7f00:1 is loopback (IPv4 127.0.0.1 inside IPv6)',
  });
  await assert.rejects(policy.check('https://[64:ff9b:1::a00:1]/'), {
    code: 'E_URL_POLICY',
    message: 'Refused outbound URL https://[64:ff9b:1::a00:1]: address 64:ff9b:1::a00:1 is local-use NAT64 (RFC 8215)',
  });
});

test('VMS adapters with an allow list go through the outbound policy', async () => {
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const base = { type: 'hikvision', name: 'lobby', baseUrl: `http://127.0.0.1:${port}`, username: 'svc', password: 'pw' } as const;
    const strict = createVmsAdapter({ ...base, allow: [] });
    await assert.rejects(strict.listCameras(), {
      code: 'E_VMS_CONFIG',
      message: `hikvision source lobby: Outbound URL refused: Refused outbound URL http://127.0.0.1:${port}: address 127.0.0.1 is loopback`,
    });
    strict.close();
    // listed: reached (the peer's 404 is its answer)
    const listed = createVmsAdapter({ ...base, allow: [`127.0.0.1:${port}`] });
    await assert.rejects(listed.listCameras(), { message: /returned HTTP 404$/ });
    listed.close();
    assert.throws(() => createVmsAdapter({ ...base, allow: ['not-an-address'] }), {
      message: 'Expected an "address", "address:port" or "[v6]:port" entry for vms.lobby.allow[0] but received "not-an-address"',
    });
  } finally {
    server.close();
  }
});
