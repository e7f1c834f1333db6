/**
 * The one Database (src/db/database.ts): scopes in one environment, transactions across scopes, and an alert
 * committed in the same transaction as its stream event-log entry (or neither).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/db/database.js';
import { DetectionStore } from '../../src/store/detection-store.js';
import { RuleStore } from '../../src/rules/store.js';
import { AuthStore } from '../../src/auth/store.js';
import { SegmentIndex } from '../../src/recording/segment-index.js';
import type { Alert } from '../../src/types.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'vigil-db-'));

const alert = (id: string): Alert => ({
  alertId: id, ruleId: 'door', ruleName: 'Door', cameraId: 'cam-1', state: 'raised', message: 'person entered Door', trackIds: [7],
  raisedNs: 1_000_000_000_000n, updatedNs: 1_000_000_000_000n, clearedNs: null, acknowledgedBy: null, details: { zone: 'Door' },
});

test('scopes are prefixed sub-databases of one environment; a transaction spans scopes', async () => {
  const dir = tmp();
  const db = Database.open({ path: dir });
  try {
    const a = db.scope('auth').open<number, string>('users');
    const r = db.scope('rules').open<number, string>('users');
    const result = await db.transaction(() => {
      a.putSync('x', 1);
      r.putSync('x', 2);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.equal(a.get('x'), 1);
    assert.equal(r.get('x'), 2);
    assert.deepEqual(db.names(), ['auth/users', 'rules/users']);
    assert.deepEqual(db.scope('auth').names(), ['users']);
    // a nested transaction rolls back alone
    await db.transaction(() => {
      a.putSync('kept', 1);
      assert.throws(() => db.nested(() => {
        a.putSync('gone', 1);
        throw new Error('no');
      }), { message: 'no' });
    });
    assert.equal(a.get('kept'), 1);
    assert.equal(a.get('gone'), undefined);
    assert.throws(() => db.scope('Bad/Name'), { message: 'Expected a scope name of 1-32 lowercase letters, digits or - for prefix but received "Bad/Name"' });
    assert.throws(() => Database.open({ path: join(dir, 'x'), maxDbs: 3 }), { message: 'Expected an integer from 16 to 32000 for options.maxDbs but received 3' });
  } finally {
    await db.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => db.scope('auth').open('users'), { code: 'E_CLOSED' });
});

test('modules on a shared Database keep their data apart and leave closing to its owner', async () => {
  const dir = tmp();
  const db = Database.open({ path: dir });
  try {
    const auth = new AuthStore(db.scope('auth'));
    const rules = new RuleStore(db.scope('rules'));
    const segments = new SegmentIndex(db.scope('segments'));
    const store = DetectionStore.open({ database: db.scope('store') });
    auth.putUser({ username: 'ada', passwordHash: 'h', role: 'admin', cameras: '*', createdMs: 5 });
    await rules.putAlert(alert('a1'));
    await segments.put({ cameraId: 'cam-1', path: '/r/1.mp4', startNs: 10_000n, endNs: 20_000n, sizeBytes: 99 });
    await store.append({ cameraId: 'cam-1', frameSequence: 1, timestampNs: 5n, frameWidth: 10, frameHeight: 10, detections: [{ classId: 0, className: 'person', confidence: 0.5, box: { x1: 1, y1: 2, x2: 3, y2: 4 } }] });
    await Promise.all([auth.close(), rules.close(), segments.close(), store.close()]);
    assert.equal(db.closed, false);
    assert.deepEqual(db.names().filter((n) => !n.startsWith('store/')), ['auth/refresh_families', 'auth/users', 'rules/alerts', 'rules/rules', 'segments/segments-by-camera', 'segments/segments-by-time']);
    const again = DetectionStore.open({ database: db.scope('store') });
    assert.equal(again.lastSeq, 1n);
    assert.equal(again.path, dir);
    assert.equal(new AuthStore(db.scope('auth')).getUser('ada')?.createdMs, 5);
    assert.deepEqual(new SegmentIndex(db.scope('segments')).range('cam-1', 0n, 30_000n).map((s) => s.sizeBytes), [99]);
    await again.close();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an alert and its event-log entry commit in one transaction, or neither does', async () => {
  const dir = tmp();
  const db = Database.open({ path: dir });
  try {
    const store = DetectionStore.open({ database: db.scope('store') });
    const rules = new RuleStore(db.scope('rules'));
    const a = alert('00000000001000000000-door-1');
    const ev = { kind: 'alerts', cameraId: 'cam-1', timestampNs: a.updatedNs, data: { alertId: a.alertId } };
    const committed = await store.appendEvent(ev, rules.alertWrite(a));
    assert.equal(committed.seq, 1n);
    assert.deepEqual(rules.getAlert(a.alertId), a);
    // a failing write: the event is refused with nothing of it written; a frame in the same commit still commits
    const frame = store.append({ cameraId: 'cam-1', frameSequence: 1, timestampNs: 5n, frameWidth: 10, frameHeight: 10, detections: [{ classId: 0, className: 'person', confidence: 0.5, box: { x1: 1, y1: 2, x2: 3, y2: 4 } }] });
    const b = alert('00000000002000000000-door-2');
    const failing = store.appendEvent({ ...ev, data: { alertId: b.alertId } }, () => {
      rules.alertWrite(b)();
      throw new Error('disk says no');
    });
    await assert.rejects(failing, { code: 'E_STORE_WRITE', message: 'Event alerts of camera cam-1 not written: disk says no' });
    assert.equal((await frame).firstSeq, 2n);
    assert.equal(rules.getAlert(b.alertId), undefined);
    const log = store.readLog(0n);
    assert.deepEqual(log.entries.map((e) => (e.type === 'event' ? `event ${e.event.seq}` : `frame ${e.batch.firstSeq}`)), ['event 1', 'frame 2']);
    assert.equal(store.stats().writeErrors, 1);
    await rules.close();
    await store.close();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
