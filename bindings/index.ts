/**
 * Loads the native addon once. Looks at VIGIL_ADDON_PATH first (tests of alternative builds, e.g. node-gyp's),
 * then the cmake-js build. One error, saying what to run, when it is missing or built for another Node ABI.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VigilError } from '../src/errors.js';
import { PACKAGE_ROOT } from '../src/package-root.js';
import type { NativeAddon } from './native.js';

export type * from './native.js';

// The package root, not this file's parent: compiled, this module is dist/bindings/index.js.
const root = PACKAGE_ROOT;
const require = createRequire(import.meta.url);

export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const list: string[] = [];
  if (env.VIGIL_ADDON_PATH) list.push(resolve(env.VIGIL_ADDON_PATH));
  list.push(join(root, 'build', 'Release', 'vigil.node'));
  return list;
}

/** The error a failed load turns into: what happened and what to run. */
export function loadFailure(path: string | null, searched: string[], err?: unknown): VigilError {
  if (path === null) {
    return new VigilError(
      'E_ADDON_MISSING',
      `Vigil's native addon is not built (looked for ${searched.join(', ')}). ` +
        'Run `bash scripts/setup.sh` (installs GStreamer and builds it) or `npm run build:addon`.',
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/NODE_MODULE_VERSION|compiled against a different Node\.js version/.test(message)) {
    return new VigilError(
      'E_ADDON_ABI',
      `Vigil's native addon at ${path} was built for another Node.js ABI (this is Node ${process.version}, ` +
        `ABI ${process.versions.modules}). Run \`npm run build:addon\` to rebuild it.`,
      { cause: err },
    );
  }
  return new VigilError(
    'E_ADDON_LOAD',
    `Vigil's native addon at ${path} failed to load (${message}). Run \`bash scripts/setup.sh\` to install ` +
      'its GStreamer libraries and rebuild it.',
    { cause: err },
  );
}

let cached: { addon: NativeAddon; path: string } | undefined;

export function loadAddon(): NativeAddon {
  if (cached) return cached.addon;
  const paths = addonCandidates();
  const found = paths.find((p) => existsSync(p));
  if (!found) throw loadFailure(null, paths);
  try {
    cached = { addon: require(found) as NativeAddon, path: found };
    return cached.addon;
  } catch (err) {
    throw loadFailure(found, paths, err);
  }
}

/** Path of the loaded addon binary (loads it if needed). */
export function addonPath(): string {
  loadAddon();
  return cached!.path;
}
