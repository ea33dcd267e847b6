import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { importUserModule } from '../config/index.js';
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
  return importUserModule(file, mtimeMs, 'export default defineContract({ ... })');
}
