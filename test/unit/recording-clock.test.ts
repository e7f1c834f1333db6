/** Segment times across wall-clock steps: no footage lost from the index, none duplicated. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SegmentClock } from '../../src/recording/clock.js';

const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;

test('steady clock: segments follow the running time, back to back', () => {
  const c = new SegmentClock();
  assert.equal(c.opened(1, 0n, T0), T0);
  assert.deepEqual(c.closed(10n * S), { startNs: T0, endNs: T0 + 10n * S });
  // Wall clock seen 300 ms late (scheduling): still continuous.
  assert.equal(c.opened(1, 10n * S, T0 + 10n * S + 300_000_000n), T0 + 10n * S);
  assert.deepEqual(c.closed(20n * S), { startNs: T0 + 10n * S, endNs: T0 + 20n * S });
});

test('a forward NTP step during a segment: that segment keeps its true length, the next follows the new clock', () => {
  const c = new SegmentClock();
  c.opened(1, 0n, T0);
  assert.deepEqual(c.closed(10n * S), { startNs: T0, endNs: T0 + 10n * S });
  c.opened(1, 10n * S, T0 + 10n * S);
  // The clock steps +1 h while this segment is open: its end comes from the running time, not the wall clock.
  assert.deepEqual(c.closed(20n * S), { startNs: T0 + 10n * S, endNs: T0 + 20n * S });
  const next = c.opened(1, 20n * S, T0 + 3600n * S + 20n * S);
  assert.equal(next, T0 + 3620n * S, 'the next segment is placed on the corrected clock');
  assert.deepEqual(c.closed(30n * S), { startNs: T0 + 3620n * S, endNs: T0 + 3630n * S });
});

test('a backward NTP step: the next segment starts where the last ended, never overlapping it', () => {
  const c = new SegmentClock();
  c.opened(1, 0n, T0);
  c.closed(10n * S);
  // Clock stepped back 30 s.
  const next = c.opened(1, 10n * S, T0 + 10n * S - 30n * S);
  assert.equal(next, T0 + 10n * S);
  assert.deepEqual(c.closed(20n * S), { startNs: T0 + 10n * S, endNs: T0 + 20n * S });
});

test('a new pipeline run after a stepped-back clock never starts before footage already indexed', () => {
  const c = new SegmentClock();
  c.opened(1, 0n, T0);
  c.closed(10n * S);
  // Reconnect: running time restarts at 0; the wall clock now reads 5 s earlier than the last end.
  assert.equal(c.opened(2, 0n, T0 + 5n * S), T0 + 10n * S);
  assert.deepEqual(c.closed(4n * S), { startNs: T0 + 10n * S, endNs: T0 + 14n * S });
  // A later run with the clock ahead: anchored on the wall clock.
  assert.equal(c.opened(3, 0n, T0 + 100n * S), T0 + 100n * S);
});
