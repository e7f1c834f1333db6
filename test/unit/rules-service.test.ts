import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuleService } from '../../src/rules/service.js';
import { replayDetections, replayFrames, formatReplay } from '../../src/rules/replay.js';
import type { AlertEvent } from '../../src/rules/types.js';
import type { DetectionBatch } from '../../src/types.js';
import { frame, sec, T0 } from './rules-helpers.js';

const SQUARE = { points: [[100, 100], [300, 100], [300, 300], [100, 300]] };
const clock = { now: T0 };

async function withService<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('rules: config and API sources, CRUD, persistence across reopen, hot reload', async () => {
  await withService(async (dir) => {
    const configRules = [{ id: 'door', name: 'Door', kind: 'zone_enter', zone: SQUARE, notify: ['hook'] }];
    let svc = await RuleService.open({ path: dir, configRules, channels: new Set(['hook']), nowNs: () => clock.now });
    try {
      await svc.createRule({ id: 'yard', name: 'Yard', kind: 'zone_presence', zone: SQUARE });
      await assert.rejects(svc.createRule({ id: 'yard', kind: 'zone_presence', zone: SQUARE }), { code: 'E_RULE_EXISTS', message: 'A rule with id "yard" exists already' });
      await assert.rejects(svc.createRule({ id: 'z', kind: 'zone_presence', zone: SQUARE, notify: ['sms'] }), { code: 'E_RULE_INVALID', message: 'Expected a configured channel (hook) for rule.notify[0].channel but received "sms"' });
      await assert.rejects(svc.updateRule('door', { kind: 'zone_exit', zone: SQUARE }), { code: 'E_RULE_READONLY', message: 'Rule "door" is defined in the config file; change it there' });
      await assert.rejects(svc.deleteRule('nope'), { code: 'E_RULE_NOT_FOUND', message: 'No rule with id "nope"' });
      await assert.rejects(svc.updateRule('yard', { id: 'other', kind: 'zone_presence', zone: SQUARE }), { code: 'E_RULE_ID_MISMATCH' });
      assert.deepEqual(svc.listRules().map((e) => [e.source, e.rule.id, e.rule.kind]), [['config', 'door', 'zone_enter'], ['api', 'yard', 'zone_presence']]);

      const seen: string[] = [];
      svc.onAlert((ev, rule) => seen.push(`${ev.type} ${ev.alert.ruleId} ${rule?.notify.map((n) => n.channel).join('+') ?? '-'}`));
      svc.processFrame(frame(0, [[1, 200, 200]]));
      // Hot reload through the API: yard changes (its open alert clears), door keeps its per-track state:
      // track 1 already inside does not "enter" again.
      clock.now = sec(1);
      await svc.updateRule('yard', { name: 'Back yard', kind: 'zone_presence', zone: SQUARE });
      svc.processFrame(frame(2, [[1, 210, 200]]));
      assert.deepEqual(seen, ['raised door hook', 'raised yard ', 'cleared yard ', 'raised yard ']);
      await svc.flush();
    } finally {
      await svc.close();
    }
    // Reopen: API rules come from LMDB, config rules from the (new) config.
    svc = await RuleService.open({ path: dir, configRules: [], nowNs: () => clock.now });
    try {
      assert.deepEqual(svc.listRules().map((e) => [e.source, e.rule.id, e.rule.name]), [['api', 'yard', 'Back yard']]);
      const patched = await svc.patchRule('yard', { cooldownSeconds: 30 });
      assert.deepEqual([patched.name, patched.kind, patched.cooldownSeconds], ['Back yard', 'zone_presence', 30]);
      await assert.rejects(svc.patchRule('yard', { kind: 'tripwire' }), { code: 'E_RULE_INVALID', message: 'Expected no field "zone" (not a field of a tripwire rule) for rule.zone but received an object of type Object' });
      await svc.deleteRule('yard');
      assert.deepEqual(svc.listRules(), []);
      await assert.rejects(RuleService.open({ path: join(dir, 'other'), configRules: [{ id: 'x', kind: 'nope' }] }), { code: 'E_RULE_INVALID', message: /rules\[0\]\.kind/ });
    } finally {
      await svc.close();
    }
  });
});

