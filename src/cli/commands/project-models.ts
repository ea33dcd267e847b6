import { loadContracts, type Contract } from '../../contracts/index.js';
import type { Engine } from '../../engine/index.js';
import { ensureBronzeTable } from '../../ingest/index.js';
import { loadModels, resolveModels, type Model, type ModelDag } from '../../models/index.js';
import type { CommandContext } from '../command-context.js';
import type { Session } from '../session.js';

/** The project's models resolved into a DAG, plus its contract sources (for `run` and `lineage`). */
export async function projectModels(
  context: CommandContext,
  session: Session,
  /** The engine that parses the models' SQL (default: the session's; another one lets a verb parse while its session engine works). */
  parser: Engine = session.engine,
): Promise<{ dag: ModelDag; sources: string[]; contracts: ReadonlyMap<string, Contract> }> {
  const config = await context.config();
  const contracts = await loadContracts(config.projectDir);
  const definitions = await loadModels(config.projectDir);
  const sources = [...contracts.keys()];
  const inLake = (await session.lake.tables()).filter((t) => t.startsWith('bronze.') || t.startsWith('quarantine.'));
  const dag = await resolveModels(definitions, { engine: parser, knownTables: [...inLake, ...sources.map((s) => `bronze.${s}`)] });
  return { dag, sources, contracts };
}

/** Bronze table → its contract's event-time column: the source of the models' watermark (SPEC §7). */
export function eventTimeColumnsOf(contracts: ReadonlyMap<string, Contract>): Record<string, string> {
  return Object.fromEntries([...contracts.values()].map((c) => [`bronze.${c.source}`, c.eventTime]));
}

/**
 * Creates the (empty) bronze table of every source `models` read that has received no data
 * yet, so they build from the start instead of failing on a missing table. `existing`: the
 * lake's tables, when the caller has listed them already.
 */
export async function ensureUpstreamBronze(session: Session, contracts: ReadonlyMap<string, Contract>, models: readonly Model[], existing?: ReadonlySet<string>): Promise<void> {
  const present = existing ?? new Set(await session.lake.tables());
  for (const name of new Set(models.flatMap((m) => m.upstream))) {
    const contract = name.startsWith('bronze.') ? contracts.get(name.slice('bronze.'.length)) : undefined;
    if (contract && !present.has(name)) await ensureBronzeTable(session.lake, contract);
  }
}
