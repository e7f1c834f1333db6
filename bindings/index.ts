/**
 * Loads the native addon once. Looks at VIGIL_ADDON_PATH first (tests of alternative builds, e.g. node-gyp's),
 * then the cmake-js build. One error, saying what to run, when it is missing or built for another Node ABI.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../src/errors.js';
import type { NativeAddon } from './native.js';

export type * from './native.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function candidates(): string[] {
  const list: string[] = [];
  if (process.env.VIGIL_ADDON_PATH) list.push(resolve(process.env.VIGIL_ADDON_PATH));
  list.push(join(root, 'build', 'Release', 'vigil.node'));
  return list;
}

let cached: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const paths = candidates();
  const found = paths.find((p) => existsSync(p));
  if (!found) {
    throw new VigilError(
      'E_ADDON_MISSING',
      `Vigil's native addon is not built (looked for ${paths.join(', ')}). ` +
        'Run `bash scripts/setup.sh` (installs GStreamer and builds it) or `npm run build:addon`.',
    );
  }
  try {
    cached = require(found) as NativeAddon;
    return cached;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(message)) {
      throw new VigilError(
        'E_ADDON_ABI',
        `Vigil's native addon at ${found} was built for another Node.js ABI (this is Node ${process.version}, ` +
          `ABI ${process.versions.modules}). Run \`npm run build:addon\` to rebuild it.`,
        { cause: err },
      );
    }
    throw new VigilError('E_ADDON_LOAD', `Vigil's native addon at ${found} failed to load: ${message}`, { cause: err });
  }
}
