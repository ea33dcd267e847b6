import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../core/index.js';
import { importUserModule } from './import-user-module.js';
import { validateConfig, type ResolvedConfig } from './validate-config.js';

/** The file names looked for in the project folder, in order. */
export const CONFIG_FILE_NAMES: readonly string[] = Object.freeze([
  'lakeloop.config.ts',
  'lakeloop.config.mts',
  'lakeloop.config.js',
  'lakeloop.config.mjs',
]);

/**
 * Finds, imports and validates a project's config. With `file` (the CLI's `--config`),
 * that file must exist; without, `cwd` is searched for `lakeloop.config.ts` (then .mts,
 * .js, .mjs), and when none is there the defaults apply (`file` undefined, lake `./lake`
 * under `cwd`). Relative paths in the config resolve against the config file's folder.
 * Every failure is a `ConfigError` naming the file.
 *
 * The file is imported with Node's `import()`, so `.ts` configs need a TypeScript-aware
 * loader: in a checkout the `lakeloop` bin registers tsx, the installed package its own hooks
 * (see `registerUserModuleLoader`), and vitest transforms TypeScript itself.
 *
 * @example
 * const config = await loadConfig(process.cwd());
 * config.lake.location; // { kind: 'local', path: '/repo/lake' }
 */
export async function loadConfig(cwd: string, file?: string): Promise<ResolvedConfig> {
  const path = file === undefined ? await findConfigFile(cwd) : resolve(cwd, file);
  if (path === undefined) return validateConfig({}, undefined, resolve(cwd));
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new ConfigError(path, [{ path: '', message: 'no such file' }]);
  }
  const value = await importConfig(path, info.mtimeMs);
  return validateConfig(value, path, dirname(path));
}

/** The config file in `dir`, if there is one. */
export async function findConfigFile(dir: string): Promise<string | undefined> {
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = resolve(dir, name);
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) return candidate;
  }
  return undefined;
}

async function importConfig(path: string, mtimeMs: number): Promise<unknown> {
  return importUserModule(path, mtimeMs, 'export default defineConfig({ ... })');
}
