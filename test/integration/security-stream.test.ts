/**
 * WebSocket streams within their sessions (issue #17 items 2, 4 and 6) on the real server: a socket closes with
 * 4001 when its session is logged out, revoked (a deleted user, a reused refresh token) or its token expires; a
 * control message after a revocation nobody announced (another process) closes it before anything is replayed;
 * an `auth` message with a fresh token keeps it open; oversized frames close with 1009 and a close frame; replays
 * run at most `maxReplaysPerUser` per user and `maxReplays` in all, each complete and in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as flatbuffers from 'flatbuffers';
import type WebSocket from 'ws';
import {
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
} from '../../src/stream/generated/message_generated.js';
import type { StreamEvent } from '../../src/stream/events.js';
import { AUDIENCE, ISSUER, SECRET, closeWs, connectWs, startHarness, waitFor, type InboxSocket } from './api-helpers.js';

const decode = (buf: Buffer): Message => Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(buf).slice()));

/** The close code and reason the server sent, or { code: 0, reason: 'still open' } after `ms`. */
function closed(ws: WebSocket, ms = 15_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: 0, reason: 'still open' }), ms);
    ws.once('close', (code: number, reason: Buffer) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

const status = (cameraId: string, i: number): StreamEvent => ({
  kind: 'camera_status',
  status: { cameraId, status: 'running', previous: 'starting', timestampNs: BigInt(i), message: '' },
});

async function post(base: string, path: string, json: unknown, token?: string) {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(json),
  });
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
}

test('logout, a deleted user and refresh-token reuse close the session\'s open sockets with 4001', async () => {
  const h = await startHarness();
  try {
    const login = await post(h.base, '/auth/login', { username: 'vera', password: 'viewer-pass' });
    const ws = await connectWs(h.wsUrl, { token: login.body.access_token });
    const other = await connectWs(h.wsUrl, { token: h.tokens.vera.access_token }); // another session of vera
    ws.send(JSON.stringify({ type: 'subscribe', id: 's' }));
    await waitFor(() => ws.inbox.length === 2, 5000, 'ack');
    const end = closed(ws);
    assert.equal((await post(h.base, '/auth/logout', { refresh_token: login.body.refresh_token })).status, 204);
    assert.deepEqual(await end, { code: 4001, reason: 'session revoked' });
    // the other session of the same user is untouched
    other.send(JSON.stringify({ type: 'subscribe', id: 'o' }));
    await waitFor(() => other.inbox.length === 2, 5000, 'other ack');

    // refresh-token reuse revokes the family: its sockets close too
    const l2 = await post(h.base, '/auth/login', { username: 'olga', password: 'operator-pass' });
    const ws2 = await connectWs(h.wsUrl, { token: l2.body.access_token });
    const end2 = closed(ws2);
    assert.equal((await post(h.base, '/auth/refresh', { refresh_token: l2.body.refresh_token })).status, 200);
    assert.equal((await post(h.base, '/auth/refresh', { refresh_token: l2.body.refresh_token })).status, 401);
    assert.deepEqual(await end2, { code: 4001, reason: 'session revoked' });

    // deleting the user ends all of its sessions
    const endOther = closed(other);
    const del = await fetch(`${h.base}/users/vera`, { method: 'DELETE', headers: { authorization: `Bearer ${h.tokens.admin.access_token}` } });
    assert.equal(del.status, 204);
    assert.deepEqual(await endOther, { code: 4001, reason: 'session revoked' });
    assert.equal(h.srv.hub.clientCount, 0);
  } finally {
    await h.close();
  }
});

test('a revocation the hub was not told of is found by the next control message: closed, nothing replayed', async () => {
  const h = await startHarness();
  try {
    for (let i = 0; i < 20; i++) h.srv.publish(status('cam-1', i));
    h.srv.hub.flush();
    const ws = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
    await waitFor(() => ws.inbox.length === 1, 5000, 'hello');
    // as another process sharing the store would: the family is marked revoked without telling this one
    const fam = JSON.parse(Buffer.from(h.tokens.olga.access_token.split('.')[1]!, 'base64url').toString()).fam as string;
    h.auth.store.putFamily(fam, { ...h.auth.store.getFamily(fam)!, revoked: true });
    const end = closed(ws);
    ws.send(JSON.stringify({ type: 'subscribe', id: 'r', resume_after: 0 }));
    assert.deepEqual(await end, { code: 4001, reason: 'session revoked' });
    assert.deepEqual(ws.inbox.map((b) => decode(b).payloadType()), [Payload.ServerHello]);
  } finally {
    await h.close();
  }
});

