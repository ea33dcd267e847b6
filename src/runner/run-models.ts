import { performance } from 'node:perf_hooks';
import { LakeloopError, NotImplemented, SqlError, TableNotFound } from '../core/index.js';
import { lineAt, ModelError, type Model } from '../models/index.js';
import { quoteIdent } from '../engine/index.js';
import type { DeltaTable, Lake } from '../table/index.js';
import { DataTestFailed, runDataTests, testInputs, type DataTestResult } from './data-tests.js';

/** What one model's run did. */
export interface ModelRunSummary {
  readonly model: string;
  /** true when its upstream versions equal those its last commit consumed: nothing was committed. */
  readonly skipped: boolean;
  /** The output's version after the run. */
  readonly version: number;
  /** Upstream table → the version read. */
  readonly upstream: Readonly<Record<string, number>>;
  readonly rows: number;
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
  /** The model's data tests on this run's result (none when skipped). */
  readonly tests: readonly DataTestResult[];
}

/** Options of `runModels`. */
export interface RunModelsOptions {
  /** Recompute even when the upstream versions are those already consumed. */
  readonly fullRefresh?: boolean;
}

/**
 * Runs models in the given (DAG) order: binds each model's upstream tables as views over
 * their current snapshots, creates the output table on its first run, and commits the
 * result with the upstream versions it consumed (`commitInfo.lakeloop.upstream`). A model
 * whose upstream versions equal those of its last commit is skipped. Only `full` models run
 * in this version; another kind is `NotImplemented` before anything runs. Each run is
 * write-audit-publish: the result goes to a temp table, the header's data tests run over it,
 * and a failing `error` test (`DataTestFailed`) commits nothing; failing `warn` tests are
 * reported in the summary.
 *
 * @example
 * const summaries = await runModels(lake, dag.models);
 */
export async function runModels(lake: Lake, models: readonly Model[], options: RunModelsOptions = {}): Promise<ModelRunSummary[]> {
  const unbuilt = models.find((m) => m.header.kind !== 'full');
  if (unbuilt) throw new NotImplemented(`kind ${unbuilt.header.kind} (model ${unbuilt.name})`);
  const summaries: ModelRunSummary[] = [];
  for (const model of models) summaries.push(await runFullModel(lake, model, options));
  return summaries;
}

async function runFullModel(lake: Lake, model: Model, options: RunModelsOptions): Promise<ModelRunSummary> {
  const started = performance.now();
  const engine = lake.engine;
  const snapshots = await lake.bindViews(engine, model.upstream);
  const upstream: Record<string, number> = {};
  for (const [name, snapshot] of snapshots) upstream[name] = snapshot.version;

  let table = await existingTable(lake, model.name);
  if (table && !options.fullRefresh) {
    const [last] = await table.history({ limit: 1 });
    const consumed = (last?.commitInfo as { lakeloop?: { upstream?: Record<string, number> } } | undefined)?.lakeloop?.upstream;
    if (consumed && sameVersions(consumed, upstream)) {
      const snapshot = await table.snapshot();
      return summary(model, true, snapshot.version, upstream, snapshot, started);
    }
  }
  // Write-audit-publish: the result is materialised once, audited, and only then committed.
  const temp = quoteIdent(`_lakeloop_wap_${model.name.replace(/[^A-Za-z0-9_]/g, '_')}`);
  await userSql(model, () => engine.run(`CREATE OR REPLACE TEMP TABLE ${temp} AS ${model.sql}`));
  try {
    const inputs = testInputs(model).filter((name) => !snapshots.has(name));
    if (inputs.length) await lake.bindViews(engine, inputs);
    const tests = await runDataTests(engine, model, temp);
    const failed = tests.filter((t) => t.status === 'fail');
    if (failed.length) throw new DataTestFailed(model, failed, false);
    if (!table) {
      const columns = await engine.describe(`SELECT * FROM ${temp}`);
      table = await lake.createTable(model.name, {
        columns,
        ...(model.header.partitionBy.length ? { partitionColumns: model.header.partitionBy } : {}),
        description: `model ${model.name} (${model.file})`,
      });
    }
    const output = table;
    const result = await userSql(model, () =>
      output.overwrite(`SELECT * FROM ${temp}`, { operation: 'MODEL RUN', commitInfo: { lakeloop: { model: model.name, kind: model.header.kind, upstream } } }),
    );
    const snapshot = await output.snapshot({ version: result.version });
    return summary(model, false, result.version, upstream, snapshot, started, tests);
  } finally {
    await engine.run(`DROP TABLE IF EXISTS ${temp}`);
  }
}

async function existingTable(lake: Lake, name: string): Promise<DeltaTable | undefined> {
  try {
    return await lake.table(name);
  } catch (error) {
    if (error instanceof TableNotFound) return undefined;
    throw error;
  }
}

/** The boundary where a model's own SQL fails: blame the model's file, keep the cause. */
async function userSql<T>(model: Model, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SqlError) {
      const reason = error.message.replace(/^Failed to run SQL: /, '');
      const line = /LINE (\d+):/.exec(reason)?.[1];
      const fileLine = line === undefined ? undefined : lineAt(model.text, model.sqlOffset) + Number(line) - 1;
      throw new ModelError(model.name, model.file, fileLine, `its SQL failed: ${reason.split('\n')[0]}`, { cause: error });
    }
    if (error instanceof LakeloopError) throw error;
    throw error;
  }
}

function sameVersions(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function summary(
  model: Model,
  skipped: boolean,
  version: number,
  upstream: Record<string, number>,
  snapshot: { numRecords(): number | null; sizeBytes(): number; files: readonly unknown[] },
  started: number,
  tests: readonly DataTestResult[] = [],
): ModelRunSummary {
  return Object.freeze({
    model: model.name,
    skipped,
    version,
    upstream: Object.freeze(upstream),
    rows: snapshot.numRecords() ?? 0,
    files: snapshot.files.length,
    bytes: snapshot.sizeBytes(),
    seconds: (performance.now() - started) / 1000,
    tests: Object.freeze([...tests]),
  });
}

