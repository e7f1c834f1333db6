import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleEngine } from '../../src/rules/engine.js';
import { validateRule, validateRules } from '../../src/rules/validate.js';
import type { AlertEvent, RuleFrame } from '../../src/rules/types.js';
import { brief, frame, sec, T0, type Obj } from './rules-helpers.js';

function run(rules: unknown[], frames: RuleFrame[], timezone = 'UTC'): { events: AlertEvent[]; engine: RuleEngine; lines: string[] } {
  const engine = new RuleEngine({ timezone, newAlertId: (ns) => `a-${ns - T0}` });
  engine.setRules(validateRules(rules), T0);
  const events: AlertEvent[] = [];
  for (const f of frames) events.push(...engine.process(f));
  return { events, engine, lines: brief(events) };
}

/** A straight walk of one track: positions at t = t0, t0+dt, ... */
function walk(id: number, t0: number, dt: number, from: [number, number], step: [number, number], n: number, cls = 'person'): [number, Obj][] {
  const out: [number, Obj][] = [];
  for (let i = 0; i < n; i++) out.push([t0 + i * dt, [id, from[0] + step[0] * i, from[1] + step[1] * i, cls]]);
  return out;
}

/** Merges per-track walks into frames by time. */
function frames(walks: [number, Obj][][], extraTimes: number[] = [], ended: Record<number, number[]> = {}): RuleFrame[] {
  const byT = new Map<number, Obj[]>();
  for (const w of walks) for (const [t, o] of w) byT.set(t, [...(byT.get(t) ?? []), o]);
  for (const t of extraTimes) if (!byT.has(t)) byT.set(t, []);
  for (const t of Object.keys(ended).map(Number)) if (!byT.has(t)) byT.set(t, []);
  return [...byT.keys()].sort((a, b) => a - b).map((t) => frame(t, byT.get(t)!, ended[t] ?? []));
}

const SQUARE = { points: [[100, 100], [300, 100], [300, 300], [100, 300]] };

test('tripwire: direction of crossings, both counted, only the chosen direction alerts; extension and touching do not count', () => {
  // Horizontal line from (100,240) to (400,240), pointing right: side A (left on screen) is above, side B below.
  const rule = { id: 'gate', name: 'Gate', kind: 'tripwire', line: { from: [100, 240], to: [400, 240] }, direction: 'a_to_b' };
  const f = frames([
    walk(1, 0, 1, [200, 200], [0, 20], 5), // down through the line between t=1 (220) and t=2 (240: on it) and t=3 (260): A→B at t=3
    walk(2, 0, 1, [300, 300], [0, -25], 5), // up: 300, 275, 250, 225 (t=3): B→A at t=3
    walk(3, 0, 1, [500, 200], [0, 30], 5), // down but right of the segment's end (x=500 > 400): no crossing
    [[0, [4, 150, 230]], [1, [4, 150, 240]], [2, [4, 150, 235]]], // touches the line and goes back: no crossing
  ]);
  const { lines, engine } = run([rule], f);
  assert.deepEqual(lines, ['raised gate [1] person crossed Gate (A→B) @3']);
  assert.deepEqual(engine.counts('gate', 'cam1'), { aToB: 1, bToA: 1 });
  const both = run([{ ...rule, direction: 'both' }], f);
  assert.deepEqual(both.lines, ['raised gate [1] person crossed Gate (A→B) @3', 'raised gate [2] person crossed Gate (B→A) @3']);
  assert.deepEqual(both.events[1]!.alert.details, { kind: 'tripwire', severity: 'warning', direction: 'b_to_a', aToB: 1, bToA: 1, count: 1 });
  const back = run([{ ...rule, direction: 'b_to_a' }], f);
  assert.deepEqual(back.lines, ['raised gate [2] person crossed Gate (B→A) @3']);
});

