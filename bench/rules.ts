/**
 * Rule evaluation cost per tracked object per frame with 100 rules on a camera, and the share of a frame interval
 * it takes at 8 cameras.
 *
 * Assumptions (stated in the output): 10 tracked objects per frame (the vtest clip has 4-8 people plus parked
 * vehicles), 10 detect fps per camera (a 100 ms frame interval), 8 cameras evaluated on one core. The 100 rules
 * are a realistic mix: 20 zone_enter, 15 zone_exit, 15 zone_presence, 20 tripwire, 10 dwell, 10 occupancy,
 * 10 sequence; zones are 6-8 vertex polygons; 20 of the rules carry a schedule (Intl time-zone lookups);
 * objects walk so that zones are entered and lines crossed, and alerts are raised during the run.
 *
 * Baselines measured in the same run: the same frames through an engine with 0 rules (the per-frame floor) and
 * with 1 rule, and the tracker's own update cost per object (the stage before the rules).
 *
 * Run: node --import tsx bench/rules.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { RuleEngine } from '../src/rules/engine.js';
import { validateRules } from '../src/rules/validate.js';
import type { RuleFrame } from '../src/rules/types.js';
import { Tracker } from '../src/tracking/tracker.js';
import type { DetectionBatch } from '../src/types.js';

const OBJECTS = 10;
const FPS = 10;
const CAMERAS = 8;
const FRAMES = 3000; // 5 minutes of one camera at 10 fps
const W = 1280;
const H = 720;

// Deterministic PRNG (mulberry32).
let seed = 0x5eed;
function rnd(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function polygon(cx: number, cy: number, r: number, n: number): number[][] {
  const pts: number[][] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    const rr = r * (0.8 + 0.4 * rnd());
    pts.push([Math.max(0, Math.round(cx + rr * Math.cos(a))), Math.max(0, Math.round(cy + rr * Math.sin(a)))]);
  }
  return pts;
}

function makeRules(): unknown[] {
  const rules: unknown[] = [];
  const zone = () => ({ points: polygon(100 + rnd() * (W - 200), 100 + rnd() * (H - 200), 60 + rnd() * 120, 6 + Math.floor(rnd() * 3)) });
  const sched = (i: number) => (i % 5 === 0 ? { schedule: { timezone: 'Europe/Berlin', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '20:00' }, { days: ['sat', 'sun'], start: '22:00', end: '06:00' }] } } : {});
  const add = (n: number, kind: string, extra: () => Record<string, unknown>) => {
    for (let i = 0; i < n; i++) rules.push({ id: `${kind}-${i}`, kind, classes: i % 2 ? ['person'] : [], minConfidence: 0.3, cooldownSeconds: i % 3 ? 10 : 0, ...sched(rules.length), ...extra() });
  };
  add(20, 'zone_enter', () => ({ zone: zone() }));
  add(15, 'zone_exit', () => ({ zone: zone() }));
  add(15, 'zone_presence', () => ({ zone: zone() }));
  add(20, 'tripwire', () => {
    const x = 100 + rnd() * (W - 200);
    return { line: { from: [x, 50 + rnd() * 100], to: [x + (rnd() - 0.5) * 200, H - 50 - rnd() * 100] }, direction: 'both' };
  });
  add(10, 'dwell', () => ({ zone: zone(), seconds: 5 + rnd() * 20 }));
  add(10, 'occupancy', () => ({ zone: zone(), condition: 'above', threshold: 1 + Math.floor(rnd() * 3), forSeconds: 2 }));
  add(10, 'sequence', () => ({ zones: [zone(), zone()], withinSeconds: 30 }));
  return rules;
}

interface Walker {
  id: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  cls: string;
}

/** Frames of one camera: OBJECTS walkers at all times; a walker leaving the frame ends and a new one starts. */
function makeFrames(): { frames: RuleFrame[]; batches: DetectionBatch[] } {
  let nextId = 1;
  const spawn = (): Walker => ({ id: nextId++, x: rnd() * W, y: rnd() * H, vx: (rnd() - 0.5) * 16, vy: (rnd() - 0.5) * 10, cls: rnd() < 0.8 ? 'person' : 'car' });
  const ws: Walker[] = Array.from({ length: OBJECTS }, spawn);
  const frames: RuleFrame[] = [];
  const batches: DetectionBatch[] = [];
  const t0 = 1_767_614_400_000_000_000n; // Monday 2026-01-05 12:00 UTC (13:00 in Berlin: scheduled rules active)
  for (let f = 0; f < FRAMES; f++) {
    const ended: number[] = [];
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      w.x += w.vx;
      w.y += w.vy;
      if (w.x < 0 || w.x > W || w.y < 40 || w.y > H) {
        ended.push(w.id);
        ws[i] = spawn();
      }
    }
    const ts = t0 + BigInt(f) * 100_000_000n;
    const objects = ws.map((w) => ({ trackId: w.id, className: w.cls, confidence: 0.5 + rnd() * 0.5, box: { x1: w.x - 20, y1: w.y - 80, x2: w.x + 20, y2: w.y } }));
    frames.push({ cameraId: 'cam1', timestampNs: ts, frameWidth: W, frameHeight: H, objects, endedTrackIds: ended });
    batches.push({
      cameraId: 'cam1', frameSequence: f, timestampNs: ts, frameWidth: W, frameHeight: H,
      detections: objects.map((o) => ({ classId: o.className === 'person' ? 0 : 2, className: o.className, confidence: o.confidence, box: o.box })),
    });
  }
  return { frames, batches };
}

