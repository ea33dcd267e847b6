import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../../src/engine/index.js';
import { loadModels, modelVersionRecord, resolveModels, type Model } from '../../src/models/index.js';
import { buildPlan } from '../../src/planner/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { Lake, type AddAction } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';

/**
 * `lakeloop plan` on a project of 50 models whose tables have 1,000 commits each (checkpoints
 * every 10), every commit carrying its model version as runs write it: time to build the
 * plan with nothing changed and with 5 models edited (breaking, each with a downstream
 * model), in a fresh process state (new Lake, no cached logs). The baseline is reading the
 * latest snapshot of the same 51 tables (what any log-only command pays): plan adds the
 * version lookup, the classification and the DESCRIBEs. `legacyMs` is a plan over tables
 * whose commits carry no version (the whole history is read to find none).
 *
 * The logs are built fast with `commit()` and tiny add actions: plan never opens data files.
 */
const MODELS = 50;
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

/** Model i reads bronze.src (even i) or the model before it (odd i): 25 chains of two. */
function modelSql(i: number, edited = false): string {
  const from = i % 2 === 0 ? 'bronze.src' : `silver.m${i - 1}`;
  return `/*\nkind: incremental_by_partition\npartition_by: day\n*/\nSELECT day, name, count(*)${edited ? ' * 2' : ''} AS n FROM ${from} GROUP BY day, name\n`;
}

async function writeModels(project: string, edited: ReadonlySet<number>): Promise<void> {
  await mkdir(join(project, 'sql', 'silver'), { recursive: true });
  for (let i = 0; i < MODELS; i++) await writeFile(join(project, 'sql', 'silver', `m${i}.sql`), modelSql(i, edited.has(i)));
}

async function resolved(project: string, engine: Engine): Promise<readonly Model[]> {
  return (await resolveModels(await loadModels(project), { engine, knownTables: ['bronze.src'] })).models;
}

async function buildLake(store: ObjectStore, engine: Engine, models: readonly Model[], commits: number, context: BenchContext): Promise<void> {
  // One checkpoint, at the last version (as interval 10 would also leave): readers pay the same, building is faster.
  const lake = await Lake.open({ store, engine, checkpointCache: null, checkpointInterval: commits });
  const bronze = await lake.createTable('bronze.src', { columns: [{ name: 'day', type: 'DATE' }, { name: 'name', type: 'VARCHAR' }], partitionColumns: ['day'] });
  const [template] = await bronze.writeDataFiles(`SELECT DATE '2026-01-01' AS day, 'a' AS name`);
  if (!template) throw new Error('plan: the template write produced no file');
  await bronze.commit({ readVersion: 0, add: [template], operation: 'WRITE' });
  for (const model of models) {
    const table = await lake.createTable(model.name, { columns: [{ name: 'day', type: 'DATE' }, { name: 'name', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }], partitionColumns: ['day'] });
    const lakeloop = { model: model.name, kind: model.header.kind, upstream: { [model.upstream[0] as string]: 1 }, mode: 'stream', modelVersion: modelVersionRecord(model, 0) };
    for (let v = 0; v < commits; v++) {
      const day = new Date(Date.parse('2026-01-01') + (v % 60) * 86_400_000).toISOString().slice(0, 10);
      const add: AddAction = { ...template, path: `day=${day}/part-${v}.parquet`, partitionValues: { day }, modificationTime: Date.now() };
      await table.commit({ readVersion: v, add: [add], operation: 'MODEL RUN', commitInfo: { lakeloop } });
    }
    context.log(`plan: ${model.name} has ${commits} commits`);
  }
}

/** A copy of the lake as written before fingerprints: no commit carries a model version. */
async function legacyCopy(from: string, to: string, models: readonly Model[]): Promise<void> {
  await cp(from, to, { recursive: true });
  for (const model of models) {
    const dir = join(to, ...model.name.split('.'), '_delta_log');
    for (const name of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
      const text = await readFile(join(dir, name), 'utf8');
      const lines = text.trim().split('\n').map((line) => {
        const action = JSON.parse(line) as { commitInfo?: { lakeloop?: { modelVersion?: unknown } } };
        if (action.commitInfo?.lakeloop) delete action.commitInfo.lakeloop.modelVersion;
        return JSON.stringify(action);
      });
      await writeFile(join(dir, name), `${lines.join('\n')}\n`);
    }
  }
}

const benchmark: Benchmark = {
  name: 'plan',
  description: 'lakeloop plan over 50 models whose tables have 1,000 commits each: unchanged and 5 breaking edits, against reading the 51 latest snapshots',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const commits = context.quick ? 100 : 1_000;
    const engine = await Engine.create({ threads: 2 });
    try {
      const project = join(context.workDir, 'project');
      await writeModels(project, new Set());
      const models = await resolved(project, engine);
      const store = await LocalObjectStore.create(join(context.workDir, 'lake'));
      await buildLake(store, engine, models, commits, context);
      await legacyCopy(join(context.workDir, 'lake'), join(context.workDir, 'legacy'), models);
      const legacyStore = await LocalObjectStore.create(join(context.workDir, 'legacy'));

      const fresh = (s: ObjectStore): Promise<Lake> => Lake.open({ store: s, engine, checkpointCache: null });
      const snapshotsMs = await medianMs(RUNS, async () => {
        const lake = await fresh(store);
        for (const name of ['bronze.src', ...models.map((m) => m.name)]) await (await lake.table(name)).snapshot();
      });
      const unchangedMs = await medianMs(RUNS, async () => {
        const plan = await buildPlan(await fresh(store), engine, models);
        if (plan.rebuild.length !== 0) throw new Error(`plan: expected no rebuild, got ${plan.rebuild.join(', ')}`);
      });
      const edited = new Set([0, 10, 20, 30, 40]);
      await writeModels(project, edited);
      const editedModels = await resolved(project, engine);
      const editedMs = await medianMs(RUNS, async () => {
        const plan = await buildPlan(await fresh(store), engine, editedModels);
        if (plan.rebuild.length !== 10) throw new Error(`plan: expected 10 models to rebuild, got ${plan.rebuild.length}`);
      });
      const legacyMs = await medianMs(3, async () => buildPlan(await fresh(legacyStore), engine, editedModels));
      const details = { models: MODELS, commitsPerTable: commits, snapshotsMs: Math.round(snapshotsMs), legacyMs: Math.round(legacyMs) };
      return [
        { name: 'plan (unchanged)', value: Math.round(unchangedMs), unit: 'ms', baseline: Math.round(snapshotsMs), ratio: unchangedMs / snapshotsMs, target: null, details },
        { name: 'plan (5 breaking edits)', value: Math.round(editedMs), unit: 'ms', baseline: Math.round(snapshotsMs), ratio: editedMs / snapshotsMs, target: null, details },
      ];
    } finally {
      await engine.close();
    }
  },
};

export default benchmark;
