/**
 * Vigil as an OEM gets it: `npm pack` (which builds dist/), the tarball unpacked into a fresh project's
 * node_modules/vigil the way npm installs a tarball, its install script run (first keeping the prebuilt addon, then
 * building it from the tarball's native/ with cmake-js), and a TypeScript program, type-checked against the
 * package's declarations, that imports only from 'vigil': native ingest of a test source, the whole server
 * embedded with detections received in-process and over the WebSocket, and the CLI from the package.
 *
 * The project's dependencies are not downloaded again: the temporary project's node_modules links to the
 * checkout's packages (what npm would have installed from the same lock file); only vigil comes from the tarball.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, media } from '../helpers/media.js';
import { modelPath } from '../../src/inference/models.js';

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 2 ** 20,
  });

/** The embedding program, as an OEM writes it: nothing but the package's public API. */
const PROGRAM = `
import WebSocket from 'ws';
import {
  CameraManager, Detector, WireDetection, WireDetectionBatch, WirePayload, VigilConfigError, VigilError, addonPath, createServer,
  loadConfig, parseConfig, parseDetectorOptions, readMessage, wholeFrameDetector, type DetectionBatch, type Frame, type Logger, type VigilServer,
} from 'vigil';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const out: Record<string, unknown> = {};

// 1. Native ingest only: three frames of a 320x240 test pattern, letterboxed into the detector's tensor.
const ingest = new CameraManager();
const [settings] = parseConfig({ cameras: [{ id: 'pattern', source: { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 30 }, detectFps: 0, motion: false }] }).cameras;
const frames = await new Promise<object[]>((resolve) => {
  const got: object[] = [];
  ingest.on('frame', (f: Frame) => {
    if (got.length === 3) return f.release();
    got.push({ cameraId: f.cameraId, source: [f.sourceWidth, f.sourceHeight], tensor: [f.tensorWidth, f.tensorHeight, f.layout, f.tensor.byteLength], letterbox: [f.scale, f.padX, f.padY] });
    f.release();
    if (got.length === 3) resolve(got);
  });
  ingest.add(settings!);
});
ingest.close();
out.frames = frames;
out.addon = addonPath();

// 2. Detection alone: the config file's detector section made into a Detector (fp32 NanoDet 416 here).
const det = await Detector.create(wholeFrameDetector(parseDetectorOptions({ precision: 'fp32' })!));
const flat = new Uint8Array(320 * 240 * 3).fill(114);
out.detector = [det.providers, det.inputSizes, (await det.detectImage(flat, { format: 'RGB', width: 320, height: 240 })).length];
await det.close();

// 3. Only the exports map is public: deep imports are refused.
const deep: string = 'vigil/dist/src/server.js';
try {
  await import(deep);
} catch (err) {
  out.deepImport = (err as { code?: string }).code;
}

// 4. Errors are VigilErrors with stable codes.
try {
  parseConfig({ cameras: [{ id: 'x', source: { kind: 'fax' } }] });
} catch (err) {
  out.configError = [err instanceof VigilConfigError && err instanceof VigilError, (err as VigilError).code];
}

// 5. The whole server: detections in-process (committed batches) and over the WebSocket (FlatBuffers).
const config = loadConfig(process.argv[2]);
let password = '';
config.auth = { announceInitialAdmin: (_user: string, p: string) => (password = p) };
const server: VigilServer = await createServer(config, { log: quiet });
try {
  const committed: DetectionBatch[] = [];
  server.store.onCommitted((batches) => {
    for (const b of batches) if (b.count > 0) committed.push(b);
  });
  const base = 'http://127.0.0.1:' + server.http!.port;
  const login = await fetch(base + '/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const ws = new WebSocket('ws://127.0.0.1:' + server.http!.port + '/ws', ['vigil.v1'], { headers: { authorization: 'Bearer ' + token } });
  ws.binaryType = 'nodebuffer';
  const wire = await new Promise<object[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no detection batches within 60 s')), 60_000);
    const got: object[] = [];
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 'embed', cameras: ['clip'], kinds: ['detections'] })));
    ws.on('message', (data: Buffer) => {
      const m = readMessage(new Uint8Array(data));
      if (m.payloadType() !== WirePayload.DetectionBatch || got.length === 3) return;
      const b = m.payload(new WireDetectionBatch()) as WireDetectionBatch;
      const dets = [];
      for (let i = 0; i < b.detectionsLength(); i++) {
        const d = b.detections(i, new WireDetection())!;
        dets.push({ className: b.classes(d.classIndex())!.name(), box: [d.box()!.x1(), d.box()!.y1(), d.box()!.x2(), d.box()!.y2()] });
      }
      got.push({ cameraId: b.cameraId(), frameSequence: Number(b.frameSequence()), size: [b.frameWidth(), b.frameHeight()], detections: dets });
      if (got.length === 3) {
        clearTimeout(timer);
        resolve(got);
      }
    });
    ws.on('error', reject);
  });
  ws.close();
  out.wire = wire;
  out.committed = committed.map((b) => ({
    cameraId: b.cameraId,
    frameSequence: b.frameSequence,
    size: [b.frameWidth, b.frameHeight],
    // the wire carries float32 boxes
    detections: b.detections.map((d) => ({ className: d.className, box: [d.box.x1, d.box.y1, d.box.x2, d.box.y2].map(Math.fround) })),
  }));
  out.cameras = server.cameras.list().map((c) => [c.id, c.state]).sort();
  out.framesAnalysed = server.stats().framesAnalysed;
} finally {
  await server.stop();
  await server.stop();
}
process.stdout.write(JSON.stringify(out) + '\\n');
`;

