import { UsageError } from '../../core/index.js';
import { selectModels } from '../../models/index.js';
import { ensureBronzeTable } from '../../ingest/index.js';
import { publishedModels } from '../../planner/index.js';
import { runModels } from '../../runner/index.js';
import { discardCatalog, openCatalogEarly, refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, formatCount, plural } from '../human.js';
import { projectModels } from './project-models.js';

export interface RunOptions {
  readonly fullRefresh?: boolean;
  readonly json?: boolean;
}

/**
 * `lakeloop run [models...] [--full-refresh]`: runs the project's models (or the named ones
 * and what they read) in DAG order, one line per model; `--json` prints
 * `{ models: [...] }` as the last line.
 */
export async function runCommand(selected: readonly string[], options: RunOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag, contracts } = await projectModels(context, session);
  const { models: selectedModels, unknown } = selectModels(dag, selected);
  if (unknown.length) {
    const known = dag.models.map((m) => m.name);
    throw new UsageError(`Unknown model ${unknown.join(', ')}`, known.length ? `Models: ${known.join(', ')}.` : 'Add sql/<layer>/<name>.sql files.');
  }
  if (selectedModels.length === 0) {
    io.stdout.write('no models: add sql/silver/<name>.sql or sql/gold/<name>.sql\n');
    if (options.json) io.stdout.write(`${JSON.stringify({ models: [] })}\n`);
    return;
  }
  // An edited model keeps running as its table's published version until `lakeloop apply`.
  const { models, pending } = await publishedModels(session.lake, session.engine, selectedModels);
  // A source that has not received data yet still has a (empty) bronze table, so its
  // models build from the start instead of failing on a missing table.
  const existing = new Set(await session.lake.tables());
  for (const name of new Set(models.flatMap((m) => m.upstream))) {
    const contract = name.startsWith('bronze.') ? contracts.get(name.slice('bronze.'.length)) : undefined;
    if (contract && !existing.has(name)) await ensureBronzeTable(session.lake, contract);
  }
  const eventTimeColumns = Object.fromEntries([...contracts.values()].map((c) => [`bronze.${c.source}`, c.eventTime]));
  // The catalog's copy is made and opened while the models run; only rebinding is left after.
  const catalog = openCatalogEarly(session);
  let summaries;
  try {
    summaries = await runModels(session.lake, models, {
      fullRefresh: options.fullRefresh ?? false,
      // A full refresh rebuilds with the SQL's definition: dropped columns leave, retyped ones change.
      replaceDefinition: options.fullRefresh ?? false,
      // `run gold.x --full-refresh` rebuilds gold.x; what it reads only catches up.
      ...(selected.length ? { fullRefreshModels: new Set(selected) } : {}),
      eventTimeColumns,
      // Each committed model's view is bound while the next model runs.
      onModelDone: (s) => {
        if (!s.skipped) void catalog.then((copy) => copy?.rebindSoon(session.lake, s.model));
      },
    });
  } catch (error) {
    await discardCatalog(catalog);
    throw error;
  }
  if (summaries.some((s) => !s.skipped)) await refreshCatalog(context, session, catalog);
  else await discardCatalog(catalog);
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ models: summaries, pendingPlan: pending })}\n`);
    return;
  }
  if (pending.length) {
    io.stdout.write(`plan pending: ${pending.map((p) => `${p.model} (${p.change})`).join(', ')} — ran the published version; lakeloop plan / lakeloop apply\n`);
  }
  const width = Math.max(...summaries.map((s) => s.model.length));
  for (const s of summaries) {
    const what = s.skipped
      ? pending.some((p) => p.model === s.model) ? 'up to date with its published version (plan pending)' : 'up to date'
      : `${plural(s.rows, 'row')}, ${plural(s.files, 'file')}, ${formatBytes(s.bytes)}, ${s.seconds.toFixed(2)} s (version ${s.version})`;
    io.stdout.write(`${s.model.padEnd(width)}  ${what}\n`);
    if (!s.skipped) {
      const rewrote = s.partitions === 'all' ? 'the whole table' : plural(s.partitions.length, 'partition');
      io.stdout.write(`${' '.repeat(width)}  ${s.mode}: ${formatCount(s.rowsIn)} rows in, ${formatCount(s.rowsOut)} out, rewrote ${rewrote}\n`);
    }
    const late = Object.entries(s.deferred);
    if (late.length) {
      const rows = late.reduce((sum, [, n]) => sum + n, 0);
      io.stdout.write(`${' '.repeat(width)}  deferred late: ${plural(rows, 'row')} in ${plural(late.length, 'partition')} behind the horizon (${late.map(([p]) => p).sort().slice(0, 5).join(', ')}${late.length > 5 ? ', …' : ''}); lakeloop reconcile publishes them\n`);
    }
    for (const t of s.tests.filter((r) => r.status === 'warn')) {
      io.stdout.write(`${' '.repeat(width)}  warn ${t.test}: ${plural(t.failures, 'failing row')}\n`);
    }
  }
}
