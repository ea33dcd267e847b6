import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import type { Model } from '../../src/models/index.js';
import { Metrics } from '../../src/observe/index.js';
import { incrementalFirst, StreamingLoop } from '../../src/server/index.js';
import type { ModelRunSummary } from '../../src/runner/index.js';
import type { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';

/**
 * `full` models on the streaming path: they recompute their whole table, so they run at most
 * every `fullModelEveryMs`, while the incremental models run on every bronze commit; a full
 * model left out catches up once due, without waiting for more data; a draining stop runs it.
 */
const STORE_TOTALS = `/*
kind: full
*/
SELECT store, count(*) AS sales, round(sum(amount), 2) AS revenue FROM silver.sales GROUP BY store
`;

let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
let batches = 0;
let nextId = 1;

async function ingest(n: number): Promise<void> {
  const sales: Sale[] = Array.from({ length: n }, (_, i) => ({ id: nextId++, store: i % 2 ? 'north' : 'south', amount: 10, status: 'placed' as const, ts: `${day(1)}T10:00:0${i % 10}Z` }));
  const file = join(dir, `batch-${++batches}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
}

async function nextRun(loop: StreamingLoop, runs: ModelRunSummary[][]): Promise<ModelRunSummary[]> {
  const before = runs.length;
  loop.nudge();
  const deadline = Date.now() + 30_000;
  while (runs.length === before) {
    if (Date.now() > deadline) throw new Error('the streaming loop did not run');
    await new Promise((r) => setTimeout(r, 20));
  }
  return runs[runs.length - 1] as ModelRunSummary[];
}

async function storeTotal(): Promise<number> {
  return Number(await engine.scalar(`SELECT sum(sales) FROM (${await (await (await lake.table('gold.store_totals')).snapshot()).scanSql(lake.store)})`));
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('streaming-full-models'));
  project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, 'sql/gold/store_totals.sql': STORE_TOTALS });
  lakeRoot = join(dir, 'lake');
  await ingest(4);
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('full models on the streaming path', () => {
  it('run at most every fullModelEveryMs while the incremental models run on every commit; a draining stop runs them', async () => {
    const runs: ModelRunSummary[][] = [];
    const loop = new StreamingLoop({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, pollMs: 600_000, fullModelEveryMs: 600_000, compaction: false, onRun: (s) => runs.push([...s]) });
    const ran = (summaries: readonly ModelRunSummary[]): string[] => summaries.filter((s) => !s.skipped).map((s) => s.model).sort();

    expect(ran(await nextRun(loop, runs))).toEqual(['gold.daily', 'gold.store_totals', 'silver.sales']);
    expect(await storeTotal()).toBe(4);
    await ingest(3);
    // /status sees silver's new commit as soon as silver's run ends, before the cycle does.
    const silverVersion = loop.state.last.find((s) => s.model === 'silver.sales')?.version ?? -1;
    let seenMidCycle = false;
    const watch = setInterval(() => {
      const silver = loop.state.last.find((s) => s.model === 'silver.sales');
      if ((silver?.version ?? -1) > silverVersion && runs.length === 1) seenMidCycle = true;
    }, 2);
    const second = await nextRun(loop, runs).finally(() => clearInterval(watch));
    expect(seenMidCycle).toBe(true);
    expect(ran(second)).toEqual(['gold.daily', 'silver.sales']);
    expect(second.map((s) => s.model)).not.toContain('gold.store_totals');
    // /status keeps showing the full model's last run.
    expect(loop.state.last.map((s) => s.model).sort()).toEqual(['gold.daily', 'gold.store_totals', 'silver.sales']);
    expect(await storeTotal()).toBe(4);

    await ingest(2);
    await loop.stop({ drain: true });
    expect(ran(runs[runs.length - 1] ?? [])).toEqual(['gold.daily', 'gold.store_totals', 'silver.sales']);
    expect(await storeTotal()).toBe(9);
  });

  it('catch up once due, without new bronze commits, with their freshness counted from the run that left them out', async () => {
    const runs: ModelRunSummary[][] = [];
    let clock = 0;
    const metrics = new Metrics({ processMetrics: false });
    const loop = new StreamingLoop({
      lake,
      models,
      eventTimeColumns: { 'bronze.sales': 'ts' },
      pollMs: 600_000,
      fullModelEveryMs: 5_000,
      nowMs: () => clock,
      metrics,
      compaction: false,
      onRun: (s) => runs.push([...s]),
    });
    const ranIn = (run: readonly ModelRunSummary[], model: string): boolean => run.some((s) => s.model === model && !s.skipped);
    const freshness = (model: string): number => metrics.snapshot().models.find((m) => m.model === model)?.freshnessSeconds ?? -1;
    // The first run includes every model (all up to date from the test before).
    await ingest(1);
    expect(ranIn(await nextRun(loop, runs), 'gold.store_totals')).toBe(true);
    expect(await storeTotal()).toBe(10);

    clock = 1_000;
    await ingest(5);
    const silverRun = await nextRun(loop, runs);
    expect(ranIn(silverRun, 'silver.sales')).toBe(true);
    expect(silverRun.map((s) => s.model)).not.toContain('gold.store_totals');
    expect(await storeTotal()).toBe(10);

    // Not due yet, and bronze is quiet: nothing runs.
    clock = 4_000;
    loop.nudge();
    await new Promise((r) => setTimeout(r, 300));
    expect(runs).toHaveLength(2);

    // Due: store_totals catches up by itself (silver has nothing new), and its freshness
    // counts from the run that left it out, at least the 300 ms waited above.
    clock = 5_000;
    const catchUp = await nextRun(loop, runs);
    expect(ranIn(catchUp, 'gold.store_totals')).toBe(true);
    expect(ranIn(catchUp, 'silver.sales')).toBe(false);
    expect(await storeTotal()).toBe(15);
    expect(freshness('gold.store_totals')).toBeGreaterThanOrEqual(0.3);
    expect(freshness('gold.store_totals')).toBeGreaterThan(freshness('silver.sales'));
    await loop.stop();
  });

  it('serve --full-every takes a duration, and says so otherwise', async () => {
    const result = await cli(['--lake', lakeRoot, 'serve', '--port', '0', '--full-every', 'soon'], project);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--full-every expects a duration such as 30s or 5m');
  });

  it('run after the incremental models that do not read them (incrementalFirst)', () => {
    const model = (name: string, kind: string, upstream: string[]): Model => ({ name, upstream, header: { kind } }) as unknown as Model;
    const dag = [
      model('silver.a', 'incremental_by_key', ['bronze.x']),
      model('gold.f', 'full', ['silver.a']),
      model('gold.c', 'incremental_by_partition', ['gold.f']),
      model('gold.b', 'incremental_by_partition', ['silver.a']),
      model('silver.d', 'incremental_by_key', ['bronze.y']),
    ];
    expect(incrementalFirst(dag).map((m) => m.name)).toEqual(['silver.a', 'gold.b', 'silver.d', 'gold.f', 'gold.c']);
  });
});
