import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalysisRatePolicy } from '../../src/inference/rate-policy.js';
import type { CameraPriority } from '../../src/inference/scheduler.js';

function harness(holdMs = 3000) {
  let t = 0;
  const calls: string[] = [];
  const policy = new AnalysisRatePolicy({
    holdMs,
    now: () => t,
    setRate: (id, fps) => calls.push(`${t} ${id} rate ${fps}`),
    setPriority: (id, p: CameraPriority) => calls.push(`${t} ${id} ${p}`),
  });
  return { policy, calls, at: (ms: number) => void (t = ms) };
}

test('the rate rises to detectFps on the first live track and falls to the quiet rate a hold after the last one ended', () => {
  const { policy, calls, at } = harness();
  policy.addCamera('a', { detectFps: 5, quietFps: 1 });
  policy.addCamera('b', { detectFps: 10 }); // quiet rate defaults to 1
  at(1000);
  policy.motion('a');
  at(1200);
  policy.tracks('a', 0); // analysed, nothing tracked yet: stays quiet
  at(1400);
  policy.tracks('a', 1); // first live track
  at(1600);
  policy.tracks('a', 2);
  at(2000);
  policy.tracks('a', 0); // last track ended: the hold starts
  at(4000);
  policy.tracks('a', 1); // back within the hold: no change, and the hold restarts from the next end
  at(4200);
  policy.tracks('a', 0);
  at(7199);
  policy.tick(); // 2999 ms after the end: still full
  assert.equal(policy.stats().cameras.a!.rateFps, 5);
  at(7200);
  policy.tick(); // 3000 ms: falls; motion was seen 6.2 s ago, more than a hold: idle
  at(8000);
  policy.tick();
  assert.deepEqual(calls, [
    '0 a rate 1', '0 a idle',
    '0 b rate 1', '0 b idle',
    '1000 a motion',
    '1400 a rate 5', '1400 a tracking',
    '7200 a rate 1', '7200 a idle',
  ]);
  assert.deepEqual(policy.stats(), {
    cameras: {
      a: { detectFps: 5, quietFps: 1, rateFps: 1, mode: 'quiet', priority: 'idle', liveTracks: 0, rises: 1, falls: 1 },
      b: { detectFps: 10, quietFps: 1, rateFps: 1, mode: 'quiet', priority: 'idle', liveTracks: 0, rises: 0, falls: 0 },
    },
    changes: 2,
    full: 0,
  });
});

test('motion keeps the motion priority for a hold; a camera whose frames stopped still falls back on tick()', () => {
  const { policy, calls, at } = harness(1000);
  policy.addCamera('c', { detectFps: 0, quietFps: 2 }); // detectFps 0: the full rate is "no limit" (0)
  at(100);
  policy.motion('c');
  at(600);
  policy.motion('c');
  at(1599);
  policy.tick(); // 999 ms after the last motion
  at(1600);
  policy.tick();
  at(2000);
  policy.tracks('c', 3);
  at(2500);
  policy.tracks('c', 0);
  // No more frames: only the timer sees the hold run out.
  at(3499);
  policy.tick();
  at(3500);
  policy.tick();
  assert.deepEqual(calls, [
    '0 c rate 2', '0 c idle',
    '100 c motion',
    '1600 c idle',
    '2000 c rate 0', '2000 c tracking',
    '3500 c rate 2', '3500 c idle',
  ]);
  assert.equal(policy.stats().changes, 2);
  // Quiet rate capped at the detect rate.
  policy.addCamera('d', { detectFps: 0.5, quietFps: 1 });
  assert.equal(policy.stats().cameras.d!.quietFps, 0.5);
});

test('start() ticks on a timer; close() stops it; arguments are validated', async () => {
  const rates: number[] = [];
  let t = 0;
  const policy = new AnalysisRatePolicy({ holdMs: 10, now: () => t, setRate: (_id, fps) => rates.push(fps) });
  policy.addCamera('a', { detectFps: 5 });
  policy.tracks('a', 1);
  policy.tracks('a', 0);
  t = 10;
  policy.start(5);
  await new Promise((r) => setTimeout(r, 40));
  policy.close();
  assert.deepEqual(rates, [1, 5, 1]);
  assert.throws(() => new AnalysisRatePolicy({} as never), { code: 'E_ARGUMENT', message: 'Expected a function for ratePolicy.setRate but received undefined' });
  assert.throws(() => new AnalysisRatePolicy({ setRate: () => {}, holdMs: -1 }), { message: 'Expected a finite number >= 0 for ratePolicy.holdMs but received -1' });
  assert.throws(() => policy.addCamera('x', { detectFps: 5, quietFps: 0 }), { message: 'Expected a finite number > 0 for x.quietFps but received 0' });
  assert.throws(() => policy.tracks('nope', 1), { message: 'Expected a camera added to the rate policy for cameraId but received "nope"' });
  assert.throws(() => policy.tracks('a', -1), { message: 'Expected an integer >= 0 for liveTracks but received -1' });
});
