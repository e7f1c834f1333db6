import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LocalFolderStore, MediaUploader } from '../../src/integrations/storage/store.js';
import { createObjectStore } from '../../src/integrations/storage/factory.js';

test('local folder store: snapshot and clip land under root with links; no temp files left', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-store-'));
  try {
    const store = createObjectStore({ type: 'local', directory: path.join(dir, 'media'), baseUrl: '/media/' }) as LocalFolderStore;
    const up = new MediaUploader(store);
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    const snap = await up.uploadSnapshot('gate-1', 1_764_277_503_123_000_000n, jpeg, 'alert-7');
    assert.deepEqual(snap, {
      key: 'snapshots/gate-1/2025/11/27/gate-1-20251127T210503.123Z-alert-7.jpg',
      url: '/media/snapshots/gate-1/2025/11/27/gate-1-20251127T210503.123Z-alert-7.jpg',
      size: 9,
      contentType: 'image/jpeg',
      sha256: createHash('sha256').update(jpeg).digest('hex'),
    });
    assert.deepEqual(await readFile(store.pathOf(snap.key)), jpeg);

    const src = path.join(dir, 'seg.mkv');
    await writeFile(src, Buffer.alloc(70_000, 3));
    const clip = await up.uploadClip('gate-1', 1_764_277_500_000_000_000n, src);
    assert.equal(clip.key, 'clips/gate-1/2025/11/27/gate-1-20251127T210500.000Z.mkv');
    assert.equal(clip.contentType, 'video/x-matroska');
    assert.equal(clip.size, 70_000);
    assert.equal((await readFile(store.pathOf(clip.key))).length, 70_000);
    assert.deepEqual(await readdir(path.dirname(store.pathOf(clip.key))), ['gate-1-20251127T210500.000Z.mkv']);

    await assert.rejects(up.uploadClip('gate-1', 1n, path.join(dir, 'missing.mp4')), {
      code: 'E_STORAGE_SOURCE',
      message: 'Cannot read missing.mp4: ENOENT',
    });
    await assert.rejects(store.put('../escape.jpg', jpeg, 'image/jpeg'), { code: 'E_STORAGE_KEY', message: 'Unusable object key "../escape.jpg"' });
    await assert.rejects(store.put('a//b.jpg', jpeg, 'image/jpeg'), { code: 'E_STORAGE_KEY' });
    assert.throws(() => createObjectStore({ type: 'ftp' } as never), { message: 'Expected one of "local", "s3", "azure" for storage.type but received "ftp"' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('prefix and absolute base URL', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-store-'));
  try {
    const store = new LocalFolderStore({ directory: dir, baseUrl: 'https://vigil.example.net/media', prefix: 'site1/' });
    const o = await store.put('x/y.jpg', new Uint8Array([0xff, 0xd8]), 'image/jpeg');
    assert.equal(o.key, 'site1/x/y.jpg');
    assert.equal(o.url, 'https://vigil.example.net/media/site1/x/y.jpg');
    assert.equal(store.pathOf(o.key), path.join(dir, 'site1', 'x', 'y.jpg'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
