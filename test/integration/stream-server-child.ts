/**
 * A Vigil server in its own process for tests that measure the server's memory (stream-ws.test.ts): started with
 * fork(), driven over IPC. Not a test file itself.
 */
import { startHarness } from './api-helpers.js';
import type { StreamEvent } from '../../src/stream/events.js';

/** RSS after a full GC (the child runs with --expose-gc): what the server retains, not garbage awaiting collection. */
function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

type Cmd = { cmd: 'publish'; frameFrom: number; count: number; detections: number } | { cmd: 'stats' } | { cmd: 'exit' };

const cap = Number(process.env['VIGIL_TEST_CAP'] ?? 262144);
const h = await startHarness({ server: { stream: { maxBufferedBytes: cap, slowClientPolicy: 'drop', ringCapacity: 500 } } });

function batch(frame: number, n: number): StreamEvent {
  const detections = [];
  for (let i = 0; i < n; i++)
    detections.push({ classId: i % 2 === 0 ? 0 : 2, className: i % 2 === 0 ? 'person' : 'car', confidence: ((i % 10) + 0.5) / 10, box: { x1: i, y1: i * 2, x2: i + 50, y2: i * 2 + 100 }, trackId: i });
  return { kind: 'detections', batch: { cameraId: 'cam-1', frameSequence: frame, timestampNs: 1_764_000_000_000_000_000n + BigInt(frame), frameWidth: 1920, frameHeight: 1080, detections } };
}

process.on('message', async (m: Cmd) => {
  if (m.cmd === 'publish') {
    let last = 0;
    for (let i = 0; i < m.count; i++) last = h.srv.publish(batch(m.frameFrom + i, m.detections));
    process.send!({ published: last, buffered: h.srv.hub.bufferedBytes(), rss: rss() });
  } else if (m.cmd === 'stats') {
    process.send!({
      stats: h.srv.hub.clientStats(),
      totals: h.srv.hub.totals,
      rss: rss(),
      buffered: h.srv.hub.bufferedBytes(),
      metrics: await h.srv.registry.metrics(),
    });
  } else if (m.cmd === 'exit') {
    await h.close();
    process.exit(0);
  }
});
process.on('disconnect', () => {
  void h.close().finally(() => process.exit(0));
});
process.send!({ ready: true, wsUrl: h.wsUrl, token: h.tokens.olga.access_token, rss: rss(), lastSeq: h.srv.hub.log.lastSeq() });
