import { loadContracts, type Contract } from '../../contracts/index.js';
import { loadModels, resolveModels, type ModelDag } from '../../models/index.js';
import type { CommandContext } from '../command-context.js';
import type { Session } from '../session.js';

/** The project's models resolved into a DAG, plus its contract sources (for `run` and `lineage`). */
export async function projectModels(
  context: CommandContext,
  session: Session,
): Promise<{ dag: ModelDag; sources: string[]; contracts: ReadonlyMap<string, Contract> }> {
  const config = await context.config();
  const contracts = await loadContracts(config.projectDir);
  const definitions = await loadModels(config.projectDir);
  const sources = [...contracts.keys()];
  const inLake = (await session.lake.tables()).filter((t) => t.startsWith('bronze.') || t.startsWith('quarantine.'));
  const dag = await resolveModels(definitions, { engine: session.engine, knownTables: [...inLake, ...sources.map((s) => `bronze.${s}`)] });
  return { dag, sources, contracts };
}
