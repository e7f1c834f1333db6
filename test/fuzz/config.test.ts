/**
 * Property-based fuzzing of configuration loading (src/config/index.ts): arbitrary YAML text (aliases, anchors,
 * tags, ${VIGIL_*} substitutions included) and near-valid config objects whose sections hold hostile values. Every
 * input loads or is refused with a VigilError (E_CONFIG), never another exception.
 */
import { test, after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig, parseConfig, TOP_KEYS } from '../../src/config/index.js';
import { acceptOrRefuse, hostileJson, params, report, tick } from './fuzz.js';

const env = { VIGIL_PORT: '8080', VIGIL_EMPTY: '' };

const camera = fc.record(
  {
    id: fc.oneof(fc.constantFrom('cam-1', 'a', ''), hostileJson),
    name: hostileJson,
    source: fc.oneof(
      fc.record(
        {
          kind: fc.oneof(fc.constantFrom('file', 'rtsp', 'test', 'v4l2', 'nope'), hostileJson),
          path: fc.oneof(fc.constantFrom('/nonexistent.mp4', '', '../x'), hostileJson),
          url: fc.oneof(fc.constantFrom('rtsp://127.0.0.1:1/x', 'http://x', 'rtsp://', 'rtsp://u:p@[::1]:99999/'), hostileJson),
          loop: hostileJson,
          pattern: hostileJson,
        },
        { requiredKeys: [] },
      ),
      hostileJson,
    ),
    detectFps: fc.oneof(fc.double(), hostileJson),
    motion: hostileJson,
    tensor: fc.oneof(fc.record({ width: fc.integer(), height: fc.integer(), layout: fc.constantFrom('nchw-f32', 'nhwc-u8', 'x') }, { requiredKeys: [] }), hostileJson),
    regions: hostileJson,
    recording: hostileJson,
  },
  { requiredKeys: [] },
);

const config = fc
  .record(
    {
      server: fc.oneof(fc.record({ host: hostileJson, port: fc.oneof(fc.integer({ min: -1, max: 70000 }), hostileJson), corsOrigins: hostileJson }, { requiredKeys: [] }), hostileJson),
      cameras: fc.oneof(fc.array(camera, { maxLength: 3 }), hostileJson),
      detector: hostileJson,
      rules: hostileJson,
      notify: hostileJson,
      auth: hostileJson,
      recording: hostileJson,
      snapshots: hostileJson,
      analysis: hostileJson,
      integrations: hostileJson,
      detectionsMaxAgeDays: hostileJson,
      cameraDefaults: hostileJson,
      log: hostileJson,
      unknown: hostileJson,
    },
    { requiredKeys: [] },
  )
  .map((o) => ({ ...o, dataDir: '/nonexistent/vigil-fuzz' }));

const dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'vigil.yaml');

// The real loading path: a file on disk through loadConfig (substitution, YAML, parseConfig).
function load(text: string): void {
  writeFileSync(file, text);
  acceptOrRefuse(() => loadConfig(file, env));
}

test('parseConfig: near-valid config objects with hostile sections', () => {
  const p = params<[unknown]>(1500);
  fc.assert(
    fc.property(fc.oneof(config, hostileJson), (raw) => {
      acceptOrRefuse(() => parseConfig(raw, '/nonexistent'));
      tick('config.object');
    }),
    p,
  );
  report('config.object', p.numRuns!);
});

test('YAML text: arbitrary text, YAML snippets with anchors, aliases and substitutions', () => {
  const piece = fc.constantFrom(
    'cameras: &c [*c]\n', 'a: &x {b: *x}\ncameras: [*x]\n', 'server: {port: ${VIGIL_PORT}}\n', 'server: {port: ${VIGIL_NOPE}}\n',
    'x: ${HOME}\n', 'dataDir: ${file:/nonexistent}\n', 'dataDir: /nonexistent/vigil-fuzz\n', 'cameras: !!binary aGVsbG8=\n', 'rules: !!set {a, b}\n', '? [a]\n: 1\n',
    'server: {port: 1e400}\n', 'detector: {model: nanodet, path: /nonexistent.onnx}\n', '<<: {cameras: 1}\n', `${TOP_KEYS[0]}: ''\n`,
    'cameras: [{id: a, source: {kind: test}}, {id: a, source: {kind: test}}]\n', 'server:\n  host: [1,2]\n', '\t- x\n', '---\n---\n',
  );
  const p = params<[string]>(2500);
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.array(piece, { maxLength: 4 }).map((a) => a.join(''))), (text) => {
      load(text);
      tick('config.yaml');
    }),
    p,
  );
  report('config.yaml', p.numRuns!);
});
