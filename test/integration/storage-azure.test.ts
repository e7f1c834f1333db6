/**
 * Alert media in Azure Blob Storage against Azurite (Microsoft's emulator, from npm: node_modules/.bin/azurite-blob)
 * on a free loopback port with a throw-away folder: snapshots and clips uploaded as block blobs with their content
 * type and SHA-256, read back through the read-only SAS links alerts carry (the plain URL and an expired link are
 * refused), a wrong account key refused without echoing it, and the config section parsed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { AzureBlobStore } from '../../src/integrations/storage/azure.js';
import { createObjectStore } from '../../src/integrations/storage/factory.js';
import { LinkedMediaUploader, LinkSigner, loadLinkSecret } from '../../src/integrations/storage/links.js';
import { parseConfig } from '../../src/config/index.js';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { until } from '../helpers/wait.js';

// Azurite's well-known development account (documented by Microsoft; not a secret).
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const AZURITE = join(PACKAGE_ROOT, 'node_modules', '.bin', 'azurite-blob');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(5000), Buffer.from([0xff, 0xd9])]);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}
const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

test('Azure Blob media store on Azurite: uploads, SAS links, refusals, config', async () => {
  assert.ok(existsSync(AZURITE), `${AZURITE} is missing: run bash scripts/setup.sh (npm install brings azurite)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-azurite-'));
  const port = await freePort();
  const azurite = spawn(AZURITE, ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', join(dir, 'data'), '--silent', '--skipApiVersionCheck'], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  try {
    await until(() => canConnect(port), 20_000, 'Azurite to listen');
    const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(ACCOUNT, KEY));
    await service.getContainerClient('alert-media').create();

    const store = createObjectStore({ type: 'azure', account: ACCOUNT, accountKey: KEY, container: 'alert-media', prefix: 'site1/', endpoint });
    assert.ok(store instanceof AzureBlobStore);
    assert.equal(store.kind, 'azure');
    const media = new LinkedMediaUploader(store, { signer: new LinkSigner(loadLinkSecret(join(dir, 'links'))), defaultTtlS: 600 });

    // A snapshot: the key, its SHA-256, a SAS link that opens without credentials.
    const snap = await media.uploadSnapshot('gate', 1_767_614_400_000_000_000n, JPEG, 'A1');
    assert.equal(snap.key, 'site1/snapshots/gate/2026/01/05/gate-20260105T120000.000Z-A1.jpg');
    assert.equal(snap.sha256, createHash('sha256').update(JPEG).digest('hex'));
    const link = new URL(snap.url);
    assert.equal(`${link.origin}${link.pathname}`, `${endpoint}/alert-media/site1/snapshots/gate/2026/01/05/gate-20260105T120000.000Z-A1.jpg`);
    assert.equal(link.searchParams.get('sp'), 'r');
    assert.ok(link.searchParams.get('sig'));
    assert.ok(!snap.url.includes(KEY));
    let res = await fetch(snap.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(JPEG));
    const props = await service.getContainerClient('alert-media').getBlobClient(snap.key).getProperties();
    assert.deepEqual(props.metadata, { vigilsha256: snap.sha256 });
    // The plain URL (a private container) and an expired link are refused.
    assert.notEqual((await fetch(store.linkFor(snap.key))).status, 200);
    res = await fetch(await store.presignGet(snap.key, 60, new Date(Date.now() - 30 * 60_000)));
    assert.equal(res.status, 403);

    // A clip from disk, streamed.
    const clip = join(dir, 'clip.mp4');
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(clip, bytes);
    const up = await media.uploadClip('gate', 1_767_614_400_000_000_000n, clip, 'A1');
    assert.deepEqual([up.key, up.size, up.contentType], ['site1/clips/gate/2026/01/05/gate-20260105T120000.000Z-A1.mp4', bytes.length, 'video/mp4']);
    res = await fetch(up.url);
    assert.equal(res.status, 200);
    assert.equal(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), createHash('sha256').update(bytes).digest('hex'));

    // A wrong key: refused, the key never in the message.
    const wrongKey = Buffer.alloc(64, 7).toString('base64');
    const bad = new AzureBlobStore({ account: ACCOUNT, accountKey: wrongKey, container: 'alert-media', endpoint });
    await assert.rejects(bad.put('x.jpg', JPEG, 'image/jpeg'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_STORAGE_UPLOAD');
      assert.match(err.message, /^Azure upload of x\.jpg to container alert-media failed: \w+ \(HTTP 403\)$/);
      assert.ok(!err.message.includes(wrongKey));
      return true;
    });
    // A container that does not exist: refused with its code.
    const none = new AzureBlobStore({ account: ACCOUNT, accountKey: KEY, container: 'missing', endpoint });
    await assert.rejects(none.put('x.jpg', JPEG, 'image/jpeg'), { code: 'E_STORAGE_UPLOAD', message: 'Azure upload of x.jpg to container missing failed: ContainerNotFound (HTTP 404)' });
  } finally {
    azurite.kill('SIGTERM');
    await new Promise((r) => azurite.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }

  // The config section (integrations.storage), checked by the same parser; the key is never echoed.
  const cfg = parseConfig({ cameras: [], integrations: { storage: { type: 'azure', account: 'vigilmedia', accountKey: KEY, container: 'alert-media', linkTtlS: 3600 } } });
  assert.deepEqual(cfg.integrations.storage, { type: 'azure', account: 'vigilmedia', accountKey: KEY, container: 'alert-media', linkTtlS: 3600 });
  assert.throws(() => parseConfig({ cameras: [], integrations: { storage: { type: 'azure', account: 'vigilmedia', accountKey: KEY, container: 'Alert_Media' } } }), {
    code: 'E_CONFIG',
    message: 'Expected a container name (3-63 lower-case letters, digits and single hyphens) for integrations.storage.container but received "Alert_Media"',
  });
  assert.throws(() => parseConfig({ cameras: [], integrations: { storage: { type: 'azure', account: 'vigilmedia', accountKey: 'not base64!', container: 'media' } } }), {
    code: 'E_CONFIG',
    message: 'Expected a base64 storage account key for integrations.storage.accountKey but received (hidden)',
  });
});