test('a socket closes with 4001 when its access token expires, unless an auth message brought a fresh one', async () => {
  // the auth clock runs a minute ahead while the fresh token is made, so it outlives the first ones
  let ahead = 0;
  const h = await startHarness({ auth: { jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE, accessTtlS: 8 }, now: () => Date.now() + ahead } });
  try {
    ahead = 60_000;
    const fresh = await h.auth.login('olga', 'operator-pass', '127.0.0.9');
    ahead = 0;
    const a = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
    const b = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
    const endA = closed(a);
    let bClosed = false;
    b.once('close', () => (bClosed = true));
    // b renews with a fresh token of the same user; a token of another user is refused
    b.send(JSON.stringify({ type: 'auth', id: 'x', token: h.tokens.vera.access_token }));
    b.send(JSON.stringify({ type: 'auth', id: 'a1', token: fresh.access_token }));
    await waitFor(() => b.inbox.length === 3, 5000, 'auth answers');
    assert.deepEqual(b.inbox.slice(1).map((m) => decode(m).payloadType()), [Payload.ErrorNotice, Payload.SubscribeAck]);
    assert.deepEqual(await endA, { code: 4001, reason: 'token expired' });
    assert.equal(bClosed, false);
    await closeWs(b);
  } finally {
    await h.close();
  }
});

test('oversized frames close the socket with 1009 and a close frame; the refusal is counted', async () => {
  const h = await startHarness();
  try {
    for (const size of [9 * 1024, 512 * 1024]) {
      const ws = await connectWs(h.wsUrl, { token: h.tokens.olga.access_token });
      const end = closed(ws);
      ws.send(JSON.stringify({ type: 'subscribe', id: 'x'.repeat(size) }));
      const { code, reason } = await end;
      assert.deepEqual([code, reason], [1009, 'control message over 8192 bytes'], `${size} bytes`);
    }
    assert.equal(h.srv.hub.totals.oversizedCloses, 2);
    const m = await (await fetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${h.tokens.admin.access_token}` } })).text();
    assert.match(m, /^vigil_ws_oversized_closes_total 2$/m);
  } finally {
    await h.close();
  }
});

test('replays: at most one per user and two in all run at once; every replay complete and in order', async () => {
  const h = await startHarness({ server: { stream: { ringCapacity: 5000 } } });
  const hub = h.srv.hub as unknown as { replayStats(): { running: number; waiting: number; runningOf(u: string): number } };
  try {
    // defaults under test: maxReplays 4, maxReplaysPerUser 1 (one user's 6 sockets replay one after another)
    for (let i = 0; i < 3000; i++) h.srv.publish(status('cam-1', i));
    h.srv.hub.flush();
    const sockets: InboxSocket[] = [];
    for (let i = 0; i < 6; i++) sockets.push(await connectWs(h.wsUrl, { token: h.tokens.olga.access_token }));
    sockets.push(await connectWs(h.wsUrl, { token: h.tokens.admin.access_token }));
    let maxOlga = 0;
    let maxAll = 0;
    let sawWaiting = false;
    const sample = setInterval(() => {
      const s = hub.replayStats();
      maxOlga = Math.max(maxOlga, s.runningOf('olga'));
      maxAll = Math.max(maxAll, s.running);
      if (s.waiting > 0) sawWaiting = true;
    }, 1);
    for (const ws of sockets) ws.send(JSON.stringify({ type: 'subscribe', id: 'r', resume_after: 0, kinds: ['camera_status'] }));
    const events = (ws: InboxSocket) => ws.inbox.map(decode).filter((m) => m.payloadType() === Payload.CameraStatusEvent);
    await waitFor(() => sockets.every((ws) => events(ws).length === 3000), 30_000, 'all replays');
    clearInterval(sample);
    assert.equal(maxOlga, 1);
    assert.ok(maxAll <= 4, `running at once: ${maxAll}`);
    assert.equal(sawWaiting, true);
    for (const ws of sockets) assert.deepEqual(events(ws).map((m) => Number(m.seq())), Array.from({ length: 3000 }, (_, i) => i + 1));
    assert.deepEqual([hub.replayStats().running, hub.replayStats().waiting], [0, 0]);
    for (const ws of sockets) await closeWs(ws);
  } finally {
    await h.close();
  }
});
