import { LakeloopError, UsageError } from '../../core/index.js';
import { withDownstream, type Model, type ModelDag } from '../../models/index.js';
import { ensureBronzeTable } from '../../ingest/index.js';
import { publishedModels } from '../../planner/index.js';
import { reconcile, reportTotals, type ReconcileReport } from '../../reconcile/index.js';
import { refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { plural } from '../human.js';
import { applyCpuPriority, parsePriority } from '../priority.js';
import type { LineageDataset } from '../../observe/index.js';
import { openLineage } from '../observe-setup.js';
import { projectModels } from './project-models.js';

export interface ReconcileCommandOptions {
  readonly from?: string;
  readonly to?: string;
  readonly window?: string;
  readonly models?: string[];
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly threads?: string;
  readonly memoryLimit?: string;
  /** `idle` (default), `low` or `normal`; see `applyCpuPriority`. */
  readonly priority?: string;
}

/**
 * `lakeloop reconcile` and `lakeloop replay`: recompute a window of every model (or of the
 * `--models` given and those downstream of them) from bronze in a separate DuckDB
 * circuit, print the report (also written to `_lakeloop/reports/`), publish the corrected
 * partitions unless `--dry-run`. Exit 1 when a partition is held by a failing blocking test.
 */
export async function reconcileCommand(kind: 'reconcile' | 'replay', options: ReconcileCommandOptions, context: CommandContext): Promise<ReconcileReport> {
  const { io } = context;
  // Before the session's DuckDB starts its threads, so they run at this priority too.
  const priority = parsePriority(options.priority);
  if (context.ownsProcess) context.verbose(applyCpuPriority(priority));
  const session = await context.session();
  const { dag, contracts } = await projectModels(context, session);
  const models = options.models?.length ? modelsAndDownstream(dag, options.models) : [...dag.models];
  if (models.length === 0) throw new UsageError('No models to recompute', 'Add sql/<layer>/<name>.sql files.');
  const existing = new Set(await session.lake.tables());
  for (const name of new Set(models.flatMap((m) => m.upstream))) {
    const contract = name.startsWith('bronze.') ? contracts.get(name.slice('bronze.'.length)) : undefined;
    if (contract && !existing.has(name)) await ensureBronzeTable(session.lake, contract);
  }
  const threads = options.threads === undefined ? 1 : Number(options.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads expects a positive integer, got ${JSON.stringify(options.threads)}`);
  // An edited model is recomputed as its table's published version until `lakeloop apply`.
  const { models: published } = await publishedModels(session.lake, session.engine, models);
  // Lineage: one run per reconcile/replay; inputs are the tables outside the recomputed models, at the versions read.
  const lineage = options.dryRun ? undefined : openLineage(context, await context.config(), session.lake, published);
  const recomputed = new Set(published.map((m) => m.name));
  const inputs: LineageDataset[] = [];
  if (lineage) {
    for (const name of new Set(published.flatMap((m) => m.upstream))) {
      if (recomputed.has(name)) continue;
      inputs.push({ name, version: (await (await session.lake.tableIfExists(name))?.snapshot())?.version });
    }
  }
  const run = lineage?.start(`lakeloop.${kind}`, kind === 'reconcile' ? 'RECONCILE' : 'REPLAY', { inputs });
  const report = await reconcile(session.lake, published, {
    kind,
    from: options.from,
    to: options.to,
    window: options.window,
    dryRun: options.dryRun ?? false,
    engine: { threads, memoryLimit: options.memoryLimit ?? '1GB' },
    eventTimeColumns: Object.fromEntries([...contracts.values()].map((c) => [`bronze.${c.source}`, c.eventTime])),
    onProgress: (message) => context.verbose(message),
  }).catch((error: unknown) => {
    run?.fail(error instanceof Error ? error.message : String(error), { inputs });
    throw error;
  });
  // Also when nothing was published: a stale catalog is repaired (a no-op when it is current).
  if (!report.dryRun) await refreshCatalog(context, session);
  if (options.json) io.stdout.write(`${JSON.stringify(report)}\n`);
  else io.stdout.write(describeReport(report));
  const held = report.models.flatMap((m) => m.partitions.filter((p) => p.status === 'held').map((p) => `${m.model} ${p.partition} (${p.note ?? 'held'})`));
  const outputs = report.models
    .filter((m) => m.published !== null)
    .map((m) => ({ name: m.model, version: m.published as number, assertions: m.tests.map((t) => ({ assertion: t.test, success: t.status === 'pass' })) }));
  if (held.length) run?.fail(`held by failing blocking tests: ${held.join('; ')}`, { inputs, outputs });
  else run?.complete({ inputs, outputs });
  if (held.length) {
    throw new LakeloopError('RECONCILE_HELD', `${plural(held.length, 'partition')} held by failing blocking tests, not published: ${held.join('; ')}`, {
      hint: `Read the report _lakeloop/reports/${report.id}.md, fix the data or the test, and run ${kind} again.`,
    });
  }
  return report;
}

/** The report as the terminal shows it: one line per model, one per partition that changed. */
export function describeReport(report: ReconcileReport): string {
  const totals = reportTotals(report);
  const lines = [
    `${report.kind} ${report.id}${report.dryRun ? ' (dry run: nothing published)' : ''}: ${totals.match} match, ${totals.corrected} corrected, ${totals.held} held, ${totals.failed} failed (${report.seconds.toFixed(1)} s)`,
  ];
  const width = Math.max(...report.models.map((m) => m.model.length));
  for (const m of report.models) {
    const changed = m.partitions.filter((p) => p.status !== 'match');
    const published = m.published === null ? '' : `, published version ${m.published}`;
    lines.push(`  ${m.model.padEnd(width)}  ${m.from} → ${m.to}: ${plural(m.partitions.length, 'partition')}, ${changed.length} differ${published}`);
    for (const p of changed) {
      const deltas = Object.entries(p.sumDeltas).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`).join(', ');
      const late = p.lateRows ? `, ${plural(p.lateRows, 'late row')}` : '';
      lines.push(`  ${' '.repeat(width)}    ${p.partition} ${p.status}: rows ${p.rowsBefore} → ${p.rowsAfter} (+${p.added} −${p.removed} ~${p.changed})${deltas ? `, ${deltas}` : ''}${late}${p.note ? ` — ${p.note}` : ''}`);
    }
  }
  const late = report.window?.latePartitions ?? [];
  if (late.length) lines.push(`  with the ${plural(late.length, 'older partition')} holding deferred late rows: ${late.slice(0, 6).join(', ')}${late.length > 6 ? ', …' : ''}`);
  if (report.models.every((m) => m.partitions.every((p) => p.rowsBefore === 0 && p.rowsAfter === 0))) {
    const window = report.window ? ` ${report.window.from} → ${report.window.to}` : '';
    lines.push(`  nothing to reconcile: ${late.length ? 'the late partitions hold no rows' : 'no late rows pending'}, no data in the window${window} (bronze has no events there and the models hold no rows there)`);
  }
  lines.push(`report: _lakeloop/reports/${report.id}.json and .md`);
  return `${lines.join('\n')}\n`;
}

/** The models named and those downstream of them; an unknown name is a usage error. */
function modelsAndDownstream(dag: ModelDag, names: readonly string[]): Model[] {
  const unknown = names.filter((n) => !dag.byName.has(n));
  if (unknown.length) {
    throw new UsageError(`Unknown model ${unknown.join(', ')}`, `Models: ${dag.models.map((m) => m.name).join(', ')}.`);
  }
  return withDownstream(dag.models, names);
}
