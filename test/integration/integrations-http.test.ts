/**
 * The integrations behind the real REST server (uWS on loopback, real AuthService):
 *  - VMS camera sync into a real CameraManager: a simulated Hikvision NVR (test/integration/vms-simulators.ts,
 *    written from the ISAPI documentation: no NVR runs here) whose channel streams are served by the project's real
 *    RTSP test server with RTSP authentication. The camera appears and runs (credentials as rtspsrc properties),
 *    a changed stream URL (the NVR's RTSP port) restarts it, a channel the NVR no longer lists is stopped and
 *    removed; GET /integrations/vms shows last/next sync and never the password.
 *  - GET /media/*: bearer token with camera scope, signed links (valid, expired, tampered, for another object),
 *    path traversal attempts; exact statuses and error codes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuthService } from '../../src/auth/service.js';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';
import { integrationRoutes } from '../../src/api/routes-integrations.js';
import type { Camera } from '../../src/camera/camera.js';
import { CameraManager } from '../../src/camera/manager.js';
import { parseConfig } from '../../src/config/index.js';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import { LINK_KEY_FILE } from '../../src/integrations/storage/links.js';
import { Integrations } from '../../src/integrations/runtime.js';
import { createLogger } from '../../src/log.js';
import { media } from '../helpers/media.js';
import { RtspTestServer, freePort } from '../helpers/rtsp-server.js';
import { until } from '../helpers/wait.js';
import { HikvisionSim } from './vms-simulators.js';

const PASSWORD = 'Nvr-Secret-7f3a';
const quiet = createLogger('test', () => undefined);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 0xff, 0xd9]);

interface Server {
  srv: ApiServer;
  auth: AuthService;
  base: string;
  port: number;
  tokens: Record<'admin' | 'olga' | 'vera', string>;
  close(): Promise<void>;
}

async function startServer(dir: string, rt: Integrations): Promise<Server> {
  let adminPassword = '';
  const auth = await AuthService.open({
    dataDir: join(dir, 'auth'),
    jwt: { secret: 'integrations-test-secret-0123456789abcdef', issuer: 'vigil', audience: 'vigil-api' },
    announceInitialAdmin: (_u, p) => {
      adminPassword = p;
    },
  });
  const srv = await createApiServer(
    { host: '127.0.0.1', port: 0 },
    { auth, cameras: new MemoryCameraListing([]), detections: new MemoryDetectionSource([]), routes: { integrations: integrationRoutes(rt) } },
  );
  await auth.users.create({ username: 'olga', password: 'operator-pass', role: 'operator', cameras: '*' });
  await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
  const tokens = {
    admin: (await auth.login('admin', adminPassword, '127.0.0.9')).access_token,
    olga: (await auth.login('olga', 'operator-pass', '127.0.0.9')).access_token,
    vera: (await auth.login('vera', 'viewer-pass', '127.0.0.9')).access_token,
  };
  return {
    srv,
    auth,
    port: srv.port,
    base: `http://127.0.0.1:${srv.port}`,
    tokens,
    async close() {
      await srv.close();
      await auth.close();
    },
  };
}

/** A raw GET: the path goes out byte for byte (fetch would normalise "..", which is what we want to send). */
function rawGet(port: number, path: string, token?: string): Promise<{ status: number; body: Buffer; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function errorOf(r: { body: Buffer }): { code: string; message: string } {
  return (JSON.parse(r.body.toString()) as { error: { code: string; message: string } }).error;
}

describe('VMS camera sync into the live camera list (Hikvision simulator + real RTSP server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-intvms-'));
  const hik = new HikvisionSim('admin', PASSWORD);
  const clip = media('vtest-h264.mp4');
  const launch = `( filesrc location=${clip} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )`;
  let rtsp1: RtspTestServer;
  let rtsp2: RtspTestServer;
  const cameras = new CameraManager();
  let rt: Integrations;
  let server: Server;

  before(async () => {
    await hik.start();
    rtsp1 = new RtspTestServer(await freePort(), 'Streaming/Channels/101', launch, { user: 'admin', password: PASSWORD });
    await rtsp1.start();
    rtsp2 = new RtspTestServer(await freePort(), 'Streaming/Channels/101', launch, { user: 'admin', password: PASSWORD });
    await rtsp2.start();
    hik.channels = [{ id: '1', name: 'Lobby', ip: '192.168.254.2', model: 'DS-2CD2143G2-I' }];
    hik.rtspPort = rtsp1.port;
    const config = parseConfig(
      {
        dataDir: dir,
        integrations: {
          vms: [
            {
              id: 'nvr',
              type: 'hikvision',
              url: hik.url,
              allow: ['127.0.0.1'], // the simulator listens on loopback: listed for the SSRF guard
              username: 'admin',
              password: PASSWORD,
              rtspPort: 'device',
              syncIntervalS: 3600,
              detectFps: 2,
              rtsp: { latencyMs: 0, connectTimeoutMs: 3000 },
              camera: { motion: false },
            },
          ],
        },
      },
      dir,
    );
    rt = await Integrations.start(config.integrations, { cameras, dataDir: dir, log: quiet, registry: null, health: null });
    server = await startServer(dir, rt);
  });

  after(async () => {
    await server.close();
    await rt.close();
    cameras.close();
    await rtsp1.kill();
    await rtsp2.kill();
    await hik.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('appears and runs; URL change restarts it; removal stops and removes it; status never shows the password', async () => {
    // The first periodic sync runs at start: the channel becomes camera nvr-1 and runs, authenticated.
    await until(() => cameras.get('nvr-1')?.state === 'running', 20_000, 'nvr-1 running');
    const first: Camera = cameras.get('nvr-1')!;
    assert.equal(first.settings.name, 'Lobby');
    assert.equal(first.displaySource, `rtsp://127.0.0.1:${rtsp1.port}/Streaming/Channels/101`);
    assert.deepEqual(
      first.settings.source,
      { kind: 'rtsp', url: `rtsp://127.0.0.1:${rtsp1.port}/Streaming/Channels/101`, transport: 'tcp', latencyMs: 0, codec: 'h264', connectTimeoutMs: 3000, username: 'admin', password: PASSWORD },
    );
    assert.deepEqual([first.settings.detectFps, first.settings.motion], [2, null]);

    const res = await fetch(`${server.base}/integrations/vms`, { headers: { authorization: `Bearer ${server.tokens.olga}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(PASSWORD), 'no password in the status');
    const { sources } = JSON.parse(text) as { sources: Array<Record<string, unknown>> };
    assert.equal(sources.length, 1);
    const s = sources[0]!;
    assert.deepEqual(
      [s.id, s.type, s.url, s.stream, s.syncIntervalS, s.running, s.lastError, s.cameras, s.activeCameras, s.lastResult],
      ['nvr', 'hikvision', hik.url, 'main', 3600, false, null, 1, 1, { added: 1, changed: 0, removed: 0, unchanged: 0 }],
    );
    const last = Date.parse(s.lastSyncAt as string);
    const next = Date.parse(s.nextSyncAt as string);
    assert.ok(last > 0 && next > last, 'last and next sync are timestamps, next after last');
    assert.equal(Math.round((next - Date.parse(s.lastSuccessAt as string)) / 1000 / 60), 60);

    // Viewers may not see integration status; operators may not sync.
    const viewer = await fetch(`${server.base}/integrations/vms`, { headers: { authorization: `Bearer ${server.tokens.vera}` } });
    assert.deepEqual([viewer.status, ((await viewer.json()) as { error: { code: string } }).error.code], [403, 'E_FORBIDDEN']);
    const opSync = await fetch(`${server.base}/integrations/vms/nvr/sync`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.olga}` } });
    assert.deepEqual([opSync.status, ((await opSync.json()) as { error: { message: string } }).error.message], [403, 'Role may not integrations:write']);
    const unknown = await fetch(`${server.base}/integrations/vms/nope/sync`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.admin}` } });
    assert.deepEqual([unknown.status, await unknown.json()], [404, { error: { code: 'E_NOT_FOUND', message: 'No VMS source named "nope"' } }]);

    // The NVR's RTSP port changes: the stream URL changes, the camera is restarted on the new one.
    hik.rtspPort = rtsp2.port;
    const sync2 = await fetch(`${server.base}/integrations/vms/nvr/sync`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.admin}` } });
    assert.equal(sync2.status, 200);
    const body2 = await sync2.text();
    assert.ok(!body2.includes(PASSWORD));
    assert.deepEqual(JSON.parse(body2).report, { source: 'nvr', ok: true, error: null, added: 0, changed: 1, removed: 0, unchanged: 0 });
    const second = cameras.get('nvr-1')!;
    assert.notEqual(second, first);
    assert.equal(first.state, 'stopped');
    assert.equal(second.displaySource, `rtsp://127.0.0.1:${rtsp2.port}/Streaming/Channels/101`);
    await until(() => second.state === 'running', 20_000, 'nvr-1 running on the new URL');

    // Unchanged: nothing restarts.
    const sync3 = await fetch(`${server.base}/integrations/vms/nvr/sync`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.admin}` } });
    assert.deepEqual((await sync3.json()).report, { source: 'nvr', ok: true, error: null, added: 0, changed: 0, removed: 0, unchanged: 1 });
    assert.equal(cameras.get('nvr-1'), second);

    // The NVR fails: nothing changes, the error is shown (redacted), the camera keeps running.
    hik.override = () => ({ status: 500, body: '' });
    const failed = await fetch(`${server.base}/integrations/vms/nvr/sync`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.admin}` } });
    const fj = (await failed.json()) as { report: { ok: boolean; error: string }; source: { lastError: string } };
    assert.deepEqual([fj.report.ok, fj.report.error], [false, 'hikvision source nvr: GET /ISAPI/ContentMgmt/InputProxy/channels returned HTTP 500']);
    assert.equal(fj.source.lastError, 'hikvision source nvr: GET /ISAPI/ContentMgmt/InputProxy/channels returned HTTP 500');
    assert.equal(cameras.get('nvr-1'), second);
    hik.override = null;

    // The channel disappears from the NVR: stopped and removed.
    hik.channels = [];
    const sync4 = await fetch(`${server.base}/integrations/vms/nvr/sync`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.admin}` } });
    assert.deepEqual((await sync4.json()).report, { source: 'nvr', ok: true, error: null, added: 0, changed: 0, removed: 1, unchanged: 0 });
    assert.equal(cameras.get('nvr-1'), undefined);
    assert.equal(second.state, 'stopped');
    const final = await (await fetch(`${server.base}/integrations/vms`, { headers: { authorization: `Bearer ${server.tokens.admin}` } })).text();
    assert.ok(!final.includes(PASSWORD));
    assert.deepEqual(
      (JSON.parse(final) as { sources: Array<{ cameras: number; activeCameras: number; lastError: null }> }).sources.map((x) => [x.cameras, x.activeCameras, x.lastError]),
      [[0, 0, null]],
    );
  });
});

describe('GET /media/*: token with camera scope, signed links, traversal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-intmedia-'));
  const cameras = new CameraManager();
  let rt: Integrations;
  let server: Server;
  let key1: string;
  let key2: string;

  before(async () => {
    const config = parseConfig({ dataDir: dir }, dir);
    rt = await Integrations.start(config.integrations, { cameras, dataDir: dir, log: quiet, registry: null, health: null });
    server = await startServer(dir, rt);
    const s1 = await rt.media.uploadSnapshot('cam-1', 1_764_270_000_123_000_000n, JPEG, 'a-1');
    const s2 = await rt.media.uploadSnapshot('cam-2', 1_764_270_000_123_000_000n, JPEG);
    key1 = s1.key;
    key2 = s2.key;
    assert.equal(key1, 'snapshots/cam-1/2025/11/27/cam-1-20251127T190000.123Z-a-1.jpg');
    assert.match(s1.url, /^\/media\/snapshots\/cam-1\/2025\/11\/27\/cam-1-20251127T190000\.123Z-a-1\.jpg\?exp=\d+&sig=[A-Za-z0-9_-]{43}$/);
  });

  after(async () => {
    await server.close();
    await rt.close();
    cameras.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bearer token: scope from the key\'s camera segment', async () => {
    const ok = await rawGet(server.port, `/media/${key1}`, server.tokens.vera);
    assert.deepEqual([ok.status, ok.type], [200, 'image/jpeg']);
    assert.deepEqual(ok.body, JPEG);
    const out = await rawGet(server.port, `/media/${key2}`, server.tokens.vera);
    assert.deepEqual([out.status, errorOf(out)], [403, { code: 'E_FORBIDDEN_CAMERA', message: 'Camera "cam-2" is outside this user\'s scope' }]);
    assert.equal((await rawGet(server.port, `/media/${key2}`, server.tokens.olga)).status, 200);
    const none = await rawGet(server.port, `/media/${key1}`);
    assert.deepEqual([none.status, errorOf(none).code], [401, 'E_AUTH_MISSING']);
    const bad = await rawGet(server.port, `/media/${key1}`, 'not-a-token');
    assert.deepEqual([bad.status, errorOf(bad).code], [401, 'E_AUTH_INVALID']);
    const missing = await rawGet(server.port, '/media/snapshots/cam-1/2025/11/27/nothing.jpg', server.tokens.admin);
    assert.deepEqual([missing.status, errorOf(missing)], [404, { code: 'E_MEDIA_NOT_FOUND', message: 'No such media object' }]);
  });

  test('signed links: valid opens without a token; expired, tampered and foreign ones are refused', async () => {
    const url = await rt.media.signedUrl(key1);
    const ok = await rawGet(server.port, url);
    assert.deepEqual([ok.status, ok.body], [200, JPEG]);
    // Valid 7 days by default.
    const exp = Number(new URL(url, 'http://x').searchParams.get('exp'));
    assert.equal(exp - Math.floor(Date.now() / 1000) > 7 * 86_400 - 60, true);

    const expired = await rt.media.signedUrl(key1, 60, Math.floor(Date.now() / 1000) - 3600);
    const e = await rawGet(server.port, expired);
    assert.deepEqual([e.status, errorOf(e)], [403, { code: 'E_MEDIA_LINK_EXPIRED', message: 'Media link has expired' }]);

    const u = new URL(url, 'http://x');
    const sig = u.searchParams.get('sig')!;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`;
    const tampered = await rawGet(server.port, `${u.pathname}?exp=${u.searchParams.get('exp')}&sig=${flipped}`);
    assert.deepEqual([tampered.status, errorOf(tampered)], [403, { code: 'E_MEDIA_LINK_INVALID', message: 'Media link signature is not valid' }]);
    // A longer validity written into a genuine link: the signature no longer matches.
    const extended = await rawGet(server.port, `${u.pathname}?exp=${exp + 86_400}&sig=${sig}`);
    assert.deepEqual([extended.status, errorOf(extended).code], [403, 'E_MEDIA_LINK_INVALID']);
    // A genuine signature used for another object (cam-2, outside the link's object).
    const foreign = await rawGet(server.port, `/media/${key2}?exp=${exp}&sig=${sig}`);
    assert.deepEqual([foreign.status, errorOf(foreign).code], [403, 'E_MEDIA_LINK_INVALID']);
    const malformed = await rawGet(server.port, `/media/${key1}?exp=soon&sig=${sig}`);
    assert.deepEqual([malformed.status, errorOf(malformed)], [403, { code: 'E_MEDIA_LINK_INVALID', message: 'Media link is malformed: expected exp=<unix seconds>&sig=<signature>' }]);
    // The same key spelled with percent-encoding verifies the same.
    const encoded = await rawGet(server.port, `${u.pathname.replace('cam-1-', 'cam%2D1-')}?${u.searchParams}`);
    assert.equal(encoded.status, 200);

    // The snapshot service's uploader: absolute links under the public URL, opening without a token.
    const link = await rt.alertSnapshotUploader('https://vigil.example.com/').upload(
      { alertId: 'al-7', ruleId: 'r', ruleName: 'R', cameraId: 'cam-2', state: 'raised', message: 'm', trackIds: [], raisedNs: 1_764_270_000_500_000_000n, updatedNs: 1_764_270_000_500_000_000n, clearedNs: null, acknowledgedBy: null, details: {} },
      JPEG,
    );
    assert.match(link!, /^https:\/\/vigil\.example\.com\/media\/snapshots\/cam-2\/2025\/11\/27\/cam-2-20251127T190000\.500Z-al-7\.jpg\?exp=\d+&sig=[A-Za-z0-9_-]{43}$/);
    const viaLink = await rawGet(server.port, link!.slice('https://vigil.example.com'.length));
    assert.deepEqual([viaLink.status, viaLink.body], [200, JPEG]);

    // The secret lives in the data folder (owner-only) and survives a restart: old links still open.
    assert.equal(statSync(join(dir, 'integrations', LINK_KEY_FILE)).mode & 0o777, 0o600);
    const rt2 = await Integrations.start(parseConfig({ dataDir: dir }, dir).integrations, { cameras, dataDir: dir, log: quiet, registry: null, health: null });
    try {
      assert.equal(await rt2.media.signedUrl(key1, 600, 1_800_000_000), await rt.media.signedUrl(key1, 600, 1_800_000_000));
    } finally {
      await rt2.close();
    }
  });

  test('path traversal is refused: "..", encoded "%2e%2e", encoded separators, absolute paths', async () => {
    const token = server.tokens.admin;
    const attempts = [
      '/media/../auth/users.lmdb',
      '/media/snapshots/cam-1/../../integrations/media-link.key',
      '/media/%2e%2e/integrations/media-link.key',
      '/media/snapshots/cam-1/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/media/snapshots/cam-1/..%2f..%2fintegrations%2fmedia-link.key',
      '/media/snapshots%2f..%2f..%2fintegrations/media-link.key',
      '/media//etc/passwd',
      '/media/%2fetc/passwd',
      '/media/snapshots/cam-1/..%5c..%5cetc',
      '/media/snapshots/cam-1/%252e%252e/x.jpg',
      '/media/integrations/media-link.key',
      '/media/snapshots/cam-1/%e0%a4%a.jpg',
    ];
    for (const path of attempts) {
      const r = await rawGet(server.port, path, token);
      assert.deepEqual([path, r.status, errorOf(r).code], [path, 400, 'E_MEDIA_PATH']);
    }
    // Signed links go through the same key check.
    const r = await rawGet(server.port, '/media/%2e%2e/integrations/media-link.key?exp=1&sig=x');
    assert.deepEqual([r.status, errorOf(r).code], [400, 'E_MEDIA_PATH']);
  });
});
