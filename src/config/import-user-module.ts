import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/index.js';
import { registerUserModuleLoaderIfCompiled } from './user-module-loader.js';

/**
 * Imports the default export of a user's TypeScript file (`lakeloop.config.ts`,
 * `contracts/*.ts`, `jobs/*.ts`) through the loader `registerUserModuleLoader` registers. A failure
 * is a `ConfigError` naming the file; a `ConfigError` thrown while the module ran (e.g.
 * by `defineContract`) keeps its issues and is re-labelled with the file.
 *
 * @example
 * const contract = await importUserModule('/p/contracts/orders.ts', info.mtimeMs, 'export default defineContract({ ... })');
 */
export async function importUserModule(file: string, mtimeMs: number, expected: string): Promise<unknown> {
  // The query makes an edited file load afresh in a long-lived process (tests, `serve`)
  // instead of coming from the module cache.
  const url = `${pathToFileURL(file).href}?mtime=${Math.floor(mtimeMs)}`;
  await registerUserModuleLoaderIfCompiled(file);
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(file, error.issues, { cause: error });
    throw new ConfigError(file, [{ path: '', message: `failed to load: ${loadFailureReason(error)}` }], { cause: error });
  }
  if (!('default' in module) || module['default'] === undefined) {
    throw new ConfigError(file, [{ path: '', message: `has no default export; expected \`${expected}\`` }]);
  }
  return module['default'];
}

/** The first useful line(s) of an import failure: lakeloop's hooks and tsx (esbuild's "Transform failed" prefix dropped) put the file:line:col in the message. */
function loadFailureReason(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/^Transform failed with \d+ errors?:\s*/, '');
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.slice(0, 3).join(' ') || 'unknown error';
}
