/**
 * Inputs with roles: one camera detects on a 360p substream and records the 720p main stream untouched, made here
 * from the same footage at two resolutions (as a camera's two encoders would give). Frames arrive at 360p; the
 * segments hold the 720p packets byte for byte (no decoder in the record pipeline); a detection's time, cut as a
 * clip, contains that moment; the record input is supervised on its own; config errors name their path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Camera, type RecordInputState } from '../../src/camera/camera.js';
import { parseCameraInputs } from '../../src/camera/source.js';
import { parseConfig } from '../../src/config/index.js';
import { VigilConfigError, VigilError } from '../../src/errors.js';
import { Recorder } from '../../src/recording/recorder.js';
import { cutClip } from '../../src/recording/clips.js';
import { cameraSettings } from '../helpers/camera.js';
import { ffmpeg, media, packetHashes } from '../helpers/media.js';
import { sleep, until } from '../helpers/wait.js';

const FPS = 10; // vtest's own rate: every frame distinct, none duplicated
const SECONDS = 20;
let dir = '';
let main = '';
let sub = '';

/** Every frame of a file as 64x36 grey thumbnails (the same scaler for either resolution). */
function thumbs(path: string): Buffer[] {
  const raw = ffmpeg('-i', path, '-vf', 'scale=64:36:flags=area', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1');
  const n = raw.length / (64 * 36);
  return Array.from({ length: n }, (_, i) => raw.subarray(i * 64 * 36, (i + 1) * 64 * 36));
}

function mse(a: Buffer, b: Buffer): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

/** Source frame index of each frame of `path`, by nearest thumbnail of the source clip (which must be clear). */
function sourceIndexes(path: string, reference: Buffer[]): number[] {
  return thumbs(path).map((t) => {
    const d = reference.map((r) => mse(t, r));
    const best = d.indexOf(Math.min(...d));
    const runnerUp = Math.min(...d.filter((_, i) => Math.abs(i - best) > 1));
    assert.ok(d[best]! * 2 < runnerUp, `frame of ${path} matches source frame ${best} clearly (${d[best]!.toFixed(1)} vs ${runnerUp.toFixed(1)})`);
    return best;
  });
}

function probe(path: string): { codec: string; width: number; height: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path]);
  const s = JSON.parse(out.toString()).streams[0];
  return { codec: s.codec_name, width: s.width, height: s.height };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-inputs-'));
  main = join(dir, 'main-720p.mp4');
  sub = join(dir, 'sub-360p.mp4');
  const x264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(FPS), '-bf', '0', '-an', '-t', String(SECONDS)];
  ffmpeg('-i', media('vtest.avi'), '-vf', 'scale=1280:720:flags=bicubic', ...x264, '-b:v', '2M', main);
  ffmpeg('-i', media('vtest.avi'), '-vf', 'scale=640:360:flags=bicubic', ...x264, '-b:v', '500k', sub);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('detect on the 360p input, record the 720p input untouched; a detection time falls inside its clip', async () => {
  const recorder = new Recorder({ indexPath: join(dir, 'index'), recordingsDir: join(dir, 'rec'), minFreeBytes: 0, maxBytes: 0 });
  await recorder.start();
  recorder.setPolicy('cam', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
  const inputs = parseCameraInputs(
    {
      inputs: [
        { role: 'detect', source: { kind: 'file', path: sub, realtime: true } },
        { role: 'record', source: { kind: 'file', path: main, realtime: true } },
      ],
    },
    'cameras[0]',
  );
  assert.equal(inputs.source.kind === 'file' && inputs.source.path, sub);
  assert.equal(inputs.recordSource?.kind === 'file' && inputs.recordSource.path, main);
  const camera = new Camera(
    cameraSettings('cam', inputs.source, {
      recordSource: inputs.recordSource,
      recording: { directory: join(dir, 'rec', 'cam'), prefix: 'cam', format: 'mp4', segmentSeconds: 2 },
    }),
  );
  const sizes = new Set<string>();
  const frames: Array<{ ptsNs: number; wallClockNs: bigint }> = [];
  const recordStates: RecordInputState[] = [];
  const pending: Promise<void>[] = [];
  camera.on('frame', (f) => {
    sizes.add(`${f.sourceWidth}x${f.sourceHeight}`);
    frames.push({ ptsNs: f.ptsNs, wallClockNs: f.wallClockNs });
    f.release();
  });
  camera.on('recordState', (s) => recordStates.push(s));
  camera.on('segment', (e) => pending.push(recorder.onSegment(e)));
  camera.start();
  try {
    await until(() => camera.state === 'running' && camera.recordState === 'running', 5000, 'both inputs running');
    await sleep(7000);
    const c = camera.counters();
    assert.equal(camera.decoder?.element, 'avdec_h264');
    assert.ok(c.record !== null && c.record.state === 'running' && c.record.restarts === 0, JSON.stringify(c.record));
    // The record input carries every encoded 720p frame so far (about 10 a second), no decoder involved.
    assert.ok(c.record!.buffers >= 60 && c.record!.bytes > 0, JSON.stringify(c.record));
  } finally {
    camera.stop(); // both inputs: the open segment is finalised
  }
  await Promise.all(pending);
  camera.close();
  assert.deepEqual([...sizes], ['640x360']);
  assert.deepEqual(recordStates, ['starting', 'running', 'stopped']);

  const segs = recorder.index.all('cam');
  assert.ok(segs.length >= 3, `${segs.length} segments`);
  const source = packetHashes(main);
  let offset = 0;
  for (const s of segs) {
    assert.ok(s.endNs !== null, `${s.path} closed`);
    assert.deepEqual(probe(s.path), { codec: 'h264', width: 1280, height: 720 });
    // Stream copy: the segment's packets are the main stream's packets, byte for byte, in order.
    const hashes = packetHashes(s.path);
    const at = source.indexOf(hashes[0]!);
    assert.ok(at >= 0, `${s.path} starts with a packet of the main stream`);
    assert.deepEqual(hashes, source.slice(at, at + hashes.length), `${s.path} holds the main stream untouched`);
    if (s === segs[0]) assert.equal(at, 0, 'recording starts at the first packet');
  }

  // One clock: a detection stamped with frame 4 s into the detect stream, cut from the recordings as a clip.
  const reference = thumbs(sub);
  const frame = frames.find((f) => f.ptsNs >= 4e9)!;
  const n = Math.round((frame.ptsNs * FPS) / 1e9);
  const w = frame.wallClockNs;
  const clip = join(dir, 'clip.mp4');
  const halfS = 1_000_000_000n;
  await cutClip(recorder.recordings('cam', w - halfS, w + halfS), w - halfS, w + halfS, clip);
  assert.deepEqual(probe(clip), { codec: 'h264', width: 1280, height: 720 });
  const covered = sourceIndexes(clip, reference);
  for (let i = 1; i < covered.length; i++) assert.equal(covered[i], covered[i - 1]! + 1, `clip frames consecutive: ${covered.join(',')}`);
  assert.ok(covered[0]! <= n && n <= covered.at(-1)!, `source frame ${n} of the detection within the clip's ${covered[0]}..${covered.at(-1)}`);

  // The offset left between the two clocks: where the record clock puts source frame n, against the detection.
  const first = sourceIndexes(segs[0]!.path, reference)[0]!;
  const recordWallOfN = segs[0]!.startNs + BigInt(Math.round(((n - first) * 1e9) / FPS));
  offset = Number(recordWallOfN - w) / 1e6;
  console.log(`# clock offset, record minus detect, for the same source frame: ${offset.toFixed(1)} ms`);
  assert.ok(Math.abs(offset) <= 250, `record and detect clocks agree within 250 ms (${offset.toFixed(1)} ms)`);
  await recorder.close();
});

test('a failing record input restarts with backoff on its own; the camera stays running on its detect input', async () => {
  const broken = join(dir, 'broken.mp4');
  writeFileSync(broken, 'not a video');
  const camera = new Camera(
    cameraSettings('cam2', { kind: 'file', path: sub, realtime: true, loop: true }, {
      // An RTSP record input nobody serves: retryable, so it backs off and retries; detection is untouched.
      recordSource: parseCameraInputs({ inputs: [{ role: 'detect', source: sub }, { role: 'record', source: { kind: 'rtsp', url: 'rtsp://127.0.0.1:1/none', connectTimeoutMs: 200 } }] }, 'c').recordSource,
      recording: { directory: join(dir, 'rec2'), prefix: 'cam2', format: 'mp4', segmentSeconds: 2 },
      backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 },
    }),
  );
  const states: RecordInputState[] = [];
  camera.on('recordState', (s) => states.push(s));
  camera.on('frame', (f) => f.release());
  camera.start();
  try {
    await until(() => (camera.counters().record?.restarts ?? 0) >= 3, 10_000, 'three record restarts');
    assert.equal(camera.state, 'running');
    const c = camera.counters();
    assert.equal(c.restarts, 0);
    assert.equal(c.record!.lastError?.code, 'E_SOURCE_UNREACHABLE');
    assert.deepEqual(states.slice(0, 4), ['starting', 'reconnecting', 'starting', 'reconnecting']);
  } finally {
    camera.close();
  }

  // A damaged record file cannot be fixed by retrying: the record input fails, detection goes on.
  const cam3 = new Camera(cameraSettings('cam3', { kind: 'file', path: sub, realtime: true, loop: true }, {
    recordSource: { kind: 'file', path: broken, loop: false, realtime: true, rawFps: 25 },
    recording: { directory: join(dir, 'rec3'), prefix: 'cam3', format: 'mp4', segmentSeconds: 2 },
  }));
  cam3.on('frame', (f) => f.release());
  cam3.start();
  try {
    await until(() => cam3.state === 'running', 5000, 'detect input running');
    assert.equal(cam3.recordState, 'failed');
    assert.equal(cam3.counters().record!.lastError?.code, 'E_SOURCE_FORMAT');
  } finally {
    cam3.close();
  }
});

