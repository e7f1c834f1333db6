/**
 * Child process for bench/ingest.ts, so each figure is one process measured from outside.
 *   vigil-file CLIP            decode + tensor every frame as fast as possible; prints {"frames","seconds"}
 *   ffmpeg-pipe CLIP W H       ffmpeg decodes to raw RGB on stdout, Node letterboxes in JS; same output
 *   density N CLIP SECONDS [RECORD_DIR]
 *                              N realtime cameras (looping CLIP, 5 fps detect), recording into RECORD_DIR if given
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { CameraPipeline } from '../src/camera/pipeline.js';
import { CameraManager } from '../src/camera/manager.js';
import { parseSource } from '../src/camera/source.js';
import { DEFAULT_TENSOR } from '../src/camera/tensor.js';
import { DEFAULT_CAMERA_TIMING } from '../src/camera/camera.js';

const [mode, ...args] = process.argv.slice(2);
const T = DEFAULT_TENSOR; // 416x416 NCHW float32, BGR, NanoDet normalization

function vigilFile(clip: string): void {
  let frames = 0;
  let t0 = 0;
  const p = new CameraPipeline({
    cameraId: 'bench',
    source: parseSource({ kind: 'file', path: clip, realtime: false }),
    tensor: T,
    detectFps: 0,
    decoder: { threads: 1, allow: ['software'] },
    onFrame: (f) => {
      frames++;
      f.release();
    },
    onError: (e) => {
      throw e;
    },
    onEos: () => {
      const seconds = (performance.now() - t0) / 1000;
      p.close();
      process.stdout.write(JSON.stringify({ frames, seconds }) + '\n');
    },
  });
  t0 = performance.now();
  p.start();
}

/** The usual Node approach: bilinear letterbox + normalize in JS from a packed RGB frame. */
function letterboxJs(rgb: Buffer, w: number, h: number, out: Float32Array): void {
  const W = T.width, H = T.height;
  const scale = Math.min(W / w, H / h);
  const sw = Math.round(w * scale), sh = Math.round(h * scale);
  const px = Math.floor((W - sw) / 2), py = Math.floor((H - sh) / 2);
  const plane = W * H;
  const [m0, m1, m2] = T.mean, [s0, s1, s2] = T.std;
  out.fill(0);
  for (let y = 0; y < sh; y++) {
    let fy = (y + 0.5) * (h / sh) - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), h - 1), y1 = Math.min(y0 + 1, h - 1), wy = fy - y0;
    for (let x = 0; x < sw; x++) {
      let fx = (x + 0.5) * (w / sw) - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), w - 1), x1 = Math.min(x0 + 1, w - 1), wx = fx - x0;
      const a = (y0 * w + x0) * 3, b = (y0 * w + x1) * 3, c = (y1 * w + x0) * 3, d = (y1 * w + x1) * 3;
      const o = (y + py) * W + x + px;
      for (let ch = 0; ch < 3; ch++) {
        const v = (rgb[a + ch]! * (1 - wx) + rgb[b + ch]! * wx) * (1 - wy) + (rgb[c + ch]! * (1 - wx) + rgb[d + ch]! * wx) * wy;
        // BGR order like the Vigil run.
        const plane_i = 2 - ch;
        out[plane_i * plane + o] = (v - [m0, m1, m2][plane_i]!) / [s0, s1, s2][plane_i]!;
      }
    }
  }
}

function ffmpegPipe(clip: string, w: number, h: number): void {
  const frameBytes = w * h * 3;
  const out = new Float32Array(T.width * T.height * 3);
  const t0 = performance.now();
  const ff = spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-threads', '1', '-i', clip, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let frames = 0;
  ff.stdout.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= frameBytes) {
      const all = Buffer.concat(pending);
      letterboxJs(all.subarray(0, frameBytes), w, h, out);
      frames++;
      const rest = all.subarray(frameBytes);
      pending = rest.length ? [rest] : [];
      pendingBytes = rest.length;
    }
  });
  ff.on('exit', () => {
    process.stdout.write(JSON.stringify({ frames, seconds: (performance.now() - t0) / 1000 }) + '\n');
  });
}

function density(n: number, clip: string, seconds: number, recordDir?: string): void {
  const manager = new CameraManager();
  let handed = 0;
  manager.on('frame', (f) => {
    handed++;
    f.release();
  });
  for (let i = 0; i < n; i++) {
    manager.add({
      id: `cam${i}`,
      name: `cam${i}`,
      source: parseSource({ kind: 'file', path: clip, loop: true, realtime: true }),
      tensor: T,
      detectFps: 5,
      decoder: { threads: 1 },
      ...DEFAULT_CAMERA_TIMING,
      ...(recordDir ? { recording: { directory: `${recordDir}/cam${i}`, prefix: `cam${i}`, format: 'mp4' as const, segmentSeconds: 10 } } : {}),
    });
  }
  process.stdout.write('ready\n');
  setTimeout(() => {
    const c = manager.counters();
    manager.close();
    process.stdout.write(
      JSON.stringify({ handed, decoded: c.reduce((s, x) => s + x.counters.framesDecoded, 0), dropped: c.reduce((s, x) => s + x.counters.framesDropped, 0) }) + '\n',
    );
    process.exit(0);
  }, seconds * 1000);
}

if (mode === 'vigil-file') vigilFile(args[0]!);
else if (mode === 'ffmpeg-pipe') ffmpegPipe(args[0]!, Number(args[1]), Number(args[2]));
else if (mode === 'density') density(Number(args[0]), args[1]!, Number(args[2]), args[3]);
else throw new Error(`unknown mode ${mode}`);
