import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { CheckpointCache, DeltaTable, type AddAction } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';

/**
 * Latest-snapshot read latency of a table with many small commits, with checkpoints
 * (every 10 commits) against without (JSON replay of the whole log), at 100 and at 1,000
 * commits: checkpoints should keep it flat as the log grows. Each measurement opens a
 * fresh `DeltaTable` (no cached state) and reads the latest snapshot; median of several.
 * The checkpoint is read from its Parquet file each time (no checkpoint cache); the
 * `cachedMs` detail is the same read through a warm checkpoint cache, as a second
 * process opening the table reads it.
 *
 * The log is built fast with `commit()` and tiny add actions (distinct paths, one real
 * stats line): reading a snapshot never opens data files, so they need not exist.
 */
const RUNS = 9;

interface Variant {
  readonly label: 'checkpoints' | 'json-only';
  readonly table: DeltaTable;
}

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

async function growTo(variant: Variant, template: AddAction, commits: number, context: BenchContext): Promise<void> {
  let version = (await variant.table.snapshot()).version;
  while (version < commits) {
    const next = version + 1;
    const add: AddAction = { ...template, path: `part-${String(next).padStart(5, '0')}-fake.c000.zstd.parquet`, modificationTime: Date.now() };
    const result = await variant.table.commit({ readVersion: version, add: [add], operation: 'WRITE', operationParameters: { mode: 'Append' } });
    version = result.version;
    if (version % 250 === 0) context.log(`snapshot-read: ${variant.label} at ${version} commits`);
  }
}

const benchmark: Benchmark = {
  name: 'snapshot-read',
  description: 'latest-snapshot read latency at 100 and 1,000 commits, checkpoints every 10 vs JSON replay only',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const engine = await Engine.create({ threads: 2 });
    try {
      const store = await LocalObjectStore.create(join(context.workDir, 'lake'));
      const columns = [
        { name: 'id', type: 'BIGINT' },
        { name: 'name', type: 'VARCHAR' },
      ];
      const sizes = context.quick ? [50, 200] : [100, 1_000];
      const variants: Variant[] = [
        { label: 'checkpoints', table: await DeltaTable.create(store, 'bench/with_checkpoints', { engine, columns, checkpointInterval: 10 }) },
        { label: 'json-only', table: await DeltaTable.create(store, 'bench/json_only', { engine, columns, checkpointInterval: 1_000_000_000 }) },
      ];
      // One real data file gives the template add (real size and stats).
      const [template] = await variants[0]!.table.writeDataFiles(`SELECT range AS id, 'n' || range AS name FROM range(10)`);
      if (!template) throw new Error('snapshot-read: the template write produced no file');

      const measured = new Map<string, number>();
      const cache = CheckpointCache.at(await mkdtemp(join(context.workDir, 'checkpoint-cache-')));
      for (const commits of sizes) {
        for (const variant of variants) {
          await growTo(variant, template, commits, context);
          const path = variant.table.path;
          const read = (checkpointCache: CheckpointCache | null) => async (): Promise<void> => {
            const fresh = await DeltaTable.open(store, path, { engine, checkpointCache });
            const snapshot = await fresh.snapshot();
            if (snapshot.version !== commits || snapshot.files.length !== commits) throw new Error(`snapshot-read: read version ${snapshot.version}, expected ${commits}`);
          };
          const ms = await medianMs(RUNS, read(null));
          measured.set(`${variant.label}@${commits}`, ms);
          if (variant.label === 'checkpoints') {
            await read(cache)();
            measured.set(`cached@${commits}`, await medianMs(RUNS, read(cache)));
          }
          context.log(`snapshot-read: ${variant.label} at ${commits} commits: ${ms.toFixed(1)} ms`);
        }
      }

      const [small, large] = sizes as [number, number];
      const at = (label: string, commits: number): number => measured.get(`${label}@${commits}`) ?? Number.NaN;
      const round = (x: number): number => Math.round(x * 100) / 100;
      const results: BenchResult[] = sizes.map((commits) => ({
        name: `snapshot-read@${commits}`,
        value: round(at('checkpoints', commits)),
        unit: 'ms',
        baseline: round(at('json-only', commits)),
        ratio: round(at('checkpoints', commits) / at('json-only', commits)),
        target: commits === large ? '< 1 (checkpoints beat JSON replay on a long log)' : null,
        details: { commits, runs: RUNS, checkpointInterval: 10, cachedMs: round(at('cached', commits)) },
      }));
      results.push({
        name: 'snapshot-read-growth',
        value: round(at('checkpoints', large) / at('checkpoints', small)),
        unit: `× (${large} vs ${small} commits, checkpoints)`,
        baseline: round(at('json-only', large) / at('json-only', small)),
        ratio: round(at('checkpoints', large) / at('checkpoints', small) / (at('json-only', large) / at('json-only', small))),
        target: 'value ≈ 1 (flat)',
        details: { [`checkpoints@${small}ms`]: round(at('checkpoints', small)), [`checkpoints@${large}ms`]: round(at('checkpoints', large)) },
      });
      return results;
    } finally {
      await engine.close();
    }
  },
};

export default benchmark;
