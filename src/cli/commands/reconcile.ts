import { LakeloopError, unknownNamesHint, UsageError } from '../../core/index.js';
import { withDownstream, type Model, type ModelDag } from '../../models/index.js';
import { publishedModels } from '../../planner/index.js';
import { checkWindowOptions, DEFAULT_CHUNK_DAYS, describeChunks, reconcileInChunks, reportTotals, type ChunkEvent, type ReconcileReport } from '../../reconcile/index.js';
import { refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { plural } from '../human.js';
import { Progress } from '../progress.js';
import { applyCpuPriority, parsePriority } from '../priority.js';
import { selectModelsOrFail } from './model-selection.js';
import type { LineageDataset } from '../../observe/index.js';
import { openLineage } from '../observe-setup.js';
import { ensureUpstreamBronze, eventTimeColumnsOf, projectModels } from './project-models.js';

export interface ReconcileCommandOptions {
  readonly from?: string;
  readonly to?: string;
  readonly window?: string;
  /** Selectors (see `resolveSelectors`); the selected models and those downstream of them are recomputed. */
  readonly models?: string[];
  /** Selectors of models left out, applied after the downstream ones are added. */
  readonly exclude?: string[];
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly threads?: string;
  readonly memoryLimit?: string;
  /** `idle` (default), `low` or `normal`; see `applyCpuPriority`. */
  readonly priority?: string;
  /** Days per chunk of a `--from`/`--to` window (default `DEFAULT_CHUNK_DAYS`); `0`: one shot. */
  readonly chunkDays?: string;
}

/**
 * `lakeloop reconcile` and `lakeloop replay`: recompute a window of every model (or of the
 * models `--models` selects and those downstream of them, since a correction must flow
 * downstream, minus those `--exclude` selects) from bronze in a separate DuckDB
 * circuit, print the report (also written to `_lakeloop/reports/`), publish the corrected
 * partitions unless `--dry-run`. Exit 1 when a partition is held by a failing blocking test.
 */
export async function reconcileCommand(kind: 'reconcile' | 'replay', options: ReconcileCommandOptions, context: CommandContext): Promise<ReconcileReport> {
  const { io } = context;
  // Arguments first: a mistyped day or number is a usage error before anything opens.
  checkWindowOptions(options);
  const threadsFlag = options.threads === undefined ? undefined : Number(options.threads);
  if (threadsFlag !== undefined && (!Number.isInteger(threadsFlag) || threadsFlag < 1)) throw new UsageError(`--threads expects a positive integer, got ${JSON.stringify(options.threads)}`);
  const chunkDays = options.chunkDays === undefined ? DEFAULT_CHUNK_DAYS : Number(options.chunkDays);
  if (!Number.isInteger(chunkDays) || chunkDays < 0) throw new UsageError(`--chunk-days expects a whole number of days (0: one shot), got ${JSON.stringify(options.chunkDays)}`);
  // Before the session's DuckDB starts its threads, so they run at this priority too.
  const priority = parsePriority(options.priority);
  if (context.ownsProcess) context.verbose(applyCpuPriority(priority));
  const session = await context.session();
  // The separate circuit: the flags, else budgets.circuits.reconcile, else 1 thread and 1GB.
  const circuit = (await context.config()).budgets.circuits.reconcile;
  const threads = threadsFlag ?? circuit.threads ?? 1;
  const memoryLimit = options.memoryLimit ?? circuit.memoryLimit ?? '1GB';
  const { dag, contracts } = await projectModels(context, session);
  const models = selectForRecompute(dag, options.models ?? [], options.exclude ?? []);
  if (models.length === 0) throw new UsageError('No models to recompute', 'Add sql/<layer>/<name>.sql files.');
  await ensureUpstreamBronze(session, contracts, models);
  // A spinner on a terminal; a line per chunk in --verbose or when stderr is not a terminal (logs, pipes).
  const lines = Boolean(context.globals.verbose) || !io.stderr.isTTY;
  const progress = lines ? undefined : Progress.start(io.stderr, kind);
  const onChunk = (event: ChunkEvent): void => {
    const text = describeChunkEvent(event);
    if (progress) progress.update(text);
    else io.stderr.write(`${kind}: ${text}\n`);
  };
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
  const report = await reconcileInChunks(session.lake, published, {
    kind,
    chunkDays,
    onChunk,
    afterChunk: options.dryRun ? undefined : refreshEvery(CATALOG_REFRESH_MS, () => refreshCatalog(context, session, undefined, dag.models)),
    from: options.from,
    to: options.to,
    window: options.window,
    dryRun: options.dryRun ?? false,
    engine: { threads, memoryLimit },
    eventTimeColumns: eventTimeColumnsOf(contracts),
    onProgress: (message) => context.verbose(message),
  })
    .catch((error: unknown) => {
      run?.fail(error instanceof Error ? error.message : String(error), { inputs });
      throw error;
    })
    .finally(() => progress?.stop());
  // Also when nothing was published: a stale catalog is repaired (a no-op when it is current).
  if (!report.dryRun) await refreshCatalog(context, session, undefined, dag.models);
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
  if (report.chunks) lines.push(`  ${describeChunks(report.chunks)}`);
  const late = report.window?.latePartitions ?? [];
  if (late.length) lines.push(`  with the ${plural(late.length, 'older partition')} holding deferred late rows: ${late.slice(0, 6).join(', ')}${late.length > 6 ? ', …' : ''}`);
  if (report.models.every((m) => m.partitions.every((p) => p.rowsBefore === 0 && p.rowsAfter === 0))) {
    const window = report.window ? ` ${report.window.from} → ${report.window.to}` : '';
    lines.push(`  nothing to reconcile: ${late.length ? 'the late partitions hold no rows' : 'no late rows pending'}, no data in the window${window} (bronze has no events there and the models hold no rows there)`);
  }
  lines.push(`report: _lakeloop/reports/${report.id}.json and .md`);
  return `${lines.join('\n')}\n`;
}

/**
 * How often a chunked run refreshes the catalog between chunks: readers of `catalog.duckdb`
 * follow the corrections chunk by chunk without a refresh (about 0.1 s) after every short chunk.
 */
const CATALOG_REFRESH_MS = 10_000;

/** `work`, run when at least `intervalMs` have passed since the first call or its last run. */
function refreshEvery(intervalMs: number, work: () => Promise<void>): () => Promise<void> {
  let lastMs = Date.now();
  return async () => {
    if (Date.now() - lastMs < intervalMs) return;
    await work();
    lastMs = Date.now();
  };
}

/** `chunk 3/13 2025-03-02 → 2025-03-31 … ETA 1 min 20 s` (start) or `chunk 3/13 2025-03-02 → 2025-03-31 published: 4 corrected, ETA …` (done). */
export function describeChunkEvent(event: ChunkEvent): string {
  const eta = event.etaSeconds === undefined ? '' : `ETA ${formatSeconds(event.etaSeconds)}`;
  const head = `chunk ${event.index}/${event.of} ${event.from} → ${event.to}`;
  if (event.phase === 'start') return `${head} …${eta ? ` ${eta}` : ''}${event.skipped.length && event.index === event.skipped.length + 1 ? ` (resumed: ${plural(event.skipped.length, 'chunk')} already published)` : ''}`;
  return `${head} published: ${event.corrected} corrected${eta ? `, ${eta}` : ''}`;
}

/** 80 → `1 min 20 s`; 7 → `7 s`. */
function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The selected models and those downstream of them, minus the excluded ones; an unknown selector is a usage error. */
function selectForRecompute(dag: ModelDag, select: readonly string[], exclude: readonly string[]): Model[] {
  const selected = select.length ? withDownstream(dag.models, selectModelsOrFail(dag, select).names) : [...dag.models];
  const kept = new Set(selectModelsOrFail(dag, [], exclude).names);
  const models = selected.filter((m) => kept.has(m.name));
  if (models.length === 0 && (select.length || exclude.length)) {
    throw new UsageError(`No models selected: ${[...select, ...exclude.map((e) => `--exclude ${e}`)].join(' ')} leaves none`, 'Check --models and --exclude.');
  }
  return models;
}
