import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lakePartitionStatus, partitionStatusJson } from '../../src/cli/partition-status.js';
import { Engine } from '../../src/engine/index.js';
import { loadModels, modelVersionRecord, resolveModels, type Model } from '../../src/models/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { Lake, type AddAction } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';

/**
 * `lakeloop status --partitions --json` over one model table of 3,650 daily partitions and
 * 1,000 commits (a full build of every day, then streaming runs rewriting recent days, some
 * deferring late rows, a reconcile every 200 commits; one checkpoint at the end), read from
 * bronze of 3,650 days: the derivation and its JSON in a fresh process state (new Lake, no
 * cached logs), and again with the logs cached (what `serve` pays per refresh). The baseline
 * is reading the table's latest snapshot, which any log-only command pays.
 *
 * The logs are built fast with `commit()` and tiny add actions: the status never opens data files.
 */
const RUNS = 5;

async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

const dayOf = (i: number): string => new Date(Date.parse('2016-01-01') + i * 86_400_000).toISOString().slice(0, 10);

async function buildLake(store: ObjectStore, engine: Engine, model: Model, partitions: number, commits: number, context: BenchContext): Promise<void> {
  const lake = await Lake.open({ store, engine, checkpointCache: null, checkpointInterval: commits });
  const bronze = await lake.createTable('bronze.src', { columns: [{ name: 'day', type: 'DATE' }, { name: 'name', type: 'VARCHAR' }], partitionColumns: ['day'] });
  const [template] = await bronze.writeDataFiles(`SELECT DATE '2016-01-01' AS day, 'a' AS name`);
  if (!template) throw new Error('partition-status: the template write produced no file');
  const file = (path: string, day: string): AddAction => ({ ...template, path, partitionValues: { day }, modificationTime: Date.now() });
  await bronze.commit({ readVersion: 0, add: Array.from({ length: partitions }, (_, i) => file(`day=${dayOf(i)}/b.parquet`, dayOf(i))), operation: 'WRITE' });
  const table = await lake.createTable(model.name, { columns: [{ name: 'day', type: 'DATE' }, { name: 'name', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }], partitionColumns: ['day'] });
  const base = { model: model.name, kind: model.header.kind, upstream: { 'bronze.src': 1 }, modelVersion: modelVersionRecord(model, 0) };
  const current = new Map<string, AddAction>();
  const adds = Array.from({ length: partitions }, (_, i) => file(`day=${dayOf(i)}/v1.parquet`, dayOf(i)));
  for (const add of adds) current.set(add.partitionValues['day'] as string, add);
  await table.commit({ readVersion: 0, add: adds, operation: 'MODEL RUN', commitInfo: { lakeloop: { ...base, mode: 'full' } } });
  for (let v = 2; v <= commits; v++) {
    // Streaming runs rewrite one of the last 30 days; every 50th defers 3 rows of an older day; every 200th is a reconcile of the last 30 days.
    const reconcile = v % 200 === 0;
    const days = reconcile ? Array.from({ length: 30 }, (_, i) => dayOf(partitions - 1 - i)) : [dayOf(partitions - 1 - (v % 30))];
    const remove = days.map((d) => ({ path: (current.get(d) as AddAction).path, dataChange: true, partitionValues: { day: d } }));
    const add = days.map((d) => file(`day=${d}/v${v}.parquet`, d));
    for (const a of add) current.set(a.partitionValues['day'] as string, a);
    const late = v % 50 === 0 && !reconcile ? { deferred: { [dayOf(partitions - 40 - (v % 7))]: 3 }, lateness: { [dayOf(partitions - 40 - (v % 7))]: 86_400 * 5 } } : {};
    const lakeloop = { ...base, mode: reconcile ? 'reconcile' : 'stream', partitions: days, ...late };
    await table.commit({ readVersion: v - 1, add, remove, operation: 'MODEL RUN', commitInfo: { lakeloop } });
  }
  context.log(`partition-status: ${model.name} has ${commits} commits over ${partitions} partitions`);
}

const benchmark: Benchmark = {
  name: 'partition-status',
  description: 'status --partitions over a model table of 3,650 partitions and 1,000 commits, fresh and with cached logs, against reading its latest snapshot',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const partitions = context.quick ? 365 : 3_650;
    const commits = context.quick ? 100 : 1_000;
    const engine = await Engine.create({ threads: 2 });
    try {
      const project = join(context.workDir, 'project');
      await mkdir(join(project, 'sql', 'silver'), { recursive: true });
      await writeFile(join(project, 'sql', 'silver', 'daily.sql'), `/*\nkind: incremental_by_partition\npartition_by: day\n*/\nSELECT day, name, count(*) AS n FROM bronze.src GROUP BY day, name\n`);
      const models = (await resolveModels(await loadModels(project), { engine, knownTables: ['bronze.src'] })).models;
      const model = models[0] as Model;
      const store = await LocalObjectStore.create(join(context.workDir, 'lake'));
      await buildLake(store, engine, model, partitions, commits, context);

      const fresh = (): Promise<Lake> => Lake.open({ store, engine, checkpointCache: null });
      let counts = '';
      const status = async (lake: Lake): Promise<void> => {
        const json = partitionStatusJson(await lakePartitionStatus(lake, engine, models));
        const rows = json.tables[model.name] ?? [];
        if (rows.length !== partitions) throw new Error(`partition-status: expected ${partitions} partitions, got ${rows.length}`);
        counts = JSON.stringify(json.models[model.name]?.counts);
        JSON.stringify(json);
      };
      // One of each first, so neither pays DuckDB's first read of the checkpoint.
      await status(await fresh());
      const snapshotMs = await medianMs(RUNS, async () => (await (await fresh()).table(model.name)).snapshot());
      const freshMs = await medianMs(RUNS, async () => status(await fresh()));
      const warm = await fresh();
      await status(warm);
      const warmMs = await medianMs(RUNS, () => status(warm));
      context.log(`partition-status: ${counts}`);
      const details = { partitions, commits, snapshotMs: Math.round(snapshotMs), counts };
      return [
        { name: 'status --partitions (fresh)', value: Math.round(freshMs), unit: 'ms', baseline: Math.round(snapshotMs), ratio: freshMs / snapshotMs, target: null, details },
        { name: 'status --partitions (logs cached)', value: Math.round(warmMs), unit: 'ms', baseline: Math.round(snapshotMs), ratio: warmMs / snapshotMs, target: null, details },
      ];
    } finally {
      await engine.close();
    }
  },
};

export default benchmark;
