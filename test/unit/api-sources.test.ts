/** The data-source adapters the REST layer takes: camera directory over a manager, in-memory detection paging. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cameraListingFrom } from '../../src/api/sources.js';
import { MemoryDetectionSource } from '../helpers/api-sources.js';
import type { CameraInfo } from '../../src/types.js';

test('cameraListingFrom maps a manager through info()', async () => {
  const cams = new Map([['a', { id: 'a', state: 'running' as const }]]);
  const dir = cameraListingFrom({
    list: () => [...cams.values()],
    get: (id: string) => cams.get(id),
    info: (c: { id: string; state: CameraInfo['status'] }): CameraInfo => ({ id: c.id, name: c.id.toUpperCase(), status: c.state, source: 'file:///x', width: null, height: null, fps: null, lastError: null }),
  });
  assert.deepEqual(await dir.list(), [{ id: 'a', name: 'A', status: 'running', source: 'file:///x', width: null, height: null, fps: null, lastError: null }]);
  assert.equal((await dir.get('a'))?.name, 'A');
  assert.equal(await dir.get('b'), undefined);
});

test('MemoryDetectionSource: newest first, exclusive end, pages', async () => {
  const q = new MemoryDetectionSource();
  for (let i = 1; i <= 5; i++)
    q.add({ seq: BigInt(i), cameraId: 'c', timestampNs: BigInt(i * 10), frameWidth: 1, frameHeight: 1, classId: 0, className: 'person', confidence: i / 10, box: { x1: 0, y1: 0, x2: 1, y2: 1 } });
  const r = await q.query({ cameraIds: '*', startNs: 20n, endNs: 50n, page: 1, pageSize: 2 });
  assert.deepEqual([r.total, r.detections.map((d) => d.seq)], [3, [4n, 3n]]);
  const r2 = await q.query({ cameraIds: ['other'], page: 1, pageSize: 2 });
  assert.equal(r2.total, 0);
});
