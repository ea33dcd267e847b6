import { performance } from 'node:perf_hooks';
import { LakeloopError } from '../core/index.js';
import { embeddableSql, ModelError, modelVersionRecord, type Model } from '../models/index.js';
import { quoteIdent } from '../engine/index.js';
import {
  advanceMaxEventTime,
  Horizon,
  latestProgress,
  readUpstreamChanges,
  sameVersions,
  type ModelProgress,
  type UpstreamChanges,
} from '../planner/index.js';
import type { AddAction, DeltaTable, Lake, PartitionSpec, Snapshot } from '../table/index.js';
import { DataTestFailed, runDataTests, testInputs, type DataTestResult } from './data-tests.js';
import { planKeyMerge, planPartitions, type OutputPlan } from './incremental.js';
import { createModelTable, definitionGuard, keyDedupSql, NULL_PARTITION, rebuildConfiguration, rowsOf, userSql } from './model-sql.js';
import { CostMeter, type ModelCost } from './run-cost.js';

/** What one model's run did. */
export interface ModelRunSummary {
  readonly model: string;
  readonly kind: string;
  /** true when its upstream versions equal those its last commit consumed: nothing was committed. */
  readonly skipped: boolean;
  /** `skipped`; `full` (first run, --full-refresh, a `full` model, or changes that could not be read); `incremental`. */
  readonly mode: 'skipped' | 'full' | 'incremental';
  /** The output's version after the run. */
  readonly version: number;
  /** Upstream table → the version read. */
  readonly upstream: Readonly<Record<string, number>>;
  /** Upstream rows read (from the stats of the files bound). */
  readonly rowsIn: number;
  /** Rows written by this run. */
  readonly rowsOut: number;
  /** Output partitions rewritten (`all` for a whole-table write). */
  readonly partitions: readonly string[] | 'all';
  /** Upstream rows behind the lateness horizon, left for reconcile, per output partition. */
  readonly deferred: Readonly<Record<string, number>>;
  /** Per deferred partition, how late its rows were at most, in seconds of event time (models reading bronze; see `ModelProgress.lateness`). */
  readonly lateness?: Readonly<Record<string, number>>;
  /** Rows in the table after the run. */
  readonly rows: number;
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
  /** The model's data tests on this run's result (none when skipped). */
  readonly tests: readonly DataTestResult[];
  /** Files and bytes this run read and wrote, its CPU time and peak memory. */
  readonly cost: ModelCost;
}

/** A summary before its cost is known (the meter stops once the model's run returns). */
type UnmeteredSummary = Omit<ModelRunSummary, 'cost'>;

/**
 * How one model's part of a run ended: `ok` (committed, or up to date: its summary),
 * `error` (its run failed: nothing of it was committed), or `skipped` (not run, because a
 * model it reads, directly or not, failed in this run).
 *
 * @example
 * { model: 'gold.daily', kind: 'incremental_by_partition', status: 'skipped', reason: 'upstream silver.sales failed', seconds: 0 }
 */
export type ModelOutcome =
  | (ModelRunSummary & { readonly status: 'ok' })
  | { readonly model: string; readonly kind: string; readonly status: 'error'; readonly error: ModelFailure; readonly seconds: number; readonly cost?: ModelCost }
  | { readonly model: string; readonly kind: string; readonly status: 'skipped'; readonly reason: string; readonly seconds: number };

/** Why a model's run failed, as the run's result records it. */
export interface ModelFailure {
  readonly message: string;
  /** `LakeloopError.code`, else `ERROR`. */
  readonly code: string;
  readonly hint?: string;
}

/** What `runModels` did: every model's outcome in run order, and the errors of those that failed. */
export interface RunResult {
  readonly outcomes: readonly ModelOutcome[];
  /** The summaries of the models that ran (`ok`). */
  readonly summaries: readonly ModelRunSummary[];
  /** The failed models with what they threw. */
  readonly failures: readonly { readonly model: string; readonly error: unknown }[];
}

