/**
 * A teardown that does not finish must not hang the JS thread (issue 17, soak): there, rtspsrc's own task closing
 * its streams while the camera closed the pipeline deadlocked inside GStreamer, and the server stopped answering
 * for good. stop()/close() now wait at most options.closeTimeoutMs for state NULL; past it the pipeline is
 * abandoned (left to finish on its own thread, counted). Real GStreamer: a graph whose streaming thread sleeps 5 s
 * inside `identity` makes the NULL transition wait those 5 s, as a stuck element would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../../bindings/index.js';
import { DEFAULT_TENSOR } from '../../src/camera/tensor.js';

const addon = loadAddon();
const SLEEP_US = 5_000_000;

function stuckPipeline(closeTimeoutMs: number, sleepUs = SLEEP_US) {
  return new addon.Pipeline({
    cameraId: 'stuck',
    description: `videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! identity sleep-time=${sleepUs} ! appsink name=sink`,
    tensor: DEFAULT_TENSOR,
    queueSize: 1,
    poolSize: 1,
    block: false,
    closeTimeoutMs,
    onEvent: () => {},
  });
}

// First in the file: the counts below are exact only while no other test's graph is abandoned (each file runs in
// a process of its own).
test('an abandoned pipeline is released once its teardown finishes late; while still stuck, its frame sink goes as soon as nothing can reach it', async () => {
  assert.deepEqual([addon.abandonedPipelines(), addon.reapedPipelines()], [0, 0]);
  const open = addon.openPipelines();
  const p = stuckPipeline(200, 1_500_000);
  p.start();
  await new Promise((r) => setTimeout(r, 500)); // the first buffer is inside identity's 1.5 s sleep
  p.close();
  assert.equal(addon.abandonedPipelines(), 1);
  assert.equal(addon.openPipelines(), open);
  // The NULL transition waits in identity (upstream of the appsink, which is at READY already): the frame sink
  // and its tensor pool can go now; the graph cannot.
  assert.deepEqual(addon.reapAbandonedPipelines(), { finished: 0, sinksReleased: 1 });
  assert.deepEqual(addon.reapAbandonedPipelines(), { finished: 0, sinksReleased: 0 }, 'released once');
  assert.equal(addon.abandonedPipelines(), 1);
  // Once identity's sleep ends the teardown finishes on its own thread; the next reap releases the rest.
  let finished = 0;
  for (let i = 0; i < 100 && finished === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    finished = addon.reapAbandonedPipelines().finished;
  }
  assert.equal(finished, 1);
  assert.deepEqual([addon.abandonedPipelines(), addon.reapedPipelines()], [0, 1]);
  assert.deepEqual(addon.reapAbandonedPipelines(), { finished: 0, sinksReleased: 0 });
  p.close();
  assert.throws(() => p.start(), { code: 'E_CLOSED', message: 'Pipeline.start() called after close()' });

  // A stop() that timed out refuses start() only until its teardown has finished; a close() after that finish
  // abandons nothing.
  const q = stuckPipeline(200, 1_000_000);
  q.start();
  await new Promise((r) => setTimeout(r, 500));
  q.stop();
  assert.throws(() => q.start(), { code: 'E_PIPELINE_STUCK' });
  await new Promise((r) => setTimeout(r, 1500));
  q.start();
  await new Promise((r) => setTimeout(r, 500)); // a buffer inside the sleep again: this close times out too
  q.close();
  assert.equal(addon.abandonedPipelines(), 1);
  finished = 0;
  for (let i = 0; i < 100 && finished === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    finished = addon.reapAbandonedPipelines().finished;
  }
  assert.deepEqual([finished, addon.abandonedPipelines(), addon.reapedPipelines()], [1, 0, 2]);

  const w = stuckPipeline(200, 1_000_000);
  w.start();
  await new Promise((r) => setTimeout(r, 500));
  w.stop();
  await new Promise((r) => setTimeout(r, 1500));
  w.close();
  assert.deepEqual([addon.abandonedPipelines(), addon.reapedPipelines()], [0, 2], 'a stop that finished late leaves nothing abandoned at close');
});

test('close() of a graph stuck in its teardown returns after closeTimeoutMs; the pipeline is counted as abandoned', async () => {
  const abandoned = addon.abandonedPipelines();
  const open = addon.openPipelines();
  const p = stuckPipeline(300);
  assert.equal(addon.openPipelines(), open + 1);
  p.start();
  await new Promise((r) => setTimeout(r, 500)); // the first buffer is inside identity's 5 s sleep
  const t0 = performance.now();
  p.close();
  const ms = performance.now() - t0;
  assert.ok(ms >= 300 && ms < 4000, `close() took ${ms.toFixed(0)} ms: expected the 300 ms bound, not the graph's 5 s`);
  assert.equal(addon.abandonedPipelines(), abandoned + 1);
  assert.equal(addon.openPipelines(), open);
  p.close();
  assert.equal(addon.abandonedPipelines(), abandoned + 1, 'a second close() changes nothing');
  assert.throws(() => p.start(), { code: 'E_CLOSED', message: 'Pipeline.start() called after close()' });
});

test('start() after a stop() that timed out is refused with E_PIPELINE_STUCK; a graph that stops in time is not abandoned', async () => {
  const abandoned = addon.abandonedPipelines();
  const p = stuckPipeline(200);
  p.start();
  await new Promise((r) => setTimeout(r, 500));
  p.stop();
  assert.throws(() => p.start(), {
    code: 'E_PIPELINE_STUCK',
    message: 'Pipeline.start() called after a stop that did not finish within options.closeTimeoutMs',
  });
  p.close();
  assert.equal(addon.abandonedPipelines(), abandoned + 1);

  const ok = new addon.Pipeline({
    cameraId: 'ok',
    description: 'videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! appsink name=sink',
    tensor: DEFAULT_TENSOR,
    queueSize: 1,
    poolSize: 1,
    block: false,
    closeTimeoutMs: 5000,
    onEvent: () => {},
  });
  ok.start();
  await new Promise((r) => setTimeout(r, 200));
  ok.close();
  assert.equal(addon.abandonedPipelines(), abandoned + 1);
  assert.throws(() => new addon.Pipeline({ cameraId: 'x', description: 'videotestsrc ! appsink name=sink', tensor: DEFAULT_TENSOR, queueSize: 1, poolSize: 1, block: false, closeTimeoutMs: 0, onEvent: () => {} }), {
    name: 'TypeError',
    message: 'Expected an integer from 1 to 600000 for options.closeTimeoutMs but received 0',
  });
});
