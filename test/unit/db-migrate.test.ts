/**
 * Migration of a data folder laid out by earlier versions (one LMDB environment per module) into the one Database:
 * every record is there afterwards, read through the modules, the old folders are renamed to *.migrated, the JWT
 * secret stays where it was, and opening again migrates nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Database } from '../../src/db/database.js';
import { migrateLegacy, openDataDatabase } from '../../src/db/migrate.js';
import { DetectionStore } from '../../src/store/detection-store.js';
import { RuleStore } from '../../src/rules/store.js';
import { AuthStore } from '../../src/auth/store.js';
import { SegmentIndex } from '../../src/recording/segment-index.js';
import type { Alert, DetectionBatch, StoredDetection } from '../../src/types.js';

const alert: Alert = {
  alertId: '00000000001000000000-door-1', ruleId: 'door', ruleName: 'Door', cameraId: 'cam-1', state: 'raised', message: 'person entered Door', trackIds: [7],
  raisedNs: 1_000_000_000_000n, updatedNs: 1_000_000_000_000n, clearedNs: null, acknowledgedBy: null, details: { zone: 'Door' },
};
const frame = (cameraId: string, i: number): DetectionBatch => ({
  cameraId, frameSequence: i, timestampNs: 1_000_000n * BigInt(i), frameWidth: 640, frameHeight: 480,
  detections: [
    { classId: 0, className: 'person', confidence: 0.25 + (i % 50) / 100, box: { x1: i, y1: 2, x2: 30, y2: 40 }, trackId: i % 7 },
    { classId: 2, className: 'car', confidence: 0.9, box: { x1: 5, y1: 6, x2: 70, y2: 80 } },
  ],
});
const outboxEntry = { id: 'd1', channel: 'hook', alertId: alert.alertId, ruleId: 'door', event: 'raised', payload: { kind: 'webhook', body: '{}' }, attempts: 2, createdMs: 5, nextAttemptMs: 9, lastError: 'timeout' };

/** A data folder as the previous version left it: each module's own environment, written by its own code path. */
async function legacyDataDir(): Promise<{ dir: string; detections: StoredDetection[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-migrate-'));
  // standalone modules lay their sub-databases out exactly as the previous version did (bare names, one folder)
  const store = DetectionStore.open({ path: join(dir, 'detections') });
  for (let i = 1; i <= 300; i++) await store.append(frame(i % 2 ? 'cam-1' : 'cam-2', i));
  await store.appendEvent({ kind: 'alerts', cameraId: 'cam-1', timestampNs: 5n, data: { alertId: alert.alertId, n: 12345678901234567890n } });
  await store.tracks.put(['cam-1', 7], { cameraId: 'cam-1', trackId: 7, className: 'person', startNs: 1n, endNs: 2n } as never);
  const vec = store.openDatabase<Buffer, number>('vec', { keyEncoding: 'uint32', encoding: 'binary' });
  await vec.put(3, Buffer.from([1, 2, 3]));
  await vec.put(70000, Buffer.from([4]));
  const detections = store.queryPage({}, { pageSize: 1000 }).detections;
  await store.close();
  // AuthService hands AuthStore `<dataDir>/auth`, which opened `auth` inside it; the JWT secret lives beside it
  const auth = new AuthStore(join(dir, 'auth'));
  auth.putUser({ username: 'ada', passwordHash: 'scrypt$1', role: 'admin', cameras: ['cam-1'], createdMs: 5 });
  auth.putFamily('f1', { sub: 'ada', role: 'admin', cameras: '*', source: 'local', currentJti: 'j', revoked: false, expiresMs: 99 });
  await auth.close();
  writeFileSync(join(dir, 'auth', 'jwt-secret'), 'secret-bytes');
  const rules = new RuleStore(join(dir, 'rules'));
  await rules.putAlert(alert);
  await rules.putRule({ source: 'api', definition: { id: 'door' } as never });
  await rules.close();
  // the outbox as NotificationService opened it (default lmdb-js options, overlapping sync)
  const notify = open({ path: join(dir, 'notify'), compression: false });
  await notify.openDB({ name: 'outbox' }).put('d1', outboxEntry);
  await notify.close();
  const segments = new SegmentIndex(join(dir, 'recordings.lmdb'));
  await segments.put({ cameraId: 'cam-1', path: '/rec/cam-1/1.mp4', startNs: 10_000n, endNs: 20_000n, sizeBytes: 1234 });
  await segments.close();
  return { dir, detections };
}

test('an earlier data folder is migrated once into the one Database, nothing lost', async () => {
  const { dir, detections } = await legacyDataDir();
  try {
    const lines: string[] = [];
    const { database, migrated } = openDataDatabase(dir, { chunk: 97, log: (l) => lines.push(l) });
    try {
      assert.deepEqual(migrated.map((m) => [m.from.slice(dir.length + 1), m.scope, m.renamedTo.slice(dir.length + 1)]), [
        ['detections', 'store', 'detections.migrated'],
        [join('auth', 'auth'), 'auth', join('auth', 'auth.migrated')],
        ['rules', 'rules', 'rules.migrated'],
        ['notify', 'notify', 'notify.migrated'],
        ['recordings.lmdb', 'segments', 'recordings.lmdb.migrated'],
      ]);
      assert.equal(lines.length, 10);
      assert.deepEqual(readdirSync(dir).sort(), ['auth', 'db', 'detections.migrated', 'notify.migrated', 'recordings.lmdb.migrated', 'recordings.lmdb.migrated-lock', 'rules.migrated']);
      assert.deepEqual(readdirSync(join(dir, 'auth')).sort(), ['auth.migrated', 'jwt-secret']);
      const store = DetectionStore.open({ database: database.scope('store') });
      assert.equal(store.lastSeq, 601n);
      assert.deepEqual(store.queryPage({}, { pageSize: 1000 }).detections, detections);
      assert.equal(store.count({ cameraIds: ['cam-2'], className: 'person', minConfidence: 0.5 }), detections.filter((d) => d.cameraId === 'cam-2' && d.className === 'person' && d.confidence >= 0.5).length);
      const log = store.readLog(600n);
      assert.deepEqual(log.entries.map((e) => (e.type === 'event' ? e.event.data : null)), [{ alertId: alert.alertId, n: 12345678901234567890n }]);
      assert.equal(store.tracks.get(['cam-1', 7])?.trackId, 7);
      const vec = store.openDatabase<Buffer, number>('vec', { keyEncoding: 'uint32', encoding: 'binary' });
      assert.deepEqual([...vec.getRange({})].map(({ key, value }) => [key, [...value]]), [[3, [1, 2, 3]], [70000, [4]]]);
      await store.close();
      const auth = new AuthStore(database.scope('auth'));
      assert.deepEqual(auth.getUser('ada'), { username: 'ada', passwordHash: 'scrypt$1', role: 'admin', cameras: ['cam-1'], createdMs: 5 });
      assert.equal(auth.getFamily('f1')?.expiresMs, 99);
      const rules = new RuleStore(database.scope('rules'));
      assert.deepEqual(rules.getAlert(alert.alertId), alert);
      assert.deepEqual(rules.listRules(), [{ source: 'api', definition: { id: 'door' } }]);
      assert.deepEqual(database.scope('notify').open('outbox').get('d1'), outboxEntry);
      assert.deepEqual(new SegmentIndex(database.scope('segments')).all().map((s) => [s.path, s.startNs, s.endNs, s.sizeBytes]), [['/rec/cam-1/1.mp4', 10_000n, 20_000n, 1234]]);
    } finally {
      await database.close();
    }
    // once: the next open finds nothing to migrate and the data is still there
    const second = openDataDatabase(dir);
    try {
      assert.deepEqual(second.migrated, []);
      assert.equal(DetectionStore.open({ database: second.database.scope('store') }).lastSeq, 601n);
    } finally {
      await second.database.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an interrupted migration starts over; a scope holding other data is never overwritten', async () => {
  const { dir } = await legacyDataDir();
  try {
    const db = Database.open({ path: join(dir, 'db') });
    // a crash after part of the rules were copied
    db.scope('db').open<string, string>('migrations').putSync('rules', 'started');
    db.scope('rules').open<string, string>('alerts').putSync('half-copied', 'x');
    // data in the auth scope that no migration wrote
    db.scope('auth').open<string, string>('users').putSync('someone', 'x');
    assert.throws(() => migrateLegacy(db, dir), { code: 'E_DB_MIGRATION', message: `${join(dir, 'auth', 'auth')} holds data from an earlier version, but scope "auth" of ${join(dir, 'db')} already holds users: move one of them away` });
    assert.equal(existsSync(join(dir, 'auth', 'auth')), true);
    db.scope('auth').open<string, string>('users').removeSync('someone');
    const migrated = migrateLegacy(db, dir);
    // detections were migrated by the first call before it stopped at auth
    assert.deepEqual(migrated.map((m) => m.scope), ['auth', 'rules', 'notify', 'segments']);
    const rules = new RuleStore(db.scope('rules'));
    assert.equal(rules.getAlert('half-copied'), undefined);
    assert.deepEqual(rules.getAlert(alert.alertId), alert);
    assert.deepEqual(migrated.find((m) => m.scope === 'rules')!.records, 2);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
