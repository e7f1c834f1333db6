/**
 * A short network blip does not stop cameras; a long cut still does, before anyone else starts them.
 * Two Vigil nodes on a 3-broker JetStream cluster (loopback, real processes), each behind its own TCP proxy; one
 * synthetic camera; `leaseTtlS: 8, safetyS: 2` (renewals every 2.7 s, a cut-off owner stops after 6 s).
 * - The owner is cut off for 2.5 s starting 1 s after a renewal, so the next renewal falls inside the cut: the camera
 *   keeps running (no stopped/released line), the same fencing token before and after, the other node never acquires
 *   it, the stream holds one token for it, and renewals go on after the heal.
 * - Cut off past `leaseTtlS - safetyS`: the owner stops the camera, and only then the other node acquires it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAdmin } from '../../src/cluster/nats.js';
import { decodeJson } from '../../src/cluster/codec.js';
import type { LeaseValue } from '../../src/cluster/coordinator.js';
import { dumpNodeLogs, overlappingTokens, readEvents, sleep, startNatsCluster, TcpProxy, until, VigilNode } from './harness.js';

const CAMERAS = [{ id: 'blip', source: { kind: 'test', pattern: 'ball', width: 160, height: 120, fps: 5 } }];
const CLUSTER = { leaseTtlS: 8, safetyS: 2, graceS: 1 };
const step = (what: string): void => void process.stderr.write(`${new Date().toISOString()} ${what}\n`);

test('a 2.5 s blip keeps the camera under its token; a cut past leaseTtlS - safetyS stops it before another node starts it', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-blip-'));
  const nats = await startNatsCluster(dir);
  const proxies = await Promise.all(nats.urls.slice(0, 2).map(async (u) => {
    const p = new TcpProxy(Number(new URL(u).port));
    await p.listen();
    return p;
  }));
  const nodes = ['A', 'B'].map((id, i) => new VigilNode({ id, dir, servers: [`nats://127.0.0.1:${proxies[i]!.port}`], cameras: CAMERAS, detector: false, cluster: CLUSTER }));
  let admin: Awaited<ReturnType<typeof connectAdmin>> | null = null;
  try {
    await Promise.all(nodes.map((n) => n.start()));
    admin = await connectAdmin(nats.urls, 'vigil');
    // Every write of the camera's lease as the brokers see it, with when it was seen here.
    const writes: Array<{ at: number; revision: number; value: LeaseValue | null }> = [];
    const watch = await admin.leases.watch({ key: 'blip' });
    void (async () => {
      for await (const e of watch) writes.push({ at: Date.now(), revision: e.revision, value: e.operation === 'PUT' ? decodeJson<LeaseValue>(e.value) : null });
    })();
    const acquired = await until(() => nodes.flatMap((n) => n.find(/^cluster: blip acquired$/).map((l) => ({ node: n, fence: l.fence as number })))[0], 60_000, 'blip acquired');
    const owner = acquired.node;
    const i = nodes.indexOf(owner);
    const other = nodes[1 - i]!;
    const fence = acquired.fence;
    await until(() => owner.find(/^blip starting -> running$/)[0], 30_000, 'blip running');
    step(`blip on ${owner.spec.id} under token ${fence}`);

    // 1. A renewal seen, 1 s later a 2.5 s cut: the next renewal (2.7 s after the last) falls inside it.
    const seenFrom = writes.length;
    const renewal = await until(() => writes.slice(seenFrom).find((w) => w.value?.fence === fence), 15_000, 'a renewal');
    await sleep(Math.max(0, renewal.at + 1000 - Date.now()));
    const cutAt = Date.now();
    proxies[i]!.cut();
    await sleep(2500);
    proxies[i]!.heal();
    const healAt = Date.now();
    step(`cut ${cutAt - renewal.at} ms after a renewal, for ${healAt - cutAt} ms`);
    // Renewals go on after the heal, under the same token; then a margin past the old deadline (renewal + 6 s).
    await until(() => writes.find((w) => w.at > healAt && w.value?.fence === fence), 10_000, 'a renewal after the heal');
    await sleep(Math.max(0, renewal.at + 8000 - Date.now()));
    assert.deepEqual(owner.find(/^cluster: blip (stopped|released)/).map((l) => l.msg), [], 'the camera kept running through the blip');
    assert.ok(owner.find(/^cluster: reconnected to NATS/).some((l) => l.ms >= cutAt), 'the owner reconnected');
    assert.deepEqual(other.find(/^cluster: blip acquired$/), [], `${other.spec.id} never acquired the camera`);
    const during = writes.filter((w) => w.revision >= renewal.revision);
    assert.deepEqual([...new Set(during.map((w) => `${w.value?.node}/${w.value?.fence}`))], [`${owner.spec.id}/${fence}`], 'every lease write since is the owner renewing under its token');
    let events = await readEvents(nats.urls);
    const blipEvents = events.filter((e) => e.camera === 'blip');
    assert.ok(blipEvents.length > 0, 'the camera is in the stream');
    assert.deepEqual([...new Set(blipEvents.map((e) => `${e.node}/${e.fence}`))], [`${owner.spec.id}/${fence}`]);
    step('blip survived');

    // 2. A cut past leaseTtlS - safetyS: the owner stops the camera, then the other node acquires it.
    const cut2At = Date.now();
    proxies[i]!.cut();
    const stopped = await until(() => owner.find(/^cluster: blip stopped: lease not renewed before it could expire$/).find((l) => l.ms >= cut2At), 15_000, 'blip stopped on the cut-off owner');
    const taken = await until(() => other.find(/^cluster: blip acquired$/)[0], 20_000, `blip acquired on ${other.spec.id}`);
    assert.ok(stopped.ms < taken.ms, `stopped at ${stopped.time}, acquired elsewhere at ${taken.time}`);
    assert.ok((taken.fence as number) > fence, `new token ${String(taken.fence)} > ${fence}`);
    assert.ok(stopped.ms - cut2At <= (CLUSTER.leaseTtlS - CLUSTER.safetyS) * 1000 + 1500, `stopped ${stopped.ms - cut2At} ms after the cut`);
    proxies[i]!.heal();
    step(`long cut: stopped after ${stopped.ms - cut2At} ms, acquired by ${other.spec.id} ${taken.ms - stopped.ms} ms later`);
    await until(async () => (await readEvents(nats.urls)).some((e) => e.camera === 'blip' && e.fence === taken.fence), 20_000, 'the new token in the stream');
    events = await readEvents(nats.urls);
    assert.deepEqual(overlappingTokens(events), []);
    watch.stop();
  } catch (err) {
    dumpNodeLogs(nodes);
    throw err;
  } finally {
    await admin?.nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
