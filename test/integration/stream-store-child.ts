/**
 * A Vigil stream server over a real LMDB detection store (StoreEventLog), in its own process so a test can kill it
 * and start another on the same store (stream-store-resume.test.ts). Driven over IPC (advanced serialization, so
 * bigints pass). Not a test file itself.
 *
 *   env VIGIL_TEST_STORE: store directory; VIGIL_TEST_AUTH: auth data directory (fresh per process);
 *   VIGIL_TEST_RECENT: events the log keeps in memory
 */
import { AuthService } from '../../src/auth/service.js';
import { createApiServer } from '../../src/api/server.js';
import { MemoryCameraListing, MemoryDetectionSource } from '../helpers/api-sources.js';
import { DetectionStore } from '../../src/store/detection-store.js';
import { StoreEventLog } from '../../src/stream/store-log.js';
import type { StreamEvent } from '../../src/stream/events.js';
import type { DetectionBatch } from '../../src/types.js';
import { AUDIENCE, CAMERAS, ISSUER, SECRET } from './api-helpers.js';

export type StoreChildCmd =
  | { cmd: 'detections'; batch: DetectionBatch }
  | { cmd: 'event'; event: StreamEvent }
  | { cmd: 'retention'; cutoffNs: bigint }
  | { cmd: 'stats' }
  | { cmd: 'exit' };

const store = DetectionStore.open({ path: process.env['VIGIL_TEST_STORE']!, sync: 'durable' });
const log = new StoreEventLog(store, { recent: Number(process.env['VIGIL_TEST_RECENT'] ?? 1000) });
const authDir = process.env['VIGIL_TEST_AUTH']!;
let adminPassword = '';
const auth = await AuthService.open({
  dataDir: authDir,
  jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
  announceInitialAdmin: (_u, p) => (adminPassword = p),
});
await auth.users.create({ username: 'olga', password: 'operator-pass', role: 'operator', cameras: '*' });
await auth.users.create({ username: 'vera', password: 'viewer-pass', role: 'viewer', cameras: ['cam-1'] });
void adminPassword;
const srv = await createApiServer(
  { host: '127.0.0.1', port: 0 },
  { auth, cameras: new MemoryCameraListing(CAMERAS), detections: new MemoryDetectionSource(), eventLog: log },
);
const olga = (await auth.login('olga', 'operator-pass', '127.0.0.9')).access_token;
const vera = (await auth.login('vera', 'viewer-pass', '127.0.0.9')).access_token;

process.on('message', async (m: StoreChildCmd) => {
  if (m.cmd === 'detections') {
    // acknowledged after the commit: the reply carries the sequences the store assigned
    const c = await store.append(m.batch);
    process.send!({ committed: { firstSeq: c.firstSeq, count: c.count } });
  } else if (m.cmd === 'event') {
    const returned = srv.publish(m.event);
    await store.flush();
    process.send!({ event: { returned, lastSeq: store.lastSeq } });
  } else if (m.cmd === 'retention') {
    let rows = 0;
    for (const id of store.cameraIds()) rows += await store.deleteOlderThan(id, m.cutoffNs, 100_000);
    const frames = await store.trimSeqLog(100_000);
    const events = await store.trimEventLog(m.cutoffNs, 100_000);
    process.send!({ retention: { rows, frames, events, oldestSeq: store.logOldestSeq } });
  } else if (m.cmd === 'stats') {
    process.send!({ stats: { log: { ...log.stats }, lastSeq: log.lastSeq(), oldestSeq: log.oldestSeq() } });
  } else if (m.cmd === 'exit') {
    await srv.close();
    log.close();
    await store.close();
    await auth.close();
    process.exit(0);
  }
});
process.send!({ ready: { wsUrl: `ws://127.0.0.1:${srv.port}/ws`, olga, vera, lastSeq: store.lastSeq } });
