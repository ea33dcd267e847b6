import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/index.js';
import { validateContract, type Contract } from './define-contract.js';

/** Where a project keeps its contracts, relative to the project folder. */
export const CONTRACTS_DIR = 'contracts';

const CONTRACT_FILE = /^[^._][^/\\]*(?<!\.d)\.(ts|mts|js|mjs)$/;

/**
 * Imports every `contracts/*.ts` (also .mts/.js/.mjs; not `.d.ts`, nor names starting
 * with `.` or `_`, which are for shared helpers) of a project, each default-exporting a
 * contract (`defineContract`), and returns them by source, in file-name order. A project
 * without a `contracts/` folder has none (an empty map). Every failure is a `ConfigError`
 * naming the file: unloadable, no default export, invalid, or a source defined twice.
 *
 * The files are imported with Node's `import()`: the `lakeloop` bin registers tsx, and
 * vitest transforms TypeScript itself.
 *
 * @example
 * const contracts = await loadContracts('/repo');
 * contracts.get('orders')?.file; // '/repo/contracts/orders.ts'
 */
export async function loadContracts(projectDir: string): Promise<Map<string, Contract>> {
  const dir = resolve(projectDir, CONTRACTS_DIR);
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
    throw new ConfigError(dir, [{ path: '', message: `cannot read the folder: ${error.message}` }], { cause: error });
  });
  const contracts = new Map<string, Contract>();
  for (const name of names.filter((n) => CONTRACT_FILE.test(n)).sort()) {
    const file = join(dir, name);
    const info = await stat(file);
    if (!info.isFile()) continue;
    const contract = validateContract(await importDefault(file, info.mtimeMs), file);
    const other = contracts.get(contract.source);
    if (other !== undefined) {
      throw new ConfigError(file, [
        {
          path: 'source',
          message: `"${contract.source}" is also the source of ${relative(projectDir, other.file ?? '')}; each source has one contract`,
        },
      ]);
    }
    contracts.set(contract.source, contract);
  }
  return contracts;
}

async function importDefault(file: string, mtimeMs: number): Promise<unknown> {
  // The query makes an edited file load afresh in a long-lived process (tests, `serve`).
  const url = `${pathToFileURL(file).href}?mtime=${Math.floor(mtimeMs)}`;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    // defineContract's own ConfigError, thrown while the module ran: keep its issues, name the file.
    if (error instanceof ConfigError) throw new ConfigError(file, error.issues, { cause: error });
    throw new ConfigError(file, [{ path: '', message: `failed to load: ${firstLines(error)}` }], { cause: error });
  }
  if (!('default' in module) || module['default'] === undefined) {
    throw new ConfigError(file, [{ path: '', message: 'has no default export; expected `export default defineContract({ ... })`' }]);
  }
  return module['default'];
}

function firstLines(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/^Transform failed with \d+ errors?:\s*/, '');
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.slice(0, 3).join(' ') || 'unknown error';
}