test('tripwire: a vertical line pointing down has side A on the right; normalized coordinates scale with the frame', () => {
  const rule = { id: 'v', name: 'V', kind: 'tripwire', line: { from: [0.5, 0], to: [0.5, 1], normalized: true }, direction: 'a_to_b' };
  // 640 wide: the line is at x=320. Track 1 walks left (from A = right side to B = left side).
  const f = frames([walk(1, 0, 1, [400, 200], [-50, 0], 4), walk(2, 0, 1, [250, 300], [50, 0], 4)]);
  const { lines, engine } = run([rule], f);
  assert.deepEqual(lines, ['raised v [1] person crossed V (A→B) @2']);
  assert.deepEqual(engine.counts('v', 'cam1'), { aToB: 1, bToA: 1 });
});

test('tripwire cool-down: crossings within it update the alert, after it raise a new one', () => {
  const rule = { id: 'g', name: 'G', kind: 'tripwire', line: { from: [0, 240], to: [640, 240] }, direction: 'both', cooldownSeconds: 30 };
  const f = frames([
    [[0, [1, 100, 200]], [1, [1, 100, 280]]],
    [[9, [2, 200, 200]], [10, [2, 200, 280]]],
    [[29, [3, 300, 280]], [31, [3, 300, 200]]], // t=31 is exactly 30 s after the raise at t=1: a new alert
  ]);
  const { lines, events } = run([rule], f);
  assert.deepEqual(lines, [
    'raised g [1] person crossed G (A→B) @1',
    'updated g [1,2] person crossed G (A→B) @10',
    'raised g [3] person crossed G (B→A) @31',
  ]);
  assert.equal(events[1]!.alert.alertId, events[0]!.alert.alertId);
  assert.equal(events[1]!.alert.details.count, 2);
  assert.equal(events[1]!.alert.raisedNs, sec(1));
  assert.notEqual(events[2]!.alert.alertId, events[0]!.alert.alertId);
});

test('zone enter and exit: first seen inside counts as entering; ending inside is no exit; pixel and normalized zones agree', () => {
  const f = frames(
    [
      walk(1, 0, 1, [50, 200], [100, 0], 4), // 50 (out), 150 (in, t=1), 250 (in), 350 (out, t=3)
      [[2, [2, 200, 200]], [3, [2, 210, 200]]], // appears inside at t=2, ends at t=4 while inside
    ],
    [],
    { 4: [2] },
  );
  const enter = run([{ id: 'in', name: 'Door', kind: 'zone_enter', zone: SQUARE }], f);
  assert.deepEqual(enter.lines, ['raised in [1] person 1 entered Door @1', 'raised in [2] person 2 entered Door @2']);
  const exit = run([{ id: 'out', name: 'Door', kind: 'zone_exit', zone: SQUARE }], f);
  assert.deepEqual(exit.lines, ['raised out [1] person 1 left Door @3']);
  const norm = { points: SQUARE.points.map(([x, y]) => [x! / 640, y! / 480]), normalized: true };
  const enterN = run([{ id: 'in', name: 'Door', kind: 'zone_enter', zone: norm }], f);
  assert.deepEqual(enterN.lines, enter.lines);
});

test('zone presence: raised with the first object, updated as objects come and go, cleared when empty', () => {
  const f = frames(
    [
      walk(1, 0, 1, [50, 200], [100, 0], 5), // in at t=1, 2; out at t=3
      [[2, [2, 150, 150]], [3, [2, 150, 160]]], // in at t=2, ends at t=5
    ],
    [],
    { 5: [2] },
  );
  const { lines, events } = run([{ id: 'p', name: 'Yard', kind: 'zone_presence', zone: SQUARE }], f);
  assert.deepEqual(lines, [
    'raised p [1] 1 object in Yard @1',
    'updated p [1,2] 2 objects in Yard @2',
    'updated p [2] 1 object in Yard @3',
    'cleared p [2] 1 object in Yard @5',
  ]);
  assert.deepEqual(events[3]!.alert.details, { kind: 'zone_presence', severity: 'warning', count: 1, reason: 'condition ended' });
  assert.equal(events[3]!.alert.clearedNs, sec(5));
  assert.equal(events[3]!.alert.state, 'cleared');
});

