/**
 * A TCP proxy the queue tests control, put between a sink and the real broker to simulate a broker outage
 * without restarting the shared service: cut() destroys every open connection and makes new ones fail at once
 * (accepted, then reset), restore() lets connections through again. The listening port never changes.
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private isCut = false;
  port = 0;
  connections = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => this.onClient(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private onClient(client: net.Socket): void {
    if (this.isCut) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `cond` every 20 ms until it holds or `timeoutMs` passes; throws with `what` on timeout. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Fails with a message naming the broker when nothing listens on host:port. */
export async function requireBroker(name: string, host: string, port: number, startHint: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(port, host);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`${name} is not reachable at ${host}:${port} (timeout); start it with: ${startHint}`));
    }, 3000);
    s.once('connect', () => {
      clearTimeout(t);
      s.end();
      resolve();
    });
    s.once('error', (err) => {
      clearTimeout(t);
      reject(new Error(`${name} is not reachable at ${host}:${port} (${err.message}); start it with: ${startHint}`));
    });
  });
}
