import { register as registerHooks } from 'node:module';

/** This module runs compiled (dist/*.js of the installed package), not from the TypeScript sources of a checkout. */
const COMPILED = import.meta.url.endsWith('.js');
let registered: Promise<void> | undefined;

/**
 * Makes a project's own files loadable by this process, once: tsx's loader for TypeScript
 * (`lakeloop.config.ts`, `contracts/*.ts`, `jobs/*.ts`), and a resolve hook that gives their
 * `import ... from 'lakeloop'` the lakeloop running them, whichever the project has
 * installed (or none): the same modules as the CLI, so `defineConfig`, `defineContract` and
 * the errors are the ones it checks against. The compiled package calls it on the first
 * user file, so that commands loading none (`--version`, `--help`) start without a loader
 * thread (nor load tsx at all); a checkout's bin/lakeloop.js calls it at start (tsx then
 * already runs the CLI).
 *
 * @example
 * await registerUserModuleLoader();
 * const config = await import(pathToFileURL('/p/lakeloop.config.ts').href);
 */
export function registerUserModuleLoader(): Promise<void> {
  registered ??= register();
  return registered;
}

async function register(): Promise<void> {
  if (COMPILED) {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
  }
  const entry = new URL(COMPILED ? '../index.js' : '../index.ts', import.meta.url).href;
  const hooks = `export function resolve(specifier, context, next) {
  return next(specifier === 'lakeloop' ? ${JSON.stringify(entry)} : specifier, context);
}`;
  registerHooks(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

/** Registers the loader where nothing else lets this process import a user's TypeScript file: in the compiled package (a checkout's sources run under bin's tsx, or vitest). */
export async function registerUserModuleLoaderIfCompiled(): Promise<void> {
  if (COMPILED) await registerUserModuleLoader();
}