test('dwell: raised exactly at the threshold, not before; a shorter visit raises nothing; cleared on leaving', () => {
  const rule = { id: 'd', name: 'Bench', kind: 'dwell', zone: SQUARE, seconds: 10 };
  // Track 1 enters at t=2 (first inside frame) and stays to t=14, leaves at t=15.
  // Track 2 enters at t=3 and leaves at t=12.5: 9.5 s inside.
  const t1: [number, Obj][] = [];
  const t2: [number, Obj][] = [];
  for (let t = 0; t <= 15; t += 0.5) {
    t1.push([t, [1, t < 2 || t >= 15 ? 50 : 200, 200]]);
    if (t >= 3) t2.push([t, [2, t < 12.5 ? 150 : 400, 250]]);
  }
  const { lines, events } = run([rule], frames([t1, t2]));
  assert.deepEqual(lines, ['raised d [1] person 1 in Bench for 10.0 s @12', 'cleared d [1] person 1 in Bench for 10.0 s @15']);
  assert.equal(events[0]!.alert.details.dwellSeconds, 10);
  assert.equal(events[1]!.alert.details.reason, 'left zone');
  // 9.999 s is not enough.
  const just = run([{ ...rule, seconds: 10.001 }], frames([t1.filter(([t]) => t <= 12)]));
  assert.deepEqual(just.lines, []);
});

test('occupancy above a threshold for a time, and below a threshold', () => {
  const rule = { id: 'o', name: 'Lobby', kind: 'occupancy', condition: 'above', threshold: 2, forSeconds: 5 };
  const walks: [number, Obj][][] = [];
  for (let id = 1; id <= 3; id++) {
    const w: [number, Obj][] = [];
    for (let t = 10; t <= 20; t++) if (!(id === 3 && t >= 16)) w.push([t, [id, 100 * id, 300]]);
    walks.push(w);
  }
  // Track 3 ends at t=16: count drops to 2.
  const f = frames(walks, [0, 1, 2], { 16: [3] });
  const { lines } = run([rule], f);
  assert.deepEqual(lines, ['raised o [1,2,3] 3 objects in Lobby, above 2 @15', 'cleared o [1,2,3] 3 objects in Lobby, above 2 @16']);
  // Below 1 (nobody) for 2 s: frames 0,1,2 are empty -> raised at t=2; cleared when people arrive at t=10.
  const empty = run([{ id: 'e', name: 'Desk', kind: 'occupancy', condition: 'below', threshold: 1, forSeconds: 2 }], f);
  assert.deepEqual(empty.lines, ['raised e [] 0 objects in Desk, below 1 @2', 'cleared e [] 0 objects in Desk, below 1 @10']);
});

test('sequence: zone A then zone B within T, in order only', () => {
  const A = { points: [[0, 0], [100, 0], [100, 100], [0, 100]] };
  const B = { points: [[300, 0], [400, 0], [400, 100], [300, 100]] };
  const rule = { id: 's', name: 'A then B', kind: 'sequence', zones: [A, B], withinSeconds: 5 };
  const f = frames([
    [[1, [1, 50, 50]], [2, [1, 200, 50]], [4, [1, 350, 50]]], // A at 1, B at 4: 3 s
    [[1, [2, 50, 60]], [3, [2, 200, 60]], [6, [2, 350, 60]]], // A at 1, B at 6: exactly 5 s -> fires
    [[1, [3, 50, 70]], [3, [3, 200, 70]], [6.5, [3, 350, 70]]], // A at 1, B at 6.5: too late
    [[1, [4, 350, 80]], [2, [4, 200, 80]], [3, [4, 50, 80]]], // B then A: wrong order
  ]);
  const { lines } = run([rule], f);
  assert.deepEqual(lines, ['raised s [1] person 1 completed A then B (2 zones in 3.0 s) @4', 'raised s [2] person 2 completed A then B (2 zones in 5.0 s) @6']);
});

