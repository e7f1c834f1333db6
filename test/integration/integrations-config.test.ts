/**
 * The `integrations:` config section: a full section parses to exact values; every bad field is refused with its
 * exact message and path; secret values never appear in a message.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-intcfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base = { dataDir: join(dir, 'data') };

test('a full integrations section parses to exact settings', () => {
  const c = parseConfig(
    {
      ...base,
      server: { publicUrl: 'https://vigil.example.com' },
      cameraDefaults: { decodeThreads: 2 },
      integrations: {
        vms: [
          { id: 'hq', type: 'milestone', url: 'https://xp.local', clientId: 'vigil-client', secret: 'Client-Secret-1', syncIntervalS: 0, detectFps: 3, record: { mode: 'event', maxAgeHours: 48 } },
          { id: 'nvr', type: 'hikvision', url: 'http://10.0.0.2', username: 'admin', password: 'Hik-Pass-2', deviceKind: 'nvr', rtspPort: 'device', stream: 'sub', rtsp: { transport: 'udp', latencyMs: 100 }, camera: { motion: false } },
          { id: 'gate', type: 'axis', url: 'https://10.0.0.3', username: 'root', password: 'Axis-Pass-3', insecureTls: true, diskId: 'NetworkShare', virtualInputPort: 2, rtspPort: 8554 },
        ],
        queues: [
          { name: 'redis', type: 'redis', url: 'redis://127.0.0.1:6379/2', format: 'flatbuffers', publish: ['detections', 'alerts', 'alerts'], capacity: 500 },
          { name: 'mqtt', type: 'mqtt', url: 'mqtt://127.0.0.1:1883', username: 'vigil', password: 'Mqtt-Pass-4', qos: 0, topicPrefix: 'site1/vigil' },
          { name: 'rabbit', type: 'amqp', exchange: 'events', backoff: { initialMs: 200, maxMs: 5000 } },
          { name: 'kafka', type: 'kafka', brokers: ['10.0.0.9:9092', '[::1]:9093'], sasl: { mechanism: 'plain', username: 'u', password: 'Kafka-Pass-5' } },
        ],
      },
    },
    dir,
  );
  const i = c.integrations;
  assert.deepEqual(i.vms.map((v) => v.adapter), [
    { type: 'milestone', name: 'hq', baseUrl: 'https://xp.local', username: 'vigil-client', password: '', clientId: 'vigil-client', clientSecret: 'Client-Secret-1' },
    { type: 'hikvision', name: 'nvr', baseUrl: 'http://10.0.0.2', username: 'admin', password: 'Hik-Pass-2', deviceKind: 'nvr', rtspPortFromDevice: true },
    { type: 'axis', name: 'gate', baseUrl: 'https://10.0.0.3', username: 'root', password: 'Axis-Pass-3', rtspPort: 8554, insecureTls: true, diskId: 'NetworkShare', virtualInputPort: 2 },
  ]);
  assert.deepEqual(i.vms.map((v) => [v.id, v.type, v.syncIntervalS, v.stream, v.camera.detectFps, v.camera.decoder.threads, v.camera.motion === null]), [
    ['hq', 'milestone', 0, 'main', 3, 2, false],
    ['nvr', 'hikvision', 300, 'sub', 5, 2, true],
    ['gate', 'axis', 300, 'main', 5, 2, false],
  ]);
  assert.deepEqual(i.vms[0]!.recording, {
    policy: { mode: 'event', maxAgeS: 48 * 3600, preRollS: 5, postRollS: 10 },
    format: 'mp4',
    segmentSeconds: 4,
    directory: join(dir, 'data', 'recordings'),
  });
  assert.equal(i.vms[1]!.recording, null);
  assert.deepEqual(i.vms[1]!.rtsp, { transport: 'udp', latencyMs: 100, codec: 'h264', connectTimeoutMs: 5000 });
  assert.deepEqual(
    i.queues.map((q) => [q.name, q.type, q.format, q.publish]),
    [
      ['redis', 'redis', 'flatbuffers', ['detections', 'alerts']],
      ['mqtt', 'mqtt', 'json', ['detections', 'tracks', 'alerts', 'camera_status']],
      ['rabbit', 'amqp', 'json', ['detections', 'tracks', 'alerts', 'camera_status']],
      ['kafka', 'kafka', 'json', ['detections', 'tracks', 'alerts', 'camera_status']],
    ],
  );
  assert.deepEqual(i.queues.map((q) => q.sink), [
    { type: 'redis', name: 'redis', capacity: 500, url: 'redis://127.0.0.1:6379/2' },
    { type: 'mqtt', name: 'mqtt', url: 'mqtt://127.0.0.1:1883', username: 'vigil', password: 'Mqtt-Pass-4', topicPrefix: 'site1/vigil', qos: 0 },
    { type: 'amqp', name: 'rabbit', backoff: { initialMs: 200, maxMs: 5000 }, exchange: 'events' },
    { type: 'kafka', name: 'kafka', brokers: ['10.0.0.9:9092', '[::1]:9093'], sasl: { mechanism: 'plain', username: 'u', password: 'Kafka-Pass-5' } },
  ]);
  // Local folder store by default, links under the public URL, valid 7 days.
  assert.deepEqual(i.storage, { type: 'local', directory: join(dir, 'data', 'media'), baseUrl: 'https://vigil.example.com/media', linkTtlS: 604800 });
});

test('no section: nothing configured, media in <dataDir>/media under /media', () => {
  assert.deepEqual(parseConfig(base, dir).integrations, {
    vms: [],
    queues: [],
    storage: { type: 'local', directory: join(dir, 'data', 'media'), baseUrl: '/media', linkTtlS: 604800 },
  });
});

test('S3 storage parses; credentials kept apart', () => {
  const c = parseConfig(
    {
      ...base,
      integrations: {
        storage: { type: 's3', bucket: 'vigil-media', prefix: 'site1/', region: 'eu-west-3', endpoint: 'http://127.0.0.1:9000', credentials: { accessKeyId: 'AKID', secretAccessKey: 'S3-Secret-6' }, linkTtlS: 3600 },
      },
    },
    dir,
  );
  assert.deepEqual(c.integrations.storage, {
    type: 's3',
    bucket: 'vigil-media',
    prefix: 'site1/',
    region: 'eu-west-3',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: null,
    publicBaseUrl: null,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'S3-Secret-6', sessionToken: null },
    linkTtlS: 3600,
  });
});

const vms = { id: 'hq', type: 'hikvision', url: 'http://10.0.0.2', username: 'admin', password: 'S3cret-pw' };
const cases: Array<[string, unknown, string]> = [
  ["top", { integrations: [] }, "Expected a mapping for integrations but received an array of length 0"],
  ["unknown top", { integrations: { vmss: [] } }, "Unknown key integrations.vmss (did you mean vms?)"],
  ["vms list", { integrations: { vms: {} } }, "Expected a list for integrations.vms but received an object of type Object"],
  ["vms id", { integrations: { vms: [{ ...vms, id: 'a.b' }] } }, "Expected an id of 1-24 letters, digits, \"_\" or \"-\" (starting with a letter or digit) for integrations.vms[0].id but received \"a.b\""],
  ["vms type", { integrations: { vms: [{ ...vms, type: 'genetec' }] } }, "Expected one of \"milestone\", \"hikvision\", \"axis\", \"dahua\" for integrations.vms[0].type but received \"genetec\""],
  ["vms url", { integrations: { vms: [{ ...vms, url: 'ftp://x' }] } }, "Expected an http(s) URL for integrations.vms[0].url but received \"ftp:\""],
  ["vms url creds", { integrations: { vms: [{ ...vms, url: 'http://admin:S3cret-pw@x' }] } }, "Expected a URL without user:password for integrations.vms[0].url (put credentials in username/password)"],
  ["vms password", { integrations: { vms: [{ ...vms, password: 42 }] } }, "Expected a string for integrations.vms[0].password but received 42"],
  ["vms ms password", { integrations: { vms: [{ ...vms, type: 'milestone', password: undefined }] } }, "Expected a string (or clientId and secret) for integrations.vms[0].password but received undefined"],
  ["vms ms secret no client", { integrations: { vms: [{ ...vms, type: 'milestone', password: undefined, secret: 'abc-def' }] } }, "Expected a clientId for integrations.vms[0].clientId with integrations.vms[0].secret but received undefined"],
  ["vms unknown key", { integrations: { vms: [{ ...vms, pasword: 'x' }] } }, "Unknown key integrations.vms[0].pasword (did you mean password?)"],
  ["vms type key", { integrations: { vms: [{ ...vms, diskId: 'SD' }] } }, "Unknown key integrations.vms[0].diskId (known keys: id, type, url, username, password, syncIntervalS, stream, detectFps, record, camera, rtsp, rtspHost, rtspPort, timeoutMs, maxResponseBytes, insecureTls, deviceKind)"],
  ["vms stream", { integrations: { vms: [{ ...vms, stream: 'third' }] } }, "Expected one of \"main\", \"sub\" for integrations.vms[0].stream but received \"third\""],
  ["vms interval", { integrations: { vms: [{ ...vms, syncIntervalS: 5 }] } }, "Expected 0 (on demand only) or from 10 to 604800 for integrations.vms[0].syncIntervalS but received 5"],
  ["vms detectFps", { integrations: { vms: [{ ...vms, detectFps: 500 }] } }, "Expected an integer from 0 to 240 for integrations.vms[0].detectFps but received 500"],
  ["vms record", { integrations: { vms: [{ ...vms, record: { mode: 'always' } }] } }, "Expected \"off\", \"continuous\" or \"event\" for integrations.vms[0].record.mode but received \"always\""],
  ["vms rtsp", { integrations: { vms: [{ ...vms, rtsp: { transport: 'sctp' } }] } }, "Expected \"tcp\", \"udp\" or \"auto\" for integrations.vms[0].rtsp.transport but received \"sctp\""],
  ["vms rtspPort", { integrations: { vms: [{ ...vms, rtspPort: 70000 }] } }, "Expected an integer from 1 to 65535 for integrations.vms[0].rtspPort but received 70000"],
  ["vms deviceKind", { integrations: { vms: [{ ...vms, deviceKind: 'dvr' }] } }, "Expected one of \"nvr\", \"camera\" for integrations.vms[0].deviceKind but received \"dvr\""],
  ["vms eventTypeId", { integrations: { vms: [{ ...vms, type: 'milestone', eventTypeId: 'nope' }] } }, "Expected an event type GUID for integrations.vms[0].eventTypeId but received \"nope\""],
  ["vms dup", { integrations: { vms: [vms, vms] } }, "VMS source id hq is used twice (integrations.vms[1].id)"],
  ["vms camera", { integrations: { vms: [{ ...vms, camera: { queueSize: 0 } }] } }, "Expected an integer from 1 to 1024 for integrations.vms[0].camera.queueSize but received 0"],
  ["vms camera defaults", { cameraDefaults: { poolSize: 999 }, integrations: { vms: [vms] } }, "Expected an integer from 1 to 256 for cameras[0].poolSize but received 999"],
  ["q type", { integrations: { queues: [{ name: 'q', type: 'nats' }] } }, "Expected one of \"redis\", \"amqp\", \"mqtt\", \"kafka\" for integrations.queues[0].type but received \"nats\""],
  ["q name", { integrations: { queues: [{ name: '', type: 'redis' }] } }, "Expected an id of 1-64 letters, digits, \"_\", \".\" or \"-\" (starting with a letter or digit) for integrations.queues[0].name but received \"\""],
  ["q format", { integrations: { queues: [{ name: 'q', type: 'redis', format: 'protobuf' }] } }, "Expected one of \"json\", \"flatbuffers\" for integrations.queues[0].format but received \"protobuf\""],
  ["q publish", { integrations: { queues: [{ name: 'q', type: 'redis', publish: ['detections', 'frames'] }] } }, "Expected one of \"detections\", \"tracks\", \"alerts\", \"camera_status\" for integrations.queues[0].publish[1] but received \"frames\""],
  ["q publish empty", { integrations: { queues: [{ name: 'q', type: 'redis', publish: [] }] } }, "Expected a non-empty list of detections, tracks, alerts, camera_status for integrations.queues[0].publish but received an array of length 0"],
  ["q redis url", { integrations: { queues: [{ name: 'q', type: 'redis', url: 'http://x' }] } }, "Expected a redis:// or rediss:// URL for integrations.queues[0].url but received \"http:\""],
  ["q mqtt url creds", { integrations: { queues: [{ name: 'q', type: 'mqtt', url: 'mqtt://u:p@x' }] } }, "Expected a URL without user:password for integrations.queues[0].url (put credentials in username/password)"],
  ["q mqtt qos", { integrations: { queues: [{ name: 'q', type: 'mqtt', qos: 3 }] } }, "Expected an integer from 0 to 2 for integrations.queues[0].qos but received 3"],
  ["q mqtt password", { integrations: { queues: [{ name: 'q', type: 'mqtt', password: 5 }] } }, "Expected a string for integrations.queues[0].password but received (hidden)"],
  ["q amqp key", { integrations: { queues: [{ name: 'q', type: 'amqp', topicPrefix: 'x' }] } }, "Unknown key integrations.queues[0].topicPrefix (known keys: name, type, format, publish, capacity, batchSize, ackTimeoutMs, backoff, url, exchange, durable, connectTimeoutMs, heartbeatS)"],
  ["q kafka brokers", { integrations: { queues: [{ name: 'q', type: 'kafka' }] } }, "Expected a non-empty list of \"host:port\" for integrations.queues[0].brokers but received undefined"],
  ["q kafka broker", { integrations: { queues: [{ name: 'q', type: 'kafka', brokers: ['kafka'] }] } }, "Expected \"host:port\" for integrations.queues[0].brokers[0] but received \"kafka\""],
  ["q kafka sasl", { integrations: { queues: [{ name: 'q', type: 'kafka', brokers: ['k:9092'], sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }] } }, "Expected one of \"plain\", \"scram-sha-256\", \"scram-sha-512\" for integrations.queues[0].sasl.mechanism but received \"gssapi\""],
  ["q capacity", { integrations: { queues: [{ name: 'q', type: 'redis', capacity: 0 }] } }, "Expected an integer from 1 to 10000000 for integrations.queues[0].capacity but received 0"],
  ["q backoff", { integrations: { queues: [{ name: 'q', type: 'redis', backoff: { initialMs: 1000, maxMs: 100 } }] } }, "Expected at least initialMs (1000) for integrations.queues[0].backoff.maxMs but received 100"],
  ["q dup", { integrations: { queues: [{ name: 'q', type: 'redis' }, { name: 'q', type: 'mqtt' }] } }, "Queue name q is used twice (integrations.queues[1].name)"],
  ["st type", { integrations: { storage: { type: 'gcs' } } }, "Expected one of \"local\", \"s3\" for integrations.storage.type but received \"gcs\""],
  ["st baseUrl", { integrations: { storage: { type: 'local', baseUrl: '/files' } } }, "Expected the path \"/media\" or an http(s) URL ending in /media (how clients reach this server) for integrations.storage.baseUrl but received \"/files\""],
  ["st ttl", { integrations: { storage: { linkTtlS: 700000 } } }, "Expected an integer from 60 to 604800 for integrations.storage.linkTtlS but received 700000"],
  ["st s3 bucket", { integrations: { storage: { type: 's3', bucket: 'B', region: 'eu-west-3', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } } }, "Expected an S3 bucket name for integrations.storage.bucket but received \"B\""],
  ["st s3 creds", { integrations: { storage: { type: 's3', bucket: 'media', region: 'eu-west-3', credentials: { accessKeyId: 'a' } } } }, "Expected a non-empty string for integrations.storage.credentials.secretAccessKey but received (hidden)"],
  ["st s3 endpoint", { integrations: { storage: { type: 's3', bucket: 'media', region: 'eu-west-3', endpoint: 'minio:9000', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } } }, "Expected an http(s) URL for integrations.storage.endpoint but received \"minio:\""],
];

for (const [name, raw, message] of cases) {
  test(`refused with its path: ${name}`, () => {
    assert.throws(() => parseConfig({ ...base, ...(raw as object) }, dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_CONFIG');
      assert.equal(err.message, message);
      for (const secret of ['S3cret-pw', 'abc-def']) assert.ok(!err.message.includes(secret));
      return true;
    });
  });
}