test('a looping record file starts a new run at its end: each run records the whole file once, no end-of-stream storm', async () => {
  // Two seconds of the main stream (20 packets, keyframes at 0 and 1 s), copied, so each run is short.
  const short = join(dir, 'main-2s.mp4');
  ffmpeg('-i', main, '-t', '2', '-c', 'copy', short);
  const clip = packetHashes(short);
  assert.equal(clip.length, 2 * FPS);
  const camera = new Camera(
    cameraSettings('cam4', { kind: 'file', path: sub, realtime: true, loop: true }, {
      recordSource: { kind: 'file', path: short, loop: true, realtime: true, rawFps: 25 },
      // Longer than the file: one segment per run.
      recording: { directory: join(dir, 'rec4'), prefix: 'cam4', format: 'mp4', segmentSeconds: 30 },
    }),
  );
  const states: RecordInputState[] = [];
  const boundaries: Array<{ phase: string; location: string; run: number }> = [];
  camera.on('recordState', (s) => states.push(s));
  camera.on('segment', (e) => boundaries.push({ phase: e.phase, location: e.location, run: e.run }));
  camera.on('frame', (f) => f.release());
  camera.start();
  try {
    // Three loops, and the fourth run under way (stopped at once: no loop can end in between).
    const recording = (): boolean => {
      const r = camera.counters().record;
      return r !== null && r.loops >= 3 && r.buffers > r.loops * clip.length;
    };
    await until(recording, 15_000, 'three loops of the record input');
    const c = camera.counters().record!;
    assert.equal(c.state, 'running');
    assert.equal(c.restarts, 0);
    assert.equal(c.lastError, null);
  } finally {
    camera.stop();
  }
  const c = camera.counters().record!;
  camera.close();
  // Before: a flushing seek after EOS let one keyframe through splitmuxsink and ended again, thousands of times a
  // second, each with a 'closed' boundary for the same file, and nothing more was recorded.
  assert.deepEqual(states, ['starting', 'running', 'stopped']);
  assert.ok(c.buffers > c.loops * clip.length && c.buffers <= (c.loops + 1) * clip.length, `${c.buffers} buffers in ${c.loops} loops`);
  const opened = boundaries.filter((b) => b.phase === 'opened');
  const closed = boundaries.filter((b) => b.phase === 'closed');
  assert.equal(opened.length, c.loops + 1);
  assert.deepEqual(closed.map((b) => b.location), opened.map((b) => b.location));
  assert.equal(new Set(opened.map((b) => b.run)).size, opened.length, 'a new run per loop');
  // Every completed run holds the whole file, byte for byte; the last run, stopped, a prefix of it.
  for (const [i, b] of opened.entries()) {
    const hashes = packetHashes(b.location);
    if (i < c.loops) assert.deepEqual(hashes, clip, `run ${i + 1} recorded the whole file`);
    else assert.deepEqual(hashes, clip.slice(0, hashes.length), 'the stopped run recorded the start of the file');
  }
});