test('filters: classes, minimum confidence and cameras', () => {
  const rule = { id: 'c', name: 'Cars', kind: 'zone_enter', zone: SQUARE, classes: ['car'], minConfidence: 0.5, cameras: ['cam1'] };
  const f: RuleFrame[] = [
    frame(0, [[1, 200, 200, 'person'], [2, 200, 200, 'car', 0.4]]),
    frame(1, [[2, 210, 200, 'car', 0.6]]), // first confident observation: enters now
    frame(2, [[3, 200, 200, 'car']], [], 'cam2'),
  ];
  const { lines } = run([rule], f);
  assert.deepEqual(lines, ['raised c [2] car 2 entered Cars @1']);
});

test('disabled rules evaluate nothing', () => {
  const { lines } = run([{ id: 'x', kind: 'zone_enter', zone: SQUARE, enabled: false }], [frame(0, [[1, 200, 200]])]);
  assert.deepEqual(lines, []);
});

test('schedule: outside the window state is kept but nothing is raised; presence clears when the window closes', () => {
  // Monday 12:00:00-12:00:05 UTC window.
  const schedule = { timezone: 'UTC', windows: [{ days: ['mon'], start: '12:00', end: '12:01' }] };
  const rule = { id: 'g', name: 'G', kind: 'tripwire', line: { from: [0, 240], to: [640, 240] }, schedule };
  const f = frames([
    [[59, [1, 100, 200]], [60, [1, 100, 280]]], // crosses at 12:01:00: outside (end exclusive)
    [[30, [2, 200, 280]], [31, [2, 200, 200]]], // crosses at 12:00:31: inside
  ]);
  const { lines, engine } = run([rule], f);
  assert.deepEqual(lines, ['raised g [2] person crossed G (B→A) @31']);
  assert.deepEqual(engine.counts('g', 'cam1'), { aToB: 1, bToA: 1 });
  const p = run([{ id: 'p', name: 'Y', kind: 'zone_presence', zone: SQUARE, schedule }], frames([walk(1, 58, 1, [200, 200], [0, 0], 4)]));
  assert.deepEqual(p.lines, ['raised p [1] 1 object in Y @58', 'cleared p [1] 1 object in Y @60']);
  assert.equal(p.events[1]!.alert.details.reason, 'schedule');
});

test('presence cool-down: a condition that returns within the cool-down waits for it', () => {
  const rule = { id: 'p', name: 'Y', kind: 'zone_presence', zone: SQUARE, cooldownSeconds: 10 };
  const f = frames([[[0, [1, 200, 200]], [1, [1, 500, 200]], [3, [1, 200, 200]], [9, [1, 210, 200]], [10, [1, 220, 200]]]]);
  const { lines } = run([rule], f);
  assert.deepEqual(lines, ['raised p [1] 1 object in Y @0', 'cleared p [1] 1 object in Y @1', 'raised p [1] 1 object in Y @10']);
});

