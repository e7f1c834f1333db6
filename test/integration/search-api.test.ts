/**
 * POST /search through the real HTTP server (uWS) with a real AuthService, the real LMDB store + HNSW index and
 * the real MobileNetV3 embedder on vtest crops: by track, by vector, by JPEG upload; camera scope; every error
 * status; every response validated against the served OpenAPI document.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthService } from '../../src/auth/service.js';
import { createApiServer, type ApiServer } from '../../src/api/server.js';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';
import { jpegSize, searchRoutes } from '../../src/api/routes-search.js';
import { Embedder } from '../../src/inference/embedder.js';
import { decodeFrames } from '../helpers/frames.js';
import { DetectionStore } from '../../src/store/detection-store.js';
import { VectorIndex } from '../../src/store/vector-index.js';
import type { Box } from '../../src/types.js';
import { CAMERAS, SECRET } from './api-helpers.js';
import { OpenApiValidator } from './api-openapi.js';

const VTEST = join(import.meta.dirname, '..', '..', '.cache', 'media', 'vtest.avi');
const T0 = 1_764_000_000_000_000_000n;
const SEC = 1_000_000_000n;
const BOX_A: Box = { x1: 589, y1: 153, x2: 619, y2: 236 };
const BOX_B: Box = { x1: 348, y1: 197, x2: 380, y2: 272 };
const snapshotUrl = (c: string, t: number): string => `/tracks/${c}:${t}/snapshot.jpg`;

/** A real JPEG of a box of vtest frame `n` (ffmpeg's MJPEG encoder). */
function jpegOf(n: number, b: Box): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-i', VTEST, '-vf', `select=eq(n\\,${n}),crop=${b.x2 - b.x1}:${b.y2 - b.y1}:${b.x1}:${b.y1}`, '-frames:v', '1', '-q:v', '2', '-f', 'image2pipe', '-vcodec', 'mjpeg', '-'], { maxBuffer: 1 << 20 });
}

interface Hit { track_id: number; camera_id: string; class_name: string; timestamp_ns: string; score: number; snapshot_url: string }

