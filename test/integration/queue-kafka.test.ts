/**
 * Kafka sink. No Kafka broker runs on this machine, so this tests what can be tested without one: configuration
 * validation, and the bounded buffer, drop counting and reconnect attempts while the broker is unreachable (the
 * "broker" is a TCP port this test controls that accepts and immediately resets every connection). Delivery to a
 * real broker is NOT tested here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSink } from '../../src/integrations/queue/factory.js';
import { KafkaSink } from '../../src/integrations/queue/kafka.js';
import { TcpProxy, until } from './queue-proxy.js';

test('configuration is validated with exact messages', () => {
  assert.throws(() => new KafkaSink({ name: 'k', brokers: [] }), {
    code: 'E_ARGUMENT',
    message: 'Expected a non-empty list of "host:port" for sinks.k.brokers but received an array of length 0',
  });
  assert.throws(() => new KafkaSink({ name: 'k', brokers: ['kafka:9092', 'nohost'] }), {
    message: 'Expected "host:port" for sinks.k.brokers[1] but received "nohost"',
  });
  assert.throws(() => new KafkaSink({ name: 'k', brokers: ['kafka:99999'] }), {
    message: 'Expected "host:port" for sinks.k.brokers[0] but received "kafka:99999"',
  });
  assert.throws(() => new KafkaSink({ name: 'k', brokers: ['kafka:9092'], topicPrefix: 'a/b' }), {
    message: 'Expected a topic prefix of letters, digits, ".", "_" or "-" for sinks.k.topicPrefix but received "a/b"',
  });
  assert.throws(
    () => new KafkaSink({ name: 'k', brokers: ['kafka:9092'], sasl: { mechanism: 'gssapi' as never, username: 'u', password: 'p' } }),
    { message: 'Expected one of "plain", "scram-sha-256", "scram-sha-512" for sinks.k.sasl.mechanism but received "gssapi"' },
  );
  assert.throws(() => new KafkaSink({ name: 'k', brokers: ['kafka:9092'], capacity: 0 }), {
    message: 'Expected an integer from 1 to 10000000 for sinks.k.capacity but received 0',
  });
  assert.throws(() => createSink({ type: 'nats' } as never), {
    message: 'Expected one of "redis", "amqp", "mqtt", "kafka" for sink.type but received "nats"',
  });
  const k = new KafkaSink({ name: 'k', brokers: ['kafka-1.example:9092', '[::1]:9093'], topicPrefix: 'site1.vigil' });
  assert.equal(k.topicOf('detections'), 'site1.vigil.detections');
});

test('broker unreachable: bounded buffer, exact drop count, reconnect attempts, nothing blocks', async () => {
  const dead = await new TcpProxy('127.0.0.1', 9).start();
  dead.cut(); // accept-then-reset: a broker that is down
  const sink = new KafkaSink({
    name: 'kafka-a',
    brokers: [`127.0.0.1:${dead.port}`],
    capacity: 20,
    connectTimeoutMs: 500,
    backoff: { initialMs: 50, maxMs: 200 },
    sasl: { mechanism: 'plain', username: 'vigil', password: 'Kafka-Secret-9' },
  });
  sink.start();
  try {
    // publish returns a plain boolean at once (no promise): it never waits on the broker
    const accepted: boolean[] = [];
    for (let i = 0; i < 35; i++) accepted.push(sink.publishEvent('cam-9', 'tick', { seq: i }));
    assert.deepEqual(accepted, [...Array<boolean>(20).fill(true), ...Array<boolean>(15).fill(false)]);
    await until(() => sink.stats().connectFailures >= 3, 'three failed connection attempts');
    const s = sink.stats();
    assert.equal(s.connected, false);
    assert.equal(s.published, 0);
    assert.equal(s.buffered, 20);
    assert.equal(s.dropped, 15);
    assert.equal(s.reconnects, 0);
    assert.equal(typeof s.lastError, 'string');
    assert.ok(!s.lastError!.includes('Kafka-Secret-9'));
  } finally {
    await sink.close();
    await dead.stop();
  }
  const end = sink.stats();
  assert.equal(end.buffered, 0);
  assert.equal(end.dropped, 35); // what was still buffered at close is counted as dropped
  assert.throws(() => sink.publishEvent('cam-9', 'tick', {}), { code: 'E_CLOSED', message: 'queue sink kafka-a is closed' });
});
