/**
 * A looping file camera that records its one source (a tee into splitmuxsink in the detect pipeline) goes on
 * recording across loops: each loop is a new run with its own segments, which together hold that loop's packets
 * byte for byte; the detect path delivers every frame of every loop with rising sequences; `loops` counts each loop
 * once. Before: after the flushing seek at each end splitmuxsink reopened the segment it had just closed (0 bytes)
 * and sent EOS back through the tee to the demuxer, so the detect branch ended early too: a partial pass after each
 * loop, counted as a loop, then an error and a reconnect. A looping camera that does not record keeps its rewind
 * (no new pipeline).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Camera } from '../../src/camera/camera.js';
import { CameraPipeline } from '../../src/camera/pipeline.js';
import type { CameraStatus } from '../../src/types.js';
import { Recorder } from '../../src/recording/recorder.js';
import { cameraSettings } from '../helpers/camera.js';
import { ffmpeg, media, packetHashes } from '../helpers/media.js';
import { until } from '../helpers/wait.js';

const FPS = 10; // vtest's own rate: every frame distinct, none duplicated
const LOOPS = 3;
let dir = '';
let clip = '';
let packets: string[] = [];
/** PTS of the clip's frames, ns. */
let pts: number[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-loop-rec-'));
  // Two seconds (20 packets, keyframes at 0 and 1 s), so each loop is short.
  const full = join(dir, 'full.mp4');
  clip = join(dir, 'clip-2s.mp4');
  ffmpeg('-i', media('vtest.avi'), '-vf', 'scale=320:180:flags=bicubic', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(FPS), '-bf', '0', '-an', '-t', '4', full);
  ffmpeg('-i', full, '-t', '2', '-c', 'copy', clip);
  packets = packetHashes(clip);
  assert.equal(packets.length, 2 * FPS);
  pts = packets.map((_, i) => (i * 1e9) / FPS);
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  states: CameraStatus[];
  reconnects: number;
  frames: Array<{ sequence: number; ptsNs: number }>;
  rewinds: number;
}

/** Runs a looping camera on the clip until the first frame after LOOPS loops, then stops it. */
async function loopThrice(camera: Camera): Promise<Seen> {
  const seen: Seen = { states: [], reconnects: 0, frames: [], rewinds: 0 };
  const rewind = CameraPipeline.prototype.rewind;
  CameraPipeline.prototype.rewind = function (this: CameraPipeline) {
    seen.rewinds++;
    return rewind.call(this);
  };
  let stopped = false;
  camera.on('state', (s) => seen.states.push(s));
  camera.on('reconnecting', () => seen.reconnects++);
  camera.on('frame', (f) => {
    seen.frames.push({ sequence: f.sequence, ptsNs: f.ptsNs });
    f.release();
    // The first frame of the fourth run: stop at once (no loop can end in between).
    if (!stopped && camera.counters().loops === LOOPS) {
      stopped = true;
      setImmediate(() => camera.stop());
    }
  });
  try {
    camera.start();
    await until(() => camera.state === 'stopped', 20_000, `${LOOPS} loops and the camera stopped`);
  } finally {
    CameraPipeline.prototype.rewind = rewind;
    camera.stop();
  }
  return seen;
}

/** Frames of each pass over the file (the PTS starts over), the last (stopped) one left out. */
function framesPerLoop(seen: Seen): number[] {
  const counts: number[] = [];
  let last = Infinity;
  for (const f of seen.frames) {
    if (f.ptsNs <= last) counts.push(0);
    counts[counts.length - 1]!++;
    last = f.ptsNs;
  }
  return counts.slice(0, -1);
}

/** Every frame of every loop once, in order, numbered on across loops; the last (stopped) run a prefix. */
function assertFramesOfEveryLoop(seen: Seen): void {
  const n = seen.frames.length;
  assert.ok(n > LOOPS * pts.length && n <= (LOOPS + 1) * pts.length, `${n} frames in ${LOOPS} loops`);
  assert.deepEqual(
    seen.frames.map((f) => f.sequence),
    Array.from({ length: n }, (_, i) => i),
  );
  assert.deepEqual(
    seen.frames.map((f) => f.ptsNs),
    Array.from({ length: n }, (_, i) => pts[i % pts.length]),
  );
}

