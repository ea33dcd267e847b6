import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { CONTRACTS_DIR, contractJsonSchema, loadContracts } from '../../contracts/index.js';
import { LakeloopError } from '../../core/index.js';
import type { CommandContext } from '../command-context.js';

export interface ContractsExportOptions {
  /** The folder to write `<source>.schema.json` files into; default `./contract-schemas`. */
  readonly output?: string;
  /** Print `{ "<source>": <JSON Schema>, ... }` as one line instead of writing files (unless `--output` is given too). */
  readonly json?: boolean;
}

/** Where `contracts export` writes when no `--output` is given (relative to the cwd). */
export const DEFAULT_SCHEMA_DIR = 'contract-schemas';

/**
 * `lakeloop contracts export`: the JSON Schema of every contract in the project's
 * `contracts/`, one `<source>.schema.json` per contract in `--output` (default
 * `./contract-schemas`), or printed as one JSON object keyed by source with `--json`.
 * A project without contracts is a failure (exit 1): there is nothing to hand producers.
 */
export async function contractsExportCommand(options: ContractsExportOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const config = await context.config();
  const contracts = await loadContracts(config.projectDir);
  const where = join(config.projectDir, CONTRACTS_DIR);
  if (contracts.size === 0) {
    throw new LakeloopError('NO_CONTRACTS', `No contracts in ${where}`, {
      hint: 'Add contracts/<source>.ts with `export default defineContract({ ... })`, one per source.',
    });
  }
  context.verbose(`contracts: ${[...contracts.keys()].join(', ')} (from ${where})`);
  const schemas = [...contracts.values()].map((contract) => ({ contract, schema: contractJsonSchema(contract) }));
  if (!options.json || options.output !== undefined) {
    const dir = resolve(io.cwd, options.output ?? DEFAULT_SCHEMA_DIR);
    await mkdir(dir, { recursive: true });
    for (const { contract, schema } of schemas) {
      const file = join(dir, `${contract.source}.schema.json`);
      await writeFile(file, `${JSON.stringify(schema, null, 2)}\n`);
      const shown = relative(io.cwd, file).startsWith('..') ? file : relative(io.cwd, file);
      if (!options.json) io.stdout.write(`wrote ${shown}  (${contract.source} v${contract.version}, owner ${contract.owner})\n`);
    }
  }
  if (options.json) io.stdout.write(`${JSON.stringify(Object.fromEntries(schemas.map(({ contract, schema }) => [contract.source, schema])))}\n`);
}
