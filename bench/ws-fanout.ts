/**
 * Event-stream fan-out benchmark: Vigil (uWebSockets.js + FlatBuffers) against `ws` + JSON, measured side by side.
 *
 *   node --import tsx bench/ws-fanout.ts [--quick]
 *
 * The server runs in a child process (this file with --role=server); the clients run in this process as minimal
 * raw-TCP WebSocket clients that parse frame headers and count frames (decoding payloads only for the latency
 * run), so the figure is the server's delivery capacity rather than a client library's parsing speed. Both servers
 * get identical clients. Flow control: the server publishes in chunks of 20 batches and waits while any one client's
 * buffered bytes exceed 256 KiB, so neither server drops (drops are checked and reported). Vigil
 * coalesces the events of one turn into one corked write per client; the bench flushes after every chunk of 20
 * (as a frame's events arrive together), `ws` sends each message as it is published.
 *
 * Figures: detections/s delivered to 1, 10, 100 subscribers (batches of 20 detections); encode cost per batch,
 * FlatBuffers vs JSON (in this process); with 20 stalled (never-reading, already over their cap) clients connected
 * vs none, in alternating rounds: the 10 normal clients' rate at saturation, and their p50/p99 latency at a fixed
 * publish rate. `--only=<impl>:<subscribers>:<batches>` runs one fan-out figure; VIGIL_BENCH_PROF=<dir> writes a CPU
 * profile of the server process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import * as flatbuffers from 'flatbuffers';
import type { DetectionBatch } from '../src/types.js';

const BATCH_SIZE = 20;
const here = dirname(fileURLToPath(import.meta.url));

function makeBatch(cameraId: string, frame: number, tsNs: bigint): DetectionBatch {
  const detections: DetectionBatch['detections'] = [];
  for (let i = 0; i < BATCH_SIZE; i++)
    detections.push({
      classId: i % 3,
      className: ['person', 'car', 'bicycle'][i % 3]!,
      confidence: 0.3 + (i % 7) / 10,
      box: { x1: 10.5 + i * 31, y1: 20.25 + i * 17, x2: 110.75 + i * 31, y2: 300.5 + i * 17 },
      trackId: 1000 + i,
    });
  return { cameraId, frameSequence: frame, timestampNs: tsNs, frameWidth: 1920, frameHeight: 1080, detections };
}

/** The JSON a typical NVR event stream sends per frame (bigints as decimal strings). */
function batchJson(b: DetectionBatch, seq: number): string {
  return JSON.stringify({
    type: 'detections',
    seq,
    camera_id: b.cameraId,
    frame_sequence: b.frameSequence,
    timestamp_ns: b.timestampNs.toString(),
    frame_width: b.frameWidth,
    frame_height: b.frameHeight,
    detections: b.detections.map((d) => ({
      class_id: d.classId,
      class_name: d.className,
      confidence: d.confidence,
      box: { x1: d.box.x1, y1: d.box.y1, x2: d.box.x2, y2: d.box.y2 },
      track_id: d.trackId ?? null,
    })),
  });
}

const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

// ---------------------------------------------------------------------------------------------------- server side
type ServerCmd =
  /** watch: flow control on the first `watch` clients only (the others are stalled on purpose). */
  | { cmd: 'burst'; n: number; perClientBytes: number; watch?: number }
  | { cmd: 'rate'; perSecond: number; seconds: number }
  | { cmd: 'stats' }
  | { cmd: 'exit' };

