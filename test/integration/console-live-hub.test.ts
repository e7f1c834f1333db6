/**
 * LiveHub (src/console/live.ts) on real cameras: one tap per watched camera, the init segment then fragments in
 * decode order to each viewer, a late viewer starts from the cached keyframe, a slow viewer skips to the next
 * keyframe (counted), an H.265 camera gets its own H.265 as fMP4 (hev1 + hvcC), a codec MSE cannot take (DivX /
 * MS-MPEG4 v3) and a test pattern are answered "unavailable" (the page shows latest.jpg), and the tap stops with
 * the last viewer.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { CameraManager } from '../../src/camera/manager.js';
import { LiveHub, type LiveViewer } from '../../src/console/live.js';
import { cameraSettings } from '../helpers/camera.js';
import { media } from '../helpers/media.js';

const cameras = new CameraManager();
const registry = new Registry();
const hub = new LiveHub(cameras, registry);
after(() => {
  hub.close();
  cameras.close();
});

interface Got {
  kind: number;
  camera: string;
  mime?: string;
  wallMs?: number;
  keyframe?: boolean;
}

/** Parses the /live wire messages a viewer receives. */
function viewer(out: Got[], texts: string[], accept: () => boolean = () => true): LiveViewer {
  return {
    send(m) {
      if (!accept()) return false;
      const n = m[1]!;
      const camera = Buffer.from(m.subarray(2, 2 + n)).toString();
      const dv = new DataView(m.buffer, m.byteOffset + 2 + n);
      if (m[0] === 1) {
        const ml = dv.getUint16(0);
        out.push({ kind: 1, camera, mime: Buffer.from(m.subarray(4 + n, 4 + n + ml)).toString() });
      } else {
        const frag = m.subarray(10 + n);
        // The one sample's flags in trun (after version/flags, count, data offset, duration, size): sync = 0x02000000.
        const i = Buffer.from(frag).indexOf('trun');
        const flags = new DataView(frag.buffer, frag.byteOffset + i + 4).getUint32(20);
        out.push({ kind: 2, camera, wallMs: dv.getFloat64(0), keyframe: flags === 0x02000000 });
      }
      return true;
    },
    text: (t) => texts.push(t),
  };
}

const until = async (cond: () => boolean, what: string, ms = 60_000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('H.264 camera: init, keyframe-first fragments, late joiner from the cached GOP, slow viewer skips to a keyframe, tap off after the last viewer', async () => {
  const cam = cameras.add(cameraSettings('gate', { kind: 'file', path: media('vtest-h264.mp4'), loop: true }));
  const a: Got[] = [];
  const ta: string[] = [];
  const stopA = hub.watch('gate', viewer(a, ta));
  assert.deepEqual(hub.tapped(), ['gate']);
  await until(() => a.filter((g) => g.kind === 2).length >= 25, '25 fragments');
  assert.deepEqual(a[0], { kind: 1, camera: 'gate', mime: 'video/mp4; codecs="avc1.64001f"' });
  assert.equal(a[1]!.keyframe, true);
  assert.ok(a.slice(1).every((g) => g.kind === 2 && g.camera === 'gate'));
  // A late viewer gets the init segment and the GOP so far, from its keyframe.
  const b: Got[] = [];
  const stopB = hub.watch('gate', viewer(b, []));
  assert.equal(b[0]!.kind, 1);
  assert.equal(b[1]!.keyframe, true);
  // A viewer whose buffer is full misses fragments and resumes at a keyframe only.
  let open = true;
  const c: Got[] = [];
  const stopC = hub.watch('gate', viewer(c, [], () => open));
  open = false;
  await new Promise((r) => setTimeout(r, 300));
  open = true;
  const before = c.length;
  await until(() => c.length > before + 1, 'the slow viewer resumes');
  assert.equal(c[before]!.keyframe, true);
  const metrics = await registry.metrics();
  assert.match(metrics, /vigil_live_viewers 3/);
  assert.match(metrics, /vigil_live_dropped_total [1-9]/);
  stopA();
  stopB();
  stopC();
  assert.deepEqual(hub.tapped(), []);
  const n = a.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(a.length, n, 'nothing after unwatching');
  assert.equal(cam.counters().framesDecoded > 0, true);
  assert.deepEqual(ta, []);
});

test('H.265 camera: its own stream as fMP4 (hev1 codec string), keyframe first; tap off after its viewer', async () => {
  cameras.add(cameraSettings('yard', { kind: 'file', path: media('vtest-h265.mp4'), loop: true }));
  const got: Got[] = [];
  const texts: string[] = [];
  const stop = hub.watch('yard', viewer(got, texts));
  await until(() => got.filter((g) => g.kind === 2).length >= 5, '5 fragments');
  // vtest-h265.mp4 is tagged hev1 (ffmpeg's libx265): Main profile, level 3, progressive + frame-only constraints.
  assert.deepEqual(got[0], { kind: 1, camera: 'yard', mime: 'video/mp4; codecs="hev1.1.6.L90.90"' });
  assert.equal(got[1]!.keyframe, true);
  assert.deepEqual(texts, []);
  assert.deepEqual(hub.tapped(), ['yard']);
  stop();
  assert.deepEqual(hub.tapped(), []);
});

test('DivX (MS-MPEG4 v3) camera and test patterns: answered unavailable (the page falls back to latest.jpg), no tap left running', async () => {
  cameras.add(cameraSettings('lobby', { kind: 'file', path: media('vtest.avi'), loop: true }));
  cameras.add(cameraSettings('pattern', { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 10 }));
  const texts: string[] = [];
  hub.watch('lobby', viewer([], texts));
  await until(() => texts.length > 0, 'the refusal');
  assert.deepEqual(JSON.parse(texts[0]!), { camera: 'lobby', unavailable: 'Expected video/x-h264 or video/x-h265 caps for live view but received "video/x-divx"' });
  assert.deepEqual(hub.tapped(), []);
  hub.watch('pattern', viewer([], texts));
  assert.deepEqual(JSON.parse(texts[1]!), { camera: 'pattern', unavailable: 'A test pattern has no encoded stream' });
  hub.watch('nope', viewer([], texts));
  assert.deepEqual(JSON.parse(texts[2]!), { camera: 'nope', unavailable: 'No camera "nope"' });
});
