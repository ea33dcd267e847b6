import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, quoteList, quoteLiteral } from '../../src/engine/index.js';
import type { ReconcileReport } from '../../src/reconcile/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake, type Snapshot } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { dayOf, writeSalesEvents, writeSalesProject } from '../fixtures/sales-project.js';
import { lakeloop, median, timedCpu } from '../support.js';

/**
 * SPEC §10: reconciliation of a window within 2× of the equivalent hand-written DuckDB
 * query. The sales project (bronze.sales → silver.sales by key → gold.daily by partition,
 * 2h lateness) is streamed 30 days in 5-day steps (`ingest` + `run` each), 2% of the
 * events arriving 1–3 days late, so the streaming path defers some to reconcile. Then
 * `lakeloop reconcile --from D1 --to D30` (the whole in-process CLI call: recompute in its
 * separate 1-thread/1GB circuit, diff, tests, publish, report, catalog) is timed against
 * plain DuckDB with the same thread and memory limits over the same bronze Parquet files:
 * silver (latest event per id, cancellations removed) and gold (per day and store) for the
 * window, both written as zstd Parquet partitioned by day, plus a diff of the new gold
 * against the current gold files (rows differing per day).
 */
const THREADS = 1;
const MEMORY_LIMIT = '1GB';
const STEP_DAYS = 5;
const DAYS = 30;

const benchmark: Benchmark = {
  name: 'reconcile',
  description: 'lakeloop reconcile of a 30-day window vs hand-written DuckDB recompute + write + gold diff over the same bronze files',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const perDay = context.quick ? 3_000 : 30_000;
    const baselineRuns = context.quick ? 2 : 3;
    const from = dayOf(0);
    const to = dayOf(DAYS - 1);
    const project = join(context.workDir, 'project');
    await writeSalesProject(project, { memoryLimit: '2GB' });

    // Stream the window in: each step's file holds its days' events plus the late ones.
    const generator = await Engine.create({});
    const steps: string[] = [];
    let events = 0;
    try {
      for (let day = 0; day < DAYS; day += STEP_DAYS) {
        const file = join(context.workDir, `step-${day}.ndjson`);
        events += (await writeSalesEvents(generator, file, { fromDay: day, toDay: day + STEP_DAYS, perDay, late: 0.02 })).rows;
        steps.push(file);
      }
    } finally {
      await generator.close();
    }
    let deferred = 0;
    for (const [i, file] of steps.entries()) {
      await lakeloop(['ingest', 'sales', '--file', file], project);
      const run = (await lakeloop(['run', '--json'], project)).json<{ models: { model: string; deferred: Record<string, number> }[] }>();
      const late = run.models.reduce((sum, m) => sum + Object.values(m.deferred).reduce((a, b) => a + b, 0), 0);
      deferred += late;
      context.log(`step ${i + 1}/${steps.length}: ingested and ran days ${dayOf(i * STEP_DAYS)}…${dayOf(i * STEP_DAYS + STEP_DAYS - 1)}, ${late} rows deferred late`);
    }
    context.log(`streamed ${events.toLocaleString('en-US')} events, ${deferred} rows deferred for reconcile`);

    const store = await LocalObjectStore.create(join(project, 'lake'));
    const engine = await Engine.create({ threads: THREADS, memoryLimit: MEMORY_LIMIT });
    try {
      const lake = await Lake.open({ store, engine });
      const bronze = await (await lake.table('bronze.sales')).snapshot();
      const goldBefore = await (await lake.table('gold.daily')).snapshot();
      const baseline = {
        bronzeFiles: await localPaths(store, bronze, (day) => day >= from),
        goldFiles: await localPaths(store, goldBefore, (day) => day >= from && day <= to),
        from,
        to,
      };

      const out = join(context.workDir, 'duckdb-out');
      const duckdb: { seconds: number; cpuSeconds: number; differingDays: number; recomputeSeconds: number }[] = [];
      const baselineOnce = async (): Promise<void> => {
        await rm(out, { recursive: true, force: true });
        await mkdir(out, { recursive: true });
        const timedRun = await timedCpu(() => handWritten(engine, baseline, out));
        duckdb.push({ ...timedRun.result, seconds: timedRun.seconds, cpuSeconds: timedRun.cpuSeconds });
        context.log(`duckdb: ${timedRun.seconds.toFixed(2)} s (cpu ${timedRun.cpuSeconds.toFixed(1)} s), ${timedRun.result.differingDays} gold days differ`);
      };
      await baselineOnce();

      const reconciled = await timedCpu(() => lakeloop(['reconcile', '--from', from, '--to', to, '--threads', String(THREADS), '--memory-limit', MEMORY_LIMIT, '--json'], project));
      const report = reconciled.result.json<ReconcileReport>();
      context.log(`lakeloop reconcile: ${reconciled.seconds.toFixed(2)} s (cpu ${reconciled.cpuSeconds.toFixed(1)} s); ${describe(report)}`);
      for (let i = 1; i < baselineRuns; i++) await baselineOnce();

      // Same answer both ways, or the timing means nothing: reconciled gold = DuckDB's gold.
      const goldAfter = await (await lake.table('gold.daily')).snapshot();
      const mismatches = await compareGold(engine, await localPaths(store, goldAfter, (day) => day >= from && day <= to), join(out, 'gold'));
      if (mismatches > 0) throw new Error(`reconciled gold.daily differs from the hand-written DuckDB gold in ${mismatches} rows`);
      const goldModel = report.models.find((m) => m.model === 'gold.daily');
      const corrected = goldModel?.partitions.filter((p) => p.status === 'corrected').length ?? 0;
      if (corrected !== (duckdb[0]?.differingDays ?? -1)) throw new Error(`lakeloop corrected ${corrected} gold days, the DuckDB diff found ${duckdb[0]?.differingDays}`);

      const value = reconciled.seconds;
      const baselineSeconds = median(duckdb.map((d) => d.seconds));
      const details: Record<string, number | string> = {
        days: DAYS,
        eventsPerDay: perDay,
        bronzeRows: events,
        bronzeFiles: baseline.bronzeFiles.length,
        deferredLate: deferred,
        threads: THREADS,
        memoryLimit: MEMORY_LIMIT,
        lakeloopCpuS: round(reconciled.cpuSeconds),
        duckdbCpuS: round(median(duckdb.map((d) => d.cpuSeconds))),
        duckdbRunsS: duckdb.map((d) => d.seconds.toFixed(2)).join('/'),
        duckdbRecomputeAndWriteS: round(median(duckdb.map((d) => d.recomputeSeconds))),
        reportS: round(report.seconds),
      };
      for (const m of report.models) {
        details[`${m.model}.s`] = round(m.seconds ?? 0);
        details[`${m.model}.corrected`] = m.partitions.filter((p) => p.status === 'corrected').length;
      }
      return [{ name: 'reconcile', value, unit: 's', baseline: baselineSeconds, ratio: value / baselineSeconds, target: '<= 2', details }];
    } finally {
      await engine.close();
      await store.close();
    }
  },
};

