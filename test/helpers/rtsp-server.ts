/**
 * Starts the project's RTSP test server (native/tools/rtsp_test_server.c, built with the addon) on 127.0.0.1,
 * serving a clip in real time. Fails clearly when the tool was not built.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './media.js';

export const RTSP_SERVER_BIN = join(ROOT, 'build', 'Release', 'vigil-rtsp-test-server');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class RtspTestServer {
  #child: ChildProcess | null = null;
  constructor(
    readonly port: number,
    readonly mount: string,
    readonly launch: string,
    readonly credentials?: { user: string; password: string },
  ) {}

  get url(): string {
    return `rtsp://127.0.0.1:${this.port}/${this.mount}`;
  }

  static forClip(port: number, clip: string, credentials?: { user: string; password: string }): RtspTestServer {
    return new RtspTestServer(
      port,
      'cam',
      `( filesrc location=${clip} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )`,
      credentials,
    );
  }

  async start(): Promise<void> {
    if (!existsSync(RTSP_SERVER_BIN)) {
      throw new Error(`${RTSP_SERVER_BIN} is missing: run \`npm run build:addon\` (needs libgstrtspserver-1.0-dev)`);
    }
    const args = [String(this.port), this.mount, this.launch];
    if (this.credentials) args.push(this.credentials.user, this.credentials.password);
    const child = spawn(RTSP_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`RTSP test server did not start: ${err}`)), 10_000);
      child.stderr!.on('data', (d) => (err += d));
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP test server exited with ${code}: ${err}`));
      });
    });
  }

  /** SIGSTOP: the connection stays open and no data flows (a stalled camera). */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#child = null;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }
}
