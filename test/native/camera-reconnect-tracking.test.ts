/**
 * A camera that reconnects keeps being tracked (issue 17, found by bench/soak.ts): its new pipeline numbers frames
 * from 0 again, and the tracker, which refuses a sequence that goes back, used to reject every analysed frame after
 * the reconnect ("Expected a frame sequence greater than N") until the new sequence passed the old one — hours of
 * lost detections for a camera that had run for hours. The whole server runs here: RTSP camera, detector, tracker,
 * store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { createServer } from '../../src/server.js';
import type { Logger } from '../../src/log.js';
import { media } from '../helpers/media.js';
import { RtspTestServer, freePort } from '../helpers/rtsp-server.js';
import { until } from '../helpers/wait.js';

test('after an RTSP reconnect, frames are tracked and stored again without sequence errors', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-reconnect-'));
  const port = await freePort();
  let rtsp = RtspTestServer.forClip(port, media('vtest-h264.mp4'));
  await rtsp.start();
  const errors: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn() {}, error: (m) => void errors.push(m), child: () => log };
  const config = parseConfig({
    dataDir,
    server: { host: '127.0.0.1', port: 0 },
    recording: { minFreeGb: 0 },
    search: false,
    cameras: [{ id: 'cam', source: { kind: 'rtsp', url: rtsp.url }, detectFps: 5 }],
  });
  config.auth = { announceInitialAdmin: () => {} };
  const server = await createServer(config, { log });
  const stored: number[] = []; // frame sequences of committed batches with detections
  server.store.onCommitted((batches) => {
    for (const b of batches) if (b.cameraId === 'cam' && b.count > 0) stored.push(b.frameSequence);
  });
  try {
    // Run long enough that the first pipeline's sequence is well above what the second one reaches quickly.
    await until(() => stored.length > 0 && Math.max(...stored) >= 60, 90_000, 'detections up to frame 60 before the reconnect');
    const before = Math.max(...stored);
    await rtsp.kill();
    await until(() => server.cameras.get('cam')?.state === 'reconnecting', 30_000, 'the camera reconnecting');
    rtsp = RtspTestServer.forClip(port, media('vtest-h264.mp4'));
    await rtsp.start();
    const from = stored.length;
    // Frames of the new pipeline (sequence below the old maximum) are stored again.
    await until(() => stored.slice(from).some((s) => s < before), 90_000, 'detections of the new pipeline');
    assert.deepEqual(errors.filter((e) => /frame sequence/.test(e)), []);
  } finally {
    await server.stop();
    await rtsp.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