export default benchmark;

interface BaselineInput {
  readonly bronzeFiles: readonly string[];
  readonly goldFiles: readonly string[];
  readonly from: string;
  readonly to: string;
}

/**
 * The hand-written equivalent: silver (latest event per id by ts then arrival, as the
 * model's version_by; cancellations removed) over the bronze files of the window and after
 * it, its window days written as Parquet; gold aggregated from it and written; then the days
 * where the new gold differs from the current gold files.
 */
async function handWritten(engine: Engine, input: BaselineInput, out: string): Promise<{ differingDays: number; recomputeSeconds: number }> {
  const started = performance.now();
  const window = `sale_date BETWEEN DATE ${quoteLiteral(input.from)} AND DATE ${quoteLiteral(input.to)}`;
  await engine.run(`
    CREATE OR REPLACE TEMP TABLE silver_new AS
    SELECT * FROM (
      SELECT id, store, amount, status, ts, CAST(timezone('UTC', ts) AS DATE) AS sale_date, _ingested_at
      FROM read_parquet(${quoteList(input.bronzeFiles)})
      QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts DESC NULLS LAST, _ingested_at DESC NULLS LAST) = 1
    ) WHERE status <> 'cancelled' AND ${window}`);
  await engine.run(`COPY silver_new TO ${quoteLiteral(join(out, 'silver'))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (sale_date))`);
  await engine.run(`
    CREATE OR REPLACE TEMP TABLE gold_new AS
    SELECT sale_date, store, round(sum(amount), 2) AS revenue, count(*) AS sales FROM silver_new GROUP BY sale_date, store`);
  await engine.run(`COPY gold_new TO ${quoteLiteral(join(out, 'gold'))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (sale_date))`);
  const recomputeSeconds = (performance.now() - started) / 1000;
  const differing = await engine.scalar(`
    SELECT count(DISTINCT coalesce(n.sale_date, c.sale_date)) FROM gold_new AS n
    FULL OUTER JOIN (SELECT sale_date, store, revenue, sales FROM read_parquet(${quoteList(input.goldFiles)})) AS c USING (sale_date, store)
    WHERE n.sales IS DISTINCT FROM c.sales OR n.revenue IS DISTINCT FROM c.revenue`);
  await engine.run('DROP TABLE silver_new');
  await engine.run('DROP TABLE gold_new');
  return { differingDays: Number(differing), recomputeSeconds };
}

/** Rows of the reconciled gold files and DuckDB's gold output that do not match (by day and store; revenue to the cent). */
async function compareGold(engine: Engine, goldFiles: readonly string[], duckdbGold: string): Promise<number> {
  const mismatches = await engine.scalar(`
    SELECT count(*) FROM (SELECT sale_date, store, revenue, sales FROM read_parquet(${quoteList(goldFiles)})) AS l
    FULL OUTER JOIN (SELECT sale_date, store, revenue, sales FROM read_parquet(${quoteLiteral(`${duckdbGold}/**/*.parquet`)}, hive_partitioning = true)) AS d USING (sale_date, store)
    WHERE l.sales IS DISTINCT FROM d.sales OR abs(l.revenue - d.revenue) > 0.005 OR l.revenue IS NULL OR d.revenue IS NULL`);
  return Number(mismatches);
}

async function localPaths(store: LocalObjectStore, snapshot: Snapshot, keep: (day: string) => boolean): Promise<string[]> {
  const files = snapshot.files.filter((f) => {
    const day = Object.values(f.partitionValues)[0];
    return typeof day === 'string' && keep(day);
  });
  return Promise.all(files.map((f) => store.localPath(snapshot.fileKey(f))));
}

function describe(report: ReconcileReport): string {
  return report.models
    .map((m) => {
      const counts: Record<string, number> = {};
      for (const p of m.partitions) counts[p.status] = (counts[p.status] ?? 0) + 1;
      return `${m.model} ${(m.seconds ?? 0).toFixed(2)} s (${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ')})`;
    })
    .join('; ');
}

function round(n: number, digits = 3): number {
  return Number(n.toFixed(digits));
}
