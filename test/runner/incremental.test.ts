import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { spawnTs } from '../helpers/child.js';
import { writeProject } from '../helpers/project.js';
import { day, differingDays, oracle, SALES_PROJECT, salesOfDay, type Sale } from '../fixtures/sales-project.js';

/**
 * The incremental kinds (SPEC §6) against an oracle: a 30-day sales table, then one new
 * day, updates and cancellations of existing keys, late events behind the horizon, and a
 * run killed halfway. Every assertion on what a run rewrote comes from the commit's own
 * add/remove actions.
 */
let dir: string;
let project: string;
let lake: string;
let remove: () => Promise<void>;
let engine: Engine;
let batch = 0;
const sent: Sale[] = [];

async function ingest(sales: readonly Sale[], root = lake): Promise<void> {
  const file = join(dir, `batch-${++batch}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const run = await cli(['--lake', root, 'ingest', 'sales', '--file', file], project);
  expect(run.code, run.stderr).toBe(0);
  if (root === lake) sent.push(...sales);
}

async function run(args: readonly string[] = [], root = lake): Promise<{ models: { model: string; mode: string; partitions: string[] | 'all'; deferred: Record<string, number>; skipped: boolean }[] }> {
  const result = await cli(['--lake', root, 'run', '--json', ...args], project);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
}

async function gold(root = lake): Promise<Map<string, { revenue: number; sales: number }>> {
  const result = await cli(['--lake', root, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY 1, 2', '--format', 'json'], project);
  expect(result.code, result.stderr).toBe(0);
  const rows = JSON.parse(result.stdout) as { d: string; store: string; revenue: number; sales: number | string }[];
  return new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]));
}

/** The partitions a commit of a table added or removed files in. */
async function touched(table: string, version: number, root = lake): Promise<string[]> {
  const text = await readFile(join(root, ...table.split('.'), '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8');
  const partitions = new Set<string>();
  for (const line of text.trim().split('\n')) {
    const action = JSON.parse(line) as { add?: { partitionValues: Record<string, string> }; remove?: { partitionValues: Record<string, string> } };
    const values = action.add?.partitionValues ?? action.remove?.partitionValues;
    if (values) partitions.add(values['sale_date'] as string);
  }
  return [...partitions].sort();
}

/** The paths a commit of a table added and removed. */
async function actionsOf(table: string, version: number): Promise<{ adds: string[]; removes: string[] }> {
  const text = await readFile(join(lake, ...table.split('.'), '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8');
  const actions = text.trim().split('\n').map((line) => JSON.parse(line) as { add?: { path: string }; remove?: { path: string } });
  return { adds: actions.flatMap((a) => (a.add ? [a.add.path] : [])), removes: actions.flatMap((a) => (a.remove ? [a.remove.path] : [])) };
}

async function versionOf(table: string, root = lake): Promise<number> {
  const names = await readdir(join(root, ...table.split('.'), '_delta_log'));
  return Math.max(...names.filter((n) => n.endsWith('.json')).map((n) => Number(n.slice(0, 20))));
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('incremental'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lake = join(dir, 'lake');
  engine = await Engine.create({ threads: 1 });
  const history: Sale[] = [];
  for (let d = 1; d <= 30; d++) history.push(...salesOfDay(d, d * 1000));
  await ingest(history);
  const first = await run();
  expect(first.models.map((m) => m.mode)).toEqual(['full', 'full']);
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('incremental models', () => {
  it('the first run builds both models and gold equals the oracle', async () => {
    expect(await gold()).toEqual(oracle(sent));
  });

  it('a run with no new data commits nothing', async () => {
    const before = [await versionOf('silver.sales'), await versionOf('gold.daily')];
    const again = await run();
    expect(again.models.map((m) => m.skipped)).toEqual([true, true]);
    expect([await versionOf('silver.sales'), await versionOf('gold.daily')]).toEqual(before);
  });

  it('one new day rewrites only that day, in silver and in gold', async () => {
    await ingest(salesOfDay(31, 31_000));
    const result = await run();
    expect(result.models.map((m) => [m.model, m.mode, m.partitions])).toEqual([
      ['silver.sales', 'incremental', [day(31)]],
      ['gold.daily', 'incremental', [day(31)]],
    ]);
    expect(await touched('silver.sales', await versionOf('silver.sales'))).toEqual([day(31)]);
    expect(await touched('gold.daily', await versionOf('gold.daily'))).toEqual([day(31)]);
    expect(await gold()).toEqual(oracle(sent));
  });

  it('updates and CDC-style deletes of existing keys merge by unique_key: the newest version wins, delete_when removes', async () => {
    // A newer version of a day-31 sale, an older (stale) version of another one, and a cancellation.
    await ingest([
      { id: 31_001, store: 'south', amount: 999.5, status: 'placed', ts: `${day(31)}T23:00:00Z` },
      { id: 31_002, store: 'east', amount: 1.0, status: 'placed', ts: `${day(31)}T00:00:01Z` },
      { id: 31_003, store: 'north', amount: 0, status: 'cancelled', ts: `${day(31)}T23:30:00Z` },
    ]);
    const result = await run();
    expect(result.models.map((m) => m.partitions)).toEqual([[day(31)], [day(31)]]);
    expect(await gold()).toEqual(oracle(sent));
    const ids = await cli(['--lake', lake, 'query', 'SELECT count(*) AS n, count(DISTINCT id) AS k FROM silver.sales WHERE id BETWEEN 31001 AND 31003', '--format', 'json'], project);
    expect(JSON.parse(ids.stdout)).toEqual([{ n: 2, k: 2 }]);
  });

  it('a key merge rewrites only the files holding the keys it replaces: new keys add a file, an update replaces just its file', async () => {
    const fresh = Array.from({ length: 10 }, (_, i) => ({ id: 31_500 + i, store: 'west', amount: 10 + i, status: 'placed' as const, ts: `${day(31)}T12:00:0${i}Z` }));
    await ingest(fresh);
    expect((await run()).models[0]?.partitions).toEqual([day(31)]);
    const inserted = await actionsOf('silver.sales', await versionOf('silver.sales'));
    expect(inserted.removes, 'new keys only: no existing file is rewritten').toEqual([]);
    expect(inserted.adds).toHaveLength(1);

    await ingest([{ id: 31_503, store: 'west', amount: 77, status: 'placed', ts: `${day(31)}T12:30:00Z` }]);
    expect((await run()).models[0]?.partitions).toEqual([day(31)]);
    const updated = await actionsOf('silver.sales', await versionOf('silver.sales'));
    expect(updated.removes, 'only the file that held id 31503').toEqual(inserted.adds);
    expect(updated.adds).toHaveLength(1);
    const live = await cli(['--lake', lake, 'query', "SELECT count(*) AS n, sum(amount) AS amount FROM silver.sales WHERE id BETWEEN 31500 AND 31509", '--format', 'json'], project);
    expect(JSON.parse(live.stdout)).toEqual([{ n: 10, amount: 10 * 10 + 45 - 13 + 77 }]);
    expect(await gold()).toEqual(oracle(sent));

    // An update and a new key in one run: the replaced file's rows keep a file of their own, the new key gets another.
    await ingest([
      { id: 31_504, store: 'west', amount: 5, status: 'placed', ts: `${day(31)}T12:40:00Z` },
      { id: 31_600, store: 'west', amount: 6, status: 'placed', ts: `${day(31)}T12:41:00Z` },
    ]);
    await run();
    const both = await actionsOf('silver.sales', await versionOf('silver.sales'));
    expect(both.removes).toEqual(updated.adds);
    expect(both.adds).toHaveLength(2);
    expect(await gold()).toEqual(oracle(sent));
  });

  it('events behind the lateness horizon are deferred, counted per partition, and leave cold partitions untouched', async () => {
    const late: Sale[] = [
      { id: 90_001, store: 'north', amount: 50, status: 'placed', ts: `${day(5)}T10:00:00Z` },
      { id: 90_002, store: 'east', amount: 70, status: 'placed', ts: `${day(12)}T10:00:00Z` },
      { id: 90_003, store: 'east', amount: 30, status: 'placed', ts: `${day(12)}T11:00:00Z` },
    ];
    const silverBefore = await versionOf('silver.sales');
    await ingest(late);
    const result = await run();
    const silver = result.models.find((m) => m.model === 'silver.sales');
    expect(silver?.deferred).toEqual({ [day(5)]: 1, [day(12)]: 2 });
    expect(silver?.partitions).toEqual([]);
    // the progress is recorded (so the next run does not count them again) but no data file changed
    expect(await versionOf('silver.sales')).toBe(silverBefore + 1);
    expect(await touched('silver.sales', silverBefore + 1)).toEqual([]);
    expect(differingDays(await gold(), oracle(sent))).toEqual([day(5), day(12)]);
    const again = await run();
    expect(again.models.map((m) => m.skipped)).toEqual([true, true]);
  });

  it('--full-refresh recomputes everything from bronze and equals the oracle, late events included', async () => {
    const result = await run(['--full-refresh']);
    expect(result.models.map((m) => [m.mode, m.partitions])).toEqual([
      ['full', 'all'],
      ['full', 'all'],
    ]);
    expect(await gold()).toEqual(oracle(sent));
  });

  it('a run killed with SIGKILL before its commit, then re-run, leaves the same tables as one clean run', async () => {
    const killedLake = join(dir, 'killed');
    const cleanLake = join(dir, 'clean');
    const history: Sale[] = [];
    for (let d = 1; d <= 5; d++) history.push(...salesOfDay(d, d * 1000));
    for (const root of [killedLake, cleanLake]) {
      await ingest(history, root);
      await run([], root);
      await ingest(salesOfDay(6, 6000), root);
    }
    await run([], cleanLake);
    // silver's run lands, then gold's is killed after writing its data files and again right before its commit
    await run(['silver.sales'], killedLake);
    for (const point of ['table.after-data-files', 'table.before-log-put']) {
      const child = spawnTs('bin/lakeloop.js', ['--lake', killedLake, 'run'], { LAKELOOP_FAILPOINTS: point }, project);
      expect(await child.exited).toBe('SIGKILL');
    }
    await run([], killedLake);
    expect(await gold(killedLake)).toEqual(await gold(cleanLake));
    expect(await versionOf('gold.daily', killedLake)).toBe(await versionOf('gold.daily', cleanLake));
    await rm(killedLake, { recursive: true, force: true });
    await rm(cleanLake, { recursive: true, force: true });
  }, 120_000);

  it('a model that gains a column: run keeps the published version (plan pending, non-breaking); apply adds and fills it everywhere', async () => {
    const wider = await writeProject(join(dir, 'wider'), {
      ...SALES_PROJECT,
      'sql/gold/daily.sql': SALES_PROJECT['sql/gold/daily.sql']!.replace('count(*) AS sales', 'count(*) AS sales, max(amount) AS biggest'),
    });
    await ingest(salesOfDay(31, 31_500).slice(0, 5));
    const result = await cli(['--lake', lake, 'run', '--json'], wider);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1) as string).pendingPlan).toEqual([{ model: 'gold.daily', change: 'non-breaking' }]);
    const filled = async (): Promise<{ d: string; n: number }[]> => {
      const q = await cli(['--lake', lake, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, count(biggest) AS n FROM gold.daily GROUP BY 1 HAVING count(biggest) > 0 ORDER BY 1', '--format', 'json'], wider);
      expect(q.code, q.stderr).toBe(0);
      return JSON.parse(q.stdout) as { d: string; n: number }[];
    };
    const before = await cli(['--lake', lake, 'query', 'SELECT * FROM gold.daily LIMIT 1', '--format', 'json'], wider);
    expect(Object.keys((JSON.parse(before.stdout) as Record<string, unknown>[])[0] ?? {})).not.toContain('biggest');
    const applied = await cli(['--lake', lake, 'apply', '--yes'], wider);
    expect(applied.code, applied.stderr).toBe(0);
    expect(await filled()).toHaveLength(31);
  }, 120_000);
});
