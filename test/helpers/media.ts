/** Paths of the test media made by scripts/setup.d/20-media.sh, with a clear failure when set-up has not run. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MEDIA_DIR = process.env.VIGIL_MEDIA_DIR ?? join(ROOT, '.cache', 'media');

export function media(name: string): string {
  const p = join(MEDIA_DIR, name);
  if (!existsSync(p)) throw new Error(`Test media ${p} is missing: run \`bash scripts/setup.sh\` first`);
  return p;
}

/** Frames in OpenCV's vtest.avi and every clip transcoded from it. */
export const VTEST_FRAMES = 795;

/** Runs ffmpeg quietly (overwriting outputs) and returns its stdout. */
export function ffmpeg(...args: string[]): Buffer {
  return execFileSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 256 << 20 });
}

/** Per-packet MD5 of the video stream, stream-copied (the encoded bytes, as they are in the file). */
export function packetHashes(path: string): string[] {
  return ffmpeg('-i', path, '-map', '0:v:0', '-c', 'copy', '-f', 'framemd5', 'pipe:1')
    .toString()
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}
