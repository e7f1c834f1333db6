/** Paths of the test media made by scripts/setup.d/20-media.sh, with a clear failure when set-up has not run. */
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
