/**
 * HTTP/1.0 (issue 17 item 3): uWebSockets.js never answers it (the connection idles out after ~10 s), and
 * load-balancer health checks still send it. With `http10` the transport answers a raw HTTP/1.0 request in full,
 * closing the connection after it, or keeping it open for the next request with `Connection: keep-alive`; HTTP/1.1
 * and WebSocket traffic still reach uWS (through the relay, the client address intact).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createHttpServer, type RouteModule, type WsEndpoint } from '../../src/http/index.js';
import { jsonBody } from '../../src/http/request.js';

/** Sends `requests` on one TCP connection, one after the other answer; resolves with everything read until close or `idleMs`. */
function raw(port: number, requests: string[], idleMs = 1500): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let sent = 0;
    let timer: NodeJS.Timeout;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        sock.destroy();
        resolve({ text, closedByServer: false });
      }, idleMs);
    };
    sock.on('connect', () => {
      sock.write(requests[sent++]!);
      idle();
    });
    sock.on('data', (d) => {
      text += d.toString('latin1');
      // the next request once the previous answer is complete (these answers all carry Content-Length)
      const answers = text.split(/HTTP\/1\.[01] /).length - 1;
      const m = [...text.matchAll(/content-length: (\d+)\r\n[\s\S]*?\r\n\r\n/gi)];
      const last = m[m.length - 1];
      const complete = last && text.length >= last.index! + last[0].length + Number(last[1]);
      if (complete && answers === sent && sent < requests.length) sock.write(requests[sent++]!);
      idle();
    });
    sock.on('end', () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    sock.on('error', reject);
  });
}

test('HTTP/1.0 requests are answered in full, with and without keep-alive; 1.1 and WebSockets still work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-http10-'));
  const file = join(dir, 'clip.bin');
  writeFileSync(file, Buffer.from('0123456789'));
  const seen: string[] = [];
  const mod: RouteModule = {
    name: 't',
    routes: [
      { method: 'get', pattern: '/health', handler: async (ctx) => (seen.push(ctx.ip), { status: 200, json: { status: 'healthy' } }) },
      { method: 'get', pattern: '/items/:id', params: ['id'], handler: async (ctx) => ({ status: 200, json: { id: ctx.params.id, q: ctx.query.get('q') } }) },
      { method: 'get', pattern: '/items/special', handler: async () => ({ status: 200, json: { special: true } }) },
      { method: 'post', pattern: '/echo', body: true, handler: async (ctx) => ({ status: 201, json: jsonBody(ctx) }) },
      { method: 'get', pattern: '/file', handler: async () => ({ status: 200, file: { path: file }, contentType: 'application/octet-stream' }) },
    ],
  };
  const echo: WsEndpoint<{ n: number }> = {
    pattern: '/ws',
    maxPayloadLength: 1024,
    maxBackpressure: 1 << 20,
    idleTimeoutS: 30,
    protocol: 'echo',
    upgrade: () => ({ data: { n: 0 } }),
    open() {},
    message(socket, message, isBinary) {
      (socket as unknown as { send(m: ArrayBuffer, b: boolean): number }).send(message, isBinary);
    },
    drain() {},
    close() {},
  };
  const srv = await createHttpServer({ host: '127.0.0.1', port: 0, http10: true }, { modules: [mod], websockets: [echo] });
  try {
    // No keep-alive: a full answer, then the server closes the connection.
    const a = await raw(srv.port, ['GET /health HTTP/1.0\r\n\r\n']);
    assert.equal(a.closedByServer, true);
    assert.match(a.text, /^HTTP\/1\.[01] 200 OK\r\n/);
    assert.match(a.text, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(a.text, /\r\ncontent-length: 20\r\n/i);
    assert.ok(a.text.endsWith('\r\n\r\n{"status":"healthy"}'), a.text);

    // Keep-alive: two requests on one connection, each answered in full, the connection kept.
    const b = await raw(srv.port, [
      'GET /items/a%20b?q=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
      'POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"x":1}',
    ]);
    assert.equal(b.closedByServer, false);
    const answers = b.text.split(/(?=HTTP\/1\.[01] )/);
    assert.equal(answers.length, 2, b.text);
    assert.match(answers[0]!, /^HTTP\/1\.[01] 200 OK\r\n/);
    assert.match(answers[0]!, /\r\nconnection: keep-alive\r\n/i);
    assert.ok(answers[0]!.endsWith('{"id":"a b","q":"1"}'), answers[0]);
    assert.match(answers[1]!, /^HTTP\/1\.[01] 201 Created\r\n/);
    assert.ok(answers[1]!.endsWith('{"x":1}'), answers[1]);

    // The same routes, limits and errors as uWS: specific before parametric, 404, 415, files with Range.
    const c = await raw(srv.port, ['GET /items/special HTTP/1.0\r\n\r\n']);
    assert.ok(c.text.endsWith('{"special":true}'), c.text);
    const d = await raw(srv.port, ['GET /nope HTTP/1.0\r\n\r\n']);
    assert.match(d.text, /^HTTP\/1\.[01] 404 Not Found\r\n/);
    const e = await raw(srv.port, ['POST /echo HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi']);
    assert.match(e.text, /^HTTP\/1\.[01] 415 Unsupported Media Type\r\n/);
    const f = await raw(srv.port, ['GET /file HTTP/1.0\r\nRange: bytes=2-5\r\n\r\n']);
    assert.match(f.text, /^HTTP\/1\.[01] 206 Partial Content\r\n/);
    assert.match(f.text, /\r\ncontent-range: bytes 2-5\/10\r\n/i);
    assert.ok(f.text.endsWith('\r\n\r\n2345'), f.text);

    // HTTP/1.1 goes to uWS through the relay; the route sees the real client address, not the relay's.
    const g = await fetch(`http://127.0.0.1:${srv.port}/health`);
    assert.equal(g.status, 200);
    assert.deepEqual(await g.json(), { status: 'healthy' });
    assert.deepEqual(seen, ['127.0.0.1', '127.0.0.1']);
    const h = await raw(srv.port, ['GET /items/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    assert.match(h.text, /^HTTP\/1\.1 200 OK\r\n/);

    // WebSockets too.
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'echo');
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('ping'));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('error', reject);
    });
    assert.equal(reply, 'ping');
    ws.close();
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
