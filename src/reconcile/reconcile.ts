import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseDuration, UsageError } from '../core/index.js';
import { Engine, quoteIdent, quoteList, type EngineOptions } from '../engine/index.js';
import { embeddableSql, type Model } from '../models/index.js';
import { dateStartMs, DEFAULT_MAX_FUTURE_SKEW, Horizon, latestProgress, partitionOf, pendingLate, utcDate, type ModelProgress } from '../planner/index.js';
import { createModelTable, keyDedupSql, runDataTests, testInputs, userSql, failingRowsSql, type DataTestResult } from '../runner/index.js';
import { parseStats, type DeltaTable, type Lake } from '../table/index.js';
import { diffPartitions, type PartitionDiff } from './partition-diff.js';
import { writeReport, type ModelReport, type ReconcileReport } from './report.js';

const DAY_MS = 86_400_000;

/** Options of `reconcile` (and `replay`, its twin). */
export interface ReconcileOptions {
  /** `reconcile`: the cold window, published where it differs; `replay`: the same for a chosen window and models. */
  readonly kind?: 'reconcile' | 'replay';
  /**
   * First day of the window (`YYYY-MM-DD`); default: the newest event time in the data −
   * `window` (event time, not the wall clock: replayed old data has its own recent window).
   */
  readonly from?: string | undefined;
  /**
   * Last day of the window; default: with `from`, the day of the newest data or today,
   * whichever is later; else the last day behind each model's horizon (the newest data's
   * day for a model without lateness).
   */
  readonly to?: string | undefined;
  /**
   * The default window's length (default 7d). Without `from` and `to`, the partitions with
   * deferred late rows are recomputed too, however old (the self-healing default).
   */
  readonly window?: string | undefined;
  /** Compute and report, publish nothing. */
  readonly dryRun?: boolean | undefined;
  /** The separate circuit: the reconcile DuckDB's threads and memory (default 1 thread, 1GB). */
  readonly engine?: EngineOptions | undefined;
  /** An open circuit to run in instead (left open): a chunked run's chunks share one, and what it caches. */
  readonly circuit?: Engine | undefined;
  /** Bronze table → its event-time column (for lateness in the report). */
  readonly eventTimeColumns?: Readonly<Record<string, string>> | undefined;
  /** Progress lines (one per model). */
  readonly onProgress?: ((message: string) => void) | undefined;
  /** A chunk of a chunked run (see `reconcileInChunks`): recorded in every commit's `commitInfo.lakeloop.chunk`. */
  readonly chunk?: ChunkTag | undefined;
  /** The report's id (default: a new one); a chunked run's chunks share the run's. */
  readonly reportId?: string | undefined;
  /** Write the report to `_lakeloop/reports/` (default true; a chunked run writes one merged report). */
  readonly writeReport?: boolean | undefined;
  /** Table → versions this run committed, shared by the chunks of a chunked run (see `carriedProgress`). */
  readonly publishedVersions?: PublishedVersions | undefined;
}

/**
 * What a chunked reconcile records in each of its commits, so that a re-run of the same
 * command can tell which chunks are published (see `reconcileInChunks`).
 *
 * @example
 * { run: '3f2a9c0e1b7d4a66', index: 3, of: 13, sources: { 'bronze.sales': 41 } }
 */
export interface ChunkTag {
  /** Derived from the command: kind, window, chunk size and the models' definitions. */
  readonly run: string;
  /** 1-based. */
  readonly index: number;
  readonly of: number;
  /** The versions of the run's sources (upstream tables it does not recompute) when it began. */
  readonly sources: Readonly<Record<string, number>>;
}

/** Table → the versions a reconcile run committed to it. */
export type PublishedVersions = Map<string, Set<number>>;

/**
 * Full recalculation of a window from bronze (SPEC §7), in a separate circuit (its own
 * DuckDB instance with its own thread and memory limits): every model is recomputed in
 * DAG order over its upstream — the recomputed upstream where that is a model of this run —,
 * diffed partition by partition against the current table, tested (a blocking test failing
 * in a partition holds it), and the corrected partitions are published in one atomic
 * commit per table. The report goes to `_lakeloop/reports/` (JSON and Markdown). Running
 * it again changes nothing.
 *
 * @example
 * const report = await reconcile(lake, dag.models, { from: '2026-01-01', to: '2026-01-07' });
 */
