/** GET /detections served from the real LMDB detection store (src/store) through StoreDetectionSource (what src/server.ts mounts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore } from '../../src/store/detection-store.js';
import { StoreDetectionSource } from '../../src/api/sources.js';
import { AuthService } from '../../src/auth/service.js';
import { createApiServer } from '../../src/api/server.js';
import { MemoryCameraListing } from '../helpers/api-sources.js';
import { CAMERAS, SECRET } from './api-helpers.js';
import { OpenApiValidator } from './api-openapi.js';

test('detections from the LMDB store: scope, filters, exclusive end, newest first, OpenAPI-valid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-store-'));
  const store = DetectionStore.open({ path: join(dir, 'store') });
  let pw = '';
  const auth = await AuthService.open({ dataDir: join(dir, 'auth'), jwt: { secret: SECRET }, announceInitialAdmin: (_u, p) => (pw = p) });
  const srv = await createApiServer({ host: '127.0.0.1', port: 0 }, { auth, cameras: new MemoryCameraListing(CAMERAS), detections: new StoreDetectionSource(store) });
  t.after(async () => {
    await srv.close();
    await auth.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const T0 = 1_764_000_000_000_000_000n;
  for (let f = 0; f < 10; f++) {
    await store.append({
      cameraId: f % 2 === 0 ? 'cam-1' : 'cam-2',
      frameSequence: f,
      timestampNs: T0 + BigInt(f) * 1_000_000_000n,
      frameWidth: 1920,
      frameHeight: 1080,
      detections: [
        { classId: 0, className: 'person', confidence: 0.9, box: { x1: 1, y1: 2, x2: 11, y2: 22 }, trackId: f },
        { classId: 2, className: 'car', confidence: 0.4, box: { x1: 5, y1: 5, x2: 6, y2: 6 } },
      ],
    });
  }
  await store.flush();
  await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
  const admin = (await auth.login('admin', pw, '127.0.0.1')).access_token;
  const vera = (await auth.login('vera', 'viewer-pass', '127.0.0.1')).access_token;
  const api = new OpenApiValidator(await (await fetch(`http://127.0.0.1:${srv.port}/openapi.json`)).json());
  const get = async (q: string, token: string) => {
    const r = await fetch(`http://127.0.0.1:${srv.port}/detections${q}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.json();
    api.check('GET', '/detections', r.status, body);
    return body as { detections: Array<{ camera_id: string; type: string; timestamp_ns: string }>; total: number };
  };
  let b = await get('', admin);
  assert.equal(b.total, 20);
  assert.equal(b.detections[0]!.timestamp_ns, String(T0 + 9_000_000_000n));
  b = await get('', vera);
  assert.equal(b.total, 10);
  assert.deepEqual([...new Set(b.detections.map((d) => d.camera_id))], ['cam-1']);
  b = await get('?class=person&confidence_min=0.5', admin);
  assert.equal(b.total, 10);
  // a numeric class is a class id
  b = await get('?class=2', admin);
  assert.deepEqual([b.total, [...new Set(b.detections.map((d) => d.type))]], [10, ['car']]);
  b = await get(`?start_time=${T0 + 2_000_000_000n}&end_time=${T0 + 4_000_000_000n}`, admin);
  assert.deepEqual(b.detections.map((d) => d.timestamp_ns), [String(T0 + 3_000_000_000n), String(T0 + 3_000_000_000n), String(T0 + 2_000_000_000n), String(T0 + 2_000_000_000n)]);
  b = await get('?camera_id=cam-2&page_size=3&page=2', admin);
  assert.equal(b.total, 10);
  assert.equal(b.detections.length, 3);
});
