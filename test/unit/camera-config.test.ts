/** Config, sources, redaction and backoff: exact values and exact messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, substituteEnv, SAMPLE_CLIP } from '../../src/config/index.js';
import { parseSource } from '../../src/camera/source.js';
import { parseTensorSpec, DEFAULT_TENSOR } from '../../src/camera/tensor.js';
import { backoffDelay } from '../../src/camera/backoff.js';
import { redactText, redactUrl } from '../../src/redact.js';
import { fill } from '../../src/camera/templates.js';

test('embedded defaults: one looping sample camera, port 8001, data in ./data', () => {
  const c = parseConfig({}, '/srv/vigil');
  assert.equal(c.server.port, 8001);
  assert.equal(c.dataDir, '/srv/vigil/data');
  assert.equal(c.cameras.length, 1);
  const cam = c.cameras[0]!;
  assert.equal(cam.id, 'sample');
  assert.deepEqual(cam.source, { kind: 'file', path: SAMPLE_CLIP, codec: undefined, loop: true, realtime: true, rawFps: 25 });
  assert.equal(cam.detectFps, 5);
  assert.deepEqual(cam.decoder, { threads: 1, deblock: true });
  // The detector's input (INT8 NanoDet 416), with motion regions letterboxed into its 320 build (made by set-up).
  assert.deepEqual(cam.tensor, { ...DEFAULT_TENSOR, regions: { enabled: true, inputSize: 320, maxShare: 0.35, fullFrameEvery: 30, minSide: 160 } });
  assert.deepEqual(cam.motion, { downscale: 8, sensitivity: 0.6, minChangedFraction: 0.002, learningRate: 0.05, masks: [] });
  assert.equal(c.detector!.precision, 'int8');
  assert.deepEqual(c.analysis, { quietFps: 1, holdMs: 3000 });
  assert.deepEqual(c.snapshots, { enabled: true, quality: 60, maxWidth: 640, fsync: 'always' });
});

test('the camera tensor follows the detector; cameraDefaults.tensor keys override it; analysis can be off', () => {
  const c = parseConfig({
    detector: { model: 'centernet' },
    analysis: false,
    cameraDefaults: { tensor: { padColor: [0, 0, 0] } },
    cameras: [{ id: 'a', source: 'test:ball' }],
  });
  assert.deepEqual(c.cameras[0]!.tensor, { width: 512, height: 512, layout: 'nhwc-f32', colorOrder: 'rgb', mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] });
  assert.equal(c.analysis, null);
  assert.equal(parseConfig({ detector: false, cameras: [{ id: 'a', source: 'test:ball' }] }).detector, null);
  assert.throws(() => parseConfig({ detector: { precision: 'int4' } }), { code: 'E_CONFIG', message: 'Expected "int8" or "fp32" for detector.precision but received "int4"' });
  assert.throws(() => parseConfig({ analysis: { quietFps: 0 } }), { code: 'E_CONFIG', message: 'Expected a number from 0.1 to 30 for analysis.quietFps but received 0' });
  assert.throws(() => parseConfig({ analysis: 3 }), { code: 'E_CONFIG', message: 'Expected an object or false for analysis but received 3' });
  assert.throws(() => parseConfig({ snapshots: { fsync: 'sometimes' } }), { code: 'E_CONFIG', message: 'Expected "always" or "never" for snapshots.fsync but received "sometimes"' });
});

test('motion gate settings: off, defaults, masks validated', () => {
  const cams = parseConfig({
    cameras: [
      { id: 'a', source: 'test:ball', motion: false },
      { id: 'b', source: 'test:ball', motion: { sensitivity: 0.9, masks: [[[0, 0], [100, 0], [100, 50]]] } },
    ],
  }).cameras;
  assert.equal(cams[0]!.motion, null);
  assert.deepEqual(cams[1]!.motion, { downscale: 8, sensitivity: 0.9, minChangedFraction: 0.002, learningRate: 0.05, masks: [[[0, 0], [100, 0], [100, 50]]] });
  assert.throws(() => parseConfig({ cameras: [{ id: 'a', source: 'test:ball', motion: { masks: [[[0, 0], [1, 1]]] } }] }), {
    code: 'E_CONFIG',
    message: 'Expected a list of polygons of at least 3 [x, y] points for cameras[0].motion.masks but received [[[0,0],[1,1]]]',
  });
});

test('camera defaults apply and relative file paths resolve against the config folder', () => {
  const c = parseConfig(
    {
      cameraDefaults: { detectFps: 2, decodeThreads: 2, decodeDeblock: false },
      cameras: [{ id: 'a', source: 'clips/a.mp4' }, { id: 'b', source: 'test:ball', detectFps: 0, decodeDeblock: true }],
    },
    '/etc/vigil',
  );
  assert.equal(c.cameras[0]!.detectFps, 2);
  assert.deepEqual(c.cameras[0]!.decoder, { threads: 2, deblock: false });
  assert.deepEqual(c.cameras[1]!.decoder, { threads: 2, deblock: true });
  assert.equal((c.cameras[0]!.source as { path: string }).path, '/etc/vigil/clips/a.mp4');
  assert.equal(c.cameras[1]!.detectFps, 0);
});

test('bad config values name the key', () => {
  assert.throws(() => parseConfig({ cameras: [{ id: 'a b', source: 'test:ball' }] }), {
    code: 'E_CONFIG',
    message: 'Expected an id of 1-64 letters, digits, _ or - for cameras[0].id but received "a b"',
  });
  assert.throws(() => parseConfig({ cameras: [{ id: 'a', source: 'test:ball', decodeDeblock: 'no' }] }), {
    code: 'E_CONFIG',
    message: 'Expected true or false for cameras[0].decodeDeblock but received "no"',
  });
  assert.throws(() => parseConfig({ cameras: [{ id: 'a', source: 'test:ball', detectFps: -1 }] }), {
    code: 'E_CONFIG',
    message: 'Expected an integer from 0 to 240 for cameras[0].detectFps but received -1',
  });
  assert.throws(() => parseConfig({ cameras: [{ id: 'a', source: { kind: 'rtsp', url: 'rtsp://h/s', transport: 'quic' } }] }), {
    code: 'E_CONFIG',
    message: 'Expected "tcp", "udp" or "auto" for cameras[0].source.transport but received "quic"',
  });
  assert.throws(() => parseConfig({ cameras: [{ id: 'a', source: 'test:ball' }, { id: 'a', source: 'test:snow' }] }), {
    code: 'E_CONFIG',
    message: 'Camera id a is used twice in cameras',
  });
  assert.throws(() => parseConfig({ cameras: [{ id: 'a', source: 'test:ball', tensor: { std: [1, 0, 1] } }] }), {
    code: 'E_CONFIG',
    message: 'Expected a positive number for cameras[0].tensor.std[1] but received 0',
  });
  assert.throws(() => parseConfig({ server: { port: 70000 } }), {
    code: 'E_CONFIG',
    message: 'Expected an integer from 0 to 65535 for server.port but received 70000',
  });
});

test('${VIGIL_*} substitution, with defaults; other variables refused', () => {
  assert.equal(substituteEnv('pw: ${VIGIL_PW}', { VIGIL_PW: 's3cret' }), 'pw: s3cret');
  assert.equal(substituteEnv('port: ${VIGIL_PORT:-8001}', {}), 'port: 8001');
  assert.throws(() => substituteEnv('x: ${HOME}', { HOME: '/root' }), {
    code: 'E_CONFIG',
    message: 'Only VIGIL_* variables can be substituted in the config, found ${HOME}',
  });
  assert.throws(() => substituteEnv('x: ${VIGIL_MISSING}', {}), {
    code: 'E_CONFIG',
    message: 'The config uses ${VIGIL_MISSING} but it is not set in the environment',
  });
});

test('a YAML file with substitution loads; missing and malformed files are clear errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
  try {
    const file = join(dir, 'vigil.yaml');
    process.env.VIGIL_TEST_FPS = '3';
    writeFileSync(file, 'cameras:\n  - id: t\n    source: test:ball\n    detectFps: ${VIGIL_TEST_FPS}\n');
    assert.equal(loadConfig(file).cameras[0]!.detectFps, 3);
    writeFileSync(file, 'cameras: [\n');
    assert.throws(() => loadConfig(file), (e: Error & { code?: string }) => e.code === 'E_CONFIG' && e.message.startsWith(`Config file ${file} is not valid YAML: `));
    assert.throws(() => loadConfig(join(dir, 'nope.yaml')), { code: 'E_CONFIG', message: `Config file not found: ${join(dir, 'nope.yaml')}` });
  } finally {
    delete process.env.VIGIL_TEST_FPS;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('source shorthands', () => {
  assert.deepEqual(parseSource('rtsp://cam.local/s1'), {
    kind: 'rtsp', url: 'rtsp://cam.local/s1', transport: 'tcp', latencyMs: 200, codec: 'h264', connectTimeoutMs: 5000,
  });
  assert.deepEqual(parseSource('test:snow'), { kind: 'test', pattern: 'snow', width: 1280, height: 720, fps: 15, live: true, numBuffers: 0 });
  assert.equal((parseSource('file:///var/clips/a%20b.mp4') as { path: string }).path, '/var/clips/a b.mp4');
  assert.throws(() => parseSource({ kind: 'rtsp', url: 'http://x' }), {
    code: 'E_ARGUMENT',
    message: 'Expected an rtsp:// URL for source.url but received "(redacted)"',
  });
  assert.throws(() => parseSource({ kind: 'file', path: 'a.mp4', codec: 'vp9' }), {
    code: 'E_ARGUMENT',
    message: 'Expected one of "h264", "h265", "mpeg4", "msmpeg4v3", "mjpeg", "auto" for source.codec but received "vp9"',
  });
  assert.throws(() => parseSource(42), { code: 'E_ARGUMENT', message: 'Expected a source URL or object for source but received 42' });
});

test('tensor spec validation', () => {
  assert.deepEqual(parseTensorSpec({ width: 640, height: 640, layout: 'nhwc-u8', colorOrder: 'rgb' }), {
    ...DEFAULT_TENSOR, width: 640, height: 640, layout: 'nhwc-u8', colorOrder: 'rgb',
  });
  assert.throws(() => parseTensorSpec({ layout: 'nchw' }), {
    code: 'E_ARGUMENT',
    message: 'Expected one of "nchw-f32", "nhwc-u8", "nhwc-f32" for tensor.layout but received "nchw"',
  });
  assert.throws(() => parseTensorSpec({ padColor: [0, 0, 256] }), {
    code: 'E_ARGUMENT',
    message: 'Expected an integer from 0 to 255 for tensor.padColor[2] but received 256',
  });
});

test('credentials are redacted in URLs and in text, plain and percent-encoded', () => {
  assert.equal(redactUrl('rtsp://admin:hunter2@10.0.0.5:554/s'), 'rtsp://***@10.0.0.5:554/s');
  const secret = 'p@ss:w/rd%';
  const text = `Could not connect to rtsp://10.0.0.5/s as admin with ${secret} (${encodeURIComponent(secret)})`;
  assert.equal(redactText(text, [secret]), 'Could not connect to rtsp://10.0.0.5/s as admin with *** (***)');
});

test('backoff: exponential, capped, jittered within [1 - jitter, 1] of the step', () => {
  const o = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, o, () => 0)), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.deepEqual([1, 2, 8].map((a) => backoffDelay(a, o, () => 1)), [400, 800, 24000]);
});

test('templates reject unknown placeholders', () => {
  assert.equal(fill('a {{x}} b', { x: '1' }), 'a 1 b');
  assert.throws(() => fill('a {{y}}', {}), { message: 'pipeline template parameter y has no value' });
});