test('alerts: stored with their lifecycle, listed with filters and pages, acknowledged', async () => {
  await withService(async (dir) => {
    clock.now = T0;
    const svc = await RuleService.open({
      path: dir,
      configRules: [
        { id: 'in', name: 'Door', kind: 'zone_enter', zone: SQUARE },
        { id: 'p', name: 'Yard', kind: 'zone_presence', zone: SQUARE },
      ],
      nowNs: () => clock.now,
    });
    const events: AlertEvent[] = [];
    try {
      svc.onAlert((e) => events.push(e));
      svc.processFrame(frame(0, [[1, 200, 200]]));
      svc.processFrame(frame(1, [[1, 200, 200], [2, 150, 150]], [], 'cam1'));
      svc.processFrame(frame(2, [[7, 200, 200]], [], 'cam2'));
      svc.processFrame(frame(3, [], [1, 2], 'cam1'));
      await svc.flush();
      const all = svc.listAlerts();
      assert.deepEqual(all.alerts.map((a) => [a.ruleId, a.cameraId, a.state, a.trackIds, a.raisedNs]), [
        ['p', 'cam2', 'raised', [7], sec(2)],
        ['in', 'cam2', 'raised', [7], sec(2)],
        ['in', 'cam1', 'raised', [2], sec(1)],
        ['p', 'cam1', 'cleared', [1, 2], sec(0)],
        ['in', 'cam1', 'raised', [1], sec(0)],
      ]);
      assert.equal(all.nextCursor, null);
      const cleared = svc.listAlerts({ state: 'cleared' }).alerts[0]!;
      assert.equal(cleared.clearedNs, sec(3));
      assert.deepEqual(cleared.details, { kind: 'zone_presence', severity: 'warning', count: 2, reason: 'condition ended' });
      assert.deepEqual(svc.listAlerts({ cameraId: 'cam1', ruleId: 'in' }).alerts.map((a) => a.trackIds[0]), [2, 1]);
      assert.deepEqual(svc.listAlerts({ since: sec(1), until: sec(2) }).alerts.map((a) => a.trackIds[0]), [2]);
      assert.deepEqual(svc.listAlerts({ order: 'asc', limit: 2 }).alerts.map((a) => a.raisedNs), [sec(0), sec(0)]);
      const p1 = svc.listAlerts({ limit: 2 });
      const p2 = svc.listAlerts({ limit: 2, cursor: p1.nextCursor! });
      const p3 = svc.listAlerts({ limit: 2, cursor: p2.nextCursor! });
      assert.deepEqual([...p1.alerts, ...p2.alerts, ...p3.alerts].map((a) => a.alertId), all.alerts.map((a) => a.alertId));
      assert.equal(p3.nextCursor, null);
      assert.throws(() => svc.listAlerts({ state: 'open' as never }), { code: 'E_ARGUMENT', message: 'Expected an alert state (raised, updated, cleared, acknowledged) for state but received "open"' });
      assert.throws(() => svc.listAlerts({ limit: 0 }), { message: 'Expected an integer from 1 to 1000 for limit but received 0' });

      // Acknowledge: one the engine still holds (cam2 presence) and one only in the store (cam1 cleared presence).
      clock.now = sec(10);
      const held = all.alerts[0]!;
      const a1 = await svc.acknowledge(held.alertId, 'alice');
      assert.deepEqual([a1.state, a1.acknowledgedBy, a1.updatedNs], ['acknowledged', 'alice', sec(10)]);
      const a2 = await svc.acknowledge(cleared.alertId, 'bob');
      assert.deepEqual([a2.state, a2.acknowledgedBy], ['cleared', 'bob']);
      assert.equal(svc.getAlert(held.alertId).state, 'acknowledged');
      assert.deepEqual(svc.listAlerts({ state: 'acknowledged' }).alerts.map((a) => a.alertId), [held.alertId]);
      await assert.rejects(svc.acknowledge('missing', 'x'), { code: 'E_ALERT_NOT_FOUND', message: 'No alert with id "missing"' });
      assert.deepEqual(events.map((e) => e.type).slice(-2), ['acknowledged', 'acknowledged']);
    } finally {
      await svc.close();
    }
  });
});