function configError(camera: unknown): string {
  try {
    parseConfig({ cameras: [camera] }, dir);
  } catch (err) {
    assert.ok(err instanceof VigilConfigError);
    return (err as VigilError).message;
  }
  throw new Error('no error');
}

test('config: inputs by role, a single source means both, and errors name the exact path', () => {
  const cfg = parseConfig(
    {
      cameras: [
        {
          id: 'door',
          inputs: [
            { role: 'record', source: 'rtsp://10.0.0.5/main' },
            { role: 'detect', source: 'rtsp://10.0.0.5/sub' },
          ],
          record: { mode: 'continuous' },
        },
        { id: 'one', source: 'clips/a.mp4', record: { mode: 'event' } },
        { id: 'both', inputs: [{ role: ['detect', 'record'], source: 'clips/b.mp4' }] },
      ],
    },
    '/srv',
  );
  const [door, one, both] = cfg.cameras;
  assert.equal(door!.source.kind === 'rtsp' && door!.source.url, 'rtsp://10.0.0.5/sub');
  assert.equal(door!.recordSource?.kind === 'rtsp' && door!.recordSource.url, 'rtsp://10.0.0.5/main');
  assert.equal(one!.source.kind === 'file' && one!.source.path, '/srv/clips/a.mp4');
  assert.equal(one!.recordSource, null);
  assert.equal(both!.source.kind === 'file' && both!.source.path, '/srv/clips/b.mp4');
  assert.equal(both!.recordSource, null);
  const rel = parseConfig({ cameras: [{ id: 'r', inputs: [{ role: 'detect', source: 'a.mp4' }, { role: 'record', source: 'b.mp4' }] }] }, '/srv');
  assert.equal(rel.cameras[0]!.recordSource?.kind === 'file' && rel.cameras[0]!.recordSource.path, '/srv/b.mp4');

  const d = { role: 'detect', source: 'a.mp4' };
  assert.equal(
    configError({ id: 'x', inputs: [d, { role: 'view', source: 'b.mp4' }] }),
    'Expected "detect", "record" or a list of them for cameras[0].inputs[1].role but received "view"',
  );
  assert.equal(
    configError({ id: 'x', inputs: [d, { source: 'b.mp4' }] }),
    'Expected "detect", "record" or a list of them for cameras[0].inputs[1].role but received undefined',
  );
  assert.equal(
    configError({ id: 'x', inputs: [d, { role: 'detect', source: 'b.mp4' }] }),
    'Expected one input per role ("detect" is already the role of inputs[0]) for cameras[0].inputs[1].role but received "detect"',
  );
  assert.equal(
    configError({ id: 'x', inputs: [{ role: ['record', 'record'], source: 'b.mp4' }] }),
    'Expected "detect", "record" or a list of them without repeats for cameras[0].inputs[0].role but received an array of length 2',
  );
  assert.equal(
    configError({ id: 'x', inputs: [{ role: 'record', source: 'b.mp4' }] }),
    'Expected one input with role "detect" for cameras[0].inputs but received an array of length 1',
  );
  assert.equal(configError({ id: 'x', inputs: [] }), 'Expected a list of 1 to 2 { role, source } entries for cameras[0].inputs but received an array of length 0');
  assert.equal(configError({ id: 'x', inputs: 'a.mp4' }), 'Expected a list of 1 to 2 { role, source } entries for cameras[0].inputs but received "a.mp4"');
  assert.equal(configError({ id: 'x', inputs: [d, 7] }), 'Expected an object with role and source for cameras[0].inputs[1] but received 7');
  assert.equal(
    configError({ id: 'x', inputs: [d, { role: 'record', source: { kind: 'ftp' } }] }),
    'Expected "file", "rtsp" or "test" for cameras[0].inputs[1].source.kind but received "ftp"',
  );
  assert.equal(
    configError({ id: 'x', inputs: [d, { role: 'record', source: 'test:ball' }] }),
    'Expected a file or RTSP source (a test pattern has no encoded stream to record) for cameras[0].inputs[1].source.kind but received "test"',
  );
  assert.equal(
    configError({ id: 'x', source: 'a.mp4', inputs: [d] }),
    'Expected either source or inputs, not both for cameras[0].source but received "a.mp4"',
  );
  assert.equal(configError({ id: 'x' }), 'Expected a source URL or object for cameras[0].source but received undefined');
});
