#!/usr/bin/env node
// lakeloop runs its TypeScript sources directly through tsx's loader: no build step,
// so `npx lakeloop` works right after `npm install`, and user files
// (lakeloop.config.ts, contracts/*.ts, jobs/*.ts) load the same way.
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every start that its releases after January 2027 need Node 22;
// package-lock.json pins a release that supports Node 20, so the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
// reconcile and replay run at idle CPU priority, from before the CLI loads (src/cli/priority.ts).
const { applyCpuPriority, batchVerbPriority } = await import('../src/cli/priority.ts');
const priority = batchVerbPriority(process.argv.slice(2));
if (priority) applyCpuPriority(priority);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
