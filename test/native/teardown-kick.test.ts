/**
 * The rtspsrc teardown deadlock of the soak (issue 17, GStreamer 1.22): a thread stopping an rtpjitterbuffer's
 * source-pad task waits for the pad's stream lock while the task, holding it, waits for data with its flow result
 * OK (a concurrent flush-stop undid the deactivation's flush-start). native/teardown_kick.cc ends it by sending
 * the graph's jitterbuffers a flush-start; Pipeline's teardown does that when its NULL transition runs past a
 * second. Real GStreamer throughout: the tool below builds the stuck state with a real rtpjitterbuffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAddon } from '../../bindings/index.js';
import { DEFAULT_TENSOR } from '../../src/camera/tensor.js';

const addon = loadAddon();
const CHECK_BIN = join(import.meta.dirname, '..', '..', 'build', 'Release', 'vigil-teardown-kick-check');

test('a jitterbuffer whose task holds its stream lock while its pad is being stopped stays stuck until kicked, then lets the stop finish', () => {
  assert.ok(existsSync(CHECK_BIN), `${CHECK_BIN} is missing: build the addon (npm run build:addon builds the test tools)`);
  const out = JSON.parse(execFileSync(CHECK_BIN, { encoding: 'utf8', timeout: 30_000 }).trim()) as Record<string, unknown>;
  assert.equal(out.emptyKicked, 0, 'a bin without jitterbuffers is left alone');
  assert.equal(out.stuck, true, 'without a kick the stop is still waiting after 1.5 s (the deadlock is real)');
  assert.equal(out.kicked, 1);
  assert.equal(out.foundStuck, 1, 'the kick recognised the deadlock\'s state');
  assert.equal(out.released, true);
  assert.ok((out.releasedMs as number) < 1000, `the stop returned ${String(out.releasedMs)} ms after the kick`);
  assert.equal(out.kickedAgain, 0, 'a jitterbuffer already flushing is not counted again');
  assert.equal(out.toNull, 'SUCCESS');
});

function pipeline(description: string) {
  return new addon.Pipeline({
    cameraId: 'kick',
    description,
    tensor: DEFAULT_TENSOR,
    queueSize: 1,
    poolSize: 1,
    block: false,
    closeTimeoutMs: 10_000,
    onEvent: () => {},
  });
}

async function settledKicks(expectFinished: number) {
  // The kicker thread counts a kicked teardown as finished just after the NULL transition returns.
  for (let i = 0; i < 100 && addon.teardownKicks().finishedAfterKick < expectFinished; i++) await new Promise((r) => setTimeout(r, 20));
  return addon.teardownKicks();
}

const RAW = 'videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=30/1';

// One test, in order: the counts are process-wide and exact only while this file's pipelines are the only ones.
test('a teardown running past a second kicks the jitterbuffers of its graph and is counted; quick ones and graphs without jitterbuffers are not', async () => {
  assert.deepEqual(addon.teardownKicks(), { kicks: 0, teardownsKicked: 0, finishedAfterKick: 0, jitterbuffersStuck: 0 });

  // A quick teardown: no kick.
  const quick = pipeline(`${RAW} ! rtpvrawpay ! rtpjitterbuffer ! rtpvrawdepay ! appsink name=sink`);
  quick.start();
  await new Promise((r) => setTimeout(r, 300));
  quick.close();
  // A slow teardown (a streaming thread asleep 2 s inside identity) with no jitterbuffer: nothing to kick.
  const plain = pipeline(`${RAW} ! identity sleep-time=2000000 ! appsink name=sink`);
  plain.start();
  await new Promise((r) => setTimeout(r, 300));
  plain.close();
  assert.deepEqual(await settledKicks(0), { kicks: 0, teardownsKicked: 0, finishedAfterKick: 0, jitterbuffersStuck: 0 });

  // A slow teardown with a jitterbuffer upstream of the sleeping element: its task is inside the 2.5 s push when
  // the NULL transition starts, so at 1 s its sink pad is still active and takes the flush-start. Slow, not
  // deadlocked: its task is still its pad's, so it does not count as stuck.
  const slow = pipeline(`${RAW} ! rtpvrawpay ! rtpjitterbuffer latency=0 ! rtpvrawdepay ! identity sleep-time=2500000 ! appsink name=sink`);
  slow.start();
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = performance.now();
  slow.close();
  const ms = performance.now() - t0;
  assert.ok(ms > 1000, `close() returned after ${ms.toFixed(0)} ms: the teardown was expected to outlast the kick delay`);
  assert.equal(addon.abandonedPipelines(), 0);
  assert.deepEqual(await settledKicks(1), { kicks: 1, teardownsKicked: 1, finishedAfterKick: 1, jitterbuffersStuck: 0 });
});
