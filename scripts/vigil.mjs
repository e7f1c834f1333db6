#!/usr/bin/env node
// The `vigil` command: runs src/cli.ts through tsx's loader, so the TypeScript sources are the program.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli.ts');
await run(process.argv.slice(2));
