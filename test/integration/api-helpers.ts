/** Shared set-up for the API / stream / auth integration tests: a real server on loopback with in-memory sources. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { AuthService, type AuthConfig } from '../../src/auth/service.js';
import { createApiServer, type ApiServerDeps, type ApiServerOptions, type ApiServer } from '../../src/api/server.js';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';
import type { CameraInfo, StoredDetection } from '../../src/types.js';

export const SECRET = 'integration-test-secret-0123456789abcdefghij';
export const ISSUER = 'vigil';
export const AUDIENCE = 'vigil-api';

export const CAMERAS: CameraInfo[] = [
  { id: 'cam-1', name: 'Gate', status: 'running', source: 'rtsp://10.0.0.5/stream1', width: 1920, height: 1080, fps: 10, lastError: null },
  { id: 'cam-2', name: 'Lobby', status: 'reconnecting', source: 'rtsp://10.0.0.6/stream1', width: 1280, height: 720, fps: 15, lastError: 'EOS' },
  { id: 'cam-3', name: 'Yard', status: 'stopped', source: 'file:///media/yard.mp4', width: null, height: null, fps: null, lastError: null },
];

export function storedDetections(): StoredDetection[] {
  const rows: StoredDetection[] = [];
  let seq = 1n;
  for (let i = 0; i < 30; i++) {
    const cam = CAMERAS[i % 3]!.id;
    rows.push({
      seq: seq++,
      cameraId: cam,
      timestampNs: 1_764_000_000_000_000_000n + BigInt(i) * 1_000_000_000n,
      frameWidth: 1920,
      frameHeight: 1080,
      classId: i % 2 === 0 ? 0 : 2,
      className: i % 2 === 0 ? 'person' : 'car',
      confidence: (i % 10) / 10,
      box: { x1: i, y1: i + 1, x2: i + 11, y2: i + 21 },
      ...(i % 4 === 0 ? { trackId: i } : {}),
    });
  }
  return rows;
}

export interface Harness {
  srv: ApiServer;
  auth: AuthService;
  base: string;
  wsUrl: string;
  dataDir: string;
  adminPassword: string;
  cameras: MemoryCameraListing;
  detections: MemoryDetectionSource;
  /** access tokens by user: admin, olga (operator, all cameras), vera (viewer, cam-1 only) */
  tokens: Record<'admin' | 'olga' | 'vera', { access_token: string; refresh_token: string }>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: { server?: ApiServerOptions; auth?: Partial<AuthConfig>; users?: boolean; deps?: Partial<ApiServerDeps> } = {},
): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
  let adminPassword = '';
  const auth = await AuthService.open({
    dataDir,
    jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
    announceInitialAdmin: (_u, p) => {
      adminPassword = p;
    },
    ...opts.auth,
  });
  const cameras = new MemoryCameraListing(CAMERAS);
  const detections = new MemoryDetectionSource(storedDetections());
  const srv = await createApiServer({ host: '127.0.0.1', port: 0, ...opts.server }, { auth, cameras, detections, ...opts.deps });
  const tokens = {} as Harness['tokens'];
  if (opts.users !== false) {
    await auth.users.create({ username: 'olga', password: 'operator-pass', role: 'operator', cameras: '*' });
    await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
    tokens.admin = await auth.login('admin', adminPassword, '127.0.0.9');
    tokens.olga = await auth.login('olga', 'operator-pass', '127.0.0.9');
    tokens.vera = await auth.login('vera', 'viewer-pass', '127.0.0.9');
  }
  return {
    srv,
    auth,
    base: `http://127.0.0.1:${srv.port}`,
    wsUrl: `ws://127.0.0.1:${srv.port}/ws`,
    dataDir,
    adminPassword,
    cameras,
    detections,
    tokens,
    async close() {
      await srv.close();
      await auth.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type InboxSocket = WebSocket & { inbox: Buffer[] };

/**
 * Opens a WebSocket and resolves on open, or rejects with the HTTP status of a refused upgrade. Every message from
 * the first one (the hello can arrive in the same packet as the 101) is collected in `inbox`.
 */
export function connectWs(
  url: string,
  init: { token?: string; via?: 'header' | 'protocol'; headers?: Record<string, string> } = {},
): Promise<InboxSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers };
    const protocols = ['vigil.v1'];
    if (init.token !== undefined) {
      if (init.via === 'protocol') protocols.push(`bearer.${init.token}`);
      else headers['authorization'] = `Bearer ${init.token}`;
    }
    const ws = Object.assign(new WebSocket(url, protocols, { headers }), { inbox: [] as Buffer[] });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (d: Buffer) => ws.inbox.push(d));
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        const err = Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body });
        ws.terminate();
        reject(err);
      });
    });
    ws.once('error', reject);
  });
}

export function closeWs(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
    setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2000).unref();
  });
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
