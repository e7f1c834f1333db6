/**
 * SSRF guard (src/net): the policy runs in its default strict mode (no `allow` entries) unless a test says
 * otherwise. Canary listeners on 127.0.0.1 and ::1 count every TCP connection they receive; refused URLs must
 * reach none of them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { OutboundPolicy, policyRequest, classifyAddress } from '../../src/net/index.js';

let canary4: net.Server;
let canary6: net.Server | null = null;
let port4 = 0;
let port6 = 0;
let connections = 0;

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

before(async () => {
  const onConn = (s: net.Socket) => {
    connections++;
    s.destroy();
  };
  canary4 = net.createServer(onConn);
  port4 = await listen(canary4, '127.0.0.1');
  try {
    const s6 = net.createServer(onConn);
    port6 = await listen(s6, '::1');
    canary6 = s6;
  } catch {
    canary6 = null; // no IPv6 loopback on this host: the [::1] case is still refused before any connect
  }
});

after(async () => {
  await new Promise<void>((r) => canary4.close(() => r()));
  if (canary6) await new Promise<void>((r) => canary6!.close(() => r()));
});

test('address classification: exact categories', () => {
  const cases: [string, boolean, string][] = [
    ['127.0.0.1', false, 'loopback'],
    ['127.255.0.9', false, 'loopback'],
    ['10.1.2.3', false, 'private'],
    ['172.16.0.1', false, 'private'],
    ['172.32.0.1', true, 'public'],
    ['192.168.1.1', false, 'private'],
    ['169.254.169.254', false, 'link-local (cloud metadata)'],
    ['100.100.100.200', false, 'carrier-grade NAT'],
    ['0.0.0.0', false, 'unspecified'],
    ['224.0.0.251', false, 'multicast'],
    ['255.255.255.255', false, 'broadcast'],
    ['8.8.8.8', true, 'public'],
    ['::', false, 'unspecified'],
    ['::1', false, 'loopback'],
    ['fe80::1', false, 'link-local'],
    ['fd00:ec2::254', false, 'unique local (private; cloud metadata fd00:ec2::254)'],
    ['ff02::1', false, 'multicast'],
    ['::ffff:127.0.0.1', false, 'loopback (IPv4 127.0.0.1 inside IPv6)'],
    ['::ffff:7f00:1', false, 'loopback (IPv4 127.0.0.1 inside IPv6)'],
    ['::ffff:169.254.169.254', false, 'link-local (cloud metadata) (IPv4 169.254.169.254 inside IPv6)'],
    ['64:ff9b::a9fe:a9fe', false, 'link-local (cloud metadata) (IPv4 169.254.169.254 inside IPv6)'],
    ['2002:7f00:1::', false, 'loopback (IPv4 127.0.0.1 inside IPv6)'],
    ['::ffff:8.8.8.8', true, 'public'],
    ['2606:4700::1111', true, 'public'],
    ['localhost', false, 'not an IP address'],
  ];
  for (const [a, allowed, category] of cases) assert.deepEqual(classifyAddress(a), { allowed, category }, a);
});

test('strict policy refuses loopback, metadata, odd IPv4 forms, names resolving to loopback; no connection reaches the canary', async () => {
  const policy = new OutboundPolicy();
  assert.equal(policy.strict, true);
  const cases: [string, string][] = [
    [`http://127.0.0.1:${port4}/hook`, `Refused outbound URL http://127.0.0.1:${port4}: address 127.0.0.1 is loopback`],
    [`http://[::1]:${port6 || 9}/hook`, `Refused outbound URL http://[::1]:${port6 || 9}: address ::1 is loopback`],
    ['http://169.254.169.254/latest/meta-data/', 'Refused outbound URL http://169.254.169.254: address 169.254.169.254 is link-local (cloud metadata)'],
    [`http://2130706433:${port4}/`, `Refused outbound URL http://127.0.0.1:${port4}: address 127.0.0.1 is loopback`],
    [`http://0x7f.1:${port4}/`, `Refused outbound URL http://127.0.0.1:${port4}: address 127.0.0.1 is loopback`],
    [`http://0177.0.0.1:${port4}/`, `Refused outbound URL http://127.0.0.1:${port4}: address 127.0.0.1 is loopback`],
    [`http://[::ffff:127.0.0.1]:${port4}/`, `Refused outbound URL http://[::ffff:7f00:1]:${port4}: address ::ffff:7f00:1 is loopback (IPv4 127.0.0.1 inside IPv6)`],
    [`http://0.0.0.0:${port4}/`, `Refused outbound URL http://0.0.0.0:${port4}: address 0.0.0.0 is unspecified`],
    [`ftp://example.com/x`, 'Refused outbound URL ftp://example.com: scheme ftp: is not allowed (allowed: https:, http:)'],
    ['not a url', 'Refused outbound URL: not a valid absolute URL'],
  ];
  for (const [url, message] of cases) {
    await assert.rejects(policyRequest(policy, url, { body: '{}' }), { code: 'E_URL_POLICY', message }, url);
  }
  // `localhost` resolves (system resolver) to loopback only; which of 127.0.0.1 / ::1 comes first depends on the host.
  await assert.rejects(policyRequest(policy, `http://localhost:${port4}/x`), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_URL_POLICY');
    assert.match(err.message, new RegExp(`^Refused outbound URL http://localhost:${port4}: address (127\\.0\\.0\\.1|::1) is loopback$`));
    return true;
  });
  // A name whose answers mix a public and a loopback address is refused as a whole.
  const mixed = new OutboundPolicy({ resolver: async () => [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }] });
  await assert.rejects(policyRequest(mixed, `https://rebind.example:${port4}/`), { code: 'E_URL_POLICY', message: `Refused outbound URL https://rebind.example:${port4}: address 127.0.0.1 is loopback` });
  // The secret path of a webhook URL never appears in the error.
  await assert.rejects(policyRequest(policy, 'http://127.0.0.1/services/T000/B000/SECRETTOKEN'), (err: Error) => !err.message.includes('SECRETTOKEN'));
  assert.equal(connections, 0);
});

test('a redirect to loopback is refused, never followed; the canary sees no connection', async () => {
  // The redirector itself is on loopback, so it needs the one explicit allowance (its exact address:port).
  const redirector = http.createServer((_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${port4}/steal` });
    res.end();
  });
  const rport = await listen(redirector, '127.0.0.1');
  try {
    const policy = new OutboundPolicy({ allow: [`127.0.0.1:${rport}`] });
    await assert.rejects(policyRequest(policy, `http://127.0.0.1:${rport}/hook`, { body: '{}' }), {
      code: 'E_URL_REDIRECT',
      message: `Refused redirect from http://127.0.0.1:${rport} (HTTP 302): redirects are not followed`,
      status: 302,
    });
    // The allowance is exact: the canary's port stays refused under the same policy.
    await assert.rejects(policyRequest(policy, `http://127.0.0.1:${port4}/`), { code: 'E_URL_POLICY' });
    assert.equal(connections, 0);
  } finally {
    await new Promise<void>((r) => redirector.close(() => r()));
  }
});

test('the connection goes to the address that was checked (resolved once, pinned)', async () => {
  let resolves = 0;
  let hostHeader = '';
  const server = http.createServer((req, res) => {
    hostHeader = req.headers.host ?? '';
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  const port = await listen(server, '127.0.0.1');
  try {
    // "hooks.invalid" does not exist in DNS: the request can only arrive through the checked, pinned address.
    const policy = new OutboundPolicy({
      allow: [`127.0.0.1:${port}`],
      resolver: async (name) => {
        resolves++;
        assert.equal(name, 'hooks.invalid');
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    const res = await policyRequest(policy, `http://hooks.invalid:${port}/x`, { body: 'a' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    assert.equal(hostHeader, `hooks.invalid:${port}`);
    assert.equal(resolves, 1);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('allow entries are validated', () => {
  assert.throws(() => new OutboundPolicy({ allow: ['example.com:80'] }), {
    code: 'E_ARGUMENT',
    message: 'Expected an "address", "address:port" or "[v6]:port" entry for outbound.allow but received "example.com:80"',
  });
  assert.throws(() => new OutboundPolicy({ allowedSchemes: ['file:'] }), { message: 'Expected "http:" or "https:" for outbound.allowedSchemes but received "file:"' });
});
