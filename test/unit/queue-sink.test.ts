import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaSink } from '../../src/integrations/queue/kafka.js';
import { MqttSink } from '../../src/integrations/queue/mqtt.js';
import { jsonEncode, topicLevel } from '../../src/integrations/queue/sink.js';

test('JSON envelope: bigint as exact decimal strings', () => {
  const bytes = jsonEncode({ kind: 'event', cameraId: 'c1', label: 'line', timestampNs: 1_764_270_000_123_456_789n, data: { n: 5n, s: 'x' } });
  assert.equal(
    Buffer.from(bytes).toString(),
    '{"v":1,"kind":"event","cameraId":"c1","label":"line","timestampNs":"1764270000123456789","data":{"n":"5","s":"x"}}',
  );
  // A bigint deeper in the data takes the replacer path: same exact rendering
  const deep = jsonEncode({ kind: 'event', cameraId: 'c1', label: 'l', timestampNs: 1n, data: { a: [{ n: 18446744073709551615n }] } });
  assert.equal(Buffer.from(deep).toString(), '{"v":1,"kind":"event","cameraId":"c1","label":"l","timestampNs":"1","data":{"a":[{"n":"18446744073709551615"}]}}');
  // The caller's object is not modified
  const data = { t: 2n };
  jsonEncode({ kind: 'event', cameraId: 'c1', label: 'l', timestampNs: 1n, data });
  assert.equal(data.t, 2n);
});

test('topic levels lose separators and wildcards', () => {
  assert.equal(topicLevel('front/door #1+x.y'), 'front_door__1_x_y');
});

test('publish validates messages; encoder failures are counted, not thrown', async () => {
  let calls = 0;
  const sink = new KafkaSink({
    name: 'k-unit',
    brokers: ['127.0.0.1:9'],
    capacity: 3,
    encode: (m) => {
      calls++;
      if (m.label === 'bad') throw new Error('cannot encode');
      return new Uint8Array([1, 2, 3]);
    },
  });
  // Not started: messages wait in the buffer.
  assert.throws(() => sink.publishEvent('bad camera id', 'x', {}), {
    code: 'E_ARGUMENT',
    message: 'Expected a camera id for msg.cameraId but received "bad camera id"',
  });
  assert.throws(() => sink.publishEvent('cam', '', {}), { message: 'Expected a label of 1-64 characters for msg.label but received ""' });
  assert.throws(() => sink.publish({ kind: 'event', cameraId: 'cam', label: 'x', timestampNs: 5 as never, data: null }), {
    message: 'Expected a bigint (ns) for msg.timestampNs but received 5',
  });
  assert.equal(sink.publishEvent('cam', 'bad', {}), false);
  assert.equal(sink.publishEvent('cam', 'ok', {}), true);
  const s = sink.stats();
  assert.equal(s.encodeErrors, 1);
  assert.equal(s.buffered, 1);
  assert.equal(s.lastError, 'encode failed: cannot encode');
  assert.equal(calls, 2);
  await sink.close();
  assert.equal(sink.stats().dropped, 1);
});

test('MQTT options: credentials stay out of the URL; prefix has no wildcards', () => {
  assert.throws(() => new MqttSink({ name: 'm', url: 'mqtt://u:secret@127.0.0.1:1883' }), {
    message: 'Expected a URL without user:password for sinks.m.url (put credentials in username/password)',
  });
  assert.throws(() => new MqttSink({ name: 'm', topicPrefix: 'vigil/#' }), {
    message: 'Expected a topic prefix without wildcards for sinks.m.topicPrefix but received "vigil/#"',
  });
  assert.equal(new MqttSink({ name: 'm', topicPrefix: 'site1/vigil' }).availabilityTopic, 'site1/vigil/available');
});