describe('POST /search', () => {
  let dir: string;
  let store: DetectionStore;
  let index: VectorIndex;
  let embedder: Embedder;
  let auth: AuthService;
  let srv: ApiServer;
  let bare: ApiServer;
  let api: OpenApiValidator;
  const tok: Record<string, string> = {};
  let vecA: Float32Array;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-search-api-'));
    store = DetectionStore.open({ path: join(dir, 'store') });
    embedder = await Embedder.create();
    index = await VectorIndex.open(store, { dims: embedder.dims });
    const [f100, f101] = decodeFrames(VTEST, [100, 101], 'rgb24');
    const e = (f: Uint8Array, b: Box) => embedder.embedCrop(f, 768, 576, b);
    vecA = await e(f100!.pixels, BOX_A);
    const track = (cameraId: string, trackId: number, className: string, s: bigint) => ({ cameraId, trackId, classId: className === 'person' ? 0 : 2, className, timestampNs: T0 + s * SEC });
    await index.addMany([
      { track: track('cam-1', 1, 'person', 100n), vector: vecA },
      { track: track('cam-1', 2, 'person', 100n), vector: await e(f100!.pixels, BOX_B) },
      { track: track('cam-2', 3, 'person', 101n), vector: await e(f101!.pixels, BOX_A) },
      { track: track('cam-2', 4, 'car', 102n), vector: await e(f101!.pixels, BOX_B) },
    ]);
    let pw = '';
    auth = await AuthService.open({ dataDir: join(dir, 'auth'), jwt: { secret: SECRET }, announceInitialAdmin: (_u, p) => (pw = p) });
    const deps = { auth, cameras: new MemoryCameraListing(CAMERAS), detections: new MemoryDetectionSource() };
    srv = await createApiServer({ host: '127.0.0.1', port: 0 }, { ...deps, routes: { search: searchRoutes({ index, embedder, snapshotUrl }) } });
    bare = await createApiServer({ host: '127.0.0.1', port: 0 }, { ...deps, routes: { search: searchRoutes({ index, embedder: null, snapshotUrl }) } });
    await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
    tok.admin = (await auth.login('admin', pw, '127.0.0.1')).access_token;
    tok.vera = (await auth.login('vera', 'viewer-pass', '127.0.0.1')).access_token;
    api = new OpenApiValidator(await (await fetch(`http://127.0.0.1:${srv.port}/openapi.json`)).json());
  });
  after(async () => {
    await srv.close();
    await bare.close();
    await auth.close();
    await index.close();
    await embedder.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(body: string | Buffer, o: { token?: string; type?: string; query?: string; server?: ApiServer } = {}): Promise<{ status: number; body: { k: number; results: Hit[]; error?: { code: string; message: string } } }> {
    const headers: Record<string, string> = { 'content-type': o.type ?? 'application/json' };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    const r = await fetch(`http://127.0.0.1:${(o.server ?? srv).port}/search${o.query ?? ''}`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
    const json = await r.json();
    api.check('POST', '/search', r.status, json);
    return { status: r.status, body: json };
  }
  const json = (b: unknown, token = tok.admin!) => post(JSON.stringify(b), { token });
  const ids = (hits: Hit[]) => hits.map((h) => `${h.camera_id}:${h.track_id}`);

  it('by track: the same person on another camera first, with camera, time, score and snapshot URL', async () => {
    const r = await json({ track_id: 3, camera_id: 'cam-2', k: 3 });
    assert.equal(r.status, 200);
    assert.equal(r.body.k, 3);
    assert.deepEqual(ids(r.body.results), ['cam-1:1', 'cam-1:2', 'cam-2:4']);
    const top = r.body.results[0]!;
    assert.deepEqual({ ...top, score: 0 }, { track_id: 1, camera_id: 'cam-1', class_id: 0, class_name: 'person', timestamp_ns: String(T0 + 100n * SEC), timestamp: new Date(Number((T0 + 100n * SEC) / 1_000_000n)).toISOString(), score: 0, snapshot_url: '/tracks/cam-1:1/snapshot.jpg' });
    assert.ok(top.score > 0.95 && top.score > r.body.results[1]!.score, `scores ${r.body.results.map((h) => h.score)}`);
  });

  it('by vector, with class, camera and time filters', async () => {
    const v = Array.from(vecA);
    let r = await json({ vector: v, k: 10 });
    assert.deepEqual(ids(r.body.results).slice(0, 2), ['cam-1:1', 'cam-2:3']);
    assert.ok(Math.abs(r.body.results[0]!.score - 1) < 1e-5);
    r = await json({ vector: v, class: 'car' });
    assert.deepEqual(ids(r.body.results), ['cam-2:4']);
    r = await json({ vector: v, cameras: ['cam-2'] });
    assert.deepEqual(ids(r.body.results), ['cam-2:3', 'cam-2:4']);
    r = await json({ vector: v, start_time: String(T0 + 101n * SEC), end_time: new Date(Number((T0 + 101n * SEC) / 1_000_000n)).toISOString() });
    assert.deepEqual(ids(r.body.results), ['cam-2:3']);
  });

  it('by JPEG upload: the crop of the same person finds that person first', async () => {
    // 4:2:0 JPEG: even sizes, so one row less than BOX_A
    const jpeg = jpegOf(101, { ...BOX_A, y2: BOX_A.y2 - 1 });
    assert.deepEqual(jpegSize(jpeg), { width: 30, height: 82 });
    let r = await post(jpeg, { token: tok.admin, type: 'image/jpeg', query: '?k=2' });
    assert.equal(r.status, 200);
    assert.deepEqual(ids(r.body.results), ['cam-2:3', 'cam-1:1']);
    assert.ok(r.body.results[0]!.score > 0.95, `score ${r.body.results[0]!.score}`);
    r = await post(jpeg, { token: tok.admin, type: 'image/jpeg', query: '?cameras=cam-1&class=person' });
    assert.deepEqual(ids(r.body.results), ['cam-1:1', 'cam-1:2']);
  });

  it('camera scope: results only from cameras the caller can see', async () => {
    const v = Array.from(vecA);
    let r = await json({ vector: v }, tok.vera);
    assert.deepEqual(ids(r.body.results), ['cam-1:1', 'cam-1:2']);
    r = await json({ vector: v, cameras: ['cam-1', 'cam-2'] }, tok.vera);
    assert.deepEqual(ids(r.body.results), ['cam-1:1', 'cam-1:2']);
    r = await json({ vector: v, cameras: ['cam-2'] }, tok.vera);
    assert.deepEqual([r.status, r.body.results], [200, []]);
    r = await json({ track_id: 1, camera_id: 'cam-1' }, tok.vera);
    assert.deepEqual(ids(r.body.results), ['cam-1:2']);
    r = await post(jpegOf(101, BOX_A), { token: tok.vera, type: 'image/jpeg' });
    assert.deepEqual(ids(r.body.results), ['cam-1:1', 'cam-1:2']);
    r = await json({ track_id: 3, camera_id: 'cam-2' }, tok.vera);
    assert.deepEqual([r.status, r.body.error], [403, { code: 'E_FORBIDDEN_CAMERA', message: r.body.error!.message }]);
  });

  it('answers every error as {error:{code,message}} with its status', async () => {
    const err = async (p: Promise<{ status: number; body: { error?: { code: string; message: string } } }>) => {
      const r = await p;
      return [r.status, r.body.error?.code, r.body.error?.message];
    };
    assert.deepEqual(await err(post('{"vector": [1,', { token: tok.admin })), [400, 'E_VALIDATION', 'Request body is not valid JSON']);
    assert.deepEqual(await err(json({ k: 3 })), [400, 'E_VALIDATION', 'Expected track_id and camera_id, or vector for body but received an object of type Object']);
    assert.deepEqual(await err(json({ vector: [1, 2], k: 3 })), [400, 'E_VALIDATION', 'Expected 480 finite numbers for vector but received an array of length 2']);
    assert.deepEqual(await err(json({ vector: Array.from(vecA), k: 0 })), [400, 'E_VALIDATION', 'Expected an integer from 1 to 100 for k but received 0']);
    assert.deepEqual(await err(json({ vector: Array.from(vecA), limit: 3 })), [400, 'E_VALIDATION', 'Expected only track_id, camera_id, vector, k, cameras, start_time, end_time, class for body but received "limit"']);
    assert.deepEqual(await err(json({ vector: Array.from(vecA), start_time: 'yesterday' })), [400, 'E_VALIDATION', 'Expected nanoseconds since the Unix epoch or an ISO 8601 date-time with a zone for start_time but received "yesterday"']);
    assert.deepEqual(await err(post(Buffer.from('not a jpeg'), { token: tok.admin, type: 'image/jpeg' })), [400, 'E_VALIDATION', 'Expected a JPEG image for body but received bytes that are not one']);
    assert.deepEqual(await err(post(jpegOf(100, BOX_B).subarray(0, 400), { token: tok.admin, type: 'image/jpeg' })), [400, 'E_VALIDATION', 'Expected a decodable JPEG image for body but the decoder failed: Truncated JPEG image: no end-of-image marker after the image data']);
    assert.deepEqual(await err(post(jpegOf(100, BOX_B), { token: tok.admin, type: 'image/jpeg', query: '?k=500' })), [400, 'E_VALIDATION', 'Expected an integer from 1 to 100 for k but received 500']);
    // a JPEG header that claims 9000 x 9000 pixels (81 M) is refused before decoding
    const huge = jpegOf(100, BOX_B);
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(9000, sof + 5);
    huge.writeUInt16BE(9000, sof + 7);
    assert.deepEqual(await err(post(huge, { token: tok.admin, type: 'image/jpeg' })), [400, 'E_VALIDATION', 'Expected a JPEG of at most 16000000 pixels for body but received 9000x9000']);
    assert.deepEqual(await err(json({ track_id: 99, camera_id: 'cam-1' })), [404, 'E_TRACK_NOT_FOUND', 'No embedding stored for track 99 of camera cam-1']);
    assert.deepEqual(await err(post(JSON.stringify({ vector: Array.from({ length: 20_000 }, () => 0.123456) }), { token: tok.admin })), [413, 'E_BODY_TOO_LARGE', 'Request body exceeds 65536 bytes']);
    assert.deepEqual(await err(post(Buffer.alloc(4 * 1024 * 1024 + 1, 0xff), { token: tok.admin, type: 'image/jpeg' })), [413, 'E_BODY_TOO_LARGE', 'Request body exceeds 4194304 bytes']);
    assert.deepEqual(await err(post('vector=1', { token: tok.admin, type: 'text/plain' })), [415, 'E_UNSUPPORTED_MEDIA_TYPE', 'Expected Content-Type application/json or image/jpeg']);
    assert.deepEqual(await err(post(jpegOf(100, BOX_B), { token: tok.admin, type: 'image/jpeg', server: bare })), [503, 'E_UNAVAILABLE', 'Search by image needs the embedder, which is not enabled on this server']);
    const noToken = await err(post(JSON.stringify({ vector: Array.from(vecA) })));
    assert.deepEqual(noToken.slice(0, 2), [401, 'E_AUTH_MISSING']);
    // without an embedder, track and vector searches still work
    const r = await post(JSON.stringify({ track_id: 1, camera_id: 'cam-1', k: 1 }), { token: tok.admin, server: bare });
    assert.deepEqual([r.status, ids(r.body.results)], [200, ['cam-2:3']]);
  });
});
