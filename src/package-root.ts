/**
 * The folder holding Vigil's package.json, found from this module's own location so that the same code works from
 * the sources (src/, run through tsx) and from the build (dist/src/, in an installed package): gst-pipelines/,
 * schemas/, build/Release/ and .cache/ sit at the package root, not next to the compiled files.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(start);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
