/**
 * Replay amplification (issue #17 item 4): one viewer with many sockets, each asking for a replay from sequence 0
 * over and over, against the server's /health latency, live delivery latency and CPU, compared with the same
 * server without the storm (the baseline, measured first in the same run).
 *
 *   node --import tsx bench/replay-load.ts [--events=50000] [--sockets=32] [--seconds=10]
 *
 * Three processes, so that no client work lands on the server's event loop: the server (this file with
 * --role=server: the real API server with an in-memory resume window of `events` detection batches of 20
 * detections, plus one live batch every 50 ms on camera "live"), the storm (--role=storm: `sockets` sockets of the
 * viewer, each sending `subscribe` with `resume_after: 0` every second, payloads not decoded), and this process, the
 * probe: GET /health every 50 ms (anonymous, as a load balancer) and a subscriber of the live camera that measures
 * each batch's delay from its timestamp. Figures: p50 / p99 / max of both, the server's CPU share and the replayed
 * events per second. Writes bench/results/replay-load.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as flatbuffers from 'flatbuffers';
import WebSocket from 'ws';
import type { DetectionBatch } from '../src/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const EVENTS = arg('events', 50_000);
const SOCKETS = arg('sockets', 32);
const SECONDS = arg('seconds', 10);
const nowNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

function batch(cameraId: string, frame: number, tsNs: bigint): DetectionBatch {
  const detections: DetectionBatch['detections'] = [];
  for (let i = 0; i < 20; i++)
    detections.push({ classId: i % 3, className: ['person', 'car', 'bicycle'][i % 3]!, confidence: 0.3 + (i % 7) / 10, box: { x1: i, y1: i, x2: i + 50, y2: i + 90 }, trackId: i });
  return { cameraId, frameSequence: frame, timestampNs: tsNs, frameWidth: 1920, frameHeight: 1080, detections };
}

// ------------------------------------------------------------------------------------------------------ server
async function runServer(): Promise<void> {
  const { AuthService } = await import('../src/auth/service.js');
  const { createApiServer } = await import('../src/api/server.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-replay-bench-'));
  let adminPassword = '';
  const auth = await AuthService.open({ dataDir, jwt: { secret: 'replay-bench-secret-0123456789abcdefghijkl' }, announceInitialAdmin: (_u, p) => (adminPassword = p) });
  await auth.users.create({ username: 'viewer', password: 'viewer-pass', role: 'viewer', cameras: '*' });
  await auth.users.create({ username: 'probe', password: 'probe-pass-1', role: 'viewer', cameras: '*' });
  void adminPassword;
  const srv = await createApiServer(
    { host: '127.0.0.1', port: 0, stream: { ringCapacity: EVENTS, maxConnectionsPerUser: SOCKETS + 4 } },
    { auth, cameras: { list: () => [], get: () => undefined }, detections: { query: async () => ({ detections: [], total: 0, page: 1, page_size: 1 }) } },
  );
  for (let i = 0; i < EVENTS; i++) srv.publish({ kind: 'detections', batch: batch('history', i, 1_764_000_000_000_000_000n + BigInt(i)) });
  srv.hub.flush();
  let frame = 0;
  const live = setInterval(() => srv.publish({ kind: 'detections', batch: batch('live', frame++, nowNs()) }), 50);
  const tokens = {
    viewer: (await auth.login('viewer', 'viewer-pass', '127.0.0.1')).access_token,
    probe: (await auth.login('probe', 'probe-pass-1', '127.0.0.1')).access_token,
  };
  let cpu = process.cpuUsage();
  let t = performance.now();
  const totals = srv.hub.totals as unknown as Record<string, number>;
  let replayed = totals['replayedEvents'] ?? 0;
  let sent = totals['sent'] ?? 0;
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'mark') {
      cpu = process.cpuUsage();
      t = performance.now();
      replayed = totals['replayedEvents'] ?? 0;
      sent = totals['sent'] ?? 0;
      process.send!({ cmd: 'marked' });
    } else if (m.cmd === 'stats') {
      const c = process.cpuUsage(cpu);
      const ms = performance.now() - t;
      process.send!({
        cmd: 'stats',
        cpuPct: ((c.user + c.system) / 1000 / ms) * 100,
        replayedPerS: totals['replayedEvents'] === undefined ? null : ((totals['replayedEvents'] - replayed) / ms) * 1000,
        sentPerS: ((totals['sent']! - sent) / ms) * 1000,
        rssMb: process.memoryUsage().rss / 2 ** 20,
      });
    } else if (m.cmd === 'exit') {
      clearInterval(live);
      void srv.close().then(() => auth.close()).then(() => {
        rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      });
    }
  });
  process.send!({ cmd: 'ready', port: srv.port, tokens });
}

// ------------------------------------------------------------------------------------------------------- storm
async function runStorm(): Promise<void> {
  const port = arg('port', 0);
  const token = process.env['VIGIL_BENCH_TOKEN']!;
  const sockets: WebSocket[] = [];
  let received = 0;
  for (let i = 0; i < SOCKETS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['vigil.v1'], { headers: { authorization: `Bearer ${token}` } });
    ws.binaryType = 'nodebuffer';
    ws.on('message', () => received++);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    sockets.push(ws);
  }
  const ask = () => {
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'subscribe', id: 'r', resume_after: 0, kinds: ['detections'] }));
  };
  ask();
  const timer = setInterval(ask, 1000);
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'exit') {
      clearInterval(timer);
      process.send!({ cmd: 'received', received });
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
  process.send!({ cmd: 'ready' });
}

// ------------------------------------------------------------------------------------------------------- probe
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r1 = (x: number | null): number | null => (x === null || Number.isNaN(x) ? null : Math.round(x * 10) / 10);

/** The child's next `cmd` message, or null after `timeoutMs` (a server whose event loop is stalled never answers). */
function once<T>(child: ChildProcess, cmd: string, timeoutMs = 600_000): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      resolve(null);
    }, timeoutMs);
    const on = (m: { cmd: string }) => {
      if (m.cmd === cmd) {
        clearTimeout(timer);
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
  });
}