test('a looping file camera that records its source records every loop, one run of segments per loop', async () => {
  const recorder = new Recorder({ indexPath: join(dir, 'index'), recordingsDir: join(dir, 'rec'), minFreeBytes: 0, maxBytes: 0 });
  await recorder.start();
  recorder.setPolicy('cam', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
  const camera = new Camera(
    cameraSettings('cam', { kind: 'file', path: clip, realtime: true, loop: true }, {
      // Two segments per loop: cut at the keyframe at 1 s.
      recording: { directory: join(dir, 'rec', 'cam'), prefix: 'cam', format: 'mp4', segmentSeconds: 1 },
    }),
  );
  const boundaries: Array<{ phase: string; location: string; run: number }> = [];
  const pending: Promise<void>[] = [];
  camera.on('segment', (e) => {
    boundaries.push({ phase: e.phase, location: e.location, run: e.run });
    pending.push(recorder.onSegment(e));
  });
  const seen = await loopThrice(camera);
  const c = camera.counters();
  camera.close();
  await Promise.all(pending);

  const opened = boundaries.filter((b) => b.phase === 'opened');
  const closed = boundaries.filter((b) => b.phase === 'closed');
  const runs = [...new Set(opened.map((b) => b.run))];
  const completed = runs.slice(0, -1).map((run) => opened.filter((b) => b.run === run).map((b) => b.location));
  // Before the fix, e.g. { loops: 3, framesPerLoop: [20, 18, 20], packetsPerSegment: [[10, 0]], restarts: 1,
  // lastError: 'E_STREAM', states: [starting, running, reconnecting, starting, running, stopped], rewinds: 3 }: after
  // each rewind a partial pass (the demuxer ended by splitmuxsink's EOS) counted as a loop, the segment open at the
  // end reopened at 0 bytes, then splitmuxsink failed and the camera reconnected.
  assert.deepEqual(
    {
      loops: c.loops,
      framesPerLoop: framesPerLoop(seen),
      packetsPerSegment: completed.map((files) => files.map((f) => (statSync(f).size === 0 ? 0 : packetHashes(f).length))),
      restarts: c.restarts,
      lastError: c.lastError?.code ?? null,
      framesDropped: c.framesDropped,
      states: seen.states,
      reconnects: seen.reconnects,
      rewinds: seen.rewinds,
    },
    {
      loops: LOOPS,
      framesPerLoop: Array(LOOPS).fill(2 * FPS),
      // Two segments per loop: cut at the keyframe at 1 s.
      packetsPerSegment: Array(LOOPS).fill([FPS, FPS]),
      restarts: 0,
      lastError: null,
      framesDropped: 0,
      states: ['starting', 'running', 'stopped'],
      reconnects: 0,
      rewinds: 0,
    },
  );
  assertFramesOfEveryLoop(seen);

  assert.deepEqual(closed.map((b) => b.location).sort(), opened.map((b) => b.location).sort());
  assert.equal(new Set(opened.map((b) => b.location)).size, opened.length, 'a file of its own for every segment');
  assert.equal(runs.length, LOOPS + 1, 'a new run per loop');
  // Each completed loop's segments hold the whole file, byte for byte, cut at its second keyframe; the stopped
  // run's, the start of it.
  for (const [i, run] of runs.entries()) {
    const files = opened.filter((b) => b.run === run).map((b) => b.location);
    const hashes = files.flatMap((f) => packetHashes(f));
    if (i < LOOPS) {
      assert.deepEqual(hashes, packets, `loop ${i + 1} recorded the whole file`);
    } else {
      assert.ok(hashes.length > 0, 'the stopped run recorded something');
      assert.deepEqual(hashes, packets.slice(0, hashes.length), 'the stopped run recorded the start of the file');
    }
  }
  // The index holds them all, closed, back to back in time (each loop anchored after the last one's end).
  const segs = recorder.index.all('cam');
  assert.equal(segs.length, opened.length);
  for (const [i, s] of segs.entries()) {
    assert.ok(s.endNs !== null && s.endNs > s.startNs, `${s.path} closed`);
    assert.equal(s.sizeBytes, statSync(s.path).size);
    if (i > 0) assert.ok(s.startNs >= segs[i - 1]!.endNs!, `${s.path} starts after the one before ends`);
  }
  await recorder.close();
});

test('a looping file camera that does not record rewinds: one pipeline, every frame of every loop', async () => {
  const camera = new Camera(cameraSettings('plain', { kind: 'file', path: clip, realtime: true, loop: true }));
  const seen = await loopThrice(camera);
  const c = camera.counters();
  camera.close();
  assert.deepEqual(
    { loops: c.loops, framesPerLoop: framesPerLoop(seen), restarts: c.restarts, lastError: c.lastError, framesDropped: c.framesDropped, states: seen.states, rewinds: seen.rewinds },
    { loops: LOOPS, framesPerLoop: Array(LOOPS).fill(2 * FPS), restarts: 0, lastError: null, framesDropped: 0, states: ['starting', 'running', 'stopped'], rewinds: LOOPS },
  );
  assertFramesOfEveryLoop(seen);
});
