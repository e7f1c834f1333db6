/**
 * The camera supervisor against real failures: an RTSP server killed and restarted, a stalled source, damaged
 * files next to a healthy camera, and cameras added and removed at run time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Camera, type ReconnectInfo } from '../../src/camera/camera.js';
import { CameraManager } from '../../src/camera/manager.js';
import type { CameraStatus } from '../../src/types.js';
import { VigilPipelineError } from '../../src/errors.js';
import { cameraSettings } from '../helpers/camera.js';
import { media } from '../helpers/media.js';
import { RtspTestServer, freePort } from '../helpers/rtsp-server.js';
import { until, waitForEvent } from '../helpers/wait.js';

function track(camera: Camera) {
  const states: CameraStatus[] = [];
  const reconnects: ReconnectInfo[] = [];
  let frames = 0;
  camera.on('state', (s) => states.push(s));
  camera.on('reconnecting', (r) => reconnects.push(r));
  camera.on('frame', (f) => {
    frames++;
    f.release();
  });
  camera.on('error', () => {});
  return { states, reconnects, frames: () => frames };
}

test('RTSP: frames flow; a killed server puts the camera in reconnecting with growing, capped delays; a restarted one brings frames back', async () => {
  const port = await freePort();
  const clip = media('vtest-h264.mp4');
  const creds = { user: 'viewer', password: 'p@ss:w/rd%' };
  let server = RtspTestServer.forClip(port, clip, creds);
  await server.start();
  const camera = new Camera(
    cameraSettings('rtsp1', { kind: 'rtsp', url: server.url, username: creds.user, password: creds.password, latencyMs: 0, connectTimeoutMs: 2000 }, {
      detectFps: 5,
      backoff: { initialMs: 200, maxMs: 800, factor: 2, jitter: 0.2 },
      stallTimeoutMs: 3000,
      startTimeoutMs: 4000,
      backoffResetMs: 60_000,
    }),
  );
  const t = track(camera);
  const errors: VigilPipelineError[] = [];
  camera.on('error', (e) => errors.push(e));
  try {
    camera.start();
    await until(() => t.frames() >= 5, 20_000, '5 frames over RTSP');
    assert.equal(camera.state, 'running');
    assert.equal(camera.decoder?.element, 'avdec_h264');

    await server.kill();
    await until(() => t.reconnects.length >= 5, 30_000, '5 reconnect attempts');
    assert.ok(t.states.includes('reconnecting'));
    const delays = t.reconnects.slice(0, 5).map((r) => r.delayMs);
    // Attempt n waits min(800, 200 * 2^(n-1)) minus up to 20 % jitter.
    const caps = [200, 400, 800, 800, 800];
    delays.forEach((d, i) => {
      assert.ok(d <= caps[i]! && d >= caps[i]! * 0.8, `attempt ${i + 1} delay ${d} ms within [${caps[i]! * 0.8}, ${caps[i]}]`);
    });
    assert.ok(delays[1]! > delays[0]! && delays[2]! > delays[1]!, `delays grow: ${delays.join(', ')}`);
    assert.deepEqual(t.reconnects.slice(0, 5).map((r) => r.attempt), [1, 2, 3, 4, 5]);
    // Credentials never appear in errors, in plain or percent-encoded form.
    for (const e of errors) {
      assert.ok(e instanceof VigilPipelineError);
      assert.ok(!e.message.includes(creds.password) && !e.message.includes(encodeURIComponent(creds.password)), e.message);
    }

    const before = t.frames();
    server = RtspTestServer.forClip(port, clip, creds);
    await server.start();
    await until(() => t.frames() >= before + 5, 20_000, 'frames after the server came back');
    assert.equal(camera.state, 'running');
    assert.ok(camera.counters().restarts >= 5);
  } finally {
    camera.close();
    await server.kill();
  }
});

test('RTSP: wrong credentials are an authorization error that is retried, never shown', async () => {
  const port = await freePort();
  const server = RtspTestServer.forClip(port, media('vtest-h264.mp4'), { user: 'u', password: 'right' });
  await server.start();
  const camera = new Camera(
    cameraSettings('rtsp-auth', `rtsp://u:wr%40ng-secret@127.0.0.1:${port}/cam`, {
      backoff: { initialMs: 100, maxMs: 200, factor: 2, jitter: 0 },
    }),
  );
  const t = track(camera);
  try {
    const [[err]] = await Promise.all([
      waitForEvent<[VigilPipelineError]>(camera, 'error', () => true, 15_000),
      Promise.resolve(camera.start()),
    ]);
    assert.equal(err.code, 'E_SOURCE_AUTH');
    assert.ok(!err.message.includes('wr@ng-secret') && !err.message.includes('wr%40ng-secret'), err.message);
    await until(() => t.reconnects.length >= 2, 10_000, 'retries after the auth failure');
    assert.equal(camera.displaySource, `rtsp://***@127.0.0.1:${port}/cam`);
  } finally {
    camera.close();
    await server.kill();
  }
});

test('RTSP over UDP transport receives frames', async () => {
  const port = await freePort();
  const server = RtspTestServer.forClip(port, media('vtest-h264.mp4'));
  await server.start();
  const camera = new Camera(cameraSettings('udp', { kind: 'rtsp', url: server.url, transport: 'udp', latencyMs: 100 }));
  const t = track(camera);
  try {
    camera.start();
    await until(() => t.frames() >= 10, 20_000, '10 frames over RTP/UDP');
    assert.equal(camera.state, 'running');
    assert.equal(camera.counters().restarts, 0);
  } finally {
    camera.close();
    await server.kill();
  }
});

test('a stalled source (connection open, no frames) is detected by the watchdog and restarted', async () => {
  const port = await freePort();
  const server = RtspTestServer.forClip(port, media('vtest-h264.mp4'));
  await server.start();
  const camera = new Camera(
    cameraSettings('stall', { kind: 'rtsp', url: server.url, latencyMs: 0, connectTimeoutMs: 60_000 }, {
      stallTimeoutMs: 1000,
      startTimeoutMs: 3000,
      backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0.2 },
    }),
  );
  const t = track(camera);
  try {
    camera.start();
    await until(() => t.frames() >= 5, 20_000, 'first frames');
    server.pause();
    const [info] = await waitForEvent<[ReconnectInfo]>(camera, 'reconnecting', () => true, 10_000, 'a restart');
    assert.equal(info.reason, 'stalled');
    assert.ok(t.states.includes('stalled'));
    assert.equal(camera.counters().lastError?.code, 'E_SOURCE_STALLED');
    server.resume();
    const before = t.frames();
    await until(() => t.frames() >= before + 5, 30_000, 'frames after the stall');
    assert.equal(camera.state, 'running');
  } finally {
    camera.close();
    await server.kill();
  }
});

test('damaged files fail with a clear VigilError while another camera keeps running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bad-'));
  const manager = new CameraManager();
  try {
    const garbage = join(dir, 'garbage.mp4');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)));
    // Cut before the index (moov is written at the end): an MP4 with no playable track.
    const truncated = join(dir, 'truncated.mp4');
    writeFileSync(truncated, readFileSync(media('vtest-h264.mp4')).subarray(0, 2_000_000));
    // A valid Matroska header followed by junk where the clusters should be: no frame can be decoded.
    const corrupt = join(dir, 'corrupt.mkv');
    const mkv = readFileSync(media('vtest-h264.mkv'));
    const firstCluster = mkv.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
    assert.ok(firstCluster > 0);
    writeFileSync(corrupt, Buffer.concat([mkv.subarray(0, firstCluster), Buffer.alloc(100_000, 0x5a)]));

    let healthyFrames = 0;
    manager.on('frame', (f) => {
      if (f.cameraId === 'healthy') healthyFrames++;
      f.release();
    });
    const errors = new Map<string, VigilPipelineError>();
    manager.on('error', (id, e) => errors.set(id, e));
    manager.add(cameraSettings('healthy', { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 30 }));
    await until(() => healthyFrames >= 3, 10_000, 'healthy camera frames');

    const bad = [
      manager.add(cameraSettings('garbage', garbage)),
      manager.add(cameraSettings('truncated', truncated)),
      manager.add(cameraSettings('corrupt', corrupt)),
    ];
    await until(() => bad.every((c) => c.state === 'failed' || c.state === 'stopped'), 10_000, 'bad cameras to settle');

    assert.equal(errors.get('garbage')?.code, 'E_SOURCE_FORMAT');
    assert.equal(
      errors.get('garbage')?.message,
      `Unsupported or damaged video file ${garbage}: not an MP4, Matroska, AVI or raw H.264/H.265 stream`,
    );
    assert.equal(errors.get('truncated')?.code, 'E_SOURCE_FORMAT');
    assert.equal(
      errors.get('truncated')?.message,
      `Unsupported or damaged video file ${truncated}: no H.264, H.265 or MPEG-4 video track in the MP4 index (truncated or not a video file)`,
    );
    assert.equal(bad[0]!.state, 'failed');
    assert.equal(bad[1]!.state, 'failed');
    const corruptErr = errors.get('corrupt');
    assert.ok(corruptErr instanceof VigilPipelineError, 'the corrupt file raised a pipeline error');
    assert.equal(corruptErr.code, 'E_STREAM_FORMAT');
    assert.equal(corruptErr.message, 'Camera corrupt: the file ended before any video frame was decoded');
    assert.equal(bad[2]!.state, 'failed');
    assert.equal(bad[2]!.counters().lastError?.code, 'E_STREAM_FORMAT');

    const mark = healthyFrames;
    await until(() => healthyFrames >= mark + 10, 10_000, 'healthy camera still running');
    assert.equal(manager.get('healthy')!.state, 'running');
  } finally {
    manager.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cameras are added and removed at run time without disturbing the others', async () => {
  const manager = new CameraManager();
  const counts = new Map<string, number>();
  manager.on('frame', (f) => {
    counts.set(f.cameraId, (counts.get(f.cameraId) ?? 0) + 1);
    f.release();
  });
  try {
    manager.add(cameraSettings('a', { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 30 }));
    manager.add(cameraSettings('b', { kind: 'test', pattern: 'snow', width: 320, height: 240, fps: 30 }));
    await until(() => (counts.get('a') ?? 0) > 5 && (counts.get('b') ?? 0) > 5, 10_000, 'both cameras');
    const a0 = counts.get('a')!;
    assert.equal(manager.remove('b'), true);
    assert.equal(manager.remove('b'), false);
    manager.add(cameraSettings('c', { kind: 'test', pattern: 'smpte', width: 320, height: 240, fps: 30 }));
    const b1 = counts.get('b')!;
    await until(() => (counts.get('c') ?? 0) > 5 && counts.get('a')! > a0 + 10, 10_000, 'a keeps going, c starts');
    assert.equal(counts.get('b'), b1, 'no frames from a removed camera');
    assert.equal(manager.get('a')!.counters().restarts, 0);
    assert.deepEqual(manager.list().map((c) => c.id), ['a', 'c']);
    assert.throws(() => manager.add(cameraSettings('a', 'test:ball')), { code: 'E_ARGUMENT', message: 'Camera a already exists' });
  } finally {
    manager.close();
  }
});