async function runServer(impl: 'vigil' | 'ws-json'): Promise<void> {
  const send = (m: unknown) => process.send!(m);
  let publish: (b: DetectionBatch) => void;
  /** Most bytes buffered in the server for any one client. */
  let buffered: () => number;
  /** The same over the first n clients (in connection order). */
  let bufferedFirst: (n: number) => number = () => 0;
  let stats: () => unknown;
  /** WebSocket payload + frame-header bytes each client has been sent so far (all clients get the same). */
  let perClientWireBytes: () => number;
  /** Delivers anything the server queued (Vigil coalesces a turn's events into one corked write per client). */
  let settle: () => void = () => undefined;
  let close: () => Promise<void>;
  let port: number;
  let token = '';
  if (impl === 'vigil') {
    const { AuthService } = await import('../src/auth/service.js');
    const { createApiServer } = await import('../src/api/server.js');
    const { MemoryCameraListing, MemoryDetectionSource } = await import('../test/helpers/api-sources.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
    let pw = '';
    const auth = await AuthService.open({ dataDir, announceInitialAdmin: (_u, p) => (pw = p) });
    const srv = await createApiServer(
      { host: '127.0.0.1', port: 0, stream: { maxBufferedBytes: 1024 * 1024, ringCapacity: 1000, maxConnectionsPerUser: 1000 } },
      { auth, cameras: new MemoryCameraListing(), detections: new MemoryDetectionSource() },
    );
    token = (await auth.login('admin', pw, '127.0.0.1')).access_token;
    port = srv.port;
    publish = (b) => srv.publish({ kind: 'detections', batch: b });
    buffered = () => srv.hub.clientStats().reduce((a, c) => Math.max(a, c.buffered), 0);
    bufferedFirst = (n) => srv.hub.clientStats().slice(0, n).reduce((a, c) => Math.max(a, c.buffered), 0);
    settle = () => srv.hub.flush();
    stats = () => ({ dropped: srv.hub.totals.dropped, clients: srv.hub.clientCount });
    // every client gets the same messages; hello/ack are excluded by taking deltas around a burst
    perClientWireBytes = () => {
      const n = Math.max(1, srv.hub.clientCount);
      const frames = srv.hub.totals.sent / n;
      return srv.hub.totals.bytesSent / n + 4 * frames; // batch payloads are 126..65535 bytes: 4-byte frame header
    };
    close = async () => {
      await srv.close();
      await auth.close();
      rmSync(dataDir, { recursive: true, force: true });
    };
  } else {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    port = (wss.address() as { port: number }).port;
    let seq = 0;
    let wire = 0;
    publish = (b) => {
      const s = batchJson(b, ++seq);
      const len = Buffer.byteLength(s);
      wire += len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
      for (const c of wss.clients) c.send(s);
    };
    perClientWireBytes = () => wire;
    buffered = () => {
      let n = 0;
      for (const c of wss.clients) n = Math.max(n, c.bufferedAmount);
      return n;
    };
    stats = () => ({ dropped: 0, clients: wss.clients.size });
    close = () => new Promise((r) => wss.close(() => r()));
  }
  let frame = 0;
  process.on('message', async (m: ServerCmd) => {
    if (m.cmd === 'burst') {
      const wire0 = perClientWireBytes();
      const watch = m.watch;
      const limit = () => m.perClientBytes;
      const held = watch === undefined ? buffered : () => bufferedFirst(watch);
      let sent = 0;
      while (sent < m.n) {
        const k = Math.min(20, m.n - sent);
        for (let i = 0; i < k; i++) publish(makeBatch('cam-1', frame++, nowNs()));
        settle();
        sent += k;
        while (held() > limit()) await new Promise((r) => setImmediate(r));
        if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
      }
      send({ done: 'burst', bytes: perClientWireBytes() - wire0 });
    } else if (m.cmd === 'rate') {
      const total = Math.round(m.perSecond * m.seconds);
      const t0 = performance.now();
      let sent = 0;
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * m.perSecond));
        while (sent < due) {
          publish(makeBatch('cam-1', frame++, nowNs()));
          sent++;
        }
        settle();
        await new Promise((r) => setTimeout(r, 1));
      }
      send({ done: 'rate', sent });
    } else if (m.cmd === 'stats') {
      const cpu = process.cpuUsage();
      send({ stats: { ...(stats() as object), cpuMs: (cpu.user + cpu.system) / 1000 } });
    } else if (m.cmd === 'exit') {
      await close();
      process.exit(0);
    }
  });
  send({ ready: true, port, token });
}

// ---------------------------------------------------------------------------------------------------- client side
/** A minimal WebSocket client over raw TCP: handshake, counts data frames, optionally hands payloads out. */
class RawClient {
  frames = 0;
  /** Bytes received since countBytes() was called. */
  bytes = 0;
  private countOnly = false;
  private buf: Buffer = Buffer.alloc(0);
  onPayload: ((p: Buffer) => void) | null = null;
  private constructor(readonly sock: Socket) {}

