#!/usr/bin/env node
// lakeloop runs its TypeScript sources directly through tsx's loader: no build step,
// so `npx lakeloop` works right after `npm install`, and user files
// (lakeloop.config.ts, contracts/*.ts, jobs/*.ts) load the same way.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