test('npm pack -> install the tarball -> a TypeScript program embeds Vigil through `import ... from "vigil"`', { timeout: 240_000 }, async () => {
  const clip = media('vtest-h264.mp4');
  const model = modelPath('nanodet');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-embed-'));
  try {
    // dist/ with declarations, then the tarball (prepack would build too, but its output would mix into --json).
    npm(['run', 'build'], ROOT);
    const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = new Set(packed[0]!.files.map((f) => f.path));
    for (const f of [
      'package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/bindings/index.js', 'dist/bindings/native.d.ts',
      'dist/src/stream/generated/message_generated.js', 'build/Release/vigil.node', 'native/addon.cc', 'CMakeLists.txt', 'binding.gyp',
      'gst-pipelines/file.pipeline', 'schemas/flatbuffers/message.fbs', 'scripts/vigil.mjs', 'scripts/install-addon.mjs',
    ]) {
      assert.ok(files.has(f), `${f} is in the tarball`);
    }
    assert.deepEqual([...files].filter((f) => /^(src|test|bench|\.cache|data|node_modules)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), []);

    // Installed as npm installs a tarball: unpacked into node_modules/vigil, dependencies beside it.
    const app = join(dir, 'app');
    const pkg = join(app, 'node_modules', 'vigil');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, packed[0]!.filename), '-C', pkg, '--strip-components=1']);
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === 'vigil' || name.startsWith('.')) continue;
      symlinkSync(join(ROOT, 'node_modules', name), join(app, 'node_modules', name));
    }
    const addon = join(pkg, 'build', 'Release', 'vigil.node');
    assert.match(npm(['run', 'install'], pkg), /vigil: using the prebuilt addon .*build\/Release\/vigil\.node/);
    const before = statSync(addon).mtimeMs;
    npm(['run', 'install'], pkg, { VIGIL_BUILD_ADDON: '1' });
    assert.ok(statSync(addon).mtimeMs > before, 'the install script rebuilt the addon from the tarball');

    // The CLI from the package runs the build (no TypeScript sources in the tarball).
    // Models are not in the package: VIGIL_MODELS_DIR (or detector.path in the config) says where they are.
    const probe = execFileSync(process.execPath, [join(pkg, 'scripts', 'vigil.mjs'), 'probe'], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, VIGIL_MODELS_DIR: dirname(model) },
    });
    assert.match(probe, /^GStreamer: GStreamer 1\.\d+\.\d+\n/);
    assert.match(probe, /\n {2}h264 +avdec_h264 +software +available\n/);
    assert.match(probe, /\n {2}nanodet +\d+\.\d MB\n/);

    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'embed-app', private: true, type: 'module' }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
      files: ['main.ts'],
    }));
    writeFileSync(join(app, 'main.ts'), PROGRAM);
    writeFileSync(join(app, 'vigil.yaml'), [
      `dataDir: ${join(dir, 'data')}`,
      'server: { host: 127.0.0.1, port: 0 }',
      'search: false',
      'recording: { minFreeGb: 0 }',
      'cameras:',
      '  - id: pattern',
      '    source: { kind: test, pattern: ball, width: 320, height: 240, fps: 10 }',
      '    detectFps: 2',
      '  - id: clip',
      `    source: { kind: file, path: ${clip}, loop: true }`,
      '    detectFps: 5',
    ].join('\n'));

    const tsc = spawnSync(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, encoding: 'utf8' });
    assert.equal(tsc.status, 0, `the program type-checks against the package's declarations:\n${tsc.stdout}${tsc.stderr}`);

    const run = spawnSync(process.execPath, ['--import', 'tsx', 'main.ts', 'vigil.yaml'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, VIGIL_MODELS_DIR: dirname(model) },
    });
    assert.equal(run.status, 0, `the program ran:\n${run.stdout}\n${run.stderr}`);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      frames: unknown[];
      addon: string;
      configError: [boolean, string];
      deepImport: string;
      detector: unknown[];
      wire: Array<{ cameraId: string; frameSequence: number; size: number[]; detections: Array<{ className: string; box: number[] }> }>;
      committed: Array<{ cameraId: string; frameSequence: number; size: number[]; detections: Array<{ className: string; box: number[] }> }>;
      cameras: string[][];
      framesAnalysed: number;
    };
    // 320x240 into 416x416: scale 1.3, 312 rows of picture, 52 rows of padding above and below.
    const frame = { cameraId: 'pattern', source: [320, 240], tensor: [416, 416, 'nchw-f32', 416 * 416 * 3 * 4], letterbox: [1.3, 0, 52] };
    assert.deepEqual(out.frames, [frame, frame, frame]);
    assert.equal(out.addon, addon);
    assert.deepEqual(out.configError, [true, 'E_CONFIG']);
    assert.equal(out.deepImport, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
    // A flat grey picture: nothing detected.
    assert.deepEqual(out.detector, [['cpu'], [{ width: 416, height: 416 }], 0]);
    assert.deepEqual(out.cameras, [['clip', 'running'], ['pattern', 'running']]);
    assert.ok(out.framesAnalysed >= 3, `${out.framesAnalysed} frames analysed`);
    assert.equal(out.wire.length, 3);
    for (const b of out.wire) {
      assert.equal(b.cameraId, 'clip');
      assert.deepEqual(b.size, [768, 576]);
      assert.ok(b.detections.some((d) => d.className === 'person'), `a person in frame ${b.frameSequence}`);
      // What the WebSocket carried is what the store committed for that frame, box for box.
      const same = out.committed.find((c) => c.cameraId === 'clip' && c.frameSequence === b.frameSequence);
      assert.ok(same, `frame ${b.frameSequence} was committed in-process`);
      assert.deepEqual(b.detections, same.detections);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
