import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  digestAuthorization,
  parseAuthChallenges,
  pickDigestChallenge,
  redactText,
  stripUrlCredentials,
} from '../../src/integrations/http-client.js';
import { redactUrl } from '../../src/redact.js';

// RFC 7616 §3.9.1: the worked example (user Mufasa, password "Circle of Life").
const RFC_NONCE = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
const RFC_OPAQUE = 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS';
const RFC_CNONCE = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
const RFC_HEADER = [
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="${RFC_NONCE}", opaque="${RFC_OPAQUE}"`,
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="${RFC_NONCE}", opaque="${RFC_OPAQUE}"`,
];

test('parses several WWW-Authenticate values and several challenges in one value', () => {
  const ch = parseAuthChallenges([...RFC_HEADER, 'Basic realm="cam", charset="UTF-8", Bearer error="invalid_token"']);
  assert.deepEqual(
    ch.map((c) => [c.scheme, c.params.algorithm ?? null, c.params.realm ?? null]),
    [
      ['digest', 'SHA-256', 'http-auth@example.org'],
      ['digest', 'MD5', 'http-auth@example.org'],
      ['basic', null, 'cam'],
      ['bearer', null, null],
    ],
  );
  assert.equal(ch[0]!.params.qop, 'auth, auth-int');
  assert.equal(ch[3]!.params.error, 'invalid_token');
  // Escaped quotes inside a quoted string
  assert.equal(parseAuthChallenges('Digest realm="a \\"b\\" c", nonce=xyz')[0]!.params.realm, 'a "b" c');
});

test('RFC 7616 example: SHA-256 is preferred and its response matches the RFC', () => {
  const picked = pickDigestChallenge(parseAuthChallenges(RFC_HEADER));
  assert.equal(picked?.params.algorithm, 'SHA-256');
  const header = digestAuthorization({
    challenge: picked!,
    username: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: RFC_CNONCE,
  });
  assert.equal(
    header,
    `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="${RFC_NONCE}", ` +
      `nc=00000001, cnonce="${RFC_CNONCE}", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ` +
      `opaque="${RFC_OPAQUE}"`,
  );
});

test('RFC 7616 example: MD5 response matches the RFC', () => {
  const md5 = parseAuthChallenges(RFC_HEADER[1]!)[0]!;
  const header = digestAuthorization({
    challenge: md5,
    username: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: RFC_CNONCE,
  });
  assert.match(header, /response="8ca523f5e9506fed4657c9700eebdbec"/);
  assert.match(header, /algorithm=MD5/);
});

test('RFC 2617 §3.5 example (MD5, qop=auth); nonce count is 8 hex digits', () => {
  const c = parseAuthChallenges('Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')[0]!;
  const header = digestAuthorization({
    challenge: c,
    username: 'Mufasa',
    password: 'Circle Of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: '0a4f113b',
  });
  // RFC 2617 §3.5 response value
  assert.match(header, /response="6629fae49393a05397450978507c4ef1"/);
  const h26 = digestAuthorization({ challenge: c, username: 'u', password: 'p', method: 'GET', uri: '/', nc: 26, cnonce: 'x' });
  assert.match(h26, /nc=0000001a/);
});

test('challenges we cannot answer are not picked', () => {
  assert.equal(pickDigestChallenge(parseAuthChallenges('Digest realm="r", nonce="n", algorithm=SHA-1')), null);
  assert.equal(pickDigestChallenge(parseAuthChallenges('Digest realm="r", nonce="n", qop="auth-int"')), null);
  assert.equal(pickDigestChallenge(parseAuthChallenges('Basic realm="r"')), null);
  assert.equal(pickDigestChallenge(parseAuthChallenges('Digest realm="r"')), null); // no nonce
});

test('redacts user:password in URLs, percent-encoded and double-encoded forms, and secret parameters', () => {
  assert.equal(stripUrlCredentials('rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101'), 'rtsp://10.0.0.5:554/Streaming/Channels/101');
  // For display (the camera layer's redactUrl, same module): the credentials' place stays visible.
  assert.equal(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101'), 'rtsp://***@10.0.0.5:554/Streaming/Channels/101');
  // A raw '@' inside the password: removed whole, not cut at its first '@'.
  assert.equal(redactUrl('rtsp://admin:p@ss@cam/x?y=1'), 'rtsp://***@cam/x?y=1');
  // Every encoding a secret is likely to take: encodeURIComponent (once, twice), encodeURI, escape.
  const pw = 'p@ss w/rd%é';
  const text = [pw, encodeURIComponent(pw), encodeURIComponent(encodeURIComponent(pw)), encodeURI(pw), escape(pw)].join(' | ');
  assert.equal(redactText(text, [pw]), '*** | *** | *** | *** | ***');
  assert.equal(redactText('x=ab y=ab', ['ab']), 'x=ab y=ab'); // too short to replace as free text
  assert.equal(
    redactText('failed rtsp://admin:p%40ss@cam/x and http://u:p@h/'),
    'failed rtsp://***@cam/x and http://***@h/',
  );
  assert.equal(
    redactText('url=rtsp%3A%2F%2Fadmin%3As3cret%40cam%2Fstream&x=1'),
    'url=rtsp%3A%2F%2F***%40cam%2Fstream&x=1',
  );
  assert.equal(redactText('u=rtsp%253A%252F%252Fadmin%253Ax%2540cam'), 'u=rtsp%253A%252F%252F***%2540cam');
  assert.equal(redactText('GET /a?user=x&password=hunter22&b=2'), 'GET /a?user=x&password=***&b=2');
  assert.equal(redactText('login with Tr0ub4dor&3 refused; encoded Tr0ub4dor%263', ['Tr0ub4dor&3']), 'login with *** refused; encoded ***');
});