export async function reconcile(lake: Lake, models: readonly Model[], options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const kind = options.kind ?? 'reconcile';
  const started = performance.now();
  const id = options.reportId ?? `${kind}-${new Date(lake.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 8)}`;
  checkDay('--from', options.from);
  checkDay('--to', options.to);
  if (options.from && options.to && options.from > options.to) {
    throw new UsageError(`--from ${options.from} is after --to ${options.to}`, 'Give a window whose first day is on or before its last day.');
  }
  const windowMs = windowLength(options.window);
  // Only a window with an open end is measured from the newest data (a chunk's never is).
  const newestMs = options.from !== undefined && options.to !== undefined ? undefined : await newestEventMs(lake, models, options.eventTimeColumns);
  const to = options.from !== undefined && options.to === undefined ? utcDate(Math.max(lake.nowMs(), newestMs ?? lake.nowMs())) : options.to;
  if (options.from !== undefined && to !== undefined && options.from > to) {
    throw new UsageError(`--from ${options.from} is after --to ${to} (without --to: the day of the newest data or today, whichever is later)`, 'Give a window whose first day is on or before its last day.');
  }
  // The self-healing default: the recent window, plus every partition still waiting for late rows.
  const late = options.from === undefined && options.to === undefined ? await latePartitions(lake, models) : [];
  const plan: WindowPlan = { nowMs: lake.nowMs(), newestMs, windowMs, from: options.from, to, late };
  const engine = options.circuit ?? (await Engine.create({ threads: 1, memoryLimit: '1GB', ...options.engine }));
  const circuit = lake.withEngine(engine);
  const limits = await engine.limits();
  const reports: ModelReport[] = [];
  /** Models recomputed in this run: name → temp table with their window rows, and that window. */
  const recomputed = new Map<string, { temp: string; partitions: readonly string[]; partitionColumn: string | undefined }>();
  /** Tables this run published: name → the versions it committed. */
  const published: PublishedVersions = options.publishedVersions ?? new Map();
  try {
    for (const model of models) {
      const modelStarted = performance.now();
      options.onProgress?.(`${model.name}: recomputing`);
      const report = await reconcileModel(circuit, model, recomputed, { ...options, kind, id, plan, published });
      reports.push({ ...report, seconds: (performance.now() - modelStarted) / 1000 });
      const counts = countStatuses(report.partitions);
      options.onProgress?.(`${model.name}: ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'no partitions in the window'}`);
    }
  } finally {
    if (!options.circuit) await engine.close();
  }
  const report: ReconcileReport = {
    id,
    kind,
    dryRun: options.dryRun ?? false,
    startedAt: new Date(lake.nowMs() - (performance.now() - started)).toISOString(),
    seconds: (performance.now() - started) / 1000,
    models: reports,
    window: {
      from: reports.reduce((min, m) => (m.from < min ? m.from : min), reports[0]?.from ?? ''),
      to: reports.reduce((max, m) => (m.to > max ? m.to : max), reports[0]?.to ?? ''),
      latePartitions: late,
    },
    circuit: limits,
  };
  if (options.writeReport ?? true) await writeReport(lake.store, report);
  return report;
}

interface ModelContext extends ReconcileOptions {
  readonly kind: 'reconcile' | 'replay';
  readonly id: string;
  readonly plan: WindowPlan;
  readonly published: PublishedVersions;
}

/** What every model's window is made of (see `windowOf`). */
interface WindowPlan {
  readonly nowMs: number;
  /** The newest event time in the data (undefined: no data yet). */
  readonly newestMs: number | undefined;
  readonly windowMs: number;
  readonly from: string | undefined;
  readonly to: string | undefined;
  /** Partitions holding deferred late rows, recomputed besides the window (the default only). */
  readonly late: readonly string[];
}

