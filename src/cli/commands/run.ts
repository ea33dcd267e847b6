import { randomBytes } from 'node:crypto';
import { BudgetExceeded, LakeloopError, UsageError } from '../../core/index.js';
import { publishedModels } from '../../planner/index.js';
import { checkScanBudget, estimateScan, runModels, type ModelOutcome, type RunResult, type ScanBudgetCheck } from '../../runner/index.js';
import { runKey, writeRun, type RunRecord } from '../../scheduler/index.js';
import type { ObjectStore } from '../../storage/index.js';
import { openCatalogEarly, refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { refuseOverQuota, warnOverQuota } from '../cost-checks.js';
import { formatBytes, formatCount, plural } from '../human.js';
import { selectModelsOrFail } from './model-selection.js';
import { openLineage } from '../observe-setup.js';
import { ensureUpstreamBronze, eventTimeColumnsOf, projectModels } from './project-models.js';

export interface RunOptions {
  readonly fullRefresh?: boolean;
  /** Selectors of models to leave out (same grammar as the positional ones). */
  readonly exclude?: readonly string[];
  readonly json?: boolean;
}

/**
 * `lakeloop run [selectors...] [--exclude selectors...] [--full-refresh]`: runs the project's
 * models (or exactly the selected ones, like dbt: their upstream is read as published, and
 * `+name` selects it too) in DAG order, one line per model as it finishes (`OK`, `ERROR`, or
 * `SKIP` for a model downstream of a failed one); the others run on. The result goes to the
 * run ledger (`_lakeloop/runs/run/`); `--json` prints `{ status, models: [...], run }` as the
 * last line, also when a model failed (each model's `cost`: bytes and files read and written,
 * CPU seconds, peak memory). With `budgets.maxBytesScannedPerRun`, the bytes the run would scan
 * are estimated from the logs first: over the budget it is refused before reading anything
 * (mode `refuse`, exit 1) or runs with a warning (`warn`, also in `budget`/`warnings` of the
 * JSON and the ledger). A layer over `budgets.storageQuota` is warned about after the run.
 * Exit 1 when any model failed.
 */
export async function runCommand(selected: readonly string[], options: RunOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag, contracts } = await projectModels(context, session);
  const { models: selectedModels } = selectModelsOrFail(dag, selected, options.exclude ?? []);
  if (selectedModels.length === 0) {
    io.stdout.write('no models: add sql/silver/<name>.sql or sql/gold/<name>.sql\n');
    if (options.json) io.stdout.write(`${JSON.stringify({ models: [] })}\n`);
    return;
  }
  // An edited model keeps running as its table's published version until `lakeloop apply`.
  const { models, pending } = await publishedModels(session.lake, session.engine, selectedModels);
  const eventTimeColumns = eventTimeColumnsOf(contracts);
  const refresh = {
    fullRefresh: options.fullRefresh ?? false,
    // `run gold.x --full-refresh` rebuilds gold.x; what it reads only catches up.
    ...(selected.length ? { fullRefreshModels: new Set(selected) } : {}),
  };
  // The scan budget is checked from the logs before anything is read or written.
  const { budgets } = await context.config();
  await refuseOverQuota(session.lake, budgets, models.map((m) => m.name.split('.')[0] ?? ''), `running ${models.length === 1 ? models[0]?.name : `${models.length} models`}`);
  const budget = budgets.maxBytesScannedPerRun === undefined ? undefined : checkScanBudget(await estimateScan(session.lake, models, { ...refresh, eventTimeColumns }), budgets);
  if (budget?.over) {
    if (budget.mode === 'refuse') {
      const ledger = await recordRun(session.lake.store, new Date(), [], true, { budget }, { message: budget.message as string, code: 'BUDGET_EXCEEDED' });
      if (options.json) io.stdout.write(`${JSON.stringify({ status: 'refused', models: [], run: runKey(ledger), budget })}\n`);
      throw new BudgetExceeded(budget.message as string, budget.estimatedBytes, budget.budgetBytes, budget.hint as string);
    }
    io.stderr.write(`warning: ${budget.message}\nhint: ${budget.hint}\n`);
  }
  // A source that has not received data yet still has a (empty) bronze table, so its
  // models build from the start instead of failing on a missing table.
  const existing = new Set(await session.lake.tables());
  const chosen = new Set(models.map((m) => m.name));
  const unbuilt = models.flatMap((m) => m.upstream.filter((up) => dag.byName.has(up) && !chosen.has(up) && !existing.has(up)).map((up) => `${m.name} reads ${up}`));
  if (unbuilt.length) {
    throw new UsageError(
      `Not built yet: ${unbuilt.join(', ')}, and it is not selected`,
      `run reads the upstream of the selected models as published: build it first, or select it too with +, e.g. lakeloop run +${unbuilt[0]?.split(' ')[0] ?? '<model>'}.`,
    );
  }
  await ensureUpstreamBronze(session, contracts, models, existing);
  if (pending.length && !options.json) {
    io.stdout.write(`plan pending: ${pending.map((p) => `${p.model} (${p.change})`).join(', ')} — running the published version; lakeloop plan / lakeloop apply\n`);
  }
  // The catalog's copy is made and opened while the models run; only rebinding is left after.
  const catalog = openCatalogEarly(session);
  const startedAt = new Date();
  const width = Math.max(...models.map((m) => m.name.length));
  let done = 0;
  let result: RunResult;
  // Lineage: the run is the parent of each model's run.
  const lineage = openLineage(context, await context.config(), session.lake, models);
  const parent = lineage?.start('lakeloop.run', 'RUN', { inputs: [] });
  try {
    result = await runModels(session.lake, models, {
      ...refresh,
      // A full refresh rebuilds with the SQL's definition: dropped columns leave, retyped ones change.
      replaceDefinition: options.fullRefresh ?? false,
      // Only the selected models run, so `run gold.x --full-refresh` rebuilds gold.x and reads its upstream as published.
      eventTimeColumns,
      // Each committed model's view is bound while the next model runs.
      onModelDone: (s) => {
        if (!s.skipped) void catalog.then((copy) => copy?.rebindSoon(session.lake, s.model));
      },
      // Each outcome is printed as it is known, so a long run shows its progress and a failure shows at once.
      onModelStart: (model) => lineage?.modelStarted(model, parent?.run),
      onOutcome: (outcome) => {
        lineage?.modelOutcome(outcome, parent?.run);
        done += 1;
        if (!options.json) io.stdout.write(describeOutcome(outcome, done, models.length, width));
      },
    });
  } catch (error) {
    parent?.fail(error instanceof Error ? error.message : String(error));
    // Models that committed before the failure are in the catalog too.
    await refreshCatalog(context, session, catalog, dag.models);
    throw error;
  }
  const { outcomes, failures } = result;
  if (failures.length) parent?.fail(`${plural(failures.length, 'model')} failed: ${failures.map((f) => f.model).join(', ')}`);
  else parent?.complete();
  // Also when nothing ran: a catalog left stale (an interrupted serve, a copied lake) is repaired.
  await refreshCatalog(context, session, catalog, dag.models);
  const warnings = await warnOverQuota(session.lake, budgets, io.stderr);
  const cost = costReport(budget, warnings);
  const ledger = await recordRun(session.lake.store, startedAt, outcomes, failures.length > 0, cost);
  if (options.json) io.stdout.write(`${JSON.stringify({ status: ledger.status, models: outcomes, run: runKey(ledger), pendingPlan: pending, ...cost })}\n`);
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
    const c = s.cost;
    lines.push(`${indent}  read ${formatBytes(c.bytesRead)} in ${plural(c.filesRead, 'file')}, wrote ${formatBytes(c.bytesWritten)} in ${plural(c.filesWritten, 'file')}, ${c.cpuSeconds.toFixed(2)} CPU s`);
  }
  const late = Object.entries(s.deferred);
  if (late.length) {
    const rows = late.reduce((sum, [, n]) => sum + n, 0);
    lines.push(`${indent}  deferred late: ${plural(rows, 'row')} in ${plural(late.length, 'partition')} behind the horizon (${late.map(([p]) => p).sort().slice(0, 5).join(', ')}${late.length > 5 ? ', …' : ''}); lakeloop reconcile publishes them`);
  }
  for (const t of s.tests.filter((r) => r.status === 'warn')) lines.push(`${indent}  warn ${t.test}: ${plural(t.failures, 'failing row')}`);
  return `${lines.join('\n')}\n`;
}

