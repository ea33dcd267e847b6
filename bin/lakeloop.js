#!/usr/bin/env node
// lakeloop's CLI. An installed package (npm pack / the registry) ships compiled JavaScript
// in dist/ and no src/; a repository checkout has src/ and runs its TypeScript sources
// through tsx, with no build step, so tests and development always run the current code.
// The choice is made by the presence of src/, not of dist/: a dist/ left behind by
// `npm run build` or `npm pack` in a checkout must never be run instead of the sources.
// Either way tsx's loader is registered, because a project's own files
// (lakeloop.config.ts, contracts/*.ts, jobs/*.ts) are TypeScript.
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every start that its releases after January 2027 need Node 22;
// package-lock.json pins a release that supports Node 20, so the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const fromSource = existsSync(new URL('../src/cli/main.ts', import.meta.url));
// A project file's `import ... from 'lakeloop'` gets the lakeloop that runs it, whichever the
// project has installed (or none, or a checkout without dist/): the same modules as the CLI,
// so its defineConfig, defineContract and errors are the ones the CLI checks against.
const entry = new URL(fromSource ? '../src/index.ts' : '../dist/index.js', import.meta.url).href;
const hooks = `export function resolve(specifier, context, next) {
  return next(specifier === 'lakeloop' ? ${JSON.stringify(entry)} : specifier, context);
}`;
registerHooks(`data:text/javascript,${encodeURIComponent(hooks)}`);
const code = fromSource ? '../src/cli/' : '../dist/cli/';
const ext = fromSource ? '.ts' : '.js';
// reconcile and replay run at idle CPU priority, from before the CLI loads (src/cli/priority.ts).
const { applyCpuPriority, batchVerbPriority } = await import(`${code}priority${ext}`);
const priority = batchVerbPriority(process.argv.slice(2));
if (priority) applyCpuPriority(priority);
const { main } = await import(`${code}main${ext}`);
process.exitCode = await main(process.argv.slice(2));
