/**
 * Frigate-compatible MQTT and Home Assistant discovery on the REAL Mosquitto (127.0.0.1:1883 when it runs there,
 * otherwise one this test starts from /usr/sbin/mosquitto on a free loopback port), driven by the composed server
 * on the vtest clip (native decode, NanoDet, tracker, snapshots, recorder). Topic prefixes are unique per run and
 * the retained topics are cleared at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseConfig } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { modelPath } from '../../src/inference/models.js';
import { media } from '../helpers/media.js';
import { sleep, until } from '../helpers/wait.js';

const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const PREFIX = `vigil-test-${RUN}`;
const DISCOVERY = `ha-test-${RUN}`;
const MOSQUITTO = '/usr/sbin/mosquitto';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The broker on 127.0.0.1:1883, or one started here on a free port; fails clearly when neither is possible. */
async function broker(dir: string): Promise<{ port: number; child: ChildProcess | null }> {
  if (await canConnect(1883)) return { port: 1883, child: null };
  assert.ok(existsSync(MOSQUITTO), `Mosquitto is not running on 127.0.0.1:1883 and ${MOSQUITTO} is missing: run bash scripts/setup.sh`);
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  await until(() => canConnect(port), 10_000, `mosquitto on port ${port}`);
  return { port, child };
}

interface Msg {
  topic: string;
  payload: Buffer;
  at: number;
}