/*
 * Each pass is timed twice: CPU time of this process (process.cpuUsage: what a frame interval's CPU budget is
 * spent on; the figure reported) and wall-clock time (shown beside it: on a shared, loaded machine it also counts
 * time spent waiting for a core).
 */
interface Timing {
  cpuNsPerFrame: number;
  wallNsPerFrame: number;
}
function timed(n: number, body: () => void): Timing {
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  body();
  const wall = Number(process.hrtime.bigint() - w0);
  const c = process.cpuUsage(c0);
  return { cpuNsPerFrame: ((c.user + c.system) * 1000) / n, wallNsPerFrame: wall / n };
}

function timeRules(rulesRaw: unknown[], frames: RuleFrame[]): Timing & { alerts: number } {
  const engine = new RuleEngine({ timezone: 'UTC' });
  engine.setRules(validateRules(rulesRaw), 0n);
  let alerts = 0;
  const t = timed(frames.length, () => {
    for (const f of frames) alerts += engine.process(f).length;
  });
  return { ...t, alerts };
}

function timeTracker(batches: DetectionBatch[]): Timing {
  const tr = new Tracker('cam1', { minHits: 1 });
  return timed(batches.length, () => {
    for (const b of batches) tr.update(b);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const loadStart = loadavg();
const rules100 = makeRules();
const rules1 = [rules100[0]!];
const { frames, batches } = makeFrames();
// Warm up (JIT), then 7 timed passes each, interleaved so machine noise hits all variants alike.
timeRules(rules100, frames);
timeRules([], frames);
timeTracker(batches);
const r100: Timing[] = [];
const r1: Timing[] = [];
const r0: Timing[] = [];
const trk: Timing[] = [];
let alerts = 0;
for (let i = 0; i < 7; i++) {
  const a = timeRules(rules100, frames);
  r100.push(a);
  alerts = a.alerts;
  r1.push(timeRules(rules1, frames));
  r0.push(timeRules([], frames));
  trk.push(timeTracker(batches));
}
const perObj = (xs: Timing[], k: keyof Timing) => median(xs.map((x) => x[k])) / 1000 / OBJECTS;
const usPerObj100 = perObj(r100, 'cpuNsPerFrame');
const usPerObj1 = perObj(r1, 'cpuNsPerFrame');
const usPerObj0 = perObj(r0, 'cpuNsPerFrame');
const usPerObjTracker = perObj(trk, 'cpuNsPerFrame');
const frameIntervalUs = 1e6 / FPS;
const share8 = (CAMERAS * OBJECTS * usPerObj100) / frameIntervalUs;

const round = (x: number, d = 3) => Number(x.toFixed(d));
const command = 'node --import tsx bench/rules.ts';
console.log(`assumptions: ${OBJECTS} tracked objects per frame, ${FPS} fps per camera (frame interval ${frameIntervalUs / 1000} ms), ${CAMERAS} cameras, 100 rules (mixed kinds), ${FRAMES} frames per pass, median of 7 passes`);
console.log(`alerts raised/updated/cleared per pass with 100 rules: ${alerts}`);
console.log(`load average at start: ${loadStart.map((x) => x.toFixed(2)).join(' ')} (2 vCPUs)`);
console.log('per object per frame        CPU time     wall clock');
const row = (name: string, xs: Timing[]) => console.log(`${name.padEnd(26)}  ${perObj(xs, 'cpuNsPerFrame').toFixed(3).padStart(8)} us  ${perObj(xs, 'wallNsPerFrame').toFixed(3).padStart(8)} us`);
row('rule evaluation, 100 rules', r100);
row('baseline, 1 rule', r1);
row('baseline, 0 rules', r0);
row('baseline, tracker update', trk);
console.log(`100 rules, per frame of ${OBJECTS} objects: ${round(usPerObj100 * OBJECTS)} us CPU`);
console.log(`share of a ${frameIntervalUs / 1000} ms frame interval at ${CAMERAS} cameras: ${round(share8 * 100, 3)} % (target < 1 %)`);

mkdirSync('bench/results', { recursive: true });
const out = {
  rule_eval_us_per_object_100_rules: round(usPerObj100),
  share_of_frame_interval_8cam: round(share8, 5),
  date: new Date().toISOString(),
  machine: '2 vCPU Debian 12 (node-svc)',
  command,
};
writeFileSync('bench/results/rules.json', `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out));