interface Phase {
  health_p50_ms: number | null;
  health_p99_ms: number | null;
  health_max_ms: number | null;
  health_requests: number;
  health_timeouts: number;
  live_p50_ms: number | null;
  live_p99_ms: number | null;
  live_max_ms: number | null;
  live_batches: number;
  server_cpu_pct: number | null;
  replayed_events_per_s: number | null;
  server_rss_mb: number | null;
  /** false when the server did not answer its statistics request within 30 s */
  server_responsive: boolean;
}

async function measure(server: ChildProcess, port: number, probeToken: string): Promise<Phase> {
  const { vigil_wire_Message: Message, vigil_wire_DetectionBatch: Batch, vigil_wire_Payload: Payload } = await import('../src/stream/generated/message_generated.js');
  const live: number[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['vigil.v1'], { headers: { authorization: `Bearer ${probeToken}` } });
  ws.binaryType = 'nodebuffer';
  ws.on('message', (d: Buffer) => {
    const m = Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(d).slice()));
    if (m.payloadType() !== Payload.DetectionBatch) return;
    const b = m.payload(new Batch()) as InstanceType<typeof Batch>;
    live.push(Number(nowNs() - b.timestampNs()) / 1e6);
  });
  // a stalled server never completes the upgrade: the phase goes on without live figures then
  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(true);
    });
    ws.once('error', () => resolve(false));
  });
  if (opened) ws.send(JSON.stringify({ type: 'subscribe', id: 'live', cameras: ['live'], kinds: ['detections'] }));
  else console.log('the live probe could not connect within 10 s');
  server.send({ cmd: 'mark' });
  const marked = await once(server, 'marked', 30_000);
  const health: number[] = [];
  let healthTimeouts = 0;
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    const t0 = performance.now();
    try {
      // a load balancer gives up too: an answer later than 5 s counts as 5 s and as a timeout
      const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
      await r.text();
    } catch {
      healthTimeouts++;
    }
    health.push(performance.now() - t0);
    const rest = 50 - (performance.now() - t0);
    if (rest > 0) await new Promise((r2) => setTimeout(r2, rest));
  }
  server.send({ cmd: 'stats' });
  type Stats = { cpuPct: number; replayedPerS: number | null; rssMb: number };
  const answered: Stats | null = marked === null ? null : await once<Stats>(server, 'stats', 30_000);
  const st: Stats = answered ?? { cpuPct: NaN, replayedPerS: null, rssMb: NaN };
  if (Number.isNaN(st.cpuPct)) console.log('the server did not answer its statistics request within 30 s (event loop stalled)');
  ws.terminate();
  return {
    health_p50_ms: r1(pct(health, 50)),
    health_p99_ms: r1(pct(health, 99)),
    health_max_ms: r1(Math.max(...health)),
    health_requests: health.length,
    health_timeouts: healthTimeouts,
    live_p50_ms: r1(pct(live, 50)),
    live_p99_ms: r1(pct(live, 99)),
    live_max_ms: r1(live.length ? Math.max(...live) : NaN),
    live_batches: live.length,
    server_cpu_pct: r1(st.cpuPct),
    replayed_events_per_s: st.replayedPerS === null ? null : Math.round(st.replayedPerS),
    server_rss_mb: r1(st.rssMb),
    server_responsive: !Number.isNaN(st.cpuPct),
  };
}