/** Options of `runModels`. */
export interface RunModelsOptions {
  /** Recompute every model from all of its upstream data. */
  readonly fullRefresh?: boolean;
  /** Bronze table → its contract's event-time column: the source of the watermark (SPEC §7). */
  readonly eventTimeColumns?: Readonly<Record<string, string>>;
  /** Called as each model's run ends (committed or up to date), before the next model starts. */
  readonly onModelDone?: (summary: ModelRunSummary) => void;
  /** Called as a model's run begins (not for a model skipped because what it reads failed). */
  readonly onModelStart?: (model: string) => void;
  /** Called with each model's outcome (ok, error or skipped) as soon as it is known. */
  readonly onOutcome?: (outcome: ModelOutcome) => void;
  /**
   * With `fullRefresh`: a model whose table exists is rewritten with the definition of its
   * SQL and header (`DeltaTable.replaceDefinition`): dropped columns leave the schema,
   * retyped ones take their new type, a new `partition_by` re-lays it out (`lakeloop apply`).
   */
  readonly replaceDefinition?: boolean;
  /** With `fullRefresh`: only these models are rebuilt; the others (what they read) run as usual. */
  readonly fullRefreshModels?: ReadonlySet<string>;
}

/** The model's run, once planned: what to bind, what to write, what to record. */
interface RunState {
  readonly lake: Lake;
  readonly model: Model;
  readonly changes: ReadonlyMap<string, UpstreamChanges>;
  readonly upstream: Record<string, number>;
  readonly maxEventTimeMs: number | undefined;
  /** The largest event time seen before this run's input (its horizon's source): what lateness is measured from. */
  readonly seenBeforeMs?: number | undefined;
  readonly started: number;
  readonly replaceDefinition: boolean;
  readonly meter: CostMeter;
  /** Refuses a write to a table rebuilt since the run read it (`definitionGuard`); none for a new table. */
  readonly precondition?: ((snapshot: Snapshot) => void) | undefined;
}

/**
 * Runs models in the given (DAG) order (SPEC §6). Each model's commits record the upstream
 * versions they consumed and the watermark (`commitInfo.lakeloop`), so a run reads only
 * what changed since: `incremental_by_partition` recomputes the output partitions whose
 * upstream partitions changed, `incremental_by_key` merges the new upstream rows by
 * `unique_key` (`version_by` wins, `delete_when` deletes); partitions behind the lateness
 * horizon are left to reconcile and counted as deferred. `full` models, first runs and
 * `--full-refresh` recompute everything. A model whose upstream is unchanged is skipped.
 * Every write is write-audit-publish: the result goes to a temp table, the data tests run
 * over it, and a failing `error` test (`DataTestFailed`) commits nothing. A model that fails
 * does not stop the run: the models that do not read it (directly or not) still run and
 * commit, those that do are `skipped`; the result says which.
 *
 * @example
 * const { outcomes, failures } = await runModels(lake, dag.models, { eventTimeColumns: { 'bronze.orders': 'order_ts' } });
 */