  static open(port: number, path: string, headers: Record<string, string>): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port }, () => {
        const key = randomBytes(16).toString('base64');
        const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
        for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
        sock.write(lines.join('\r\n') + '\r\n\r\n');
      });
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        const status = head.subarray(0, end).toString().split('\r\n')[0]!;
        if (!status.includes(' 101 ')) return reject(new Error(`upgrade failed: ${status}`));
        const c = new RawClient(sock);
        sock.on('data', (d: Buffer) => c.feed(d));
        const rest = head.subarray(end + 4);
        if (rest.length) c.feed(rest);
        resolve(c);
      };
      sock.on('data', onData);
      sock.once('error', reject);
    });
  }

  /** From now on only count bytes (no frame parsing): keeps the client side cheap in throughput runs. */
  countBytes(): void {
    this.countOnly = true;
    this.bytes = 0;
  }

  private feed(chunk: Buffer): void {
    if (this.countOnly) {
      this.bytes += chunk.length;
      return;
    }
    let b = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let o = 0;
    for (;;) {
      if (b.length - o < 2) break;
      const op = b[o]! & 0x0f;
      let len = b[o + 1]! & 0x7f;
      let hl = 2;
      if (len === 126) {
        if (b.length - o < 4) break;
        len = b.readUInt16BE(o + 2);
        hl = 4;
      } else if (len === 127) {
        if (b.length - o < 10) break;
        len = Number(b.readBigUInt64BE(o + 2));
        hl = 10;
      }
      if (b.length - o < hl + len) break;
      if (op === 1 || op === 2) {
        this.frames++;
        if (this.onPayload) this.onPayload(b.subarray(o + hl, o + hl + len));
      }
      o += hl + len;
    }
    this.buf = o === b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(o));
  }

  sendText(s: string): void {
    const p = Buffer.from(s);
    const mask = randomBytes(4);
    const hdr = p.length < 126 ? Buffer.from([0x81, 0x80 | p.length]) : Buffer.from([0x81, 0x80 | 126, p.length >> 8, p.length & 0xff]);
    const masked = Buffer.alloc(p.length);
    for (let i = 0; i < p.length; i++) masked[i] = p[i]! ^ mask[i & 3]!;
    this.sock.write(Buffer.concat([hdr, mask, masked]));
  }

  close(): void {
    this.sock.destroy();
  }
}

