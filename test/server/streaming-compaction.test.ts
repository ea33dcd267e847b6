import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import type { Model } from '../../src/models/index.js';
import { StreamingLoop, type StreamingCompaction } from '../../src/server/index.js';
import type { CompactionResult, Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, oracle, SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';

/**
 * The streaming loop merges the small files its runs leave in the models' tables, between
 * runs: only in the partitions its runs rewrote; files newer than `minAgeMs` are left alone,
 * older ones are merged in an OPTIMIZE commit without data change, and the models' results
 * stay those of the oracle.
 */
let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
const sent: Sale[] = [];
let batches = 0;

async function ingest(sales: readonly Sale[]): Promise<void> {
  const file = join(dir, `batch-${++batches}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
  sent.push(...sales);
}

/** A batch of new sales on day 1 (new keys: each streaming run adds one file to that partition). */
function fresh(n: number): Sale[] {
  return Array.from({ length: 5 }, (_, i) => ({ id: n * 100 + i, store: 'north', amount: n + i, status: 'placed' as const, ts: `${day(1)}T10:0${i}:00Z` }));
}

function onDay2(sales: readonly Sale[]): Sale[] {
  return sales.map((sale) => ({ ...sale, ts: sale.ts.replace(day(1), day(2)) }));
}

async function cycle(loop: StreamingLoop): Promise<void> {
  const before = loop.state.runs;
  loop.nudge();
  const deadline = Date.now() + 30_000;
  while (loop.state.runs === before) {
    if (Date.now() > deadline) throw new Error('the streaming loop did not run');
    await new Promise((r) => setTimeout(r, 20));
  }
  // The compaction step follows the run in the same cycle; wait for the cycle to finish.
  await new Promise((r) => setTimeout(r, 50));
}

async function optimizeCommits(table: string): Promise<number> {
  const log = join(lakeRoot, ...table.split('.'), '_delta_log');
  let n = 0;
  for (const name of (await readdir(log)).filter((f) => f.endsWith('.json'))) {
    if ((await readFile(join(log, name), 'utf8')).includes('"operation":"OPTIMIZE"')) n++;
  }
  return n;
}

async function gold(): Promise<Map<string, { revenue: number; sales: number }>> {
  const result = await cli(['--lake', lakeRoot, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily', '--format', 'json'], project);
  const rows = JSON.parse(result.stdout) as { d: string; store: string; revenue: number; sales: number }[];
  return new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]));
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('streaming-compaction'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lakeRoot = join(dir, 'lake');
  await ingest(fresh(1));
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('compaction in the streaming loop', () => {
  it('leaves files newer than minAgeMs alone, then merges the older small files without changing the results', async () => {
    const compacted: CompactionResult[] = [];
    const failures: unknown[] = [];
    const loopWith = (compaction: StreamingCompaction): StreamingLoop =>
      new StreamingLoop({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, pollMs: 600_000, compaction, onCompact: (r) => compacted.push(r), onCompactError: (_t, e) => failures.push(e) });

    // Day 1 gets small files from runs outside the loop: the loop never compacts a partition its runs did not rewrite.
    for (let n = 20; n < 24; n++) {
      await ingest(fresh(n));
      expect((await cli(['--lake', lakeRoot, 'run'], project)).code).toBe(0);
    }
    const day1Files = async (): Promise<string[]> =>
      (await (await lake.table('silver.sales')).snapshot()).files.filter((f) => f.partitionValues['sale_date'] === day(1)).map((f) => f.path).sort();
    const day1Before = await day1Files();
    expect(day1Before.length).toBeGreaterThanOrEqual(4);

    const young = loopWith({ everyMs: 0, minFiles: 3, minAgeMs: 3_600_000, targetFileBytes: 32 * 1024 * 1024 });
    await cycle(young);
    for (let n = 2; n <= 4; n++) {
      await ingest(onDay2(fresh(n)));
      await cycle(young);
    }
    await young.stop();
    expect(compacted, 'every file is younger than an hour').toEqual([]);
    expect(await optimizeCommits('silver.sales')).toBe(0);
    // bronze, queued as well (its small files from every ingest), keeps its young files too
    expect(await optimizeCommits('bronze.sales')).toBe(0);
    const filesBefore = (await (await lake.table('silver.sales')).snapshot()).files.length;
    expect(filesBefore).toBeGreaterThanOrEqual(4);

    const old = loopWith({ everyMs: 0, minFiles: 3, minAgeMs: 0, targetFileBytes: 32 * 1024 * 1024 });
    await ingest(onDay2(fresh(5)));
    await cycle(old);
    await old.stop();
    expect(failures).toEqual([]);
    expect(compacted.map((r) => r.table)).toContain('silver.sales');
    expect(await optimizeCommits('silver.sales')).toBe(1);
    const after = await (await lake.table('silver.sales')).snapshot();
    expect(after.files.length).toBeLessThan(filesBefore);
    expect(await day1Files(), 'day 1 was not rewritten by the loop').toEqual(day1Before);
    expect(await gold()).toEqual(oracle(sent));
  }, 120_000);
});