test('hot reload keeps the state of unchanged rules and resets changed ones', () => {
  const dwell = validateRule({ id: 'd', name: 'Bench', kind: 'dwell', zone: SQUARE, seconds: 5 });
  const pres = validateRule({ id: 'p', name: 'Y', kind: 'zone_presence', zone: SQUARE });
  const engine = new RuleEngine({ newAlertId: (ns) => `a-${ns - T0}` });
  engine.setRules([dwell, pres], T0);
  const ev: AlertEvent[] = [];
  ev.push(...engine.process(frame(0, [[1, 200, 200]])));
  ev.push(...engine.process(frame(3, [[1, 200, 200]])));
  // Add a rule, keep dwell as is, change presence: presence's open alert is cleared, dwell keeps its 3 s.
  const extra = validateRule({ id: 'e', name: 'E', kind: 'zone_enter', zone: SQUARE });
  ev.push(...engine.setRules([dwell, { ...pres, name: 'Yard' }, extra], sec(4)));
  ev.push(...engine.process(frame(5, [[1, 200, 200]])));
  assert.deepEqual(brief(ev), [
    'raised p [1] 1 object in Y @0',
    'cleared p [1] 1 object in Y @4',
    'raised d [1] person 1 in Bench for 5.0 s @5',
    'raised p [1] 1 object in Yard @5',
    'raised e [1] person 1 entered E @5',
  ]);
  assert.equal(ev[1]!.alert.details.reason, 'rule changed');
  const removed = engine.setRules([], sec(6));
  assert.deepEqual(brief(removed).map((l) => l.split(' ').slice(0, 2).join(' ')), ['cleared d', 'cleared p']);
  assert.deepEqual(removed.map((e) => e.alert.details.reason), ['rule removed', 'rule removed']);
});

test('acknowledge marks a held alert and keeps the state through updates', () => {
  const engine = new RuleEngine({ newAlertId: () => 'A1' });
  engine.setRules([validateRule({ id: 'p', kind: 'zone_presence', zone: SQUARE })], T0);
  engine.process(frame(0, [[1, 200, 200]]));
  const a = engine.acknowledge('A1', 'alice', sec(1));
  assert.equal(a?.state, 'acknowledged');
  assert.equal(a?.acknowledgedBy, 'alice');
  const up = engine.process(frame(2, [[1, 200, 200], [2, 150, 150]]));
  assert.deepEqual(up.map((e) => [e.type, e.alert.state, e.alert.acknowledgedBy]), [['updated', 'acknowledged', 'alice']]);
  assert.equal(engine.acknowledge('nope', 'alice', sec(3)), null);
});

test('a normalized zone on cameras of different sizes scales per camera', () => {
  const rule = { id: 'n', name: 'Half', kind: 'zone_enter', zone: { points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]], normalized: true } };
  const f: RuleFrame[] = [
    frame(0, [[1, 400, 200]], [], 'cam1', 640, 480), // x 400 > 320: outside on cam1
    frame(0, [[1, 400, 200]], [], 'cam2', 1280, 720), // x 400 < 640: inside on cam2
    frame(1, [[1, 300, 200]], [], 'cam1', 640, 480), // now inside on cam1
    frame(1, [[1, 700, 200]], [], 'cam2', 1280, 720),
  ];
  const { events } = run([rule], f);
  assert.deepEqual(events.map((e) => [e.alert.cameraId, Number(e.alert.raisedNs - T0) / 1e9]), [['cam2', 0], ['cam1', 1]]);
});

test('dropping a camera clears its condition alerts and forgets its tracks', () => {
  const engine = new RuleEngine({ newAlertId: (ns) => `a-${ns - T0}` });
  engine.setRules(validateRules([{ id: 'p', name: 'Y', kind: 'zone_presence', zone: SQUARE }, { id: 'g', name: 'G', kind: 'tripwire', line: { from: [0, 240], to: [640, 240] } }]), T0);
  const ev: AlertEvent[] = [];
  ev.push(...engine.process(frame(0, [[1, 200, 200]])));
  ev.push(...engine.process(frame(1, [[1, 200, 250]])));
  ev.push(...engine.dropCamera('cam1', sec(2)));
  assert.deepEqual(brief(ev), ['raised p [1] 1 object in Y @0', 'raised g [1] person crossed G (A→B) @1', 'cleared p [1] 1 object in Y @2']);
  assert.equal(ev[2]!.alert.details.reason, 'camera stopped');
  assert.equal(engine.counts('g', 'cam1'), undefined);
  // Track 1 seen again after the drop is new to every rule: first seen inside = entered, no crossing.
  assert.deepEqual(brief(engine.process(frame(3, [[1, 200, 200]]))), ['raised p [1] 1 object in Y @3']);
});
