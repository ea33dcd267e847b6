import { randomBytes } from 'node:crypto';
import { LakeloopError, unknownNamesHint, UsageError } from '../../core/index.js';
import { selectModels } from '../../models/index.js';
import { ensureBronzeTable } from '../../ingest/index.js';
import { publishedModels } from '../../planner/index.js';
import { runModels, type ModelOutcome, type RunResult } from '../../runner/index.js';
import { runKey, writeRun, type RunRecord } from '../../scheduler/index.js';
import type { ObjectStore } from '../../storage/index.js';
import { openCatalogEarly, refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, formatCount, plural } from '../human.js';
import { projectModels } from './project-models.js';

export interface RunOptions {
  readonly fullRefresh?: boolean;
  readonly json?: boolean;
}

/**
 * `lakeloop run [models...] [--full-refresh]`: runs the project's models (or the named ones
 * and what they read) in DAG order, one line per model as it finishes (`OK`, `ERROR`, or
 * `SKIP` for a model downstream of a failed one); the others run on. The result goes to the
 * run ledger (`_lakeloop/runs/run/`); `--json` prints `{ status, models: [...], run }` as the
 * last line, also when a model failed. Exit 1 when any model failed.
 */
export async function runCommand(selected: readonly string[], options: RunOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag, contracts } = await projectModels(context, session);
  const { models: selectedModels, unknown } = selectModels(dag, selected);
  if (unknown.length) {
    const known = dag.models.map((m) => m.name);
    throw new UsageError(`Unknown model ${unknown.join(', ')}`, unknownNamesHint(unknown, known, 'Models', 'Add sql/<layer>/<name>.sql files.'));
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
  if (pending.length && !options.json) {
    io.stdout.write(`plan pending: ${pending.map((p) => `${p.model} (${p.change})`).join(', ')} — running the published version; lakeloop plan / lakeloop apply\n`);
  }
  // The catalog's copy is made and opened while the models run; only rebinding is left after.
  const catalog = openCatalogEarly(session);
  const startedAt = new Date();
  const width = Math.max(...models.map((m) => m.name.length));
  let done = 0;
  let result: RunResult;
  try {
    result = await runModels(session.lake, models, {
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
      // Each outcome is printed as it is known, so a long run shows its progress and a failure shows at once.
      onOutcome: (outcome) => {
        done += 1;
        if (!options.json) io.stdout.write(describeOutcome(outcome, done, models.length, width));
      },
    });
  } catch (error) {
    // Models that committed before the failure are in the catalog too.
    await refreshCatalog(context, session, catalog);
    throw error;
  }
  const { outcomes, failures } = result;
  // Also when nothing ran: a catalog left stale (an interrupted serve, a copied lake) is repaired.
  await refreshCatalog(context, session, catalog);
  const ledger = await recordRun(session.lake.store, startedAt, outcomes, failures.length > 0);
  if (options.json) io.stdout.write(`${JSON.stringify({ status: ledger.status, models: outcomes, run: runKey(ledger), pendingPlan: pending })}\n`);
  if (failures.length === 0) return;
  const skipped = outcomes.filter((o) => o.status === 'skipped').length;
  // One failure is reported as itself (its message names the model, file and line, with a hint).
  if (failures.length === 1 && skipped === 0) throw (failures[0] as { error: unknown }).error;
  for (const { error } of failures) {
    io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof LakeloopError && error.hint !== undefined) io.stderr.write(`hint: ${error.hint}\n`);
  }
  throw new LakeloopError(
    'RUN_FAILED',
    `${plural(failures.length, 'model')} failed (${failures.map((f) => f.model).join(', ')})${skipped ? `, ${skipped} downstream skipped` : ''}; the others ran`,
    { hint: `Fix the models named above and run again; the run's result is in ${runKey(ledger)}.` },
  );
}

/** One model's outcome as the terminal shows it: `3 of 7 OK    silver.orders  <what>  0.42 s`, then its details. */
function describeOutcome(outcome: ModelOutcome, index: number, total: number, width: number): string {
  const head = `${String(index).padStart(String(total).length)} of ${total} ${({ ok: 'OK', error: 'ERROR', skipped: 'SKIP' } as const)[outcome.status].padEnd(5)} ${outcome.model.padEnd(width)}`;
  const indent = ' '.repeat(head.length);
  if (outcome.status === 'error') return `${head}  ${outcome.error.message.split('\n')[0]}  ${outcome.seconds.toFixed(2)} s\n`;
  if (outcome.status === 'skipped') return `${head}  not run: ${outcome.reason}\n`;
  const s = outcome;
  const what = s.skipped ? 'up to date' : `${plural(s.rows, 'row')}, ${plural(s.files, 'file')}, ${formatBytes(s.bytes)} (version ${s.version})`;
  const lines = [`${head}  ${what}  ${s.seconds.toFixed(2)} s`];
  if (!s.skipped) {
    const rewrote = s.partitions === 'all' ? 'the whole table' : plural(s.partitions.length, 'partition');
    lines.push(`${indent}  ${s.mode}: ${formatCount(s.rowsIn)} rows in, ${formatCount(s.rowsOut)} out, rewrote ${rewrote}`);
  }
  const late = Object.entries(s.deferred);
  if (late.length) {
    const rows = late.reduce((sum, [, n]) => sum + n, 0);
    lines.push(`${indent}  deferred late: ${plural(rows, 'row')} in ${plural(late.length, 'partition')} behind the horizon (${late.map(([p]) => p).sort().slice(0, 5).join(', ')}${late.length > 5 ? ', …' : ''}); lakeloop reconcile publishes them`);
  }
  for (const t of s.tests.filter((r) => r.status === 'warn')) lines.push(`${indent}  warn ${t.test}: ${plural(t.failures, 'failing row')}`);
  return `${lines.join('\n')}\n`;
}

/** Writes the run's result to the run ledger (`_lakeloop/runs/run/`): every model's outcome, timings and versions. */
async function recordRun(store: ObjectStore, startedAt: Date, outcomes: readonly ModelOutcome[], failed: boolean): Promise<RunRecord> {
  const finishedAt = new Date();
  const record: RunRecord = {
    id: randomBytes(4).toString('hex'),
    job: 'run',
    kind: 'run',
    trigger: 'manual',
    status: failed ? 'failed' : 'succeeded',
    scheduledFor: startedAt.toISOString(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    attempts: 1,
    result: {
      models: outcomes.map((o) =>
        o.status === 'ok'
          ? { model: o.model, status: o.status, mode: o.mode, version: o.version, upstream: o.upstream, rowsIn: o.rowsIn, rowsOut: o.rowsOut, deferred: o.deferred, seconds: o.seconds }
          : o,
      ),
    },
    error: failed ? { message: outcomes.filter((o) => o.status === 'error').map((o) => o.model).join(', ') + ' failed', code: 'RUN_FAILED' } : null,
    failedAttempts: [],
  };
  await writeRun(store, record);
  return record;
}