export async function runModels(lake: Lake, models: readonly Model[], options: RunModelsOptions = {}): Promise<RunResult> {
  const outcomes: ModelOutcome[] = [];
  const summaries: ModelRunSummary[] = [];
  const failures: { model: string; error: unknown }[] = [];
  /** Model → the failed model it is (or reads) in this run. */
  const blocked = new Map<string, string>();
  for (const model of models) {
    const via = model.upstream.find((name) => blocked.has(name));
    let outcome: ModelOutcome;
    if (via !== undefined) {
      const failed = blocked.get(via) as string;
      blocked.set(model.name, failed);
      outcome = Object.freeze({ model: model.name, kind: model.header.kind, status: 'skipped', reason: `upstream ${failed} failed${via === failed ? '' : ` (read through ${via})`}`, seconds: 0 });
    } else {
      const started = performance.now();
      const meter = CostMeter.start();
      options.onModelStart?.(model.name);
      try {
        const done: ModelRunSummary = Object.freeze({ ...(await runModel(lake, model, options, meter)), cost: meter.finish() });
        summaries.push(done);
        options.onModelDone?.(done);
        outcome = Object.freeze({ ...done, status: 'ok' });
      } catch (error) {
        blocked.set(model.name, model.name);
        failures.push({ model: model.name, error });
        outcome = Object.freeze({ model: model.name, kind: model.header.kind, status: 'error', error: failureOf(error), seconds: (performance.now() - started) / 1000, cost: meter.finish() });
      }
    }
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  return Object.freeze({ outcomes, summaries, failures });
}

function failureOf(error: unknown): ModelFailure {
  if (error instanceof LakeloopError) return { message: error.message, code: error.code, ...(error.hint !== undefined ? { hint: error.hint } : {}) };
  return { message: error instanceof Error ? error.message : String(error), code: 'ERROR' };
}

async function runModel(lake: Lake, model: Model, options: RunModelsOptions, meter: CostMeter): Promise<UnmeteredSummary> {
  const started = performance.now();
  const table = await lake.tableIfExists(model.name);
  const fullRefresh = (options.fullRefresh ?? false) && (options.fullRefreshModels?.has(model.name) ?? true);
  // Read before the progress, so a rebuild landing after it is caught by the guard.
  const precondition = table ? definitionGuard(model, await table.snapshot()) : undefined;
  const progress = table && !fullRefresh ? await latestProgress(table) : undefined;
  const changes = new Map<string, UpstreamChanges>();
  const upstream: Record<string, number> = {};
  for (const name of model.upstream) {
    const source = await lake.table(name);
    const snapshot = await source.snapshot();
    upstream[name] = snapshot.version;
    changes.set(name, await readUpstreamChanges(source, snapshot, progress?.upstream[name], options.eventTimeColumns?.[name]));
  }
  // Compaction commits move rows between files without changing them: nothing to run either.
  if (table && progress && (sameVersions(progress.upstream, upstream) || [...changes.values()].every((c) => c.noDataChange))) {
    const snapshot = await table.snapshot();
    return summary(model, { mode: 'skipped', version: snapshot.version, upstream, rowsIn: 0, rowsOut: 0, partitions: [], deferred: {}, tests: [] }, snapshot, started);
  }
  let observed: number | undefined;
  for (const c of changes.values()) if (c.maxEventTimeMs !== undefined) observed = Math.max(observed ?? c.maxEventTimeMs, c.maxEventTimeMs);
  const maxEventTimeMs = advanceMaxEventTime(progress?.maxEventTimeMs, observed, lake.nowMs(), model.header.maxFutureSkew);
  const state: RunState = { lake, model, changes, upstream, maxEventTimeMs, started, replaceDefinition: (options.replaceDefinition ?? false) && fullRefresh, meter, precondition };

  const incremental = table !== undefined && progress !== undefined && model.header.kind !== 'full' && [...changes.values()].every((c) => c.known);
  if (!incremental || !table) return runFull(state, table);
  // The horizon of this run is the one before its input arrived: an event is late when the
  // watermark had already passed it (the first run has no watermark, so nothing is late).
  const horizon = Horizon.of({ lateness: model.header.lateness, maxEventTimeMs: progress.maxEventTimeMs });
  // Only reconcile or replay corrections behind the horizon upstream: the same correction run recomputed this model there.
  if ([...changes.values()].every((c) => c.changed.size === 0 && [...c.corrected].every((value) => horizon.isCold(value)))) return unchanged(state, table);
  const plan =
    model.header.kind === 'incremental_by_partition'
      ? await planPartitions(lake, model, changes, horizon)
      : await planKeyMerge(lake, model, changes, horizon, await table.snapshot());
  if (plan === 'full') return runFull(state, table);
  return runIncremental({ ...state, seenBeforeMs: progress.maxEventTimeMs }, table, plan);
}

async function runFull(state: RunState, existing: DeltaTable | undefined): Promise<UnmeteredSummary> {
  const { lake, model } = state;
  const engine = lake.engine;
  let rowsIn = 0;
  for (const [name, change] of state.changes) {
    await lake.bindView(engine, name, change.snapshot);
    state.meter.read(name, change.snapshot.files);
    rowsIn += rowsOf(change.snapshot.files);
  }
  const select = model.header.kind === 'incremental_by_key' ? keyDedupSql(model, `(${embeddableSql(model.sql)})`) : embeddableSql(model.sql);
  return publish(state, existing, select, { rowsIn, partitions: 'all', deferred: {}, mode: 'full' });
}

async function runIncremental(state: RunState, table: DeltaTable, plan: OutputPlan): Promise<UnmeteredSummary> {
  const { lake, model } = state;
  for (const { table: name, files } of plan.read) state.meter.read(name, files);
  try {
    if (plan.partitions.length > 0) {
      return await publish(state, table, plan.select, {
        rowsIn: plan.rowsIn,
        partitions: plan.partitions,
        deferred: plan.deferred,
        mode: 'incremental',
        ...(plan.replaces ? { replaces: plan.replaces } : {}),
        ...(plan.fileGroupColumn ? { fileGroupColumn: plan.fileGroupColumn } : {}),
      });
    }
    // A run that changes nothing commits nothing (no empty versions).
    if (Object.keys(plan.deferred).length === 0) return await unchanged(state, table);
    // Everything new was behind the horizon: record the progress (and the deferred rows) only.
    const snapshot = await table.snapshot();
    state.precondition?.(snapshot);
    const result = await table.commit({
      readVersion: snapshot.version,
      operation: 'MODEL RUN',
      commitInfo: { lakeloop: progressRecord(state, 'stream', plan.deferred, []) },
    });
    const after = await table.snapshot({ version: result.version });
    return summary(model, { mode: 'incremental', version: result.version, upstream: state.upstream, rowsIn: plan.rowsIn, rowsOut: 0, partitions: [], deferred: plan.deferred, ...latenessOf(state, plan.deferred), tests: [] }, after, state.started);
  } finally {
    for (const name of plan.cleanup) await lake.engine.run(`DROP TABLE IF EXISTS ${name}`);
  }
}

/** The summary of a model's run that had nothing to write or defer: nothing is committed. */
async function unchanged(state: RunState, table: DeltaTable): Promise<UnmeteredSummary> {
  const snapshot = await table.snapshot();
  return summary(state.model, { mode: 'skipped', version: snapshot.version, upstream: state.upstream, rowsIn: 0, rowsOut: 0, partitions: [], deferred: {}, tests: [] }, snapshot, state.started);
}

/**
 * Write-audit-publish: the model's rows are written, tested, and only then committed (the
 * table is created on the first run). Usually the tests read the files just written, before
 * they are uploaded (`WriteOptions.audit`): the rows as the table will hold them, with no
 * copy of them in a temp table (at 30k changed rows a day, a third of a key merge's time). A
 * first run, or a run that adds columns, must commit before it writes (the table, the new
 * schema): it tests a temp copy of its rows first, so a failing test leaves nothing behind.
 */
async function publish(
  state: RunState,
  existing: DeltaTable | undefined,
  select: string,
  run: {
    rowsIn: number;
    partitions: readonly string[] | 'all';
    deferred: Record<string, number>;
    mode: 'full' | 'incremental';
    /** The files `select` replaces (a key merge); else it replaces whole partitions. */
    replaces?: readonly AddAction[];
    /** A column of `select` that only splits the output into files (not part of the model). */
    fileGroupColumn?: string;
  },
): Promise<UnmeteredSummary> {
  const { lake, model } = state;
  const engine = lake.engine;
  const columns = (await userSql(model, () => engine.describe(`SELECT * FROM (${select})`))).filter((c) => c.name !== run.fileGroupColumn);
  // A first run, or one that adds columns (an ADD COLUMNS commit), is tested before anything
  // is committed: on a copy of its rows. Any other is tested on the files it writes.
  const replacing = existing !== undefined && state.replaceDefinition;
  const known = existing && !replacing ? new Set((await existing.snapshot()).schema.fields.map((f) => f.name.toLowerCase())) : undefined;
  const added = known ? columns.filter((c) => !known.has(c.name.toLowerCase())) : [];
  const copied = (!known && !replacing) || added.length > 0;
  const temp = copied ? quoteIdent(`_lakeloop_wap_${model.name.replace(/[^A-Za-z0-9_]/g, '_')}`) : undefined;
  if (temp) await userSql(model, () => engine.run(`CREATE OR REPLACE TEMP TABLE ${temp} AS ${select}`));
  const rows = temp ? `SELECT * FROM ${temp}` : select;
  try {
    for (const column of model.header.partitionBy) {
      if (!columns.some((c) => c.name === column)) {
        throw new ModelError(model.name, model.file, undefined, `its SELECT does not return its partition column ${column}`, {
          hint: `Return ${column} from ${model.file}, or change partition_by in its header.`,
        });
      }
    }
    const inputs = testInputs(model).filter((name) => !state.changes.has(name));
    if (inputs.length) for (const [name, snapshot] of await lake.bindViews(engine, inputs)) state.meter.read(name, snapshot.files);
    let tests: DataTestResult[] = [];
    let rowsOut = 0;
    const audit = async (relation: string, written: number): Promise<void> => {
      tests = await runDataTests(engine, model, relation, { nowMs: lake.nowMs() });
      const failed = tests.filter((t) => t.status === 'fail');
      if (failed.length) throw new DataTestFailed(model, failed, false);
      rowsOut = written;
    };
    if (temp) await audit(temp, Number(await engine.scalar(`SELECT count(*) FROM ${temp}`)));
    if (existing) await addNewColumns(existing, model, added, state.precondition);
    const table = existing ?? (await createModelTable(lake, model, columns));
    const mode = run.mode === 'full' ? 'full' : 'stream';
    const options = {
      operation: 'MODEL RUN',
      commitInfo: { lakeloop: progressRecord(state, mode, run.deferred, run.partitions) },
      ...(temp ? {} : { audit }),
      ...(state.precondition && !replacing ? { precondition: state.precondition } : {}),
    };
    const partitionColumn = model.header.partitionBy[0];
    const result = await userSql(model, () => {
      if (replacing) return table.replaceDefinition(rows, { ...options, columns, partitionColumns: model.header.partitionBy, configuration: rebuildConfiguration(model) });
      if (run.partitions === 'all' || partitionColumn === undefined) return table.overwrite(rows, options);
      const partitions = specs(partitionColumn, run.partitions);
      return run.replaces
        ? table.replaceFiles(rows, {
            ...options,
            remove: run.replaces,
            readPartitions: partitions,
            ...(run.fileGroupColumn ? { fileGroupColumn: run.fileGroupColumn } : {}),
          })
        : table.overwritePartitions(rows, { ...options, partitions });
    });
    state.meter.wrote((await table.commitActions(result.version))?.adds ?? []);
    const snapshot = await table.snapshot({ version: result.version });
    return summary(
      model,
      { mode: run.mode, version: result.version, upstream: state.upstream, rowsIn: run.rowsIn, rowsOut, partitions: run.partitions, deferred: run.deferred, ...latenessOf(state, run.deferred), tests },
      snapshot,
      state.started,
    );
  } finally {
    if (temp) await engine.run(`DROP TABLE IF EXISTS ${temp}`);
  }
}

function progressRecord(state: RunState, mode: string, deferred: Record<string, number>, partitions: readonly string[] | 'all'): ModelProgress {
  return {
    model: state.model.name,
    kind: state.model.header.kind,
    upstream: state.upstream,
    ...(state.maxEventTimeMs !== undefined ? { maxEventTimeMs: state.maxEventTimeMs } : {}),
    ...(Object.keys(deferred).length ? { deferred, ...latenessOf(state, deferred) } : {}),
    mode,
    ...(partitions !== 'all' ? { partitions: [...partitions] } : {}),
    // Which code built this version (plan/apply compare it with the model's file).
    modelVersion: modelVersionRecord(state.model, Math.round(state.lake.nowMs() - (performance.now() - state.started))),
  };
}

/**
 * How late the deferred rows were: per partition, the largest event time seen before this
 * run's input minus the oldest event the run's bronze inputs added there (file stats) —
 * event time, not the wall clock, so replayed old data is as late as in its own stream.
 */
function latenessOf(state: RunState, deferred: Readonly<Record<string, number>>): { lateness?: Record<string, number> } {
  if (state.seenBeforeMs === undefined) return {};
  const lateness: Record<string, number> = {};
  for (const partition of Object.keys(deferred)) {
    let oldest: number | undefined;
    for (const change of state.changes.values()) {
      const ms = change.minEventTimeMs.get(partition === NULL_PARTITION ? null : partition);
      if (ms !== undefined) oldest = Math.min(oldest ?? ms, ms);
    }
    if (oldest !== undefined) lateness[partition] = Math.max(0, Math.round((state.seenBeforeMs - oldest) / 1000));
  }
  return Object.keys(lateness).length ? { lateness } : {};
}

/**
 * Schema evolution of a model: `added`, the columns its SELECT returns that the table lacks, are added
 * (one ADD COLUMNS commit; rows written before read them as NULL until a --full-refresh or
 * a replay rewrites them). A changed type is refused by the writer with a hint.
 */
async function addNewColumns(
  table: DeltaTable,
  model: Model,
  added: readonly { name: string; type: string }[],
  precondition: ((snapshot: Snapshot) => void) | undefined,
): Promise<void> {
  if (added.length === 0) return;
  await table.addColumns(
    added.map((c) => ({ name: c.name, type: c.type })),
    { operation: 'ADD COLUMNS', commitInfo: { lakeloop: { model: model.name, mode: 'schema', added: added.map((c) => c.name) } }, ...(precondition ? { precondition } : {}) },
  );
}

function specs(column: string, partitions: readonly string[]): PartitionSpec[] {
  return partitions.map((value) => ({ [column]: value === NULL_PARTITION ? null : value }));
}


function summary(
  model: Model,
  run: Omit<ModelRunSummary, 'model' | 'kind' | 'skipped' | 'rows' | 'files' | 'bytes' | 'seconds' | 'cost'>,
  snapshot: { numRecords(): number | null; sizeBytes(): number; files: readonly unknown[] },
  started: number,
): UnmeteredSummary {
  return Object.freeze({
    model: model.name,
    kind: model.header.kind,
    skipped: run.mode === 'skipped',
    ...run,
    upstream: Object.freeze(run.upstream),
    rows: snapshot.numRecords() ?? 0,
    files: snapshot.files.length,
    bytes: snapshot.sizeBytes(),
    seconds: (performance.now() - started) / 1000,
    tests: Object.freeze([...run.tests]),
  });
}

