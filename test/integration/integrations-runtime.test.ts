/**
 * The integrations runtime end to end against the REAL brokers on loopback (Redis 127.0.0.1:6379, RabbitMQ
 * 127.0.0.1:5672 guest/guest, Mosquitto 127.0.0.1:1883): configured through the config parser, fed through
 * publish*(), read back by independent consumers. JSON and FlatBuffers payloads; per-sink event filters; MQTT topics
 * `<prefix>/<camera>/<label>` and the retained `<prefix>/<camera>/status`; metrics and health per sink.
 *
 * Kafka: no broker runs here. What can be tested without one is tested: a Kafka sink built from the config buffers
 * while its broker is unreachable, drops (counted) past its capacity, keeps retrying, and reports degraded health;
 * publishing never blocks or throws.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import * as flatbuffers from 'flatbuffers';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { Registry } from 'prom-client';
import { HealthRegistry } from '../../src/services/health.js';
import { CameraManager } from '../../src/camera/manager.js';
import { parseConfig } from '../../src/config/index.js';
import { Integrations } from '../../src/integrations/runtime.js';
import { createLogger } from '../../src/log.js';
import {
  vigil_wire_AlertEvent as WireAlert,
  vigil_wire_CameraState as CameraState,
  vigil_wire_CameraStatusEvent as WireStatus,
  vigil_wire_DetectionBatch as WireBatch,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_TrackEvent as WireTrack,
  vigil_wire_TrackPhase as TrackPhase,
} from '../../src/stream/generated/message_generated.js';
import type { CameraStatusEventData, TrackEventData } from '../../src/stream/events.js';
import type { Alert, DetectionBatch } from '../../src/types.js';
import { requireBroker, until } from './queue-proxy.js';
import { MilestoneSim } from './vms-simulators.js';

const RUN = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const quiet = createLogger('test', () => undefined);

const batch: DetectionBatch = {
  cameraId: 'cam-1',
  frameSequence: 42,
  timestampNs: 1_764_270_000_123_456_789n,
  frameWidth: 1920,
  frameHeight: 1080,
  detections: [
    { classId: 0, className: 'person', confidence: 0.875, box: { x1: 10, y1: 20, x2: 110, y2: 320 }, trackId: 7 },
    { classId: 2, className: 'car', confidence: 0.5, box: { x1: 500, y1: 400, x2: 900, y2: 700 } },
    { classId: 0, className: 'person', confidence: 0.625, box: { x1: 1200, y1: 300, x2: 1290, y2: 560 } },
  ],
};

const alert: Alert = {
  alertId: 'a-1',
  ruleId: 'r-1',
  ruleName: 'Gate A',
  cameraId: 'cam-1',
  state: 'raised',
  message: 'person crossed Gate A (A→B)',
  trackIds: [7],
  raisedNs: 1_764_270_000_000_000_000n,
  updatedNs: 1_764_270_000_500_000_000n,
  clearedNs: null,
  acknowledgedBy: null,
  details: { direction: 'A→B' },
};

const status: CameraStatusEventData = {
  cameraId: 'cam-1',
  status: 'reconnecting',
  previous: 'running',
  timestampNs: 1_764_270_001_000_000_000n,
  message: 'Camera cam-1: connection lost',
};

const track: TrackEventData = {
  phase: 'start',
  timestampNs: 1_764_270_000_123_456_789n,
  track: {
    trackId: 7,
    cameraId: 'cam-1',
    classId: 0,
    className: 'person',
    startNs: 1_764_270_000_123_456_789n,
    endNs: null,
    bestConfidence: 0.875,
    bestBox: { x1: 10, y1: 20, x2: 110, y2: 320 },
    bestFrameSequence: 42,
    bestTimestampNs: 1_764_270_000_123_456_789n,
  },
};

const jsonBatch = {
  cameraId: 'cam-1',
  frameSequence: 42,
  timestampNs: '1764270000123456789',
  frameWidth: 1920,
  frameHeight: 1080,
  detections: batch.detections,
};
const jsonAlert = { ...alert, raisedNs: '1764270000000000000', updatedNs: '1764270000500000000' };

function wire(payload: Buffer): Message {
  // Copied: the generated array accessors need an aligned view.
  return Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(payload)));
}

describe('integrations runtime: Redis + RabbitMQ + MQTT sinks from the config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-intrt-'));
  const exchange = `vigil-rt-${RUN}`;
  const prefix = `vigil-${RUN}`;
  let redis: Redis;
  let amqpConn: amqplib.ChannelModel;
  let amqpCh: amqplib.Channel;
  let sub: mqtt.MqttClient;
  const amqpGot: amqplib.ConsumeMessage[] = [];
  const mqttGot: Array<{ topic: string; payload: Buffer; retain: boolean }> = [];

  before(async () => {
    await requireBroker('Redis', '127.0.0.1', 6379, 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no');
    await requireBroker('RabbitMQ', '127.0.0.1', 5672, 'rabbitmq-server -detached');
    await requireBroker('Mosquitto', '127.0.0.1', 1883, 'mosquitto -d -c /etc/mosquitto/mosquitto.conf');
    redis = new Redis('redis://127.0.0.1:6379');
    amqpConn = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
    amqpCh = await amqpConn.createChannel();
    await amqpCh.assertExchange(exchange, 'topic', { durable: false });
    const q = await amqpCh.assertQueue('', { exclusive: true, autoDelete: true });
    await amqpCh.bindQueue(q.queue, exchange, '#');
    await amqpCh.consume(q.queue, (m) => void (m && amqpGot.push(m)), { noAck: true });
    sub = mqtt.connect('mqtt://127.0.0.1:1883', { clientId: `sub-${RUN}` });
    await new Promise<void>((resolve, reject) => {
      sub.once('connect', () => sub.subscribe(`${prefix}/#`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      sub.once('error', reject);
    });
    sub.on('message', (topic, payload, packet) => mqttGot.push({ topic, payload, retain: packet.retain }));
  });

  after(async () => {
    await redis.del(`${RUN}:detections`, `${RUN}:alert`, `${RUN}:status`, `${RUN}:event`);
    redis.disconnect();
    await amqpCh.deleteExchange(exchange);
    await amqpConn.close();
    // Retained messages are cleared with an empty retained payload.
    await new Promise<void>((r) => sub.publish(`${prefix}/cam-1/status`, '', { retain: true, qos: 1 }, () => r()));
    await new Promise<void>((r) => sub.publish(`${prefix}/available`, '', { retain: true, qos: 1 }, () => r()));
    await new Promise<void>((r) => sub.end(false, {}, () => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('exact messages on each broker, per-sink filters and formats, metrics and health', async () => {
    const config = parseConfig(
      {
        dataDir: dir,
        integrations: {
          queues: [
            { name: 'redis-json', type: 'redis', url: 'redis://127.0.0.1:6379', streamPrefix: RUN, format: 'json', publish: ['detections', 'alerts'] },
            { name: 'rabbit-fb', type: 'amqp', url: 'amqp://guest:guest@127.0.0.1:5672', exchange, durable: false, format: 'flatbuffers' },
            { name: 'mqtt-json', type: 'mqtt', url: 'mqtt://127.0.0.1:1883', topicPrefix: prefix, format: 'json', publish: ['detections', 'alerts', 'camera_status', 'tracks'] },
          ],
        },
      },
      dir,
    );
    const registry = new Registry();
    const health = new HealthRegistry();
    const cameras = new CameraManager();
    const rt = await Integrations.start(config.integrations, { cameras, dataDir: dir, log: quiet, registry, health });
    try {
      await until(() => rt.sinks().every((s) => s.connected), 'every sink connected');
      rt.publishDetections(batch);
      rt.publishAlert(alert);
      rt.publishCameraStatus(status);
      rt.publishTrack(track);
      // A camera id no topic can carry is counted, not thrown into the pipeline.
      assert.doesNotThrow(() => rt.publishAlert({ ...alert, cameraId: 'bad/camera#' }));
      await until(
        () => rt.sinks().map((s) => s.published).join() === '2,4,5',
        'redis 2, rabbit 4, mqtt 5 (person + car + alert + status + track) acknowledged',
      );

      // ---- Redis: JSON envelopes on <prefix>:detections and <prefix>:alert; no status, no track (filtered out)
      const det = await redis.xrange(`${RUN}:detections`, '-', '+');
      assert.equal(det.length, 1);
      const f = det[0]![1];
      assert.deepEqual(f.slice(0, 8), ['kind', 'detections', 'camera', 'cam-1', 'label', 'detections', 'ts', '1764270000123456789']);
      assert.equal(f[8], 'data');
      assert.deepEqual(JSON.parse(f[9]!), { v: 1, kind: 'detections', cameraId: 'cam-1', label: 'detections', timestampNs: '1764270000123456789', data: jsonBatch });
      const al = await redis.xrange(`${RUN}:alert`, '-', '+');
      assert.equal(al.length, 1);
      assert.deepEqual(JSON.parse(al[0]![1][9]!), { v: 1, kind: 'alert', cameraId: 'cam-1', label: 'alert', timestampNs: '1764270000500000000', data: jsonAlert });
      assert.equal(await redis.exists(`${RUN}:status`, `${RUN}:event`), 0);

      // ---- RabbitMQ: FlatBuffers Messages (seq 0), routing key <kind>.<camera>.<label>
      await until(() => amqpGot.length === 4, 'four AMQP messages');
      assert.deepEqual(
        amqpGot.map((m) => [m.fields.routingKey, m.properties.contentType, m.properties.type]),
        [
          ['detections.cam-1.detections', 'application/octet-stream', 'detections'],
          ['alert.cam-1.alert', 'application/octet-stream', 'alert'],
          ['status.cam-1.status', 'application/octet-stream', 'status'],
          ['event.cam-1.track', 'application/octet-stream', 'event'],
        ],
      );
      const m0 = wire(amqpGot[0]!.content);
      assert.equal(m0.seq(), 0n);
      assert.equal(m0.payloadType(), Payload.DetectionBatch);
      const b = m0.payload(new WireBatch()) as WireBatch;
      assert.deepEqual([b.cameraId(), b.frameSequence(), b.timestampNs(), b.frameWidth(), b.frameHeight(), b.detectionsLength()], ['cam-1', 42n, 1_764_270_000_123_456_789n, 1920, 1080, 3]);
      const d0 = b.detections(0)!;
      assert.deepEqual([d0.box()!.x1(), d0.box()!.y2(), d0.confidence(), d0.trackId(), d0.classId()], [10, 320, 0.875, 7, 0]);
      const a = wire(amqpGot[1]!.content).payload(new WireAlert()) as WireAlert;
      assert.deepEqual([a.alertId(), a.ruleName(), a.cameraId(), a.message(), a.raisedNs(), a.updatedNs()], ['a-1', 'Gate A', 'cam-1', 'person crossed Gate A (A→B)', 1_764_270_000_000_000_000n, 1_764_270_000_500_000_000n]);
      const s = wire(amqpGot[2]!.content).payload(new WireStatus()) as WireStatus;
      assert.deepEqual([s.cameraId(), s.status(), s.previous(), s.timestampNs(), s.message()], ['cam-1', CameraState.Reconnecting, CameraState.Running, 1_764_270_001_000_000_000n, 'Camera cam-1: connection lost']);
      const t = wire(amqpGot[3]!.content).payload(new WireTrack()) as WireTrack;
      assert.deepEqual([t.phase(), t.cameraId(), t.trackId(), t.className(), t.confidence()], [TrackPhase.Start, 'cam-1', 7, 'person', 0.875]);

      // ---- MQTT: vigil/<camera>/<label>, detections split per class; status retained
      await until(() => mqttGot.filter((m) => m.topic !== `${prefix}/available`).length === 5, 'five MQTT messages');
      const byTopic = new Map(mqttGot.map((m) => [m.topic, m]));
      assert.deepEqual([...byTopic.keys()].sort(), [`${prefix}/available`, `${prefix}/cam-1/alert`, `${prefix}/cam-1/car`, `${prefix}/cam-1/person`, `${prefix}/cam-1/status`, `${prefix}/cam-1/track`]);
      assert.equal(byTopic.get(`${prefix}/available`)!.payload.toString(), 'online');
      assert.deepEqual(JSON.parse(byTopic.get(`${prefix}/cam-1/person`)!.payload.toString()), {
        v: 1,
        kind: 'detections',
        cameraId: 'cam-1',
        label: 'person',
        timestampNs: '1764270000123456789',
        data: { ...jsonBatch, detections: [batch.detections[0], batch.detections[2]] },
      });
      assert.deepEqual(JSON.parse(byTopic.get(`${prefix}/cam-1/car`)!.payload.toString()).data.detections, [batch.detections[1]]);
      assert.deepEqual(JSON.parse(byTopic.get(`${prefix}/cam-1/status`)!.payload.toString()), {
        v: 1,
        kind: 'status',
        cameraId: 'cam-1',
        label: 'status',
        timestampNs: '1764270001000000000',
        data: { cameraId: 'cam-1', status: 'reconnecting', previous: 'running', timestampNs: '1764270001000000000', message: 'Camera cam-1: connection lost' },
      });
      assert.equal(JSON.parse(byTopic.get(`${prefix}/cam-1/track`)!.payload.toString()).data.track.trackId, 7);
      // A client that subscribes later gets the camera's status at once, flagged retained.
      const late = mqtt.connect('mqtt://127.0.0.1:1883', { clientId: `late-${RUN}` });
      const retained = await new Promise<{ topic: string; payload: string; retain: boolean }>((resolve, reject) => {
        late.once('connect', () => late.subscribe(`${prefix}/cam-1/status`, { qos: 1 }));
        late.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), retain: packet.retain }));
        late.once('error', reject);
      });
      await new Promise<void>((r) => late.end(false, {}, () => r()));
      assert.equal(retained.retain, true);
      assert.equal(JSON.parse(retained.payload).data.status, 'reconnecting');

      // ---- counters, metrics, health
      assert.deepEqual(
        rt.sinks().map((x) => [x.name, x.type, x.format, x.published, x.dropped, x.buffered, x.publishErrors]),
        [
          ['redis-json', 'redis', 'json', 2, 0, 0, 1],
          ['rabbit-fb', 'amqp', 'flatbuffers', 4, 0, 0, 1],
          ['mqtt-json', 'mqtt', 'json', 5, 0, 0, 1],
        ],
      );
      const text = await registry.metrics();
      assert.match(text, /^vigil_queue_delivered\{sink="redis-json",type="redis"\} 2$/m);
      assert.match(text, /^vigil_queue_delivered\{sink="rabbit-fb",type="amqp"\} 4$/m);
      assert.match(text, /^vigil_queue_delivered\{sink="mqtt-json",type="mqtt"\} 5$/m);
      assert.match(text, /^vigil_queue_rejected\{sink="mqtt-json",type="mqtt"\} 1$/m);
      assert.match(text, /^vigil_queue_connected\{sink="rabbit-fb",type="amqp"\} 1$/m);
      const h = await health.run();
      assert.equal(h.status, 'healthy');
      assert.deepEqual(Object.keys(h.services).sort(), ['queue:mqtt-json', 'queue:rabbit-fb', 'queue:redis-json']);
    } finally {
      await rt.close();
      await rt.close(); // idempotent
      cameras.close();
    }
    assert.equal((await registry.metrics()).includes('vigil_queue_delivered'), false);
    assert.deepEqual((await health.run()).services, {});
    // After close, publishing is a no-op, never a throw.
    assert.doesNotThrow(() => rt.publishAlert(alert));
  });
});

describe('integrations runtime: Kafka sink without a broker (none runs here)', () => {
  test('buffers up to capacity, counts drops, keeps retrying, health degraded; publish never throws', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-intkafka-'));
    // A port nothing listens on: connection refused at once, as with a broker that is down.
    const config = parseConfig(
      {
        dataDir: dir,
        integrations: {
          queues: [
            {
              name: 'kafka',
              type: 'kafka',
              brokers: ['127.0.0.1:1'],
              publish: ['alerts'],
              capacity: 3,
              connectTimeoutMs: 200,
              backoff: { initialMs: 50, maxMs: 100, factor: 2, jitter: 0 },
            },
          ],
        },
      },
      dir,
    );
    const registry = new Registry();
    const health = new HealthRegistry();
    const cameras = new CameraManager();
    // Metrics and health attached after start (a server whose registry is created later).
    const rt = await Integrations.start(config.integrations, { cameras, dataDir: dir, log: quiet, registry: null, health: null });
    rt.attach({ registry, health });
    rt.attach({ registry, health }); // once only: a second attach registers nothing twice
    try {
      for (let i = 0; i < 5; i++) rt.publishAlert({ ...alert, alertId: `a-${i}` });
      rt.publishDetections(batch); // not configured for this sink: ignored
      await until(() => (rt.sinks()[0]!.connectFailures ?? 0) >= 3, 'three failed connection attempts');
      const [k] = rt.sinks();
      assert.deepEqual([k!.name, k!.connected, k!.published, k!.buffered, k!.dropped, k!.publishErrors], ['kafka', false, 0, 3, 2, 0]);
      const h = await health.run();
      assert.equal(h.status, 'degraded');
      assert.equal(h.services['queue:kafka']!.status, 'degraded');
      assert.match(h.services['queue:kafka']!.detail!, /^not connected \(3 buffered, 2 dropped\)/);
      assert.match(await registry.metrics(), /^vigil_queue_dropped\{sink="kafka",type="kafka"\} 2$/m);
    } finally {
      await rt.close(100);
      cameras.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // What was still buffered at close is counted as dropped.
    assert.deepEqual([rt.sinks()[0]!.buffered, rt.sinks()[0]!.dropped], [0, 5]);
  });
});

describe('integrations runtime: a VMS source (simulated Milestone API Gateway; no XProtect runs here)', () => {
  test('on-demand source syncs once at start; disabled cameras imported but not started; health and metrics per source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-intms-'));
    const secret = 'Client-Secret-9d2e';
    const sim = new MilestoneSim('unused', 'unused');
    sim.clients.set('vigil-analytics', secret);
    const guid = (i: number): string => `9f1c2d3e-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`;
    sim.cameras = [
      { id: guid(1), name: 'hw 1', displayName: 'Dock', enabled: true },
      { id: guid(2), name: 'hw 2', displayName: 'Spare', enabled: false },
    ];
    await sim.start();
    // RTSP on a port nothing listens on: the imported camera starts and keeps reconnecting, as with a camera that is down.
    const config = parseConfig(
      {
        dataDir: dir,
        integrations: { vms: [{ id: 'hq', type: 'milestone', url: sim.url, allow: ['127.0.0.1'], clientId: 'vigil-analytics', secret, syncIntervalS: 0, rtspPort: 1 }] },
      },
      dir,
    );
    const registry = new Registry();
    const health = new HealthRegistry();
    const cameras = new CameraManager();
    const rt = await Integrations.start(config.integrations, { cameras, dataDir: dir, log: quiet, registry, health });
    try {
      await until(() => rt.vmsSources()[0]!.lastSuccessAt !== null, 'the start-up sync');
      const [v] = rt.vmsSources();
      assert.deepEqual([v!.id, v!.type, v!.url, v!.nextSyncAt, v!.cameras, v!.activeCameras, v!.lastResult], [
        'hq', 'milestone', sim.url, null, 2, 1, { added: 2, changed: 0, removed: 0, unchanged: 0 },
      ]);
      assert.deepEqual(cameras.list().map((c) => [c.id, c.settings.name, c.displaySource]), [
        [`hq-${guid(1)}`, 'Dock', `rtsp://127.0.0.1:1/live/${guid(1)}?stream=0`],
      ]);
      // Client credentials open no stream: the source carries no username/password.
      const src = cameras.get(`hq-${guid(1)}`)!.settings.source as { username?: string; password?: string };
      assert.deepEqual([src.username, src.password], [undefined, undefined]);
      let h = await health.run();
      assert.deepEqual(h.services['vms:hq']!.status, 'ok');
      let text = await registry.metrics();
      assert.match(text, /^vigil_vms_cameras\{source="hq",type="milestone"\} 2$/m);
      assert.match(text, /^vigil_vms_up\{source="hq",type="milestone"\} 1$/m);

      // The VMS fails: nothing removed, health degraded (not unhealthy), the error shown without secrets.
      sim.override = () => ({ status: 503, body: 'Service Unavailable' });
      const report = await rt.syncVms('hq');
      assert.deepEqual(report, { source: 'hq', ok: false, error: 'milestone source hq: GET /api/rest/v1/cameras returned HTTP 503', added: 0, changed: 0, removed: 0, unchanged: 0 });
      h = await health.run();
      assert.equal(h.status, 'degraded');
      assert.deepEqual(h.services['vms:hq'], { status: 'degraded', response_time: h.services['vms:hq']!.response_time, detail: 'milestone source hq: GET /api/rest/v1/cameras returned HTTP 503' });
      text = await registry.metrics();
      assert.match(text, /^vigil_vms_up\{source="hq",type="milestone"\} 0$/m);
      assert.equal(cameras.list().length, 1);
      assert.ok(!JSON.stringify(rt.stats()).includes(secret));
      await assert.rejects(rt.syncVms('nope'), { code: 'E_NOT_FOUND', message: 'No VMS source named "nope"' });
      sim.override = null;
    } finally {
      await rt.close();
      cameras.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    // close() removed the cameras it imported.
    assert.equal(cameras.list().length, 0);
  });
});
