import { readFileSync } from 'node:fs';
import { createRequire, register as registerHooks } from 'node:module';
import { dirname, join } from 'node:path';
import type { UserModuleHooksData } from './user-module-hooks.js';

/** This module runs compiled (dist/*.js of the installed package), not from the TypeScript sources of a checkout. */
const COMPILED = import.meta.url.endsWith('.js');
let registered: Promise<void> | undefined;

/**
 * Makes a project's own files loadable by this process, once: a loader for TypeScript
 * (`lakeloop.config.ts`, `contracts/*.ts`, `jobs/*.ts`), and a resolve hook that gives their
 * `import ... from 'lakeloop'` the lakeloop running them, whichever the project has
 * installed (or none): the same modules as the CLI, so `defineConfig`, `defineContract` and
 * the errors are the ones it checks against.
 *
 * The compiled package calls it on the first user file (`firstFile`), so that commands
 * loading none (`--version`, `--help`) start without a loader thread, and picks the loader
 * by that file's project (see `chooseTypeScriptLoader`): lakeloop's own hooks
 * (user-module-hooks.ts: esbuild with a transpile cache, so unchanged files load without
 * esbuild or tsx) for an ES module project, tsx for any other. A checkout's bin/lakeloop.js
 * calls it at start with no file: tsx then already runs the CLI and the project.
 *
 * @example
 * await registerUserModuleLoader('/p/lakeloop.config.ts');
 * const config = await import(pathToFileURL('/p/lakeloop.config.ts').href);
 */
export function registerUserModuleLoader(firstFile?: string): Promise<void> {
  registered ??= register(firstFile);
  return registered;
}

async function register(firstFile: string | undefined): Promise<void> {
  const entryUrl = new URL(COMPILED ? '../index.js' : '../index.ts', import.meta.url).href;
  if (!COMPILED) {
    const hooks = `export function resolve(specifier, context, next) {
  return next(specifier === 'lakeloop' ? ${JSON.stringify(entryUrl)} : specifier, context);
}`;
    registerHooks(`data:text/javascript,${encodeURIComponent(hooks)}`);
    return;
  }
  const transpile = firstFile === undefined ? undefined : chooseTypeScriptLoader(firstFile);
  if (transpile === undefined) {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
    if (process.env['LAKELOOP_TS_LOADER_DEBUG'] === '1') process.stderr.write('lakeloop ts loader: tsx\n');
  } else {
    // Stack traces and errors point into the .ts files through esbuild's inline source maps.
    process.setSourceMapsEnabled(true);
  }
  const data: UserModuleHooksData = transpile === undefined ? { entryUrl } : { entryUrl, transpile };
  registerHooks(new URL('./user-module-hooks.js', import.meta.url), { data });
}

/**
 * How the compiled package loads the TypeScript of `file`'s project: lakeloop's own hooks
 * (the returned options) where they compile it as tsx would, else undefined (tsx):
 * - the project (the folder of `file`'s nearest package.json) is `"type": "module"`, as
 *   `lakeloop init` writes it; in any other, `.ts` files are CommonJS to tsx;
 * - its tsconfig.json, if any, is plain JSON without `extends`, `paths` or `baseUrl`
 *   (tsx follows those; its `compilerOptions` are given to esbuild as they are);
 * - esbuild's version can be read (it names the cache entries);
 * - `LAKELOOP_TS_LOADER` is not `tsx` (the way back to tsx, should a project need it).
 */
function chooseTypeScriptLoader(file: string): UserModuleHooksData['transpile'] {
  if (process.env['LAKELOOP_TS_LOADER'] === 'tsx') return undefined;
  const project = nearestPackage(dirname(file));
  if (project === undefined || project.json?.['type'] !== 'module') return undefined;
  const projectDir = project.dir;
  let tsconfig = '{}';
  const tsconfigText = readText(join(projectDir, 'tsconfig.json'));
  if (tsconfigText !== undefined) {
    const parsed = parseJson(tsconfigText);
    const options = parsed?.['compilerOptions'] ?? {};
    if (parsed === undefined || 'extends' in parsed || typeof options !== 'object' || options === null || 'paths' in options || 'baseUrl' in options) return undefined;
    tsconfig = JSON.stringify({ compilerOptions: options });
  }
  let esbuildVersion: unknown;
  try {
    esbuildVersion = readJson(createRequire(import.meta.url).resolve('esbuild/package.json'))?.['version'];
  } catch {
    return undefined;
  }
  if (typeof esbuildVersion !== 'string') return undefined;
  return Object.freeze({
    projectDir,
    tsconfig,
    esbuildVersion,
    cacheDir: process.env['LAKELOOP_TS_CACHE_DIR'],
    debug: process.env['LAKELOOP_TS_LOADER_DEBUG'] === '1',
  });
}

/** The folder of the nearest package.json at or above `dir`, and its content (undefined when it does not parse). */
function nearestPackage(dir: string): { dir: string; json: Record<string, unknown> | undefined } | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const text = readText(join(at, 'package.json'));
    if (text !== undefined) return { dir: at, json: parseJson(text) };
    if (dirname(at) === at) return undefined;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function readJson(path: string): Record<string, unknown> | undefined {
  const text = readText(path);
  return text === undefined ? undefined : parseJson(text);
}

/** Registers the loader where nothing else lets this process import a user's TypeScript file: in the compiled package (a checkout's sources run under bin's tsx, or vitest). */
export async function registerUserModuleLoaderIfCompiled(firstFile: string): Promise<void> {
  if (COMPILED) await registerUserModuleLoader(firstFile);
}
