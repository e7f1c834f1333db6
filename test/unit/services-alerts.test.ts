/**
 * The rules service as the server wires it: an alert transition and its stream event-log entry commit in one
 * transaction of the server's Database, so the log holds each transition exactly once, equal to the stored alert.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { RulesService } from '../../src/services/alerts.js';
import { DatabaseService } from '../../src/services/database.js';
import { createContext, startServices } from '../../src/services/service.js';
import type { SequencedEvent } from '../../src/stream/events.js';
import { frame } from './rules-helpers.js';

const SQUARE = { points: [[100, 100], [300, 100], [300, 300], [100, 300]] };

test('rules service: each alert transition is in the event log once, with the stored alert, committed together', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-services-alerts-'));
  const config = parseConfig({ dataDir: dir, cameras: [], rules: [{ id: 'door', name: 'Door', kind: 'zone_enter', zone: SQUARE }] });
  const ctx = createContext(config, createLogger('test', () => undefined));
  const rules = new RulesService();
  const running = await startServices([new DatabaseService(), rules], ctx);
  try {
    const delivered: SequencedEvent[] = [];
    rules.eventLog.onDurable((items) => delivered.push(...items));
    const [raised] = rules.rules.processFrame(frame(0, [[1, 200, 200]]));
    assert.equal(raised?.type, 'raised');
    await rules.rules.flush();
    const acked = await rules.rules.acknowledge(raised!.alert.alertId, 'ops');

    const log = ctx.db.detections.readLog(0n, 100).entries;
    const alerts = log.map((e) => (e.type === 'event' ? e.event : null)).filter((e) => e?.kind === 'alerts');
    assert.deepEqual(alerts.map((e) => e!.data), [raised!.alert, acked]);
    assert.deepEqual(rules.rules.getAlert(acked.alertId), acked);
    assert.equal(acked.state, 'acknowledged');
    // The live stream got the same two, after their commits, in sequence order.
    assert.deepEqual(delivered.map((d) => d.event), [{ kind: 'alerts', alert: raised!.alert }, { kind: 'alerts', alert: acked }]);
    assert.deepEqual(delivered.map((d) => d.seq), alerts.map((e) => Number(e!.seq)));
  } finally {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
