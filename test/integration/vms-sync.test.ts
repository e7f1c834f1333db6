/**
 * Camera sync against simulated VMS servers (see vms-simulators.ts: the real products cannot run here).
 */
import { createLogger } from '../../src/log.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVmsAdapter } from '../../src/integrations/vms/factory.js';
import { CameraSync, vigilCameraId } from '../../src/integrations/vms/sync.js';
import { InMemoryCameraDirectory } from '../helpers/camera-directory.js';
import { HikvisionSim, MilestoneSim } from './vms-simulators.js';

const PASSWORD = 'Sync-Secret-42';

function guid(i: number): string {
  return `9f1c2d3e-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`;
}

describe('camera sync', () => {
  const ms = new MilestoneSim('svc', PASSWORD);
  const hik = new HikvisionSim('admin', PASSWORD);
  before(async () => {
    await ms.start();
    await hik.start();
  });
  after(async () => {
    await ms.stop();
    await hik.stop();
  });

  test('imports new, changed and removed cameras per source; status never shows credentials', async () => {
    ms.cameras = [0, 1, 2].map((i) => ({ id: guid(i), name: `hw ${i}`, displayName: `Door ${i}`, enabled: true }));
    hik.channels = [{ id: '1', name: 'Lobby', ip: '10.0.0.2', model: 'DS-2CD2143G2-I' }];
    const dir = new InMemoryCameraDirectory();
    const logs: string[] = [];
    const sync = new CameraSync({
      directory: dir,
      sources: [
        { adapter: createVmsAdapter({ type: 'milestone', name: 'hq', baseUrl: ms.url, username: 'svc', password: PASSWORD }), intervalMs: 0 },
        { adapter: createVmsAdapter({ type: 'hikvision', name: 'nvr', baseUrl: hik.url, username: 'admin', password: PASSWORD }), intervalMs: 0 },
      ],
      log: createLogger('vms', (l) => logs.push(l.slice(l.indexOf(' ') + 1))),
    });
    try {
      const first = await sync.syncNow();
      assert.deepEqual(first, [
        { source: 'hq', ok: true, error: null, added: 3, changed: 0, removed: 0, unchanged: 0 },
        { source: 'nvr', ok: true, error: null, added: 1, changed: 0, removed: 0, unchanged: 0 },
      ]);
      assert.deepEqual(dir.list().map((c) => [c.id, c.name]), [
        [`hq-${guid(0)}`, 'Door 0'],
        [`hq-${guid(1)}`, 'Door 1'],
        [`hq-${guid(2)}`, 'Door 2'],
        ['nvr-1', 'Lobby'],
      ]);
      assert.deepEqual(dir.get('nvr-1'), {
        id: 'nvr-1',
        name: 'Lobby',
        enabled: true,
        model: 'DS-2CD2143G2-I',
        streams: { main: `rtsp://127.0.0.1:554/Streaming/Channels/101`, sub: `rtsp://127.0.0.1:554/Streaming/Channels/102` },
        origin: { source: 'nvr', type: 'hikvision', vmsCameraId: '1' },
      });
      assert.deepEqual(dir.credentialsFor('nvr-1'), { username: 'admin', password: PASSWORD });

      // Rename one, disable one, remove one, add one on the Milestone side; the Hikvision side is untouched.
      ms.cameras = [
        { id: guid(0), name: 'hw 0', displayName: 'Front door', enabled: true },
        { id: guid(1), name: 'hw 1', displayName: 'Door 1', enabled: false },
        { id: guid(3), name: 'hw 3', displayName: 'Door 3', enabled: true },
      ];
      const second = await sync.syncNow('hq');
      assert.deepEqual(second, [{ source: 'hq', ok: true, error: null, added: 1, changed: 2, removed: 1, unchanged: 0 }]);
      assert.equal(dir.get(`hq-${guid(0)}`)?.name, 'Front door');
      assert.equal(dir.get(`hq-${guid(1)}`)?.enabled, false);
      assert.equal(dir.get(`hq-${guid(2)}`), undefined);
      assert.equal(dir.size, 4);
      assert.deepEqual(await sync.syncNow('nvr'), [{ source: 'nvr', ok: true, error: null, added: 0, changed: 0, removed: 0, unchanged: 1 }]);

      // A failing source changes nothing and reports a redacted error.
      hik.override = () => ({ status: 500, body: '' });
      const failed = await sync.syncNow('nvr');
      assert.equal(failed[0]!.ok, false);
      assert.match(failed[0]!.error!, /^hikvision source nvr: GET \/ISAPI\/ContentMgmt\/InputProxy\/channels returned HTTP 500$/);
      assert.equal(dir.get('nvr-1')?.name, 'Lobby');
      hik.override = null;

      const status = sync.status();
      assert.equal(status.length, 2);
      const [hq, nvr] = status;
      assert.equal(hq!.source, 'hq');
      assert.equal(hq!.type, 'milestone');
      assert.equal(hq!.cameras, 3);
      assert.equal(hq!.lastError, null);
      assert.equal(hq!.nextSyncAt, null); // on demand only
      assert.deepEqual(hq!.lastResult, { added: 1, changed: 2, removed: 1, unchanged: 0 });
      assert.ok(Date.parse(hq!.lastSyncAt!) > 0 && hq!.lastSuccessAt !== null);
      assert.equal(nvr!.lastError, 'hikvision source nvr: GET /ISAPI/ContentMgmt/InputProxy/channels returned HTTP 500');
      const shown = JSON.stringify({ status, cameras: dir.list() });
      assert.ok(!shown.includes(PASSWORD));
      assert.ok(!shown.includes('svc:') && !shown.includes('admin'));
      assert.ok(logs.every((l) => !l.includes(PASSWORD)));
      assert.equal(logs.length, 5);
      // One child logger per source: "LEVEL vms.<source> message".
      assert.equal(logs[0], 'INFO  vms.hq 3 cameras (3 added, 0 changed, 0 removed)');
      assert.deepEqual(logs.map((l) => l.split(' ').filter(Boolean).slice(0, 2).join(' ')).sort(), ['INFO vms.hq', 'INFO vms.hq', 'INFO vms.nvr', 'INFO vms.nvr', 'WARN vms.nvr']);

      await assert.rejects(sync.syncNow('nope'), { code: 'E_NOT_FOUND', message: 'No VMS source named "nope"' });

      // VMS actions for an alert on an imported camera go to the VMS it came from
      const bm = await sync.recordOnVms(dir.get(`hq-${guid(0)}`)!, 20, 'person at Front door');
      assert.equal(bm.kind, 'bookmark');
      assert.equal(ms.bookmarks.at(-1)?.deviceId, guid(0));
      await assert.rejects(sync.pushEventToVms(dir.get('nvr-1')!, { label: 'person', message: 'x' }), { code: 'E_VMS_UNSUPPORTED' });
      await assert.rejects(sync.recordOnVms({ origin: { source: 'gone', type: 'axis', vmsCameraId: '1' } }, 5), {
        code: 'E_NOT_FOUND',
        message: 'No VMS source named "gone"',
      });
    } finally {
      await sync.close();
    }
    await assert.rejects(sync.syncNow(), { code: 'E_CLOSED', message: 'CameraSync is closed' });
  });

  test('changed stream credentials count as a change; periodic sync runs on its own', async () => {
    // A name carrying a credentialed URL (it happens: installers paste stream URLs into names) is scrubbed.
    hik.channels = [{ id: '4', name: `Dock rtsp://admin:${PASSWORD}@10.0.0.4/x`, ip: '10.0.0.4', model: 'DS-2CD' }];
    const dir = new InMemoryCameraDirectory();
    const adapter = createVmsAdapter({ type: 'hikvision', name: 'nvr', baseUrl: hik.url, username: 'admin', password: PASSWORD });
    const sync = new CameraSync({ directory: dir, sources: [{ adapter, intervalMs: 1000 }] });
    try {
      sync.start();
      const deadline = Date.now() + 10_000;
      // The first periodic run happens at once, the second about a second after it ends.
      while ((sync.status()[0]!.lastResult?.unchanged ?? 0) < 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const st = sync.status()[0]!;
      assert.deepEqual(st.lastResult, { added: 0, changed: 0, removed: 0, unchanged: 1 });
      assert.equal(dir.get(vigilCameraId('nvr', '4'))?.name, 'Dock rtsp://***@10.0.0.4/x');
      assert.ok(st.nextSyncAt !== null);
    } finally {
      await sync.close();
    }
    assert.equal(sync.status()[0]!.nextSyncAt, null);

    // Same cameras, new password on the source: the directory must get the new credentials.
    const moved = new HikvisionSim('admin', 'Rotated-Pass-7');
    await moved.start();
    moved.channels = hik.channels;
    const dir2 = new InMemoryCameraDirectory();
    const s1 = new CameraSync({
      directory: dir2,
      sources: [{ adapter: createVmsAdapter({ type: 'hikvision', name: 'nvr', baseUrl: hik.url, username: 'admin', password: PASSWORD }), intervalMs: 0 }],
    });
    await s1.syncNow();
    await s1.close();
    assert.deepEqual(dir2.credentialsFor('nvr-4'), { username: 'admin', password: PASSWORD });
    // A new CameraSync has no fingerprint yet; simulate the rotation within one sync object instead.
    const a2 = createVmsAdapter({ type: 'hikvision', name: 'nvr', baseUrl: moved.url, username: 'admin', password: 'Rotated-Pass-7' });
    let current = createVmsAdapter({ type: 'hikvision', name: 'nvr', baseUrl: hik.url, username: 'admin', password: PASSWORD });
    const proxy = {
      type: 'hikvision' as const,
      name: 'nvr',
      capabilities: current.capabilities,
      listCameras: () => current.listCameras(),
      getStreamUrls: (id: string) => current.getStreamUrls(id),
      triggerRecording: (id: string, d: number) => current.triggerRecording(id, d),
      pushEvent: (id: string, e: { label: string; message: string }) => current.pushEvent(id, e),
      streamCredentials: () => current.streamCredentials(),
      close: () => current.close(),
    };
    const s2 = new CameraSync({ directory: dir2, sources: [{ adapter: proxy, intervalMs: 0 }] });
    try {
      assert.deepEqual((await s2.syncNow())[0], { source: 'nvr', ok: true, error: null, added: 0, changed: 0, removed: 0, unchanged: 1 });
      const old = current;
      current = a2;
      old.close();
      assert.deepEqual((await s2.syncNow())[0], { source: 'nvr', ok: true, error: null, added: 0, changed: 1, removed: 0, unchanged: 0 });
      assert.deepEqual(dir2.credentialsFor('nvr-4'), { username: 'admin', password: 'Rotated-Pass-7' });
    } finally {
      await s2.close();
      await moved.stop();
    }
  });
});
