/**
 * Queue sinks against the REAL brokers on loopback: Redis 127.0.0.1:6379, RabbitMQ 127.0.0.1:5672 (guest/guest),
 * Mosquitto 127.0.0.1:1883. A broker outage mid-stream is simulated with a TCP proxy this test controls
 * (queue-proxy.ts) placed between the sink and the broker — gentler than restarting the shared services while
 * other engineers use them. Consumers connect to the brokers directly. Names are unique per run and cleaned up.
 */
import { createLogger } from '../../src/log.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { AmqpSink } from '../../src/integrations/queue/amqp.js';
import { SinkSet } from '../../src/integrations/queue/factory.js';
import { MqttSink } from '../../src/integrations/queue/mqtt.js';
import { RedisStreamSink } from '../../src/integrations/queue/redis.js';
import type { QueueSink } from '../../src/integrations/queue/sink.js';
import type { Alert, DetectionBatch } from '../../src/types.js';
import { TcpProxy, requireBroker, until } from './queue-proxy.js';

const RUN = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const BACKOFF = { initialMs: 100, maxMs: 400, factor: 2, jitter: 0.2 };

const batch: DetectionBatch = {
  cameraId: 'cam-1',
  frameSequence: 42,
  timestampNs: 1_764_270_000_123_456_789n,
  frameWidth: 1920,
  frameHeight: 1080,
  detections: [
    { classId: 0, className: 'person', confidence: 0.91, box: { x1: 10, y1: 20, x2: 110, y2: 320 }, trackId: 7 },
    { classId: 2, className: 'car', confidence: 0.8, box: { x1: 500, y1: 400, x2: 900, y2: 700 } },
    { classId: 0, className: 'person', confidence: 0.55, box: { x1: 1200, y1: 300, x2: 1290, y2: 560 } },
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

/**
 * The common outage scenario: 30 messages delivered, the link cut, 80 published while down into a buffer of 50
 * (30 dropped), the link restored: exactly 80 delivered in all, 30 dropped, one reconnect.
 */
async function outage(sink: QueueSink, proxy: TcpProxy, received: () => number[]): Promise<void> {
  for (let i = 0; i < 30; i++) assert.equal(sink.publishEvent('cam-1', 'tick', { seq: i }), true);
  await until(() => sink.stats().published === 30, '30 messages acknowledged');
  await until(() => received().length === 30, 'consumer to see 30 messages');
  proxy.cut();
  await until(() => !sink.stats().connected, 'the sink to notice the outage');
  const accepted: boolean[] = [];
  for (let i = 30; i < 110; i++) accepted.push(sink.publishEvent('cam-1', 'tick', { seq: i }));
  assert.deepEqual(accepted, [...Array<boolean>(50).fill(true), ...Array<boolean>(30).fill(false)]);
  const down = sink.stats();
  assert.equal(down.buffered, 50);
  assert.equal(down.dropped, 30);
  assert.equal(down.published, 30);
  // Let a few reconnect attempts fail against the cut link.
  await until(() => sink.stats().connectFailures >= 2, 'two failed reconnect attempts');
  proxy.restore();
  await until(() => sink.stats().published === 80, '80 messages acknowledged after the outage');
  await until(() => received().length >= 80, 'consumer to see 80 messages');
  await new Promise((r) => setTimeout(r, 200)); // anything extra (a duplicate) would arrive by now
  const seqs = received();
  assert.deepEqual(seqs, Array.from({ length: 80 }, (_, i) => i));
  const s = sink.stats();
  assert.equal(s.published, 80);
  assert.equal(s.dropped, 30);
  assert.equal(s.buffered, 0);
  assert.equal(s.rejected, 0);
  assert.equal(s.reconnects, 1);
  assert.equal(s.connected, true);
}

describe('Redis Streams sink (real Redis 127.0.0.1:6379)', () => {
  const prefix = `vigil-test:${RUN}`;
  let redis: Redis;
  let proxy: TcpProxy;
  before(async () => {
    await requireBroker('Redis', '127.0.0.1', 6379, 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no');
    redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    proxy = await new TcpProxy('127.0.0.1', 6379).start();
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await proxy.stop();
  });

  test('XADD with MAXLEN ~: fields and JSON payload of detections and alerts', async () => {
    const sink = new RedisStreamSink({ name: 'redis-a', url: 'redis://127.0.0.1:6379', streamPrefix: `${prefix}:a`, maxLen: 1000, backoff: BACKOFF });
    sink.start();
    try {
      assert.equal(sink.publishDetections(batch), true);
      assert.equal(sink.publishAlert(alert), true);
      await until(() => sink.stats().published === 2, 'two messages acknowledged');
      const det = await redis.xrange(`${prefix}:a:detections`, '-', '+');
      assert.equal(det.length, 1);
      const fields = det[0]![1];
      assert.deepEqual(fields.slice(0, 8), ['kind', 'detections', 'camera', 'cam-1', 'label', 'detections', 'ts', '1764270000123456789']);
      const payload = JSON.parse(fields[9]!) as Record<string, unknown>;
      assert.deepEqual(payload, {
        v: 1,
        kind: 'detections',
        cameraId: 'cam-1',
        label: 'detections',
        timestampNs: '1764270000123456789',
        data: { ...batch, timestampNs: '1764270000123456789' },
      });
      const al = await redis.xrange(`${prefix}:a:alert`, '-', '+');
      assert.equal(JSON.parse(al[0]![1][9]!).data.message, 'person crossed Gate A (A→B)');
      assert.equal(JSON.parse(al[0]![1][9]!).data.clearedNs, null);
    } finally {
      await sink.close();
    }
  });

  test('a binary encoder passed in the options is used for the payload', async () => {
    const encode = (m: { kind: string; cameraId: string; timestampNs: bigint }): Uint8Array => {
      const head = Buffer.from(`${m.kind}|${m.cameraId}|`);
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64LE(m.timestampNs);
      return new Uint8Array(Buffer.concat([Buffer.from([0x56, 0x47, 0x4c, 0x01]), head, ts]));
    };
    const sink = new RedisStreamSink({ name: 'redis-b', streamPrefix: `${prefix}:b`, encode, backoff: BACKOFF });
    sink.start();
    try {
      sink.publishDetections(batch);
      await until(() => sink.stats().published === 1, 'one message acknowledged');
      const rows = await redis.xrangeBuffer(`${prefix}:b:detections`, '-', '+');
      const data = rows[0]![1][9]!;
      assert.deepEqual(
        data,
        Buffer.concat([Buffer.from([0x56, 0x47, 0x4c, 0x01]), Buffer.from('detections|cam-1|'), Buffer.from('187bf237b53cad15', 'hex').reverse()]),
      );
    } finally {
      await sink.close();
    }
  });

  test('outage through the proxy: exact delivered, dropped and reconnect counts', async () => {
    const stream = `${prefix}:c`;
    const logs: string[] = [];
    const log = createLogger('queue', (l) => logs.push(l.slice(l.indexOf(' ') + 1)));
    const sink = new RedisStreamSink({ name: 'redis-c', url: `redis://127.0.0.1:${proxy.port}`, streamPrefix: stream, capacity: 50, backoff: BACKOFF, connectTimeoutMs: 1000, log });
    let seqs: number[] = [];
    const poll = setInterval(() => {
      void redis.xrange(`${stream}:event`, '-', '+').then((rows) => {
        seqs = rows.map((r) => (JSON.parse(r[1][9]!) as { data: { seq: number } }).data.seq);
      });
    }, 50);
    sink.start();
    try {
      await outage(sink, proxy, () => seqs);
      // The sink logs to its own child logger: connected, lost once, connected again.
      assert.deepEqual(logs.map((l) => l.replace(/connection lost.*/, 'connection lost')), ['INFO  queue.redis-c connected', 'WARN  queue.redis-c connection lost', 'INFO  queue.redis-c connected']);
    } finally {
      clearInterval(poll);
      await sink.close();
      proxy.restore();
    }
  });

  test('a command the server refuses is counted as rejected, not retried forever', async () => {
    const key = `${prefix}:d`;
    await redis.set(`${key}:event`, 'not a stream'); // XADD on a string key: WRONGTYPE
    const sink = new RedisStreamSink({ name: 'redis-d', streamPrefix: key, backoff: BACKOFF });
    sink.start();
    try {
      sink.publishEvent('cam-1', 'x', { a: 1 });
      sink.publishAlert(alert);
      await until(() => sink.stats().buffered === 0, 'the buffer to empty');
      const s = sink.stats();
      assert.equal(s.rejected, 1);
      assert.equal(s.published, 1);
      assert.equal(s.reconnects, 0);
    } finally {
      await sink.close();
    }
  });
});

describe('RabbitMQ sink (real RabbitMQ 127.0.0.1:5672)', () => {
  const exchange = `vigil-test-${RUN}`;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.Channel;
  let proxy: TcpProxy;
  const got: amqplib.ConsumeMessage[] = [];
  before(async () => {
    await requireBroker('RabbitMQ', '127.0.0.1', 5672, 'rabbitmq-server -detached');
    conn = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
    ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(q.queue, exchange, '#');
    await ch.consume(q.queue, (m) => {
      if (m) got.push(m);
    }, { noAck: true });
    proxy = await new TcpProxy('127.0.0.1', 5672).start();
  });
  after(async () => {
    await ch.deleteExchange(exchange);
    await conn.close();
    await proxy.stop();
  });

  test('confirmed publish: routing key, properties and payload', async () => {
    const sink = new AmqpSink({ name: 'amqp-a', url: 'amqp://guest:guest@127.0.0.1:5672', exchange, durable: false, backoff: BACKOFF });
    sink.start();
    try {
      sink.publishAlert(alert);
      sink.publishDetections(batch);
      await until(() => got.length === 2, 'two deliveries');
      const [a, d] = got;
      assert.equal(a!.fields.routingKey, 'alert.cam-1.alert');
      assert.equal(d!.fields.routingKey, 'detections.cam-1.detections');
      assert.equal(a!.properties.contentType, 'application/json');
      assert.equal(a!.properties.type, 'alert');
      assert.equal(a!.properties.timestamp, 1_764_270_000);
      assert.deepEqual(a!.properties.headers, { camera: 'cam-1', label: 'alert', ts: '1764270000500000000' });
      assert.equal(JSON.parse(d!.content.toString()).data.detections.length, 3);
      assert.deepEqual(sink.stats(), {
        name: 'amqp-a', connected: true, published: 2, dropped: 0, rejected: 0, buffered: 0, reconnects: 0, connectFailures: 0, encodeErrors: 0, lastError: null,
      });
    } finally {
      await sink.close();
      got.length = 0;
    }
  });

  test('outage through the proxy: exact delivered, dropped and reconnect counts', async () => {
    const sink = new AmqpSink({ name: 'amqp-b', url: `amqp://guest:guest@127.0.0.1:${proxy.port}`, exchange, durable: false, capacity: 50, backoff: BACKOFF, connectTimeoutMs: 1000 });
    sink.start();
    try {
      await outage(sink, proxy, () => got.map((m) => (JSON.parse(m.content.toString()) as { data: { seq: number } }).data.seq));
      // The broker URL's password never shows up in errors
      assert.ok(!(sink.stats().lastError ?? '').includes('guest:guest'));
    } finally {
      await sink.close();
      proxy.restore();
      got.length = 0;
    }
  });
});

describe('MQTT sink (real Mosquitto 127.0.0.1:1883)', () => {
  const prefix = `vigil-test-${RUN}`;
  let consumer: mqtt.MqttClient;
  let proxy: TcpProxy;
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  before(async () => {
    await requireBroker('Mosquitto', '127.0.0.1', 1883, 'mosquitto -d -c /etc/mosquitto/mosquitto.conf');
    consumer = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${prefix}-consumer`, reconnectPeriod: 0 });
    consumer.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await consumer.subscribeAsync(`${prefix}/#`, { qos: 1 });
    proxy = await new TcpProxy('127.0.0.1', 1883).start();
  });
  after(async () => {
    // Clear the retained messages this run left
    for (const t of [`${prefix}/available`, `${prefix}/cam-1/status`]) await consumer.publishAsync(t, '', { qos: 1, retain: true });
    await consumer.endAsync();
    await proxy.stop();
  });

  test('vigil/<camera>/<label> topics, detections split per class, retained camera status', async () => {
    const sink = new MqttSink({ name: 'mqtt-a', url: 'mqtt://127.0.0.1:1883', topicPrefix: prefix, clientId: `${prefix}-a`, backoff: BACKOFF });
    sink.start();
    try {
      assert.equal(sink.publishDetections(batch), true);
      sink.publishAlert(alert);
      sink.publishCameraStatus('cam-1', 'running');
      await until(() => sink.stats().published === 4, 'four PUBACKs');
      await until(() => got.filter((g) => !g.topic.endsWith('/available')).length === 4, 'four deliveries');
      const msgs = got.filter((g) => !g.topic.endsWith('/available'));
      assert.deepEqual(msgs.map((m) => m.topic), [`${prefix}/cam-1/person`, `${prefix}/cam-1/car`, `${prefix}/cam-1/alert`, `${prefix}/cam-1/status`]);
      const person = JSON.parse(msgs[0]!.payload) as { label: string; data: DetectionBatch };
      assert.equal(person.label, 'person');
      assert.deepEqual(person.data.detections.map((d) => d.confidence), [0.91, 0.55]);
      assert.equal((JSON.parse(msgs[1]!.payload) as { data: DetectionBatch }).data.detections.length, 1);
      // A late subscriber gets the retained status
      const late = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: `${prefix}-late`, reconnectPeriod: 0 });
      const retained = new Promise<{ payload: string; retain: boolean }>((resolve) =>
        late.on('message', (_t, p, pk) => resolve({ payload: p.toString(), retain: pk.retain })),
      );
      await late.subscribeAsync(`${prefix}/cam-1/status`, { qos: 1 });
      const r = await retained;
      await late.endAsync();
      assert.equal(r.retain, true);
      assert.deepEqual((JSON.parse(r.payload) as { data: unknown }).data, { cameraId: 'cam-1', status: 'running' });
    } finally {
      await sink.close();
    }
    assert.deepEqual(got.filter((g) => g.topic === `${prefix}/available`).map((g) => g.payload), ['online', 'offline']);
    got.length = 0;
  });

  test('outage through the proxy: exact counts; last will marks the sink offline meanwhile', async () => {
    const sink = new MqttSink({ name: 'mqtt-b', url: `mqtt://127.0.0.1:${proxy.port}`, topicPrefix: prefix, clientId: `${prefix}-b`, capacity: 50, backoff: BACKOFF, connectTimeoutMs: 1000 });
    sink.start();
    try {
      await outage(sink, proxy, () =>
        got.filter((g) => g.topic === `${prefix}/cam-1/tick`).map((g) => (JSON.parse(g.payload) as { data: { seq: number } }).data.seq),
      );
    } finally {
      await sink.close();
      proxy.restore();
    }
    await until(() => got.filter((g) => g.topic === `${prefix}/available`).length === 4, 'availability messages');
    assert.deepEqual(got.filter((g) => g.topic === `${prefix}/available`).map((g) => g.payload), ['online', 'offline', 'online', 'offline']);
    got.length = 0;
  });
});

describe('SinkSet (real Redis + an unreachable Kafka)', () => {
  test('a sink whose broker is down does not hold back the others; the shared encoder applies to all', async () => {
    await requireBroker('Redis', '127.0.0.1', 6379, 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no');
    const dead = await new TcpProxy('127.0.0.1', 9).start();
    dead.cut();
    const prefix = `vigil-test:${RUN}:set`;
    const encoded: string[] = [];
    const set = SinkSet.fromConfig(
      [
        { type: 'redis', name: 'r', streamPrefix: prefix, backoff: BACKOFF },
        { type: 'kafka', name: 'k', brokers: [`127.0.0.1:${dead.port}`], capacity: 3, backoff: BACKOFF, connectTimeoutMs: 300 },
      ],
      (m) => {
        encoded.push(m.kind);
        return Buffer.from(`bin:${m.cameraId}:${m.label}`);
      },
    );
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    set.start();
    try {
      for (let i = 0; i < 5; i++) set.publishEvent('cam-2', `e${i}`, { i });
      await until(() => set.stats()[0]!.published === 5, 'Redis to acknowledge 5');
      const [r, k] = set.stats();
      assert.equal(r!.dropped, 0);
      assert.equal(k!.published, 0);
      assert.equal(k!.buffered, 3);
      assert.equal(k!.dropped, 2);
      assert.equal(encoded.length, 8); // 5 for Redis, 3 for Kafka (the 2 dropped were never encoded)
      const rows = await redis.xrangeBuffer(`${prefix}:event`, '-', '+');
      assert.deepEqual(rows.map((row) => row[1][9]!.toString()), ['bin:cam-2:e0', 'bin:cam-2:e1', 'bin:cam-2:e2', 'bin:cam-2:e3', 'bin:cam-2:e4']);
    } finally {
      await set.close(0);
      await redis.del(`${prefix}:event`);
      redis.disconnect();
      await dead.stop();
    }
    assert.throws(() => new SinkSet([...set.sinks, set.sinks[0]!]), { message: 'Expected unique sink names for sinks[].name but received "r"' });
  });
});