async function main(): Promise<void> {
  const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
  if (role === 'server') return runServer();
  if (role === 'storm') return runStorm();
  const self = join(here, 'replay-load.ts');
  const passOn = process.argv.slice(2).filter((a) => !a.startsWith('--role='));
  const server = fork(self, ['--role=server', ...passOn], { execArgv: ['--import', 'tsx'] });
  const ready = (await once<{ port: number; tokens: { viewer: string; probe: string } }>(server, 'ready'))!;
  console.log(`server on ${ready.port}: ${EVENTS} batches retained; ${SOCKETS} storm sockets; ${SECONDS} s per phase`);
  const baseline = await measure(server, ready.port, ready.tokens.probe);
  console.log('baseline', baseline);
  const storm = fork(self, ['--role=storm', `--port=${ready.port}`, ...passOn], { execArgv: ['--import', 'tsx'], env: { ...process.env, VIGIL_BENCH_TOKEN: ready.tokens.viewer } });
  await once(storm, 'ready');
  await new Promise((r) => setTimeout(r, 2000));
  const during = await measure(server, ready.port, ready.tokens.probe);
  console.log('storm', during);
  storm.send({ cmd: 'exit' });
  const got = (await once<{ received: number }>(storm, 'received', 30_000)) ?? { received: -1 };
  storm.kill('SIGKILL');
  server.send({ cmd: 'exit' });
  const exited = new Promise((r) => server.once('exit', r));
  if ((await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))])) === false) server.kill('SIGKILL');
  const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100);
  const result = {
    date: new Date().toISOString(),
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`,
    command: `node --import tsx bench/replay-load.ts ${passOn.join(' ')}`.trim(),
    retained_batches: EVENTS,
    storm_sockets: SOCKETS,
    seconds_per_phase: SECONDS,
    baseline,
    storm: during,
    storm_messages_received: got.received,
    health_p99_ratio: ratio(during.health_p99_ms, baseline.health_p99_ms),
    live_p99_ratio: ratio(during.live_p99_ms, baseline.live_p99_ms),
  };
  console.log(`/health p99: ${during.health_p99_ms} ms under the storm vs ${baseline.health_p99_ms} ms baseline (max ${during.health_max_ms} vs ${baseline.health_max_ms})`);
  console.log(`live delivery p99: ${during.live_p99_ms} ms vs ${baseline.live_p99_ms} ms baseline; server CPU ${during.server_cpu_pct} % vs ${baseline.server_cpu_pct} %; replayed ${during.replayed_events_per_s ?? 'n/a'} events/s`);
  mkdirSync(join(here, 'results'), { recursive: true });
  const out = process.env['VIGIL_BENCH_OUT'] ?? join(here, 'results', 'replay-load.json');
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