/** What a run's `--json` and ledger record say about its budget: the scan check when a budget is set, and the warnings (over budget, over quota). */
function costReport(budget: ScanBudgetCheck | undefined, quota: readonly string[]): { budget?: ScanBudgetCheck; warnings?: string[] } {
  const warnings = [...(budget?.over ? [budget.message as string] : []), ...quota];
  return { ...(budget ? { budget } : {}), ...(warnings.length ? { warnings } : {}) };
}

/** Writes the run's result to the run ledger (`_lakeloop/runs/run/`): every model's outcome, timings, versions and cost. */
async function recordRun(
  store: ObjectStore,
  startedAt: Date,
  outcomes: readonly ModelOutcome[],
  failed: boolean,
  extra: Readonly<Record<string, unknown>> = {},
  error?: { message: string; code: string },
): Promise<RunRecord> {
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
    reason: null,
    result: {
      models: outcomes.map((o) =>
        o.status === 'ok'
          ? { model: o.model, status: o.status, mode: o.mode, version: o.version, upstream: o.upstream, rowsIn: o.rowsIn, rowsOut: o.rowsOut, deferred: o.deferred, seconds: o.seconds, cost: o.cost }
          : o,
      ),
      ...extra,
    },
    error: error ?? (failed ? { message: outcomes.filter((o) => o.status === 'error').map((o) => o.model).join(', ') + ' failed', code: 'RUN_FAILED' } : null),
    failedAttempts: [],
  };
  await writeRun(store, record);
  return record;
}