class ServerProc {
  private waiters: Array<(m: Record<string, unknown>) => boolean> = [];
  /** Messages that arrived before anyone waited for them. */
  private unclaimed: Array<Record<string, unknown>> = [];
  port = 0;
  token = '';
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: Record<string, unknown>) => {
      const before = this.waiters.length;
      this.waiters = this.waiters.filter((w) => !w(m));
      if (this.waiters.length === before) this.unclaimed.push(m);
    });
  }
  static async start(impl: 'vigil' | 'ws-json'): Promise<ServerProc> {
    const child = fork(join(here, 'ws-fanout.ts'), ['--role=server', `--impl=${impl}`], {
      // VIGIL_BENCH_PROF=<dir>: CPU profile of the server process (for finding what a delivery costs)
      execArgv: ['--import', 'tsx', ...(process.env['VIGIL_BENCH_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['VIGIL_BENCH_PROF']}`] : [])],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const s = new ServerProc(child);
    const ready = await s.wait((m) => m['ready'] === true);
    s.port = ready['port'] as number;
    s.token = ready['token'] as string;
    return s;
  }
  wait(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const i = this.unclaimed.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.unclaimed.splice(i, 1)[0]!);
    return new Promise((resolve) =>
      this.waiters.push((m) => {
        if (!pred(m)) return false;
        resolve(m);
        return true;
      }),
    );
  }
  cmd(c: ServerCmd): void {
    this.child.send(c);
  }
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.cmd({ cmd: 'exit' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

async function openClients(s: ServerProc, impl: 'vigil' | 'ws-json', n: number): Promise<RawClient[]> {
  const out: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawClient.open(s.port, impl === 'vigil' ? '/ws' : '/', impl === 'vigil' ? { Authorization: `Bearer ${s.token}` } : {});
    if (impl === 'vigil') {
      const want = 2; // hello + subscribe ack
      c.sendText(JSON.stringify({ type: 'subscribe', id: 'b', kinds: ['detections'] }));
      const t0 = Date.now();
      while (c.frames < want) {
        if (Date.now() - t0 > 10_000) throw new Error('no subscribe ack');
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    c.frames = 0;
    out.push(c);
  }
  return out;
}

/** Polls every millisecond (not setImmediate: a spinning poll would steal a core from the server on 2 vCPUs). */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 1));
  }
  return true;
}

async function fanout(impl: 'vigil' | 'ws-json', subs: number, n: number): Promise<{ detectionsPerS: number; deliveriesPerS: number; seconds: number; dropped: number; serverCpu: number; clientCpu: number }> {
  const s = await ServerProc.start(impl);
  try {
    const clients = await openClients(s, impl, subs);
    for (const c of clients) c.countBytes();
    // warm-up
    s.cmd({ cmd: 'burst', n: Math.min(2000, n), perClientBytes: 256 * 1024 });
    const warm = (await s.wait((m) => m['done'] === 'burst'))['bytes'] as number;
    if (!(await until(() => clients.every((c) => c.bytes >= warm), 30_000))) throw new Error('warm-up not delivered');
    for (const c of clients) c.countBytes();
    s.cmd({ cmd: 'stats' });
    const cpu0 = ((await s.wait((m) => m['stats'] !== undefined))['stats'] as { cpuMs: number }).cpuMs;
    const me0 = process.cpuUsage();
    const t0 = performance.now();
    s.cmd({ cmd: 'burst', n, perClientBytes: 256 * 1024 });
    const expected = (await s.wait((m) => m['done'] === 'burst'))['bytes'] as number;
    const ok = await until(() => clients.every((c) => c.bytes >= expected), 120_000);
    const seconds = (performance.now() - t0) / 1000;
    if (!ok) throw new Error(`${impl} x${subs}: clients did not receive all ${n} messages (${expected} bytes each)`);
    if (clients.some((c) => c.bytes !== expected)) throw new Error(`${impl} x${subs}: byte count mismatch`);
    s.cmd({ cmd: 'stats' });
    const st = (await s.wait((m) => m['stats'] !== undefined))['stats'] as { dropped: number; cpuMs: number };
    const me = process.cpuUsage(me0);
    for (const c of clients) c.close();
    // CPU share of the wall time, server process and client process: which side bounds the figure
    const serverCpu = (st.cpuMs - cpu0) / 1000 / seconds;
    const clientCpu = (me.user + me.system) / 1e6 / seconds;
    return { detectionsPerS: (n * BATCH_SIZE * subs) / seconds, deliveriesPerS: (n * subs) / seconds, seconds, dropped: st.dropped, serverCpu, clientCpu };
  } finally {
    await s.stop();
  }
}

async function latencyRun(stalled: number, perSecond: number, seconds: number): Promise<{ ratePerClient: number; p50Ms: number; p99Ms: number; dropped: number }> {
  const s = await ServerProc.start('vigil');
  const { vigil_wire_Message: Message, vigil_wire_DetectionBatch: WireBatch } = await import('../src/stream/generated/message_generated.js');
  try {
    const normal = await openClients(s, 'vigil', 10);
    const slow = await openClients(s, 'vigil', stalled);
    for (const c of slow) c.sock.pause();
    await fillStalled(s, normal, stalled);
    for (const c of normal) c.frames = 0;
    const lat: number[] = [];
    const wb = new WireBatch();
    for (const c of normal)
      c.onPayload = (p) => {
        const m = Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(p).slice()));
        const b = m.payload(wb) as InstanceType<typeof WireBatch>;
        lat.push(Number(nowNs() - b.timestampNs()) / 1e6);
      };
    const total = Math.round(perSecond * seconds);
    const t0 = performance.now();
    s.cmd({ cmd: 'rate', perSecond, seconds });
    const ok = await until(() => normal.every((c) => c.frames >= total), 60_000);
    const el = (performance.now() - t0) / 1000;
    if (!ok) throw new Error('normal clients did not receive every message');
    await s.wait((m) => m['done'] === 'rate');
    s.cmd({ cmd: 'stats' });
    const st = (await s.wait((m) => m['stats'] !== undefined))['stats'] as { dropped: number };
    lat.sort((a, b) => a - b);
    for (const c of [...normal, ...slow]) c.close();
    return {
      ratePerClient: total / el,
      p50Ms: lat[Math.floor(lat.length * 0.5)]!,
      p99Ms: lat[Math.floor(lat.length * 0.99)]!,
      dropped: st.dropped,
    };
  } finally {
    await s.stop();
  }
}

/**
 * The normal clients' delivery rate at saturation with `stalled` never-reading clients connected: a burst of `n`
 * batches after a warm-up that fills the stalled clients' caps (steady state: they are over the cap and every
 * message to them is a counted drop). Flow control watches the 10 normal clients only; they count whole frames.
 */
async function slowRate(stalled: number, n: number): Promise<{ ratePerClient: number; dropped: number }> {
  const s = await ServerProc.start('vigil');
  try {
    const normal = await openClients(s, 'vigil', 10);
    const slow = await openClients(s, 'vigil', stalled);
    for (const c of slow) c.sock.pause();
    await fillStalled(s, normal, stalled);
    const run = async (count: number): Promise<number> => {
      for (const c of normal) c.frames = 0;
      const t0 = performance.now();
      s.cmd({ cmd: 'burst', n: count, perClientBytes: 256 * 1024, watch: 10 });
      await s.wait((m) => m['done'] === 'burst');
      if (!(await until(() => normal.every((c) => c.frames >= count), 120_000))) throw new Error('normal clients did not receive every message');
      if (normal.some((c) => c.frames !== count)) throw new Error('normal clients received extra frames (drop notices?)');
      return (performance.now() - t0) / 1000;
    };
    const seconds = await run(n);
    s.cmd({ cmd: 'stats' });
    const st = (await s.wait((m) => m['stats'] !== undefined))['stats'] as { dropped: number };
    for (const c of [...normal, ...slow]) c.close();
    return { ratePerClient: n / seconds, dropped: st.dropped };
  } finally {
    await s.stop();
  }
}

/**
 * Publishes until every stalled client is over its cap (each of their messages a counted drop): the kernel's
 * loopback buffers take several MB per socket before uWS buffers anything, so without this a run would measure the
 * filling of 20 sockets' buffers rather than clients that stay stalled. Returns the batches it took.
 */
async function fillStalled(s: ServerProc, normal: RawClient[], stalled: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < 60; i++) {
    s.cmd({ cmd: 'stats' });
    const d0 = ((await s.wait((m) => m['stats'] !== undefined))['stats'] as { dropped: number }).dropped;
    for (const c of normal) c.frames = 0;
    s.cmd({ cmd: 'burst', n: 1000, perClientBytes: 256 * 1024, watch: 10 });
    await s.wait((m) => m['done'] === 'burst');
    await until(() => normal.every((c) => c.frames >= 1000), 60_000);
    total += 1000;
    s.cmd({ cmd: 'stats' });
    const d1 = ((await s.wait((m) => m['stats'] !== undefined))['stats'] as { dropped: number }).dropped;
    if (stalled === 0 || d1 - d0 === stalled * 1000) return total;
  }
  throw new Error('stalled clients never reached their cap');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function encodeCost() {
  const { WireEncoder } = await import('../src/stream/codec.js');
  const { vigil_wire_Message: Message, vigil_wire_DetectionBatch: WireBatch, vigil_wire_Detection: Detection } = await import('../src/stream/generated/message_generated.js');
  const enc = new WireEncoder();
  const b = makeBatch('cam-1', 1, 1_764_000_000_000_000_000n);
  const time = (fn: (i: number) => void, iters: number) => {
    for (let i = 0; i < iters / 10; i++) fn(i);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn(i);
    return Number(process.hrtime.bigint() - t0) / iters;
  };
  let sink = 0;
  const N = 100_000;
  const flatbuffersNs = time((i) => (sink += enc.encodeDetections(i, b).length), N);
  const jsonNs = time((i) => (sink += batchJson(b, i).length), N);
  const fb = enc.encodeDetections(1, b);
  const js = batchJson(b, 1);
  const det = new Detection();
  const wb = new WireBatch();
  const fbDecodeNs = time(() => {
    const m = Message.getRootAsMessage(new flatbuffers.ByteBuffer(fb));
    const x = m.payload(wb) as InstanceType<typeof WireBatch>;
    for (let i = 0; i < x.detectionsLength(); i++) sink += x.detections(i, det)!.confidence();
    sink += Number(x.timestampNs() & 1n);
  }, N);
  const jsonDecodeNs = time(() => {
    const x = JSON.parse(js) as { detections: Array<{ confidence: number }>; timestamp_ns: string };
    for (const d of x.detections) sink += d.confidence;
    sink += Number(BigInt(x.timestamp_ns) & 1n);
  }, N);
  // The timestamp decision: three 64-bit fields (seq, frame sequence, timestamp) written and read as ulong from/to
  // bigint (what the schema does) against float64 from/to number (a double of microseconds), in a bare table.
  const bld = new flatbuffers.Builder(256);
  const tsBig = 1_764_000_000_123_456_789n;
  const tsUs = 1_764_000_000_123_456.8;
  const build = (u64: boolean, i: number) => {
    bld.clear();
    bld.startObject(3);
    if (u64) {
      bld.addFieldInt64(0, BigInt(i), 0n);
      bld.addFieldInt64(1, BigInt(i), 0n);
      bld.addFieldInt64(2, tsBig, 0n);
    } else {
      bld.addFieldFloat64(0, i, 0);
      bld.addFieldFloat64(1, i, 0);
      bld.addFieldFloat64(2, tsUs, 0);
    }
    bld.finish(bld.endObject());
    return bld.asUint8Array();
  };
  const u64Bytes = build(true, 7).slice();
  const f64Bytes = build(false, 7).slice();
  const read = (bytes: Uint8Array, u64: boolean) => {
    const bb = new flatbuffers.ByteBuffer(bytes);
    const t = bb.readInt32(0);
    let acc = 0;
    for (let f = 0; f < 3; f++) {
      const o = bb.__offset(t, 4 + f * 2);
      acc += u64 ? Number(bb.readUint64(t + o) & 0xffn) : bb.readFloat64(t + o);
    }
    return acc;
  };
  const u64EncodeNs = time((i) => (sink += build(true, i).length), N);
  const f64EncodeNs = time((i) => (sink += build(false, i).length), N);
  const u64DecodeNs = time(() => (sink += read(u64Bytes, true)), N);
  const f64DecodeNs = time(() => (sink += read(f64Bytes, false)), N);
  if (sink === -1) console.log('');
  return { flatbuffersNs, jsonNs, fbBytes: fb.length, jsonBytes: Buffer.byteLength(js), fbDecodeNs, jsonDecodeNs, u64EncodeNs, f64EncodeNs, u64DecodeNs, f64DecodeNs };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const command = `node --import tsx bench/ws-fanout.ts${quick ? ' --quick' : ''}`;
  // --only=<vigil|ws-json>:<subscribers>:<batches>: one fan-out run and nothing else (for profiling; writes no files)
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(':');
  if (only) {
    const impl = only[0] === 'ws-json' ? 'ws-json' : 'vigil';
    const r = await fanout(impl, Number(only[1]), Number(only[2]));
    console.log(`${impl} x${only[1]}: ${Math.round(r.detectionsPerS).toLocaleString('en')} detections/s (${r.seconds.toFixed(2)} s, dropped ${r.dropped}, server CPU ${(r.serverCpu * 100).toFixed(0)}%, clients CPU ${(r.clientCpu * 100).toFixed(0)}%)`);
    return;
  }
  const sizes: Array<[number, number]> = quick ? [[1, 4000], [10, 2000], [100, 400]] : [[1, 60000], [10, 40000], [100, 6000]];
  console.log(`ws-fanout: batches of ${BATCH_SIZE} detections; server in a child process; raw frame-counting clients here`);
  const enc = await encodeCost();
  console.log(
    `encode per batch: FlatBuffers ${(enc.flatbuffersNs / 1000).toFixed(2)} µs (${enc.fbBytes} B) vs JSON ${(enc.jsonNs / 1000).toFixed(2)} µs (${enc.jsonBytes} B) -> ${(enc.jsonNs / enc.flatbuffersNs).toFixed(2)}x; ` +
      `decode: FlatBuffers ${(enc.fbDecodeNs / 1000).toFixed(2)} µs vs JSON ${(enc.jsonDecodeNs / 1000).toFixed(2)} µs`,
  );
  console.log(
    `3 x 64-bit fields: ulong/bigint encode ${enc.u64EncodeNs.toFixed(0)} ns, decode ${enc.u64DecodeNs.toFixed(0)} ns vs ` +
      `double encode ${enc.f64EncodeNs.toFixed(0)} ns, decode ${enc.f64DecodeNs.toFixed(0)} ns`,
  );
  const fan: Record<string, Awaited<ReturnType<typeof fanout>>> = {};
  for (const [subs, n] of sizes) {
    for (const impl of ['vigil', 'ws-json'] as const) {
      const r = await fanout(impl, subs, n);
      fan[`${impl}_${subs}`] = r;
      console.log(`${impl.padEnd(7)} x${String(subs).padStart(3)}: ${Math.round(r.detectionsPerS).toLocaleString('en')} detections/s (${Math.round(r.deliveriesPerS).toLocaleString('en')} messages/s, ${n} batches in ${r.seconds.toFixed(2)} s, dropped ${r.dropped})`);
    }
    console.log(`  ratio x${subs}: ${(fan[`vigil_${subs}`]!.detectionsPerS / fan[`ws-json_${subs}`]!.detectionsPerS).toFixed(2)}`);
  }
  // Slow clients: rounds alternate none / 20 stalled so both see the same machine; medians over the rounds.
  const rate = quick ? 1000 : 2000;
  const secs = quick ? 2 : 6;
  const rounds = quick ? 1 : 3;
  const burstN = quick ? 3000 : 30000;
  const sat = { none: [] as number[], stalled: [] as number[] };
  const lat = { none: [] as Awaited<ReturnType<typeof latencyRun>>[], stalled: [] as Awaited<ReturnType<typeof latencyRun>>[] };
  let stalledDrops = 0;
  for (let r = 0; r < rounds; r++) {
    sat.none.push((await slowRate(0, burstN)).ratePerClient);
    const sr = await slowRate(20, burstN);
    sat.stalled.push(sr.ratePerClient);
    stalledDrops += sr.dropped;
    lat.none.push(await latencyRun(0, rate, secs));
    lat.stalled.push(await latencyRun(20, rate, secs));
    console.log(
      `slow clients, round ${r + 1}: saturated rate per normal client ${sat.none[r]!.toFixed(0)} (none) vs ${sat.stalled[r]!.toFixed(0)} msg/s (20 stalled); ` +
        `at ${rate}/s p99 ${lat.none[r]!.p99Ms.toFixed(2)} vs ${lat.stalled[r]!.p99Ms.toFixed(2)} ms, p50 ${lat.none[r]!.p50Ms.toFixed(2)} vs ${lat.stalled[r]!.p50Ms.toFixed(2)} ms`,
    );
  }
  const none = {
    saturated: median(sat.none),
    ratePerClient: median(lat.none.map((x) => x.ratePerClient)),
    p50Ms: median(lat.none.map((x) => x.p50Ms)),
    p99Ms: median(lat.none.map((x) => x.p99Ms)),
  };
  const withStalled = {
    saturated: median(sat.stalled),
    ratePerClient: median(lat.stalled.map((x) => x.ratePerClient)),
    p50Ms: median(lat.stalled.map((x) => x.p50Ms)),
    p99Ms: median(lat.stalled.map((x) => x.p99Ms)),
    dropped: stalledDrops,
  };
  console.log(`10 normal clients, medians of ${rounds}: saturated ${none.saturated.toFixed(0)} vs ${withStalled.saturated.toFixed(0)} msg/s per client (ratio ${(withStalled.saturated / none.saturated).toFixed(3)}); at ${rate} batches/s for ${secs} s: ${none.ratePerClient.toFixed(0)} vs ${withStalled.ratePerClient.toFixed(0)} msg/s, p50 ${none.p50Ms.toFixed(2)} vs ${withStalled.p50Ms.toFixed(2)} ms, p99 ${none.p99Ms.toFixed(2)} vs ${withStalled.p99Ms.toFixed(2)} ms (ratio ${(withStalled.p99Ms / none.p99Ms).toFixed(3)})`);
  const result = {
    detections_per_s_vigil_10: Math.round(fan['vigil_10']!.detectionsPerS),
    detections_per_s_ws_json_10: Math.round(fan['ws-json_10']!.detectionsPerS),
    ratio_vs_ws_json_10: +(fan['vigil_10']!.detectionsPerS / fan['ws-json_10']!.detectionsPerS).toFixed(2),
    ratio_vs_ws_json_100: +(fan['vigil_100']!.detectionsPerS / fan['ws-json_100']!.detectionsPerS).toFixed(2),
    slow_client_rate_ratio: +(withStalled.saturated / none.saturated).toFixed(3),
    slow_client_p99_ratio: +(withStalled.p99Ms / none.p99Ms).toFixed(3),
    date: new Date().toISOString(),
    machine: '2 vCPU Debian 12 VM, no GPU',
    command,
    detail: {
      detections_per_s: Object.fromEntries(Object.entries(fan).map(([k, v]) => [k, Math.round(v.detectionsPerS)])),
      ratio_vs_ws_json_1: +(fan['vigil_1']!.detectionsPerS / fan['ws-json_1']!.detectionsPerS).toFixed(2),
      encode_us_per_batch: { flatbuffers: +(enc.flatbuffersNs / 1000).toFixed(3), json: +(enc.jsonNs / 1000).toFixed(3) },
      decode_us_per_batch: { flatbuffers: +(enc.fbDecodeNs / 1000).toFixed(3), json: +(enc.jsonDecodeNs / 1000).toFixed(3) },
      bytes_per_batch: { flatbuffers: enc.fbBytes, json: enc.jsonBytes },
      three_u64_fields_ns: { encode_ulong_bigint: Math.round(enc.u64EncodeNs), encode_double: Math.round(enc.f64EncodeNs), decode_ulong_bigint: Math.round(enc.u64DecodeNs), decode_double: Math.round(enc.f64DecodeNs) },
      slow_clients: {
        rounds,
        saturated_msgs_per_s_per_normal_client: { none: Math.round(none.saturated), stalled_20: Math.round(withStalled.saturated), each_round_none: sat.none.map(Math.round), each_round_stalled: sat.stalled.map(Math.round) },
        fixed_rate_batches_per_s: rate,
        fixed_rate_seconds: secs,
        fixed_rate_msgs_per_s_per_normal_client: { none: +none.ratePerClient.toFixed(1), stalled_20: +withStalled.ratePerClient.toFixed(1) },
        latency_ms: { none_p50: +none.p50Ms.toFixed(3), none_p99: +none.p99Ms.toFixed(3), stalled_p50: +withStalled.p50Ms.toFixed(3), stalled_p99: +withStalled.p99Ms.toFixed(3), each_round_p99_none: lat.none.map((x) => +x.p99Ms.toFixed(3)), each_round_p99_stalled: lat.stalled.map((x) => +x.p99Ms.toFixed(3)) },
        dropped_for_stalled_clients: stalledDrops,
      },
    },
  };
  if (!quick) {
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'ws-fanout.json'), JSON.stringify(result, null, 2) + '\n');
  }
  console.log(JSON.stringify(result, null, 2));
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
if (role === 'server') {
  const impl = process.argv.find((a) => a.startsWith('--impl='))?.slice(7) === 'ws-json' ? 'ws-json' : 'vigil';
  void runServer(impl);
} else {
  await main();
}
