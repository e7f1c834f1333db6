/**
 * A simulated third-party HTTP peer on loopback (a VMS, S3, SNS: systems that cannot run here). Subclasses get each
 * request with its whole body and answer it the way the vendor's documented API does.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export abstract class PeerServer {
  server: http.Server | https.Server;
  url = '';
  port = 0;
  private readonly listener: http.RequestListener;

  constructor() {
    this.listener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, Buffer.concat(chunks), res));
    };
    this.server = http.createServer(this.listener);
  }

  protected abstract handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void | Promise<void>;

  /** Listens on 127.0.0.1; over HTTPS when a key and certificate are given (cameras ship self-signed ones). */
  async start(tls?: { key: string; cert: string }): Promise<this> {
    if (tls) this.server = https.createServer({ key: tls.key, cert: tls.cert }, this.listener);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
