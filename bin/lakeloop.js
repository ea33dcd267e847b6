#!/usr/bin/env node
// lakeloop's CLI. An installed package (npm pack / the registry) ships compiled JavaScript
// in dist/ and no src/; a repository checkout has src/ and runs its TypeScript sources
// through tsx, with no build step, so tests and development always run the current code.
// The choice is made by the presence of src/, not of dist/: a dist/ left behind by
// `npm run build` or `npm pack` in a checkout must never be run instead of the sources.
// A project's own TypeScript files (lakeloop.config.ts, contracts/*.ts, jobs/*.ts) load
// through tsx in a checkout (registered here), and in the compiled package through its own
// hooks with a transpile cache (tsx for CommonJS projects), registered on the first such
// file (src/config/user-module-loader.ts), so `--version` or `--help` start without a
// loader thread.
import { existsSync } from 'node:fs';

// The AWS SDK warns on every start that its releases after January 2027 need Node 22;
// package-lock.json pins a release that supports Node 20, so the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const fromSource = existsSync(new URL('../src/cli/main.ts', import.meta.url));
if (fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  const { registerUserModuleLoader } = await import('../src/config/user-module-loader.ts');
  await registerUserModuleLoader();
}
const code = fromSource ? '../src/cli/' : '../dist/cli/';
const ext = fromSource ? '.ts' : '.js';
// reconcile and replay run at idle CPU priority, from before the CLI loads (src/cli/priority.ts).
const { applyCpuPriority, batchVerbPriority } = await import(`${code}priority${ext}`);
const priority = batchVerbPriority(process.argv.slice(2));
if (priority) applyCpuPriority(priority);
const { main } = await import(`${code}main${ext}`);
process.exitCode = await main(process.argv.slice(2));
