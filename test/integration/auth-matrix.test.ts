/**
 * Auth matrix: every protected route and the WebSocket upgrade x {no token, expired, alg none, HS512, RS256,
 * wrong iss, wrong aud, refresh token used as access, tampered signature, tampered claims, viewer role,
 * out-of-scope camera}: exact statuses and codes, so there is no unexpected 2xx.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, generateKeyPair } from 'jose';
import * as flatbuffers from 'flatbuffers';
import {
  vigil_wire_ErrorNotice as ErrorNotice,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
} from '../../src/stream/generated/message_generated.js';
import { ACCESS_TYP } from '../../src/auth/tokens.js';
import { AUDIENCE, ISSUER, SECRET, closeWs, connectWs, startHarness, waitFor, type Harness } from './api-helpers.js';

let h: Harness;
const forged: Record<string, string | undefined> = {};

before(async () => {
  h = await startHarness();
  const admin = h.tokens.admin.access_token;
  const payload = JSON.parse(Buffer.from(admin.split('.')[1]!, 'base64url').toString());
  const key = new TextEncoder().encode(SECRET);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: object, alg = 'HS256', typ = ACCESS_TYP) =>
    new SignJWT({ ...payload, ...claims }).setProtectedHeader({ alg, typ }).sign(key);
  const rsa = await generateKeyPair('RS256');
  forged['no token'] = undefined;
  forged['expired'] = await sign({ iat: now - 3600, exp: now - 1800 });
  forged['alg none'] = `${b64({ alg: 'none', typ: ACCESS_TYP })}.${b64(payload)}.`;
  forged['HS512'] = await sign({}, 'HS512');
  forged['RS256'] = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: ACCESS_TYP }).sign(rsa.privateKey);
  forged['wrong iss'] = await sign({ iss: 'not-vigil' });
  forged['wrong aud'] = await sign({ aud: 'not-vigil-api' });
  forged['refresh as access'] = h.tokens.admin.refresh_token;
  const sig = admin.split('.')[2]!;
  forged['tampered signature'] = `${admin.split('.').slice(0, 2).join('.')}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
  forged['tampered claims'] = `${b64({ alg: 'HS256', typ: ACCESS_TYP })}.${b64({ ...payload, sub: 'mallory' })}.${sig}`;
  // sanity: the untampered base token works and the forging key/claims are right (a control)
  assert.equal(ISSUER, payload.iss);
  assert.equal(AUDIENCE, payload.aud);
  forged['control (valid re-signed)'] = await sign({});
});
after(() => h.close());

const BAD_TOKEN_CODES: Record<string, string> = {
  'no token': 'E_AUTH_MISSING',
  expired: 'E_AUTH_EXPIRED',
  'alg none': 'E_AUTH_INVALID',
  HS512: 'E_AUTH_INVALID',
  RS256: 'E_AUTH_INVALID',
  'wrong iss': 'E_AUTH_INVALID',
  'wrong aud': 'E_AUTH_INVALID',
  'refresh as access': 'E_AUTH_TOKEN_TYPE',
  'tampered signature': 'E_AUTH_INVALID',
  'tampered claims': 'E_AUTH_INVALID',
};

const PROTECTED: Array<{ method: string; path: string; json?: unknown; admin: number; viewer: number; viewerCode?: string }> = [
  { method: 'GET', path: '/cameras', admin: 200, viewer: 200 },
  { method: 'GET', path: '/cameras/cam-1', admin: 200, viewer: 200 },
  { method: 'GET', path: '/cameras/cam-2', admin: 200, viewer: 403, viewerCode: 'E_FORBIDDEN_CAMERA' },
  { method: 'GET', path: '/detections', admin: 200, viewer: 200 },
  { method: 'GET', path: '/detections?camera_id=cam-2', admin: 200, viewer: 403, viewerCode: 'E_FORBIDDEN_CAMERA' },
  { method: 'GET', path: '/users', admin: 200, viewer: 403, viewerCode: 'E_FORBIDDEN' },
  { method: 'POST', path: '/users', json: { username: 'made-by-matrix', password: 'matrix-pass', role: 'admin' }, admin: 201, viewer: 403, viewerCode: 'E_FORBIDDEN' },
  { method: 'GET', path: '/metrics', admin: 200, viewer: 403, viewerCode: 'E_FORBIDDEN' },
];

async function call(method: string, path: string, token: string | undefined, json?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${h.base}${path}`, { method, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  const text = await r.text();
  return { status: r.status, body: (r.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text };
}

test('every protected route refuses every bad token with 401 and its code', async () => {
  for (const route of PROTECTED) {
    for (const [scenario, code] of Object.entries(BAD_TOKEN_CODES)) {
      const r = await call(route.method, route.path, forged[scenario], route.json);
      assert.equal(r.status, 401, `${route.method} ${route.path} with ${scenario}`);
      assert.equal(r.body.error.code, code, `${route.method} ${route.path} with ${scenario}`);
    }
  }
});

test('viewer role and camera scope: 403 where not allowed, in-scope data only where allowed', async () => {
  for (const route of PROTECTED) {
    const json = route.json ? { ...(route.json as object), username: 'made-by-viewer' } : undefined;
    const r = await call(route.method, route.path, h.tokens.vera.access_token, json);
    assert.equal(r.status, route.viewer, `${route.method} ${route.path} as viewer`);
    if (route.viewerCode) assert.equal(r.body.error.code, route.viewerCode);
  }
  const cams = await call('GET', '/cameras', h.tokens.vera.access_token);
  assert.deepEqual(cams.body.map((c: { id: string }) => c.id), ['cam-1']);
  const dets = await call('GET', '/detections', h.tokens.vera.access_token);
  assert.deepEqual([...new Set(dets.body.detections.map((d: { camera_id: string }) => d.camera_id))], ['cam-1']);
  // operator: everything but user management
  for (const route of PROTECTED) {
    const json = route.json ? { ...(route.json as object), username: 'made-by-operator' } : undefined;
    const r = await call(route.method, route.path, h.tokens.olga.access_token, json);
    const want = route.path === '/users' ? 403 : route.admin;
    assert.equal(r.status, want, `${route.method} ${route.path} as operator`);
  }
});

test('admin and the control token succeed (the matrix is not vacuous)', async () => {
  for (const route of PROTECTED) {
    const r = await call(route.method, route.path, h.tokens.admin.access_token, route.json);
    assert.equal(r.status, route.admin, `${route.method} ${route.path} as admin`);
  }
  assert.equal((await call('GET', '/cameras', forged['control (valid re-signed)'])).status, 200);
});

test('refresh and logout refuse forged refresh tokens', async () => {
  for (const scenario of ['expired', 'alg none', 'HS512', 'RS256', 'wrong iss', 'wrong aud', 'tampered signature']) {
    // these were built from an ACCESS token's claims; whatever the reason, none may rotate or revoke
    for (const path of ['/auth/refresh', '/auth/logout']) {
      const r = await call('POST', path, undefined, { refresh_token: forged[scenario] });
      assert.equal(r.status, 401, `${path} with ${scenario}`);
    }
  }
  const r = await call('POST', '/auth/refresh', undefined, { refresh_token: h.tokens.admin.access_token });
  assert.deepEqual([r.status, r.body.error.code], [401, 'E_AUTH_TOKEN_TYPE']);
});

test('WebSocket upgrade: every bad token refused (header and subprotocol), viewer scope enforced on subscribe', async () => {
  for (const [scenario, code] of Object.entries(BAD_TOKEN_CODES)) {
    for (const via of ['header', 'protocol'] as const) {
      const token = forged[scenario];
      await assert.rejects(
        connectWs(h.wsUrl, token === undefined ? {} : { token, via }),
        (err: { status?: number; body?: string }) => {
          assert.equal(err.status, 401, `${scenario} via ${via}`);
          assert.equal(JSON.parse(err.body!).error.code, code, `${scenario} via ${via}`);
          return true;
        },
      );
    }
  }
  await assert.rejects(connectWs(h.wsUrl, { token: h.tokens.admin.access_token, headers: { origin: 'https://evil.example' } }), { status: 403 });
  // viewer: may connect, may not subscribe to cam-2, never receives cam-2 events
  const ws = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token, via: 'protocol' });
  const msgs = {
    get length() {
      return ws.inbox.length;
    },
    at: (i: number) => Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(ws.inbox[i]!).slice())),
  };
  await waitFor(() => msgs.length === 1, 5000, 'hello');
  ws.send(JSON.stringify({ type: 'subscribe', id: 'bad', cameras: ['cam-1', 'cam-2'] }));
  await waitFor(() => msgs.length === 2, 5000, 'error notice');
  assert.equal(msgs.at(1).payloadType(), Payload.ErrorNotice);
  const e = msgs.at(1).payload(new ErrorNotice()) as ErrorNotice;
  assert.deepEqual([e.code(), e.message(), e.requestId()], ['E_FORBIDDEN_CAMERA', 'Camera "cam-2" is outside this user\'s scope', 'bad']);
  ws.send(JSON.stringify({ type: 'subscribe', id: 'all' }));
  await waitFor(() => msgs.length === 3, 5000, 'ack');
  const status = (cam: string) => ({ kind: 'camera_status' as const, status: { cameraId: cam, status: 'running' as const, previous: 'starting' as const, timestampNs: 1n, message: '' } });
  h.srv.publish(status('cam-2'));
  const s1 = h.srv.publish(status('cam-1'));
  await waitFor(() => msgs.length === 4, 5000, 'cam-1 event');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(msgs.length, 4);
  assert.equal(msgs.at(3).seq(), BigInt(s1));
  await closeWs(ws);
});
