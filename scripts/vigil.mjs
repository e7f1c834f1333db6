#!/usr/bin/env node
// The `vigil` command. In a checkout it runs src/cli.ts through tsx's loader, so the TypeScript sources are the
// program; an installed package has no sources and runs the build (dist/src/cli.js).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli.ts', import.meta.url);
let run;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ run } = await import(source.href));
} else {
  ({ run } = await import(new URL('../dist/src/cli.js', import.meta.url).href));
}
await run(process.argv.slice(2));
