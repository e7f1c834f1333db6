/**
 * Decodes frames of a media file to raw pixels with ffmpeg (tools, tests and benchmarks; the live path decodes in
 * GStreamer). Synchronous: it runs one short ffmpeg process per call.
 */
import { execFileSync } from 'node:child_process';
import { VigilError } from '../../src/errors.js';

export interface DecodedFrame {
  index: number;
  width: number;
  height: number;
  /** rgb24: width*height*3 bytes; gray: width*height bytes. */
  pixels: Uint8Array;
}

/** Frame size of a file's first video stream (ffprobe). */
export function probeSize(path: string): { width: number; height: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height',
    '-of', 'csv=p=0:s=x', path], { encoding: 'utf8' }).trim();
  const m = /^(\d+)x(\d+)/.exec(out);
  if (!m) throw new VigilError('E_MEDIA', `ffprobe could not read the frame size of ${path}: ${out}`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/**
 * Decodes the frames with the given indices (0-based, in stream order) as rgb24 or gray, optionally scaled.
 * Indices must be ascending.
 */
export function decodeFrames(path: string, indices: number[], pixFmt: 'rgb24' | 'gray' = 'rgb24',
  scale?: { width: number; height: number }): DecodedFrame[] {
  if (indices.length === 0) return [];
  const size = scale ?? probeSize(path);
  const bpp = pixFmt === 'rgb24' ? 3 : 1;
  const frameBytes = size.width * size.height * bpp;
  const select = indices.map((i) => `eq(n\\,${i})`).join('+');
  const filters = [`select=${select}`];
  if (scale) filters.push(`scale=${scale.width}:${scale.height}:flags=area`);
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-vf', filters.join(','), '-vsync', '0',
    '-frames:v', String(indices.length), '-f', 'rawvideo', '-pix_fmt', pixFmt, '-'],
  { maxBuffer: frameBytes * indices.length + 1024 });
  if (raw.length !== frameBytes * indices.length) {
    throw new VigilError('E_MEDIA', `ffmpeg returned ${raw.length} bytes for ${indices.length} frames of ${path}, ` +
      `expected ${frameBytes * indices.length}`);
  }
  return indices.map((index, k) => ({
    index, width: size.width, height: size.height,
    pixels: new Uint8Array(raw.buffer, raw.byteOffset + k * frameBytes, frameBytes),
  }));
}

/** Decodes the first `count` frames (every frame, in order) as gray or rgb24, optionally scaled. */
export function decodeSequence(path: string, count: number, pixFmt: 'rgb24' | 'gray',
  scale?: { width: number; height: number }): DecodedFrame[] {
  const size = scale ?? probeSize(path);
  const bpp = pixFmt === 'rgb24' ? 3 : 1;
  const frameBytes = size.width * size.height * bpp;
  const args = ['-v', 'error', '-i', path];
  if (scale) args.push('-vf', `scale=${scale.width}:${scale.height}:flags=area`);
  args.push('-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', pixFmt, '-');
  const raw = execFileSync('ffmpeg', args, { maxBuffer: frameBytes * count + 1024 });
  const n = Math.floor(raw.length / frameBytes);
  const frames: DecodedFrame[] = [];
  for (let k = 0; k < n; k++) {
    frames.push({ index: k, width: size.width, height: size.height,
      pixels: new Uint8Array(raw.buffer, raw.byteOffset + k * frameBytes, frameBytes) });
  }
  return frames;
}
