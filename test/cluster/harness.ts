/**
 * What the cluster tests start: a 3-node nats-server cluster with JetStream on ports of its own (temp folders),
 * TCP proxies between Vigil nodes and their broker (to cut one node off: a partition), and Vigil node processes
 * (`vigil serve` children with JSON logs) whose log lines the tests read.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { ROOT } from '../helpers/media.js';

/** Every child started here, killed when the test process exits however it ends (a timed-out test skips finally). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(check: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const v = await Promise.race([
      Promise.resolve(check()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (a check did not return)`)), Math.max(end - Date.now(), 0) + 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function requireNatsServer(): string {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('nats-server is not installed: run `bash scripts/setup.sh` (scripts/setup.d/62-nats.sh)');
  return r.stdout.trim();
}

export interface NatsCluster {
  urls: string[];
  kill(i: number): void;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsCluster(dir: string, n = 3): Promise<NatsCluster> {
  requireNatsServer();
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const routes = await Promise.all(Array.from({ length: n }, () => freePort()));
  const procs: Array<ChildProcess | null> = [];
  const confs: string[] = [];
  for (let i = 0; i < n; i++) {
    const conf = join(dir, `nats-${i}.conf`);
    mkdirSync(join(dir, `js-${i}`), { recursive: true });
    writeFileSync(
      conf,
      [
        `server_name: s${i}`,
        `listen: 127.0.0.1:${ports[i]}`,
        `jetstream { store_dir: "${join(dir, `js-${i}`)}", max_memory_store: 64MB, max_file_store: 1GB }`,
        'cluster {',
        '  name: vigiltest',
        // Clients keep to the URLs they were given (a node behind a proxy must not find the brokers directly).
        '  no_advertise: true',
        `  listen: 127.0.0.1:${routes[i]}`,
        `  routes: [${routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
        '}',
      ].join('\n'),
    );
    confs.push(conf);
  }
  const log: string[] = [];
  const start = (i: number): void => {
    const p = track(spawn('nats-server', ['-c', confs[i]!], { stdio: ['ignore', 'ignore', 'pipe'] }));
    p.stderr!.on('data', (d: Buffer) => log.push(`[s${i}] ${d.toString()}`));
    procs[i] = p;
  };
  for (let i = 0; i < n; i++) start(i);
  const urls = ports.map((p) => `nats://127.0.0.1:${p}`);
  // Ready when a replicated stream can be made (the meta leader is elected and every peer is up).
  await until(async () => {
    let nc: NatsConnection | null = null;
    try {
      nc = await connect({ servers: urls, timeout: 1000 });
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      await jsm.streams.add({ name: 'ready-check', subjects: ['ready.check'], num_replicas: n });
      await jsm.streams.delete('ready-check');
      return true;
    } catch {
      return false;
    } finally {
      await nc?.close().catch(() => {});
    }
  }, 30_000, `a ${n}-node JetStream cluster (${log.join('').slice(-2000)})`);
  return {
    urls,
    kill: (i) => {
      procs[i]?.kill('SIGKILL');
      procs[i] = null;
    },
    restart: async (i) => {
      start(i);
      await until(async () => {
        const nc = await connect({ servers: urls[i]!, timeout: 1000 }).catch(() => null);
        await nc?.close();
        return nc !== null;
      }, 15_000, `nats server ${i} back`);
    },
    stop: async () => {
      await Promise.all(
        procs.map((p) => (p && p.exitCode === null ? new Promise<void>((r) => (p.once('exit', () => r()), p.kill('SIGKILL'))) : Promise.resolve())),
      );
    },
  };
}

/** A TCP relay to one broker; `cut()` drops every connection and refuses new ones until `heal()`. */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.#server = createServer((client) => {
      if (this.#cut) return void client.destroy();
      const upstream = netConnect(this.targetPort, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.#server.address() as { port: number }).port;
    return this.port;
  }

  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

export interface LogLine {
  time: string;
  level: string;
  scope: string;
  msg: string;
  [k: string]: unknown;
}

export interface NodeSpec {
  id: string;
  dir: string;
  servers: string[];
  cameras: unknown[];
  rules?: unknown[];
  /** Extra cluster settings (merged over the test defaults). */
  cluster?: Record<string, unknown>;
  detector?: boolean;
  /** More top-level config sections (notify, integrations...), merged over the test defaults. */
  extra?: Record<string, unknown>;
}

/** Short lease timing for tests: failover bound = leaseTtlS + graceS + scanIntervalS + camera start. */
export const TEST_CLUSTER = { leaseTtlS: 3, graceS: 1, safetyS: 1, heartbeatS: 0.5, scanIntervalS: 0.25, minHoldS: 2, rebalanceIntervalS: 2, replicas: 3, capacity: 4 };

export class VigilNode {
  readonly lines: LogLine[] = [];
  stdout = '';
  stderr = '';
  proc: ChildProcess | null = null;
  port = 0;
  config = '';

  static readonly #all = new Set<VigilNode>();

  constructor(readonly spec: NodeSpec) {
    VigilNode.#all.add(this);
  }

  async start(): Promise<void> {
    const s = this.spec;
    this.port = this.port || (await freePort());
    const dataDir = join(s.dir, `data-${s.id}`);
    this.config = join(s.dir, `${s.id}.yaml`);
    const doc = {
      server: { host: '127.0.0.1', port: this.port },
      dataDir,
      statusIntervalS: 3600,
      snapshots: false,
      search: false,
      ...(s.detector === false ? { detector: false } : {}),
      cluster: { servers: s.servers, nodeId: s.id, ...TEST_CLUSTER, ...s.cluster },
      cameras: s.cameras,
      rules: s.rules ?? [],
      ...s.extra,
    };
    writeFileSync(this.config, JSON.stringify(doc, null, 1));
    const p = track(spawn(process.execPath, [join(ROOT, 'scripts', 'vigil.mjs'), 'serve', '--config', this.config], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VIGIL_LOG_FORMAT: 'json', VIGIL_LOG_LEVEL: 'info' },
    }));
    this.proc = p;
    const from = this.lines.length;
    let partial = '';
    p.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        this.stderr += `${l}\n`;
        try {
          this.lines.push(JSON.parse(l) as LogLine);
        } catch {
          // not a log record (a stack trace)
        }
      }
    });
    p.once('exit', () => {
      if (partial) this.stderr += `${partial}\n`;
      partial = '';
    });
    await until(() => this.lines.slice(from).some((l) => l.msg === 'cluster node started') || p.exitCode !== null, 240_000, `node ${s.id} to start:\n${this.stderr.slice(-3000)}`);
    if (p.exitCode !== null) throw new Error(`node ${s.id} exited with ${p.exitCode}:\n${this.stderr.slice(-3000)}\n${this.stdout.slice(-1000)}`);
  }

  /**
   * The cluster's admin password: users are shared through the cluster (src/cluster/users.ts), so it is the
   * first-run password printed by the node that seeded the cluster's users (every other node dropped its own).
   */
  adminPassword(): string {
    const seeder = [...VigilNode.#all].find((n) => n.spec.servers.join() === this.spec.servers.join() && n.find(/^seeded the cluster users from this node$/).length > 0) ?? this;
    const m = /created user "admin" with password (\S+)/.exec(seeder.stdout);
    if (!m) throw new Error(`node ${seeder.spec.id}: no admin password on stdout`);
    return m[1]!;
  }

  kill9(): void {
    this.proc?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  /** Log records whose message matches, with their time in ms. */
  find(re: RegExp): Array<LogLine & { ms: number }> {
    return this.lines.filter((l) => re.test(l.msg)).map((l) => ({ ...l, ms: Date.parse(l.time) }));
  }
}

export interface StreamEventRecord {
  /** The event's JetStream sequence in the events stream (= its WebSocket sequence on every node). */
  seq: number;
  kind: string;
  camera: string;
  node: string;
  fence: number;
  /** Production time (ms) from the Vigil-Time header. */
  time: number;
  data: Record<string, unknown>;
}

/** Every message of the cluster's events stream, oldest first. */
export async function readEvents(servers: string[], prefix = 'vigil'): Promise<StreamEventRecord[]> {
  const nc = await connect({ servers, timeout: 5000 });
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(`${prefix}-events`);
    const last = info.state.last_seq;
    const out: StreamEventRecord[] = [];
    if (info.state.messages === 0) return out;
    const c = await js.consumers.get(`${prefix}-events`, { deliver_policy: DeliverPolicy.All });
    const msgs = await c.consume();
    for await (const m of msgs) {
      const h = m.headers!;
      out.push({
        seq: m.seq,
        kind: m.subject.split('.')[2]!,
        camera: h.get('Vigil-Camera'),
        node: h.get('Vigil-Node'),
        fence: Number(h.get('Vigil-Fence')),
        time: Number(h.get('Vigil-Time')),
        data: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
      });
      if (m.seq >= last) break;
    }
    await msgs.close();
    return out;
  } finally {
    await nc.close();
  }
}

