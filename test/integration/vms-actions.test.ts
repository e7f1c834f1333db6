/**
 * VMS actions from rules: a rule's alert notifies `vms` channels, whose deliveries (the notification outbox:
 * durable, retried, dead-lettered) call the VMS adapters through the server's Integrations: a Milestone bookmark
 * and a Milestone analytics event, a Hikvision manual recording, an Axis recording and virtual-input event, a Dahua
 * record mode switch — against the simulated peers of vms-simulators.ts. The alert's camera is an imported one
 * (its VMS camera comes from the sync) or a configured one mapped under the channel's `cameras`. Actions a product
 * lacks, and cameras no channel maps, are dead-lettered with their reason at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CameraManager } from '../../src/camera/manager.js';
import { parseConfig } from '../../src/config/index.js';
import { Integrations } from '../../src/integrations/runtime.js';
import { NotificationService } from '../../src/integrations/notify/index.js';
import { vigilCameraId } from '../../src/integrations/vms/sync.js';
import { silentLogger } from '../../src/log.js';
import { validateRule } from '../../src/rules/validate.js';
import type { AlertEvent } from '../../src/rules/types.js';
import { AxisSim, DahuaSim, HikvisionSim, MilestoneSim } from './vms-simulators.js';
import { until } from '../helpers/wait.js';

const PASSWORD = 'vms-pass-1234';
const GUID = '0a1b2c3d-0000-4000-8000-00000000000a';
const EVENT_TYPE = '11111111-2222-3333-4444-555555555555';

test('alerts trigger VMS recordings, bookmarks and events through the adapters (Milestone, Hikvision, Axis, Dahua)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-vms-actions-'));
  const ms = await new MilestoneSim('vigil', PASSWORD).start();
  ms.cameras = [{ id: GUID, name: 'AXIS Q1615 - Camera 1', displayName: 'Loading dock', enabled: true }];
  const hik = await new HikvisionSim('admin', PASSWORD).start();
  hik.channels = [{ id: '1', name: 'Gate', ip: '127.0.0.1', model: 'DS-2CD2143G2-I' }];
  const axis = await new AxisSim('root', PASSWORD).start();
  const dahua = await new DahuaSim('admin', PASSWORD).start();
  const cameras = new CameraManager();
  const config = parseConfig({
    dataDir: dir,
    cameras: [],
    integrations: {
      vms: [
        { id: 'ms', type: 'milestone', url: ms.url, username: 'vigil', password: PASSWORD, eventTypeId: EVENT_TYPE, syncIntervalS: 0, rtspHost: '127.0.0.1', rtspPort: 1 },
        { id: 'hik', type: 'hikvision', url: hik.url, username: 'admin', password: PASSWORD, syncIntervalS: 0 },
        { id: 'ax', type: 'axis', url: axis.url, username: 'root', password: PASSWORD, syncIntervalS: 0 },
        { id: 'dh', type: 'dahua', url: dahua.url, username: 'admin', password: PASSWORD, syncIntervalS: 0 },
      ],
    },
  });
  const rt = await Integrations.create(config.integrations, { cameras, dataDir: dir, log: silentLogger, registry: null, health: null });
  const notify = new NotificationService({
    path: join(dir, 'notify'),
    channels: {
      'ms-bookmark': { type: 'vms', source: 'ms', action: 'record', durationS: 30 },
      'ms-event': { type: 'vms', source: 'ms', action: 'event' },
      'hik-record': { type: 'vms', source: 'hik', action: 'record', durationS: 1, cameras: { gate: '1' } },
      'hik-event': { type: 'vms', source: 'hik', action: 'event', cameras: { gate: '1' } },
      'ax-record': { type: 'vms', source: 'ax', action: 'record', durationS: 1, cameras: { gate: '1' } },
      'ax-event': { type: 'vms', source: 'ax', action: 'event', cameras: { gate: '1' } },
      'dh-record': { type: 'vms', source: 'dh', action: 'record', durationS: 1, cameras: { gate: '2' } },
      'nowhere': { type: 'vms', source: 'nope', action: 'record' },
    },
    vms: (ch, p) => rt.vmsAction(ch, p),
    baseDelayMs: 20,
    maxDelayMs: 100,
    maxAttempts: 3,
  });
  const rule = (id: string, channels: string[]) =>
    validateRule({ id, name: `Rule ${id}`, kind: 'zone_enter', severity: 'critical', zone: { points: [[0, 0], [1, 0], [1, 1]] }, notify: channels.map((channel) => ({ channel })) });
  let n = 0;
  const raised = (cameraId: string): AlertEvent => ({
    type: 'raised',
    alert: {
      alertId: `A${++n}`, ruleId: 'r', ruleName: 'R', cameraId, state: 'raised', message: 'person 1 entered Dock', trackIds: [1],
      raisedNs: 1_767_614_400_000_000_000n, updatedNs: 1_767_614_400_000_000_000n, clearedNs: null, acknowledgedBy: null, details: {},
    },
  });
  try {
    // The Milestone camera is imported by a sync: its alerts need no mapping.
    rt.startVmsSync();
    const dock = vigilCameraId('ms', GUID);
    await until(() => cameras.get(dock) !== undefined, 10_000, 'the Milestone camera to be imported');

    await notify.enqueue(raised(dock), rule('dock', ['ms-bookmark', 'ms-event']));
    await notify.enqueue(raised('gate'), rule('gate', ['hik-record', 'ax-record', 'ax-event', 'dh-record']));
    await notify.enqueue(raised('gate'), rule('gate-bad', ['hik-event', 'nowhere']));
    await notify.enqueue(raised('yard'), rule('yard', ['ms-bookmark']));
    await until(() => notify.stats().delivered === 6 && notify.stats().deadLettered === 3, 15_000, '6 delivered, 3 dead-lettered').catch((err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(notify.stats())} ${JSON.stringify(notify.deadLetters().map((d) => [d.channel, d.lastError]))} ${JSON.stringify(notify.pendingEntries().map((d) => [d.channel, d.lastError]))}`);
    });

    // Milestone: a bookmark of 30 s on the imported camera, and the configured user-defined event.
    assert.equal(ms.bookmarks.length, 1);
    const b = ms.bookmarks[0] as { deviceId: string; header: string; timeBegin: string; timeEnd: string };
    assert.deepEqual([b.deviceId, b.header], [GUID, 'Rule dock']);
    assert.equal(Date.parse(b.timeEnd) - Date.parse(b.timeBegin), 30_000);
    assert.deepEqual(ms.events, [{ type: EVENT_TYPE, source: `cameras/${GUID}`, time: '2026-01-05T12:00:00.000Z' }]);
    // Hikvision manual recording on track 101, stopped after its duration; Axis recording and virtual input 1;
    // Dahua channel 2 (index 1) switched to manual recording, back to schedule afterwards.
    await until(() => hik.recordLog.length === 2 && axis.virtualInputs.length === 2 && dahua.modeLog.length === 2, 10_000, 'the actions to end');
    assert.deepEqual(hik.recordLog, ['start 101', 'stop 101']);
    assert.deepEqual([...axis.recordings.values()], [false]);
    assert.deepEqual(axis.virtualInputs, ['activate 1', 'deactivate 1']);
    assert.deepEqual(dahua.modeLog, ['1=1', '1=0']);

    // What cannot work is dead-lettered at once (one attempt), with its reason.
    const dead = notify.deadLetters().map((d) => [d.channel, d.attempts, d.lastError]).sort();
    assert.deepEqual(dead, [
      ['hik-event', 1, 'hikvision source hik does not accept analytics events'],
      ['ms-bookmark', 1, 'Camera "yard" is not a camera of VMS source "ms": map it under the channel\'s cameras'],
      ['nowhere', 1, 'No VMS source named "nope" (integrations.vms)'],
    ]);
    for (const d of notify.deadLetters()) assert.ok(!String(d.lastError).includes(PASSWORD));
  } finally {
    await notify.close();
    await rt.close();
    cameras.close();
    await Promise.all([ms.stop(), hik.stop(), axis.stop(), dahua.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
});