test('replay: what a rule set would fire on frames and on raw detections', () => {
  const rules = [
    { id: 'gate', name: 'Gate', kind: 'tripwire', line: { from: [0, 240], to: [640, 240] } },
    { id: 'door', name: 'Door', kind: 'zone_enter', zone: SQUARE },
  ];
  const r = replayFrames(rules, [frame(0, [[1, 500, 200]]), frame(1, [[1, 500, 260]]), frame(2, [[1, 500, 230]])]);
  assert.deepEqual(r.raisedByRule, { gate: 2, door: 0 });
  assert.deepEqual(r.tripwireCounts, { gate: { cam1: { aToB: 1, bToA: 1 } } });
  assert.deepEqual(formatReplay(r), [
    '2026-01-05T12:00:01.000Z raised gate cam1: person crossed Gate (A→B)',
    '2026-01-05T12:00:02.000Z raised gate cam1: person crossed Gate (B→A)',
    'rule gate: 2 alert(s) raised',
    'rule door: 0 alert(s) raised',
    'tripwire gate cam1: A→B 1, B→A 1',
  ]);
  // Detections through the tracker: one person walking down across the line, 10 frames.
  const batches: DetectionBatch[] = [];
  for (let i = 0; i < 10; i++) {
    const y = 150 + 20 * i;
    batches.push({ cameraId: 'cam9', frameSequence: i, timestampNs: sec(i / 10), frameWidth: 640, frameHeight: 480, detections: [{ classId: 0, className: 'person', confidence: 0.9, box: { x1: 480, y1: y - 60, x2: 520, y2: y } }] });
  }
  const d = replayDetections(rules, batches);
  assert.deepEqual(d.tripwireCounts, { gate: { cam9: { aToB: 1, bToA: 0 } } });
  assert.deepEqual(d.events.map((e) => [e.alert.ruleId, e.alert.trackIds, e.alert.message]), [['gate', [1], 'person crossed Gate (A→B)']]);
  assert.equal(d.frames, 10);
});

test('replay input: NDJSON of stored tracks or raw detections, errors with line numbers', async () => {
  const { replayInput } = await import('../../src/rules/replay.js');
  const rules = [{ id: 'gate', name: 'Gate', kind: 'tripwire', line: { from: [0, 240], to: [640, 240] } }];
  const line = (i: number, y: number, withTrack: boolean) =>
    JSON.stringify({ cameraId: 'c', frameSequence: i, timestampNs: String(sec(i)), frameWidth: 640, frameHeight: 480, detections: [{ classId: 0, className: 'person', confidence: 0.9, box: { x1: 300, y1: y - 50, x2: 330, y2: y }, ...(withTrack ? { trackId: 7 } : {}) }] });
  const stored = [0, 1, 2].map((i) => line(i, 200 + 40 * i, true)).join('\n');
  const r1 = replayInput(rules, stored);
  assert.deepEqual(r1.events.map((e) => [e.alert.trackIds, e.alert.message]), [[[7], 'person crossed Gate (A→B)']]);
  const raw = [0, 1, 2, 3, 4].map((i) => line(i, 200 + 20 * i, false)).join('\n');
  const r2 = replayInput(rules, `${raw}\n`);
  assert.deepEqual(r2.events.map((e) => [e.alert.trackIds, e.alert.message]), [[[1], 'person crossed Gate (A→B)']]);
  assert.throws(() => replayInput(rules, `${line(0, 100, true)}\n{"cameraId":"c"}`), { code: 'E_ARGUMENT', message: 'Expected nanoseconds as a decimal string or integer for line 2.timestampNs but received undefined' });
  assert.throws(() => replayInput(rules, 'nope'), { message: 'Expected a JSON object for line 1 but received "nope"' });
});
