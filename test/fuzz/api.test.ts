/**
 * Property-based fuzzing of the network surface on the real uWS server (loopback): REST query strings and JSON
 * bodies with hostile values (huge and negative numbers, times past 2^64 ns, repeated parameters, unicode, junk
 * percent-encoding) must never give a 5xx; WebSocket control frames — arbitrary text, near-valid JSON, arbitrary
 * binary and valid FlatBuffers messages (the server refuses binary frames) — each get an answer and never make
 * the server drop the connection; afterwards /health answers and a new client still subscribes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AUDIENCE, ISSUER, SECRET, closeWs, connectWs, startHarness, waitFor, type Harness } from '../integration/api-helpers.js';
import { WireEncoder } from '../../src/stream/codec.js';
import { hostileJson, params, report, tick } from './fuzz.js';

let h: Harness;
before(async () => {
  // Access tokens for a day: a long run outlasts the default lifetime, and the server rightly closes a stream socket
  // at its token's expiry (4001), which is not what this target tests.
  h = await startHarness({ auth: { jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE, accessTtlS: 86_400 } } });
});
after(() => h.close());

const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('18446744073709551616', '99999999999999999999999', '-1', '0', '1e400', 'NaN', '2026-12-06T10:00:00Z', '+275760-09-13T00:00:00Z',
    '%', '%zz', 'cam-1', 'cam-1,cam-2', 'person,car', '', ' ', '\u0000', '1000001', '0.5', 'true'),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double().map(String),
);
const NAMES = ['camera_id', 'start_time', 'end_time', 'confidence_min', 'class', 'page', 'page_size', 'limit', 'cursor', 'order', 'state', 'x'];
const queryString = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom(...NAMES), value), { maxLength: 6 }).map((kv) => new URLSearchParams(kv).toString()),
  fc.string({ maxLength: 80 }).map((s) => encodeURI(s).replace(/#/g, '%23')),
);
// Routes the harness serves (rules, alerts and recordings answer 503 E_UNAVAILABLE without their services).
const GETS = ['/detections', '/cameras', '/cameras/cam-1', '/cameras/%00', '/health', '/users', '/users/vera', '/metrics', '/openapi.json'];

test('REST: hostile query strings never give a 5xx', async () => {
  const p = params<[string, string, boolean]>(250);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...GETS), queryString, fc.boolean(), async (path, qs, admin) => {
      const res = await fetch(`${h.base}${path}?${qs}`, { headers: { authorization: `Bearer ${admin ? h.tokens.admin.access_token : h.tokens.vera.access_token}` } });
      const body = await res.text();
      assert.ok(res.status < 500, `${path}?${qs} -> ${res.status} ${body.slice(0, 300)}`);
    }),
    p,
  );
  report('api.rest-query', p.numRuns!);
});

test('REST: hostile JSON bodies never give a 5xx', async () => {
  const user = fc.record(
    { username: fc.oneof(fc.string({ maxLength: 70 }), hostileJson), password: fc.oneof(fc.string({ maxLength: 80 }), hostileJson), role: fc.oneof(fc.constantFrom('admin', 'operator', 'viewer'), hostileJson), cameras: fc.oneof(fc.constant('*'), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), hostileJson) },
    { requiredKeys: [] },
  );
  const p = params<[string, unknown, boolean]>(200);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('POST /users', 'PUT /users/vera', 'POST /auth/refresh', 'POST /search', 'POST /rules', 'POST /cameras'), fc.oneof(user, hostileJson), fc.boolean(), async (route, json, asJson) => {
      const [method, path] = route.split(' ') as [string, string];
      const res = await fetch(`${h.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${h.tokens.olga.access_token}`, 'content-type': asJson ? 'application/json' : 'text/plain' },
        body: JSON.stringify(json) ?? 'undefined',
      });
      const body = await res.text();
      assert.ok(res.status < 500, `${route} ${JSON.stringify(json)?.slice(0, 200)} -> ${res.status} ${body.slice(0, 300)}`);
    }),
    p,
  );
  report('api.rest-body', p.numRuns!);
});

test('WebSocket: hostile control frames (text, JSON, binary, FlatBuffers) are answered, the connection stays up', async () => {
  const ws = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
  const enc = new WireEncoder();
  const flat = fc.oneof(
    fc.record({ code: fc.string(), message: fc.string(), requestId: fc.string({ maxLength: 64 }) }).map((e) => enc.encodeError(e)),
    fc.record({ requestId: fc.string({ maxLength: 64 }), replayFrom: fc.nat(), replayTo: fc.nat(), gap: fc.nat() }).map((a) => enc.encodeAck(a)),
  );
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((b) => ({ data: Buffer.from(b), binary: true })),
    flat.map((b) => ({ data: Buffer.from(b), binary: true })),
    fc.string({ maxLength: 500 }).map((s) => ({ data: s, binary: false })),
    fc.oneof(hostileJson, fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe', 'x'), id: fc.string({ maxLength: 70 }), resume_after: fc.oneof(fc.nat(), hostileJson), kinds: hostileJson, cameras: hostileJson }, { requiredKeys: [] }))
      .map((m) => ({ data: (JSON.stringify(m) ?? 'null').slice(0, 8000), binary: false })),
  );
  const p = params<[{ data: string | Buffer; binary: boolean }]>(300);
  let closedBy: number | null = null;
  ws.on('close', (code) => (closedBy = code));
  await fc.assert(
    fc.asyncProperty(frame, async (f) => {
      const before = ws.inbox.length;
      ws.send(f.data, { binary: f.binary });
      await waitFor(() => ws.inbox.length > before || closedBy !== null, 10_000, 'an answer to a control frame');
      assert.equal(closedBy, null, `the server closed the socket after ${JSON.stringify(f.data).slice(0, 200)}`);
      tick('api.ws-control');
      // the answers are counted, not kept: a long run would hold a million of them
      if (ws.inbox.length > 10_000) ws.inbox.splice(0, ws.inbox.length);
    }),
    p,
  );
  report('api.ws-control', p.numRuns!);
  await closeWs(ws);
  const health = await fetch(`${h.base}/health`);
  assert.equal(health.status, 200);
  const fresh = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
  const n = fresh.inbox.length;
  fresh.send(JSON.stringify({ type: 'subscribe', id: 'after-fuzz' }));
  await waitFor(() => fresh.inbox.length > n, 10_000, 'the subscribe ack');
  await closeWs(fresh);
});