async function reconcileModel(
  lake: Lake,
  model: Model,
  recomputed: Map<string, { temp: string; partitions: readonly string[]; partitionColumn: string | undefined }>,
  options: ModelContext,
): Promise<ModelReport> {
  const engine = lake.engine;
  const table = await lake.tableIfExists(model.name);
  const current = table ? await table.snapshot() : undefined;
  const partitionColumn = model.header.kind === 'full' ? undefined : model.header.partitionBy[0];
  const progress = table ? await latestProgress(table) : undefined;
  const horizon = Horizon.of({ lateness: model.header.lateness, maxEventTimeMs: progress?.maxEventTimeMs });
  const window = windowOf(horizon, options.plan);
  const partitions = partitionColumn === undefined ? ['all'] : [...new Set([...days(window.from, window.to), ...options.plan.late])].sort();
  const wantedPartitions = new Set(partitions);
  const base = { model: model.name, kind: model.header.kind, from: partitions[0] !== undefined && partitions[0] !== 'all' && partitions[0] < window.from ? partitions[0] : window.from, to: window.to, version: current?.version ?? null, published: null as number | null, tests: [] as DataTestResult[] };
  if (partitions.length === 0) return { ...base, partitions: [] };

  // Bind the upstream: tables recomputed in this run read as their candidate state.
  for (const name of model.upstream) {
    const again = recomputed.get(name);
    const source = await lake.table(name);
    const snapshot = await source.snapshot();
    const pc = snapshot.partitionColumns.length === 1 ? snapshot.partitionColumns[0] : undefined;
    const wanted = (value: string | null): boolean => {
      if (pc === undefined || partitionColumn === undefined || value === null) return true;
      if (model.header.kind === 'incremental_by_partition') return wantedPartitions.has(value);
      return value >= (partitions[0] as string); // by key: newer versions of a key may sit in later partitions
    };
    const files = snapshot.files.filter((f) => wanted(partitionOf(f.partitionValues, pc)) && !(again && inWindow(again, partitionOf(f.partitionValues, again.partitionColumn))));
    const scan = await snapshot.scanSql(lake.store, files);
    const [layer, rel] = name.split('.') as [string, string];
    await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(layer)}`);
    const sql = again ? `SELECT * FROM (${scan}) UNION ALL BY NAME SELECT * FROM ${again.temp}` : scan;
    await engine.run(`CREATE OR REPLACE VIEW ${quoteIdent(layer)}.${quoteIdent(rel)} AS ${sql}`);
  }
  const temp = quoteIdent(`_lakeloop_rc_${model.name.replace(/[^A-Za-z0-9_]/g, '_')}`);
  const select = model.header.kind === 'incremental_by_key' ? keyDedupSql(model, `(${embeddableSql(model.sql)})`) : embeddableSql(model.sql);
  const filter = partitionColumn === undefined ? '' : ` WHERE CAST(${quoteIdent(partitionColumn)} AS VARCHAR) IN ${quoteList(partitions)}`;
  const rows = options.chunk && model.header.kind === 'incremental_by_key' ? await keyRowsOnce(engine, model, select) : `(${select})`;
  await userSql(model, () => engine.run(`CREATE OR REPLACE TEMP TABLE ${temp} AS SELECT * FROM ${rows} AS _lakeloop_rc${filter}`));
  recomputed.set(model.name, { temp, partitions, partitionColumn });

  const columns = await engine.describe(`SELECT * FROM ${temp}`);
  const currentSql = current ? `(${await current.scanSql(lake.store, current.files.filter((f) => partitionColumn === undefined || partitions.includes(partitionOf(f.partitionValues, partitionColumn) ?? '')))})` : `(SELECT * FROM ${temp} WHERE false)`;
  const diffs = await diffPartitions(engine, {
    before: `(SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${currentSql})`,
    after: temp,
    columns,
    partitionColumn,
    keys: model.header.uniqueKey,
    partitions,
    measures: model.header.measures,
  });
  // Days with no rows on either side say nothing (a window reaching back years holds thousands).
  for (let i = diffs.length - 1; i >= 0; i--) if (diffs[i]?.rowsBefore === 0 && diffs[i]?.rowsAfter === 0) diffs.splice(i, 1);
  await addLateness(lake, model, diffs, table, options);

  // Blocking tests on the recomputed data: a partition with failing rows is held.
  const inputs = testInputs(model).filter((name) => !model.upstream.includes(name));
  if (inputs.length) await lake.bindViews(engine, inputs);
  const tests = await runDataTests(engine, model, temp, { nowMs: lake.nowMs() });
  for (const failed of tests.filter((t) => t.status === 'fail')) {
    const test = model.header.tests.find((t) => t.name === failed.test);
    const held = test && partitionColumn !== undefined ? await failingPartitions(engine, failingRowsSql(test, temp), partitionColumn) : undefined;
    for (const diff of diffs) {
      if (diff.status === 'match') continue;
      if (held === undefined || held.has(diff.partition)) {
        diff.status = 'held';
        diff.note = `blocking test ${failed.test} failed`;
      }
    }
  }
  // Held partitions keep their current rows, also for the models downstream in this run.
  const held = diffs.filter((d) => d.status === 'held').map((d) => d.partition);
  if (held.length && partitionColumn !== undefined) {
    const where = `CAST(${quoteIdent(partitionColumn)} AS VARCHAR) IN ${quoteList(held)}`;
    await engine.run(`DELETE FROM ${temp} WHERE ${where}`);
    await engine.run(`INSERT INTO ${temp} BY NAME SELECT * FROM ${currentSql} WHERE ${where}`);
  }
  const publish = diffs.filter((d) => d.status === 'corrected').map((d) => d.partition);
  let published: number | null = null;
  if (publish.length && !options.dryRun) {
    const target =
      table ??
      (await createModelTable(lake, model, columns));
    const commitInfo = { lakeloop: { model: model.name, kind: model.header.kind, ...carriedProgress(progress, options.published), mode: options.kind, partitions: publish, run: options.id, ...(options.chunk ? { chunk: options.chunk } : {}) } };
    const result =
      partitionColumn === undefined
        ? await target.overwrite(`SELECT * FROM ${temp}`, { operation: options.kind.toUpperCase(), commitInfo })
        : await target.overwritePartitions(`SELECT * FROM ${temp} WHERE CAST(${quoteIdent(partitionColumn)} AS VARCHAR) IN ${quoteList(publish)}`, {
            operation: options.kind.toUpperCase(),
            commitInfo,
            partitions: publish.map((p) => ({ [partitionColumn]: p })),
          });
    published = result.version;
    options.published.set(model.name, (options.published.get(model.name) ?? new Set()).add(result.version));
  }
  return { ...base, published, tests, partitions: diffs };
}

/**
 * The progress a reconcile commit carries: that of the model's run before it (so the next
 * streaming run starts where that one stopped, and reads the reconcile commit as its own
 * table's latest progress), where the upstream versions this run published right on top of the
 * version the model had consumed (with no other commit between) count as consumed — the model
 * was recomputed from them in this run — so the next run does not take that correction for new
 * data. A model that never ran has none.
 */
function carriedProgress(
  progress: ModelProgress | undefined,
  published: PublishedVersions,
): { upstream?: Record<string, number>; maxEventTimeMs?: number } {
  if (!progress) return {};
  const upstream: Record<string, number> = {};
  for (const [name, version] of Object.entries(progress.upstream)) {
    const ours = published.get(name);
    let consumed = version;
    while (ours?.has(consumed + 1)) consumed++;
    upstream[name] = consumed;
  }
  return { upstream, ...(progress.maxEventTimeMs !== undefined ? { maxEventTimeMs: progress.maxEventTimeMs } : {}) };
}

/**
 * Fills each corrected partition's late rows (the deferred counts the streaming path recorded)
 * and their largest lateness, for models that read bronze directly. Lateness is measured in
 * event time: the watermark's source when the row's batch landed (the largest event time of
 * the batches before it, each capped at its landing + max_future_skew, as the streaming path
 * caps it) minus the row's event time — never the wall clock, so replayed old data is as late
 * as it was in its own stream.
 */
async function addLateness(lake: Lake, model: Model, diffs: PartitionDiff[], table: DeltaTable | undefined, options: ModelContext): Promise<void> {
  if (!table) return;
  const deferred = await pendingLate(table);
  for (const diff of diffs) diff.lateRows = deferred.get(diff.partition) ?? 0;
  const bronze = model.upstream.find((name) => name.startsWith('bronze.') && options.eventTimeColumns?.[name]);
  const late = diffs.filter((d) => d.lateRows > 0 && d.partition !== 'all');
  if (!bronze || late.length === 0) return;
  const eventTime = quoteIdent(options.eventTimeColumns?.[bronze] as string);
  const snapshot = await (await lake.table(bronze)).snapshot();
  const files = snapshot.files.filter((f) => late.some((d) => d.partition === partitionOf(f.partitionValues, 'event_date')));
  if (files.length === 0) return;
  const skewMs = parseDuration(model.header.maxFutureSkew ?? DEFAULT_MAX_FUTURE_SKEW, 'max_future_skew');
  // Each batch's watermark reads all of bronze: kept for the circuit's life (a chunked run's chunks share it), per bronze version.
  const marks = quoteIdent(`_lakeloop_rc_marks_${bronze.replace(/[^A-Za-z0-9_]/g, '_')}_${snapshot.version}_${options.eventTimeColumns?.[bronze]?.replace(/[^A-Za-z0-9_]/g, '_')}_${skewMs}`);
  await lake.engine.run(
    `CREATE TEMP TABLE IF NOT EXISTS ${marks} AS ` +
      `WITH batches AS (SELECT _batch_id AS b, min(_ingested_at) AS landed, max(least(${eventTime}, _ingested_at + to_milliseconds(${skewMs}))) AS m ` +
      `FROM (${await snapshot.scanSql(lake.store)}) GROUP BY ALL) ` +
      `SELECT b, max(m) OVER (ORDER BY landed, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS watermark FROM batches`,
  );
  const rows = await lake.engine.all(
    `SELECT CAST(r.event_date AS VARCHAR) AS p, max(epoch(k.watermark) - epoch(r.${eventTime})) AS s ` +
      `FROM (${await snapshot.scanSql(lake.store, files)}) AS r JOIN ${marks} AS k ON r._batch_id = k.b GROUP BY ALL`,
  );
  for (const row of rows) {
    const diff = late.find((d) => d.partition === row['p']);
    if (diff && row['s'] !== null) diff.maxLatenessSeconds = Math.max(0, Math.round(Number(row['s'])));
  }
}

/**
 * A chunked run's `incremental_by_key` model, deduplicated once in the circuit its chunks
 * share, over the upstream from the first chunk it runs on: each chunk takes its partitions
 * from it. A key's newest version wins across the whole window, as in one shot, and the
 * upstream is not read and sorted again by every chunk (its sources do not change during
 * the run; the models it reads are not ones the run recomputes, see `reconcileInChunks`).
 */
async function keyRowsOnce(engine: Engine, model: Model, select: string): Promise<string> {
  const rows = quoteIdent(`_lakeloop_rc_keys_${model.name.replace(/[^A-Za-z0-9_]/g, '_')}`);
  await userSql(model, () => engine.run(`CREATE TEMP TABLE IF NOT EXISTS ${rows} AS SELECT * FROM (${select}) AS _lakeloop_rc`));
  return rows;
}

async function failingPartitions(engine: Engine, failingSql: string, partitionColumn: string): Promise<Set<string> | undefined> {
  const columns = await engine.describe(failingSql);
  if (!columns.some((c) => c.name === partitionColumn)) return undefined;
  const rows = await engine.all(`SELECT DISTINCT CAST(${quoteIdent(partitionColumn)} AS VARCHAR) AS p FROM (${failingSql})`);
  return new Set(rows.map((r) => String(r['p'])));
}

function inWindow(recomputed: { partitions: readonly string[]; partitionColumn: string | undefined }, value: string | null): boolean {
  if (recomputed.partitionColumn === undefined) return true;
  return value !== null && recomputed.partitions.includes(value);
}

/**
 * The window of one model: the days given; with only `from`, up to the newest data's day or
 * today (`plan.to`); with only `to`, the `window` before it; by default
 * [newest event time − window, the last day behind the model's horizon] — measured in event
 * time, so replayed old data has a window too — and never inverted.
 */
function windowOf(horizon: Horizon, plan: WindowPlan): { from: string; to: string } {
  const anchorMs = plan.newestMs ?? plan.nowMs;
  if (plan.from !== undefined && plan.to !== undefined) return { from: plan.from, to: plan.to };
  if (plan.to !== undefined) return { from: utcDate((dateStartMs(plan.to) as number) - plan.windowMs), to: plan.to };
  const to = horizon.cutoffMs === undefined ? utcDate(anchorMs) : utcDate(Math.floor(horizon.cutoffMs / DAY_MS) * DAY_MS - DAY_MS);
  const from = utcDate(anchorMs - plan.windowMs);
  return { from: from < to ? from : to, to };
}

function windowLength(window: string | undefined): number {
  try {
    return parseDuration(window ?? '7d', 'window');
  } catch {
    throw new UsageError(`--window expects a duration (7d, 36h, 2w), got ${JSON.stringify(window)}`);
  }
}

/** The newest event time in the data: the models' watermarks' source, else their bronze tables' event-time stats. */
export async function newestEventMs(lake: Lake, models: readonly Model[], eventTimeColumns: Readonly<Record<string, string>> | undefined): Promise<number | undefined> {
  let newest: number | undefined;
  const bronze = new Set<string>();
  for (const model of models) {
    const table = await lake.tableIfExists(model.name);
    const seen = table ? (await latestProgress(table))?.maxEventTimeMs : undefined;
    if (seen !== undefined) newest = Math.max(newest ?? seen, seen);
    for (const name of model.upstream) if (eventTimeColumns?.[name]) bronze.add(name);
  }
  if (newest !== undefined) return newest;
  for (const name of bronze) {
    const table = await lake.tableIfExists(name);
    if (!table) continue;
    const column = eventTimeColumns?.[name] as string;
    for (const file of (await table.snapshot()).files) {
      const value = parseStats(file)?.maxValues[column];
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
      if (Number.isFinite(ms)) newest = Math.max(newest ?? ms, ms);
    }
  }
  return newest;
}

/** The date partitions, of any of the models, holding deferred late rows that no reconcile has applied yet. */
async function latePartitions(lake: Lake, models: readonly Model[]): Promise<string[]> {
  const out = new Set<string>();
  for (const model of models) {
    const table = await lake.tableIfExists(model.name);
    if (!table) continue;
    for (const partition of (await pendingLate(table)).keys()) if (dateStartMs(partition) !== undefined) out.add(partition);
  }
  return [...out].sort();
}

function days(from: string, to: string): string[] {
  const start = dateStartMs(from);
  const end = dateStartMs(to);
  if (start === undefined || end === undefined) return [];
  const out: string[] = [];
  for (let ms = start; ms <= end; ms += DAY_MS) out.push(utcDate(ms));
  return out;
}

/**
 * Checks a window's `--from`, `--to` and `--window` before anything opens (the CLI calls
 * it first, so a mistyped day is a usage error even in a project that cannot run yet).
 */
export function checkWindowOptions(options: { readonly from?: string; readonly to?: string; readonly window?: string }): void {
  checkDay('--from', options.from);
  checkDay('--to', options.to);
  windowLength(options.window);
  if (options.from !== undefined && options.to !== undefined && options.from > options.to) {
    throw new UsageError(`--from ${options.from} is after --to ${options.to}`, 'Give a window whose first day is on or before its last day.');
  }
}

function checkDay(flag: string, value: string | undefined): void {
  if (value !== undefined && dateStartMs(value) === undefined) {
    throw new UsageError(`${flag} expects a day as YYYY-MM-DD (a real calendar day, e.g. 2026-02-28), got ${JSON.stringify(value)}`);
  }
}

function countStatuses(diffs: readonly PartitionDiff[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of diffs) counts[d.status] = (counts[d.status] ?? 0) + 1;
  return counts;
}