test('Frigate-style MQTT: events, counts, snapshots, stats, set commands and Home Assistant discovery on Mosquitto', async () => {
  assert.ok(existsSync(modelPath('nanodet')), `${modelPath('nanodet')} is missing: run bash scripts/setup.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-frigate-'));
  const { port, child } = await broker(dir);
  const url = `mqtt://127.0.0.1:${port}`;
  const messages: Msg[] = [];
  const sub = await mqtt.connectAsync(url, { clientId: `frigate-test-sub-${RUN}`, reconnectPeriod: 0 });
  sub.on('message', (topic, payload) => messages.push({ topic, payload: Buffer.from(payload), at: Date.now() }));
  await sub.subscribeAsync([`${PREFIX}/#`, `${DISCOVERY}/#`], { qos: 1 });
  const last = (topic: string): Msg | undefined => {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.topic === topic) return messages[i];
    return undefined;
  };
  const text = (topic: string): string | undefined => last(topic)?.payload.toString('utf8');
  const events = () =>
    messages.filter((m) => m.topic === `${PREFIX}/events`).map((m) => JSON.parse(m.payload.toString('utf8')) as { type: string; before: Record<string, unknown>; after: Record<string, unknown> });

  let adminPassword = '';
  const config = parseConfig({
    dataDir: dir,
    server: { host: '127.0.0.1', port: 0 },
    search: false,
    recording: { minFreeGb: 0 },
    cameras: [{ id: 'sample', name: 'Sample', location: 'Lab', source: { kind: 'file', path: media('vtest-h264.mp4'), loop: true }, detectFps: 5, record: { mode: 'continuous', segmentSeconds: 2 } }],
    frigate: { url, topicPrefix: PREFIX, statsIntervalS: 1, discovery: { prefix: DISCOVERY }, reconnectMs: 200 },
  });
  config.auth = { announceInitialAdmin: (_u: string, pw: string) => (adminPassword = pw) };
  const server = await createServer(config, { log: silentLogger });
  let stopped = false;
  try {
    const base = `http://127.0.0.1:${server.http!.port}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
    const token = ((await login.json()) as { access_token: string }).access_token;
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

    // Availability, switch states and counts (retained), Home Assistant discovery.
    await until(() => text(`${PREFIX}/available`) === 'online', 15_000, 'availability online');
    await until(() => messages.some((m) => m.topic === `${DISCOVERY}/sensor/vigil/sample_camera_fps/config`), 15_000, 'discovery of sample');
    for (const f of ['detect', 'recordings', 'snapshots']) assert.equal(text(`${PREFIX}/sample/${f}/state`), 'ON', f);
    assert.equal(messages.find((m) => m.topic === `${PREFIX}/sample/all`)?.payload.toString(), '0');
    const discovery = messages.filter((m) => m.topic.startsWith(`${DISCOVERY}/`) && m.topic.includes('/sample_')).map((m) => m.topic.slice(DISCOVERY.length + 1)).sort();
    assert.deepEqual(discovery, [
      'binary_sensor/vigil/sample_car_occupancy/config',
      'binary_sensor/vigil/sample_person_occupancy/config',
      'camera/vigil/sample_car/config',
      'camera/vigil/sample_person/config',
      'sensor/vigil/sample_all_count/config',
      'sensor/vigil/sample_camera_fps/config',
      'sensor/vigil/sample_car_count/config',
      'sensor/vigil/sample_person_count/config',
      'switch/vigil/sample_detect/config',
      'switch/vigil/sample_recordings/config',
      'switch/vigil/sample_snapshots/config',
    ]);
    const device = { identifiers: ['vigil_sample'], name: 'Sample', manufacturer: 'Vigil', model: 'Camera', sw_version: process.env.npm_package_version ?? '0.1.0', suggested_area: 'Lab' };
    const availability = { availability_topic: `${PREFIX}/available`, payload_available: 'online', payload_not_available: 'offline' };
    assert.deepEqual(JSON.parse(text(`${DISCOVERY}/switch/vigil/sample_detect/config`)!), {
      name: 'Detect', object_id: 'sample_detect', unique_id: 'vigil_sample_detect', ...availability, device,
      command_topic: `${PREFIX}/sample/detect/set`, state_topic: `${PREFIX}/sample/detect/state`, payload_on: 'ON', payload_off: 'OFF', icon: 'mdi:motion-sensor',
    });
    assert.deepEqual(JSON.parse(text(`${DISCOVERY}/binary_sensor/vigil/sample_person_occupancy/config`)!), {
      name: 'Person occupancy', object_id: 'sample_person_occupancy', unique_id: 'vigil_sample_person_occupancy', ...availability, device,
      state_topic: `${PREFIX}/sample/person`, value_template: "{{ 'ON' if value | int > 0 else 'OFF' }}", device_class: 'occupancy',
    });
    assert.deepEqual(JSON.parse(text(`${DISCOVERY}/camera/vigil/sample_person/config`)!), {
      name: 'Person snapshot', object_id: 'sample_person', unique_id: 'vigil_sample_person', ...availability, device, topic: `${PREFIX}/sample/person/snapshot`,
    });

    // Tracked objects: new -> update -> end in Frigate's shape, counts follow, the best crop as a snapshot.
    await until(() => events().some((e) => e.type === 'end' && e.after.label === 'person'), 45_000, 'a person track to end');
    const ended = events().find((e) => e.type === 'end' && e.after.label === 'person')!;
    const id = ended.after.id as string;
    const born = events().find((e) => e.type === 'new' && e.after.id === id)!;
    assert.deepEqual(born.before, born.after);
    assert.deepEqual(Object.keys(ended.after).sort(), [
      'area', 'attributes', 'box', 'camera', 'current_attributes', 'current_zones', 'end_time', 'entered_zones', 'false_positive', 'frame_time', 'has_clip',
      'has_snapshot', 'id', 'label', 'motionless_count', 'position_changes', 'ratio', 'region', 'score', 'snapshot_time', 'start_time', 'stationary', 'sub_label', 'top_score',
    ]);
    const a = ended.after as { camera: string; start_time: number; end_time: number; box: number[]; area: number; top_score: number; score: number; has_snapshot: boolean };
    assert.equal(a.camera, 'sample');
    assert.equal(born.after.end_time, null);
    assert.ok(a.end_time >= a.start_time && a.start_time > 1.7e9, `times ${a.start_time} .. ${a.end_time}`);
    assert.equal(a.area, (a.box[2]! - a.box[0]!) * (a.box[3]! - a.box[1]!));
    assert.ok(a.top_score >= a.score && a.top_score <= 1);
    assert.equal(a.has_snapshot, true);
    assert.match(id, /^\d{10}\.\d{6}-sample-\d+$/);
    const updates = events().filter((e) => e.type === 'update');
    assert.ok(updates.length > 0, 'update events');
    for (const u of updates) assert.ok((u.after.top_score as number) > (u.before.top_score as number), 'an update raises top_score');
    const counts = messages.filter((m) => m.topic === `${PREFIX}/sample/person`).map((m) => Number(m.payload.toString()));
    assert.ok(Math.max(...counts) >= 1, `person counts ${counts.join(',')}`);
    await until(() => last(`${PREFIX}/sample/person/snapshot`) !== undefined, 10_000, 'a person snapshot');
    assert.deepEqual([...last(`${PREFIX}/sample/person/snapshot`)!.payload.subarray(0, 3)], [0xff, 0xd8, 0xff]);

    // Stats.
    await until(() => {
      const s = text(`${PREFIX}/stats`);
      return s !== undefined && (JSON.parse(s) as { sample: { camera_fps: number } }).sample.camera_fps > 0;
    }, 10_000, 'stats with camera fps');
    const stats = JSON.parse(text(`${PREFIX}/stats`)!) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(stats).sort(), ['detection_fps', 'detectors', 'sample', 'service']);
    assert.deepEqual(Object.keys(stats.sample!).sort(), ['camera_fps', 'capture_pid', 'detection_enabled', 'detection_fps', 'pid', 'process_fps', 'skipped_fps']);
    assert.deepEqual(Object.keys(stats.detectors!), ['nanodet-int8']);
    assert.equal(stats.sample!.detection_enabled, true);

    // Commands: detection off stops analysis of the camera; on again resumes it.
    const stateAfter = async (topic: string, value: string, since: number) =>
      until(() => messages.some((m) => m.topic === topic && m.at >= since && m.payload.toString() === value), 10_000, `${topic} ${value}`);
    let t0 = Date.now();
    await sub.publishAsync(`${PREFIX}/sample/detect/set`, 'OFF', { qos: 1 });
    await stateAfter(`${PREFIX}/sample/detect/state`, 'OFF', t0);
    assert.equal(server.cameras.get('sample')!.detection, false);
    await sleep(500); // frames already queued at the switch finish
    const frozen = server.stats().framesAnalysed;
    await sleep(1500);
    assert.equal(server.stats().framesAnalysed, frozen);
    const cam = (await (await api('GET', '/cameras/sample')).json()) as { detection: boolean };
    assert.equal(cam.detection, false);
    t0 = Date.now();
    await sub.publishAsync(`${PREFIX}/sample/detect/set`, 'ON', { qos: 1 });
    await stateAfter(`${PREFIX}/sample/detect/state`, 'ON', t0);
    await until(() => server.stats().framesAnalysed > frozen + 3, 15_000, 'analysis to resume');

    // Recording off: the continuous policy is replaced by one that keeps nothing; on again restores it.
    t0 = Date.now();
    await sub.publishAsync(`${PREFIX}/sample/recordings/set`, 'OFF', { qos: 1 });
    await stateAfter(`${PREFIX}/sample/recordings/state`, 'OFF', t0);
    assert.deepEqual(server.recorder!.policy('sample'), { mode: 'event', maxAgeS: 168 * 3600, preRollS: 0, postRollS: 0 });
    t0 = Date.now();
    await sub.publishAsync(`${PREFIX}/sample/recordings/set`, 'ON', { qos: 1 });
    await stateAfter(`${PREFIX}/sample/recordings/state`, 'ON', t0);
    assert.deepEqual(server.recorder!.policy('sample'), { mode: 'continuous', maxAgeS: 168 * 3600, preRollS: 5, postRollS: 10 });

    // Snapshots off; bad commands are counted, never applied.
    t0 = Date.now();
    await sub.publishAsync(`${PREFIX}/sample/snapshots/set`, 'off', { qos: 1 });
    await stateAfter(`${PREFIX}/sample/snapshots/state`, 'OFF', t0);
    await sub.publishAsync(`${PREFIX}/nope/detect/set`, 'OFF', { qos: 1 });
    await sub.publishAsync(`${PREFIX}/sample/detect/set`, 'MAYBE', { qos: 1 });
    await until(async () => /^vigil_frigate_bad_commands_total 2$/m.test(await (await api('GET', '/metrics')).text()), 10_000, 'two bad commands counted');
    assert.equal(server.cameras.get('sample')!.detection, true);
    assert.match(await (await api('GET', '/metrics')).text(), /^vigil_frigate_commands_total 5$/m);

    // A camera added over the API is announced; removed, its discovery is withdrawn (empty retained configs).
    assert.equal((await api('POST', '/cameras', { id: 'door', source: { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 5 } })).status, 201);
    await until(() => text(`${DISCOVERY}/switch/vigil/door_detect/config`)?.startsWith('{') === true, 10_000, 'door discovery');
    assert.equal((await api('DELETE', '/cameras/door')).status, 204);
    await until(() => text(`${DISCOVERY}/switch/vigil/door_detect/config`) === '', 10_000, 'door discovery withdrawn');
    const doorConfigs = new Set(messages.filter((m) => m.topic.includes('/door_')).map((m) => m.topic));
    assert.equal(doorConfigs.size, 11);
    for (const t of doorConfigs) assert.equal(text(t), '', `${t} withdrawn`);

    // A clean stop says offline (retained).
    await server.stop();
    stopped = true;
    await until(() => text(`${PREFIX}/available`) === 'offline', 10_000, 'availability offline');
  } finally {
    if (!stopped) await server.stop();
    // Clear what this run left retained on the broker.
    for (const topic of new Set(messages.map((m) => m.topic))) await sub.publishAsync(topic, '', { qos: 1, retain: true });
    await sub.endAsync();
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
