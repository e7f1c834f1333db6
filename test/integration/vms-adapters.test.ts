/**
 * VMS adapters against simulated servers (test/integration/vms-simulators.ts): Milestone, Hikvision, Axis and
 * Dahua cannot run here, so node:http servers on 127.0.0.1 answer each vendor's documented API with real-shaped
 * bodies and verify HTTP Digest (RFC 7616) independently of the client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AxisAdapter } from '../../src/integrations/vms/axis.js';
import { DahuaAdapter } from '../../src/integrations/vms/dahua.js';
import { createVmsAdapter } from '../../src/integrations/vms/factory.js';
import { HikvisionAdapter } from '../../src/integrations/vms/hikvision.js';
import { MilestoneAdapter } from '../../src/integrations/vms/milestone.js';
import { VmsError } from '../../src/integrations/vms/types.js';
import { AxisSim, DahuaSim, HikvisionSim, MilestoneSim } from './vms-simulators.js';

const PASSWORD = 'p@ss:w0rd/"x"';

function guid(i: number): string {
  return `0b5bd5f5-1b4c-4a3e-9c3b-${String(i).padStart(12, '0')}`;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: string | RegExp): Promise<VmsError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof VmsError, `expected a VmsError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  assert.ok(!caught.message.includes(PASSWORD), 'the password must not appear in errors');
  return caught;
}

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<InputProxyChannelList><InputProxyChannel><id>1</id><name>&lol9;</name></InputProxyChannel></InputProxyChannelList>`;

describe('Milestone XProtect (simulated API Gateway)', () => {
  const sim = new MilestoneSim('vigil', PASSWORD);
  let a: MilestoneAdapter;
  before(async () => {
    await sim.start();
    sim.cameras = Array.from({ length: 7 }, (_, i) => ({
      id: guid(i),
      name: `AXIS M3106 (10.0.0.${i}) - Camera 1`,
      displayName: `Entrance ${i}`,
      enabled: i !== 3,
    }));
    a = new MilestoneAdapter({
      type: 'milestone',
      name: 'hq',
      baseUrl: sim.url,
      username: 'vigil',
      password: PASSWORD,
      pageSize: 3,
      rtspHost: 'vms.local',
      eventTypeId: '11111111-2222-3333-4444-555555555555',
    });
  });
  after(async () => {
    a.close();
    await sim.stop();
  });

  test('logs in at the IDP and pages through the camera list', async () => {
    const cams = await a.listCameras();
    assert.equal(cams.length, 7);
    assert.equal(sim.tokenRequests, 1);
    assert.deepEqual(
      sim.log.filter((l) => l.startsWith('GET /api/rest/v1/cameras?')),
      ['GET /api/rest/v1/cameras?page=0&size=3', 'GET /api/rest/v1/cameras?page=1&size=3', 'GET /api/rest/v1/cameras?page=2&size=3'],
    );
    assert.deepEqual(cams[3], {
      vmsCameraId: guid(3),
      name: 'Entrance 3',
      enabled: false,
      model: null,
      streams: { main: `rtsp://vms.local:554/live/${guid(3)}?stream=0`, sub: `rtsp://vms.local:554/live/${guid(3)}?stream=1` },
    });
    // Token reused on the next call
    await a.listCameras();
    assert.equal(sim.tokenRequests, 1);
  });

  test('a revoked token is renewed once, transparently', async () => {
    sim.revokeTokens();
    const s = await a.getStreamUrls(guid(1));
    assert.equal(s.main, `rtsp://vms.local:554/live/${guid(1)}?stream=0`);
    assert.equal(sim.tokenRequests, 2);
  });

  test('bookmark over the recording window and analytics event', async () => {
    const r = await a.triggerRecording(guid(2), 30, 'person in zone A');
    assert.equal(r.kind, 'bookmark');
    assert.match(r.id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(Date.parse(r.endsAt) - Date.parse(r.startedAt), 30_000);
    const b = sim.bookmarks.at(-1)!;
    assert.equal(b.deviceId, guid(2));
    assert.equal(b.header, 'person in zone A');
    assert.equal(b.timeBegin, r.startedAt);
    assert.equal(b.timeEnd, r.endsAt);
    await a.pushEvent(guid(2), { label: 'person', message: 'person in zone A', time: '2026-11-27T20:00:00.000Z' });
    assert.deepEqual(sim.events.at(-1), {
      type: '11111111-2222-3333-4444-555555555555',
      source: `cameras/${guid(2)}`,
      time: '2026-11-27T20:00:00.000Z',
    });
    await rejectsWith(a.triggerRecording(guid(99), 30), 'E_VMS_NOT_FOUND', `milestone source hq: no camera ${guid(99)}`);
    await assert.rejects(a.triggerRecording(guid(1), 0), { code: 'E_ARGUMENT', message: 'Expected an integer number of seconds 1-3600 for durationS but received 0' });
  });

  test('wrong password: E_VMS_AUTH without the password in the message', async () => {
    const bad = new MilestoneAdapter({ type: 'milestone', name: 'bad', baseUrl: sim.url, username: 'vigil', password: `${PASSWORD}x` });
    await rejectsWith(bad.listCameras(), 'E_VMS_AUTH', 'milestone source bad: login refused by the identity provider (HTTP 400)');
    bad.close();
  });

  test('OAuth client credentials: client_id + client_secret at the IDP; streams without credentials', async () => {
    const secret = 'Cl1ent/Secret+42';
    sim.clients.set('vigil-analytics', secret);
    const cc = new MilestoneAdapter({ type: 'milestone', name: 'cc', baseUrl: sim.url, username: 'vigil-analytics', password: '', clientId: 'vigil-analytics', clientSecret: secret });
    try {
      assert.equal((await cc.listCameras()).length, 7);
      assert.equal(cc.streamCredentials(), null);
    } finally {
      cc.close();
    }
    const wrong = new MilestoneAdapter({ type: 'milestone', name: 'cc', baseUrl: sim.url, username: 'x', password: '', clientId: 'vigil-analytics', clientSecret: `${secret}x` });
    await rejectsWith(wrong.listCameras(), 'E_VMS_AUTH', 'milestone source cc: login refused by the identity provider (HTTP 400)');
    wrong.close();
    assert.throws(() => new MilestoneAdapter({ type: 'milestone', name: 'cc', baseUrl: sim.url, username: 'x', password: '', clientSecret: secret }), {
      code: 'E_ARGUMENT',
      message: 'Expected an OAuth client id with clientSecret for vms.cc.clientId but received undefined',
    });
  });

  test('hostile and broken responses', async () => {
    sim.override = () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"array": [ {"id": ' });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', 'milestone source hq: malformed JSON in the camera list');
    sim.override = () => ({ status: 200, body: '{"cameras": []}' });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', 'milestone source hq: camera list without an "array" field');
    sim.override = () => ({ status: 503, body: 'Service Unavailable' });
    await rejectsWith(a.listCameras(), 'E_VMS_STATUS', 'milestone source hq: GET /api/rest/v1/cameras returned HTTP 503');
    sim.override = () => ({ streamBytes: 6 * 1024 * 1024 });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', /^milestone source hq: Response exceeds the 4194304-byte cap: GET 127\.0\.0\.1:\d+\/api\/rest\/v1\/cameras$/);
    // A page that never shortens (a server ignoring `size`) is cut off, not followed forever
    sim.override = (req) => ({
      status: 200,
      body: JSON.stringify({ array: [0, 1, 2].map((i) => ({ id: guid(Number(req.query.get('page')) * 3 + i), name: 'x' })) }),
    });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', 'milestone source hq: camera list exceeds 1000 pages');
    sim.override = null;
  });
});

describe('Hikvision ISAPI (simulated NVR, digest)', () => {
  const sim = new HikvisionSim('admin', PASSWORD);
  let a: HikvisionAdapter;
  before(async () => {
    await sim.start();
    sim.channels = [
      { id: '1', name: 'Lobby &amp; Stairs', ip: '192.168.254.2', model: 'DS-2CD2143G2-I' },
      { id: '2', name: 'Car park', ip: '192.168.254.3', model: 'DS-2CD2387G2-LU' },
    ];
    a = new HikvisionAdapter({ type: 'hikvision', name: 'nvr1', baseUrl: sim.url, username: 'admin', password: PASSWORD, timeoutMs: 3000 });
  });
  after(async () => {
    a.close();
    await sim.stop();
  });

  test('digest handshake, then the channel list parsed from real-shaped XML', async () => {
    const cams = await a.listCameras();
    assert.deepEqual(cams, [
      {
        vmsCameraId: '1',
        name: 'Lobby & Stairs',
        enabled: true,
        model: 'DS-2CD2143G2-I',
        streams: { main: 'rtsp://127.0.0.1:554/Streaming/Channels/101', sub: 'rtsp://127.0.0.1:554/Streaming/Channels/102' },
      },
      {
        vmsCameraId: '2',
        name: 'Car park',
        enabled: true,
        model: 'DS-2CD2387G2-LU',
        streams: { main: 'rtsp://127.0.0.1:554/Streaming/Channels/201', sub: 'rtsp://127.0.0.1:554/Streaming/Channels/202' },
      },
    ]);
    // First request unauthenticated (401 challenge), second with digest; the next call reuses the nonce (nc=2)
    assert.equal(sim.authHeaders.length, 1);
    await a.listCameras();
    assert.equal(sim.authHeaders.length, 2);
    assert.match(sim.authHeaders[0]!, /^Digest username="admin", realm="DS-7608NI-K2", uri="\/ISAPI\/ContentMgmt\/InputProxy\/channels", algorithm=MD5, .*nc=00000001, /);
    assert.match(sim.authHeaders[1]!, /nc=00000002/);
    assert.equal(sim.authFailures, 0);
  });

  test('a stale nonce is renewed without an auth failure', async () => {
    sim.expireNonces();
    const before = sim.log.length;
    assert.equal((await a.listCameras()).length, 2);
    assert.equal(sim.log.length - before, 2); // stale 401 + retry
    assert.equal(sim.authFailures, 0);
  });

  test('manual recording start, then stop after the duration', async () => {
    const r = await a.triggerRecording('2', 1);
    assert.equal(r.kind, 'recording');
    assert.equal(r.id, '201');
    assert.deepEqual(sim.recordLog, ['start 201']);
    assert.equal(a.pendingStops, 1);
    const deadline = Date.now() + 5000;
    while (sim.recordLog.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sim.recordLog, ['start 201', 'stop 201']);
    assert.equal(a.pendingStops, 0);
    assert.equal(a.lastBackgroundError, null);
  });

  test('ISAPI error status is reported with its statusString', async () => {
    await rejectsWith(
      a.triggerRecording('9', 10),
      'E_VMS_STATUS',
      'hikvision source nvr1: PUT /ISAPI/ContentMgmt/record/control/manual/start/tracks/901 returned HTTP 400: Invalid Operation (notSupport)',
    );
    await rejectsWith(a.pushEvent('1', { label: 'x', message: 'y' }), 'E_VMS_UNSUPPORTED', 'hikvision source nvr1 does not accept analytics events');
  });

  test('wrong password: E_VMS_AUTH', async () => {
    const bad = new HikvisionAdapter({ type: 'hikvision', name: 'nvr1', baseUrl: sim.url, username: 'admin', password: 'nope-nope' });
    await rejectsWith(bad.listCameras(), 'E_VMS_AUTH', /^hikvision source nvr1: Authentication refused by 127\.0\.0\.1:\d+ for GET \/ISAPI\/ContentMgmt\/InputProxy\/channels$/);
    bad.close();
  });

  test('hostile responses: billion laughs, malformed XML, oversized, declared oversized, timeout', async () => {
    sim.override = () => ({ status: 200, headers: { 'content-type': 'application/xml' }, body: BILLION_LAUGHS });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', 'Refusing XML with a document type declaration in the channel list');
    sim.override = () => ({ status: 200, body: '<InputProxyChannelList><InputProxyChannel><id>1</id></InputProxyChannelList>' });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', /^Malformed XML in the channel list: Expected closing tag 'InputProxyChannel'/);
    sim.override = () => ({ status: 200, body: '<html><body>Hello</body></html>' });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', 'hikvision source nvr1: no InputProxyChannelList in the channel list');
    sim.override = () => ({ streamBytes: 5 * 1024 * 1024 });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', /Response exceeds the 4194304-byte cap/);
    sim.override = () => ({ status: 200, headers: { 'content-length': String(50 * 1024 * 1024) }, body: '' });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', /Response of 52428800 bytes exceeds the 4194304-byte cap/);
    sim.override = () => ({ hang: true });
    await rejectsWith(a.listCameras(), 'E_VMS_TIMEOUT', /^hikvision source nvr1: Timed out after 3000 ms: GET 127\.0\.0\.1:\d+\/ISAPI\/ContentMgmt\/InputProxy\/channels$/);
    sim.override = null;
    // Still works afterwards
    assert.equal((await a.listCameras()).length, 2);
  });

  test('stream URLs per channel; unknown channel; a single camera (deviceKind "camera")', async () => {
    assert.deepEqual(await a.getStreamUrls('2'), {
      main: 'rtsp://127.0.0.1:554/Streaming/Channels/201',
      sub: 'rtsp://127.0.0.1:554/Streaming/Channels/202',
    });
    await rejectsWith(a.getStreamUrls('5'), 'E_VMS_NOT_FOUND', 'hikvision source nvr1: no channel 5');
    await assert.rejects(a.getStreamUrls('1/../x'), { code: 'E_ARGUMENT', message: 'Expected a VMS camera id for vmsCameraId but received "1/../x"' });
    const cam = new HikvisionAdapter({ type: 'hikvision', name: 'cam1', deviceKind: 'camera', baseUrl: sim.url, username: 'admin', password: PASSWORD, rtspPort: 8554 });
    try {
      assert.deepEqual(await cam.listCameras(), [
        {
          vmsCameraId: '1',
          name: 'Camera 01',
          enabled: true,
          model: 'DS-2CD2386G2-IU',
          streams: { main: 'rtsp://127.0.0.1:8554/Streaming/Channels/101', sub: 'rtsp://127.0.0.1:8554/Streaming/Channels/102' },
        },
      ]);
    } finally {
      cam.close();
    }
  });

  test('RTSP port read from the device (ISAPI adminAccesses) when rtspPortFromDevice', async () => {
    const dev = new HikvisionAdapter({ type: 'hikvision', name: 'nvr3', baseUrl: sim.url, username: 'admin', password: PASSWORD, rtspPortFromDevice: true });
    try {
      sim.rtspPort = 10554;
      assert.deepEqual((await dev.listCameras()).map((c) => c.streams.main), [
        'rtsp://127.0.0.1:10554/Streaming/Channels/101',
        'rtsp://127.0.0.1:10554/Streaming/Channels/201',
      ]);
      sim.rtspPort = 20554;
      assert.deepEqual(await dev.getStreamUrls('2'), {
        main: 'rtsp://127.0.0.1:20554/Streaming/Channels/201',
        sub: 'rtsp://127.0.0.1:20554/Streaming/Channels/202',
      });
      sim.override = (req) =>
        req.path === '/ISAPI/Security/adminAccesses'
          ? { status: 200, body: '<AdminAccessProtocolList><AdminAccessProtocol><protocol>RTSP</protocol><enabled>false</enabled><portNo>554</portNo></AdminAccessProtocol></AdminAccessProtocolList>' }
          : { status: 200, body: sim.channelListXml() };
      await rejectsWith(dev.listCameras(), 'E_VMS_RESPONSE', 'hikvision source nvr3: no enabled RTSP port in the admin access list');
    } finally {
      sim.override = null;
      sim.rtspPort = 554;
      dev.close();
    }
  });

  test('SHA-256 is chosen when the device offers it', async () => {
    const s2 = new HikvisionSim('admin', PASSWORD, ['MD5', 'SHA-256']);
    await s2.start();
    s2.channels = [{ id: '3', name: 'Dock', ip: '10.1.1.1', model: 'DS-2CD' }];
    const a2 = new HikvisionAdapter({ type: 'hikvision', name: 'nvr2', baseUrl: s2.url, username: 'admin', password: PASSWORD });
    try {
      assert.equal((await a2.listCameras())[0]!.name, 'Dock');
      assert.match(s2.authHeaders[0]!, /algorithm=SHA-256/);
    } finally {
      a2.close();
      await s2.stop();
    }
  });
});

describe('Axis VAPIX (simulated camera, digest SHA-256)', () => {
  const sim = new AxisSim('root', PASSWORD);
  let a: AxisAdapter;
  before(async () => {
    await sim.start();
    a = new AxisAdapter({ type: 'axis', name: 'axis-gate', baseUrl: sim.url, username: 'root', password: PASSWORD, rtspHost: '10.0.0.9' });
  });
  after(async () => {
    a.close();
    await sim.stop();
  });

  test('cameras from param.cgi, one per image source', async () => {
    assert.deepEqual(await a.listCameras(), [
      {
        vmsCameraId: '1',
        name: 'AXIS P1448-LE',
        enabled: true,
        model: 'AXIS P1448-LE',
        streams: {
          main: 'rtsp://10.0.0.9:554/axis-media/media.amp?camera=1',
          sub: 'rtsp://10.0.0.9:554/axis-media/media.amp?camera=1&resolution=640x360',
        },
      },
    ]);
    assert.match(sim.authHeaders[0]!, /algorithm=SHA-256/);
    sim.sources = ['Sensor A', 'Sensor B', 'Sensor C'];
    sim.product = 'AXIS P3719-PLE';
    const cams = await a.listCameras();
    assert.deepEqual(cams.map((c) => [c.vmsCameraId, c.name]), [
      ['1', 'AXIS P3719-PLE - Sensor A'],
      ['2', 'AXIS P3719-PLE - Sensor B'],
      ['3', 'AXIS P3719-PLE - Sensor C'],
    ]);
  });

  test('stream URLs per image source; unknown camera', async () => {
    assert.deepEqual(await a.getStreamUrls('3'), {
      main: 'rtsp://10.0.0.9:554/axis-media/media.amp?camera=3',
      sub: 'rtsp://10.0.0.9:554/axis-media/media.amp?camera=3&resolution=640x360',
    });
    await rejectsWith(a.getStreamUrls('4'), 'E_VMS_NOT_FOUND', 'axis source axis-gate: no camera 4');
  });

  test('edge recording with record.cgi, stopped with stop.cgi; errors reported', async () => {
    const r = await a.triggerRecording('2', 1);
    assert.equal(r.id, '20261127_000000_1A2B_ACCC8E000001');
    assert.ok(sim.log.some((l) => l === '/axis-cgi/record/record.cgi?diskid=SD_DISK&options=camera%3D2' || l === 'GET /axis-cgi/record/record.cgi?diskid=SD_DISK&options=camera%3D2'));
    const deadline = Date.now() + 5000;
    while (sim.recordings.get(r.id!) !== false && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.equal(sim.recordings.get(r.id!), false);
    sim.diskPresent = false;
    await rejectsWith(a.triggerRecording('1', 5), 'E_VMS_STATUS', 'axis source axis-gate: record.cgi failed: Disk not available');
    sim.diskPresent = true;
  });

  test('analytics event as a virtual input pulse', async () => {
    await a.pushEvent('1', { label: 'person', message: 'x' });
    assert.deepEqual(sim.virtualInputs, ['activate 1']);
    const deadline = Date.now() + 5000;
    while (sim.virtualInputs.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(sim.virtualInputs, ['activate 1', 'deactivate 1']);
    const a9 = new AxisAdapter({ type: 'axis', name: 'axis9', baseUrl: sim.url, username: 'root', password: PASSWORD, virtualInputPort: 9 });
    await rejectsWith(a9.pushEvent('1', { label: 'p', message: 'x' }), 'E_VMS_STATUS', 'axis source axis9: virtual input 9 not activated: Invalid port');
    a9.close();
  });

  test('a camera set to Basic authentication gets Basic (auto mode)', async () => {
    const basic = new AxisSim('root', PASSWORD);
    basic.digest = null;
    const expectedHeader = `Basic ${Buffer.from(`root:${PASSWORD}`).toString('base64')}`;
    basic.override = (req) =>
      req.headers.authorization === expectedHeader
        ? { status: 200, body: 'root.Brand.ProdShortName=AXIS M1065-L\n' }
        : { status: 401, headers: { 'www-authenticate': 'Basic realm="AXIS_ACCC8E000002"' }, body: '' };
    await basic.start();
    const b = new AxisAdapter({ type: 'axis', name: 'axis-basic', baseUrl: basic.url, username: 'root', password: PASSWORD });
    try {
      assert.equal((await b.listCameras())[0]!.name, 'AXIS M1065-L');
      assert.deepEqual(basic.authHeaders, [expectedHeader]);
    } finally {
      b.close();
      await basic.stop();
    }
  });

  test('VAPIX error lines and malformed XML', async () => {
    sim.override = () => ({ status: 200, body: "# Error: Error -1 getting param in group 'root.Brand'\n" });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', "VAPIX error in the parameter list: # Error: Error -1 getting param in group 'root.Brand'");
    sim.override = () => ({ status: 200, body: '<root><record result="OK" recordingid="x"></root>' });
    await rejectsWith(a.triggerRecording('1', 5), 'E_VMS_RESPONSE', /^Malformed XML in the record\.cgi response/);
    sim.override = null;
  });
});

describe('Dahua HTTP CGI (simulated NVR, digest MD5)', () => {
  const sim = new DahuaSim('admin', PASSWORD);
  let a: DahuaAdapter;
  before(async () => {
    await sim.start();
    a = createVmsAdapter({ type: 'dahua', name: 'dh', baseUrl: sim.url, username: 'admin', password: PASSWORD }) as DahuaAdapter;
  });
  after(async () => {
    a.close();
    await sim.stop();
  });

  test('channels from ChannelTitle, streams per channel', async () => {
    assert.deepEqual(await a.listCameras(), [
      {
        vmsCameraId: '1',
        name: 'Gate',
        enabled: true,
        model: 'DH-NVR4108HS-8P-4KS2',
        streams: { main: 'rtsp://127.0.0.1:554/cam/realmonitor?channel=1&subtype=0', sub: 'rtsp://127.0.0.1:554/cam/realmonitor?channel=1&subtype=1' },
      },
      {
        vmsCameraId: '2',
        name: 'Yard',
        enabled: true,
        model: 'DH-NVR4108HS-8P-4KS2',
        streams: { main: 'rtsp://127.0.0.1:554/cam/realmonitor?channel=2&subtype=0', sub: 'rtsp://127.0.0.1:554/cam/realmonitor?channel=2&subtype=1' },
      },
    ]);
  });

  test('stream URLs and unknown channels', async () => {
    assert.deepEqual(await a.getStreamUrls('2'), {
      main: 'rtsp://127.0.0.1:554/cam/realmonitor?channel=2&subtype=0',
      sub: 'rtsp://127.0.0.1:554/cam/realmonitor?channel=2&subtype=1',
    });
    await rejectsWith(a.getStreamUrls('3'), 'E_VMS_NOT_FOUND', 'dahua source dh: no channel 3');
  });

  test('manual record mode for the duration, then back to automatic', async () => {
    await a.triggerRecording('2', 1);
    assert.deepEqual(sim.modeLog, ['1=1']);
    const deadline = Date.now() + 5000;
    while (sim.modeLog.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(sim.modeLog, ['1=1', '1=0']);
    await rejectsWith(a.triggerRecording('7', 5), 'E_VMS_STATUS', 'dahua source dh: setConfig RecordMode[6] failed (HTTP 400)');
    sim.override = () => ({ status: 200, body: 'table.ChannelTitle[0].Name=A\r\ngarbage-without-equals\r\n' });
    await rejectsWith(a.listCameras(), 'E_VMS_RESPONSE', 'Malformed Dahua response line in getDeviceType');
    sim.override = null;
  });
});

describe('HTTPS device with a self-signed certificate', () => {
  test('refused by default; accepted with insecureTls', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-tls-'));
    const sim = new DahuaSim('admin', PASSWORD);
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
      await sim.start({ key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') });
      const strict = createVmsAdapter({ type: 'dahua', name: 'tls', baseUrl: sim.url, username: 'admin', password: PASSWORD });
      await rejectsWith(strict.listCameras(), 'E_VMS_NETWORK', /^dahua source tls: self[- ]signed certificate: GET 127\.0\.0\.1:\d+\/cgi-bin\/magicBox\.cgi$/);
      strict.close();
      const lax = createVmsAdapter({ type: 'dahua', name: 'tls', baseUrl: sim.url, username: 'admin', password: PASSWORD, insecureTls: true });
      assert.deepEqual((await lax.listCameras()).map((c) => c.name), ['Gate', 'Yard']);
      lax.close();
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('adapter configuration', () => {
  test('bad configs are refused with the argument message shape; credentials never echoed', () => {
    assert.throws(() => createVmsAdapter({ type: 'genetec' } as never), {
      code: 'E_ARGUMENT',
      message: 'Expected one of "milestone", "hikvision", "axis", "dahua" for vms.type but received "genetec"',
    });
    assert.throws(
      () => createVmsAdapter({ type: 'axis', name: 'a', baseUrl: 'http://root:secret@10.0.0.1', username: 'root', password: 'x' }),
      { message: 'Expected a URL without user:password for vms.a.baseUrl (put credentials in username/password)' },
    );
    assert.throws(() => createVmsAdapter({ type: 'axis', name: 'a', baseUrl: 'ftp://10.0.0.1', username: 'root', password: 'x' }), {
      message: 'Expected an http(s) URL for vms.a.baseUrl but received "ftp:"',
    });
    assert.throws(() => createVmsAdapter({ type: 'dahua', name: 'bad name!', baseUrl: 'http://h', username: 'u', password: 'p' }), {
      message: 'Expected an id of 1-64 letters, digits, "_", "." or "-" (starting with a letter or digit) for vms.name but received "bad name!"',
    });
    assert.throws(
      () => createVmsAdapter({ type: 'milestone', name: 'm', baseUrl: 'http://h', username: 'u', password: 'p', eventTypeId: 'nope' }),
      { message: 'Expected an event type GUID for vms.m.eventTypeId but received "nope"' },
    );
  });

  test('the outbound URL policy hook can refuse a host', async () => {
    const a = createVmsAdapter({
      type: 'hikvision',
      name: 'x',
      baseUrl: 'http://169.254.169.254',
      username: 'u',
      password: 'p',
      checkUrl: (u) => {
        if (u.hostname === '169.254.169.254') throw new Error('link-local address refused');
      },
    });
    await rejectsWith(a.listCameras(), 'E_VMS_CONFIG', 'hikvision source x: Outbound URL refused: link-local address refused');
    a.close();
  });

  test('an address returned by the URL policy is the one connected to (no second DNS lookup)', async () => {
    const sim = new DahuaSim('admin', PASSWORD);
    await sim.start();
    const checked: string[] = [];
    // camera.invalid never resolves (RFC 6761): the request can only succeed through the pinned address
    const a = createVmsAdapter({
      type: 'dahua',
      name: 'pinned',
      baseUrl: `http://camera.invalid:${sim.port}`,
      username: 'admin',
      password: PASSWORD,
      checkUrl: (u) => {
        checked.push(u.host);
        return { address: '127.0.0.1', family: 4 };
      },
    });
    try {
      assert.deepEqual((await a.listCameras()).map((c) => c.name), ['Gate', 'Yard']);
      assert.deepEqual(checked, [`camera.invalid:${sim.port}`, `camera.invalid:${sim.port}`]);
    } finally {
      a.close();
      await sim.stop();
    }
  });
});