/**
 * The fencing invariant over a stream's events: per camera, the events of each token span a time interval, and
 * no two tokens' intervals overlap (a later token only starts after the earlier one's last event). Returns the
 * violations, described.
 */
export function overlappingTokens(events: readonly StreamEventRecord[]): string[] {
  const spans = new Map<string, Map<number, { node: string; first: number; last: number; n: number }>>();
  for (const e of events) {
    let cam = spans.get(e.camera);
    if (!cam) spans.set(e.camera, (cam = new Map()));
    const s = cam.get(e.fence);
    if (!s) cam.set(e.fence, { node: e.node, first: e.time, last: e.time, n: 1 });
    else {
      s.first = Math.min(s.first, e.time);
      s.last = Math.max(s.last, e.time);
      s.n++;
    }
  }
  const bad: string[] = [];
  for (const [cam, m] of spans) {
    const list = [...m].sort(([a], [b]) => a - b);
    for (let i = 1; i < list.length; i++) {
      const [fa, a] = list[i - 1]!;
      const [fb, b] = list[i]!;
      if (b.first <= a.last) bad.push(`${cam}: token ${fb} (${b.node}) produced at ${b.first} while token ${fa} (${a.node}) produced until ${a.last}`);
    }
  }
  return bad;
}

/** Writes each node's last cluster / error / warning log lines to stderr: what a failed cluster test is read by. */
export function dumpNodeLogs(nodes: VigilNode[], lines = 30): void {
  for (const n of nodes) {
    const tail = n.stderr.split('\n').filter((l) => /cluster|error|warn/.test(l)).slice(-lines);
    process.stderr.write(`--- node ${n.spec.id}\n${tail.join('\n')}\n`);
  }
}
