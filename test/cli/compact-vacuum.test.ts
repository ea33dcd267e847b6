import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { day, oracle, SALES_PROJECT, salesOfDay, type Sale } from '../fixtures/sales-project.js';
import { writeProject } from '../helpers/project.js';
import { cli, tempDir } from './cli-harness.js';

/**
 * `lakeloop compact` and `lakeloop vacuum` on the sales project (bronze.sales →
 * silver.sales incremental_by_key → gold.daily incremental_by_partition): five ingests
 * leave five small files in each of three bronze partitions; compaction merges them, the
 * next `run` sees no new data, vacuum deletes the merged files once past the retention.
 */
let dir: string;
let project: string;
let lake: string;
let remove: () => Promise<void>;
const sent: Sale[] = [];
/** bronze.sales' version before the first compaction. */
let versionBefore: number;

interface ModelRun {
  model: string;
  mode: string;
  skipped: boolean;
  partitions: string[] | 'all';
  deferred: Record<string, number>;
}

async function lakeloop(...args: string[]): ReturnType<typeof cli> {
  return cli(['--lake', lake, ...args], project);
}

async function gold(): Promise<string> {
  const run = await lakeloop('query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY ALL', '--format', 'json');
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

async function bronzeVersion(): Promise<number> {
  const run = await lakeloop('inspect', 'bronze.sales', '--json');
  expect(run.code, run.stderr).toBe(0);
  return run.json<{ version: number }>().version;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('compact-vacuum'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lake = join(dir, 'lake');
  for (let batch = 0; batch < 5; batch++) {
    const sales = [1, 2, 3].flatMap((d) => salesOfDay(d, d * 1000 + batch * 100).slice(0, 8));
    const file = join(dir, `batch-${batch}.ndjson`);
    await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
    const run = await lakeloop('ingest', 'sales', '--file', file);
    expect(run.code, run.stderr).toBe(0);
    sent.push(...sales);
  }
  const run = await lakeloop('run', '--json');
  expect(run.code, run.stderr).toBe(0);
}, 120_000);

afterAll(async () => remove?.());

describe('lakeloop compact', () => {
  let goldBefore: string;

  it('--help shows the verb and its options', async () => {
    const run = await lakeloop('compact', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: lakeloop compact [tables...] [--min-files N] [--json]');
    expect(run.stdout).toContain('--min-files <N>');
  });

  it('merges the small bronze files per partition in one commit and leaves the other tables alone', async () => {
    goldBefore = await gold();
    versionBefore = await bronzeVersion();
    const run = await lakeloop('compact', '--json');
    expect(run.code, run.stderr).toBe(0);
    const { tables, failures } = run.json<{ tables: Record<string, unknown>[]; failures: unknown[] }>();
    expect(failures).toEqual([]);
    expect(tables.map((t) => t['table'])).toEqual(['bronze.sales', 'gold.daily', 'silver.sales']);
    expect(tables[0]).toMatchObject({ committed: true, version: versionBefore + 1, partitions: 3, filesRewritten: 15, filesWritten: 3, filesBefore: 15, filesAfter: 3, rows: 120 });
    expect(tables.slice(1).map((t) => t['committed'])).toEqual([false, false]);
    expect(await bronzeVersion()).toBe(versionBefore + 1);
    const rows = await lakeloop('query', 'SELECT count(*) AS n, count(DISTINCT id) AS k FROM bronze.sales', '--format', 'json');
    expect(JSON.parse(rows.stdout)).toEqual([{ n: 120, k: 120 }]);
  });

  it('says there is nothing to compact the second time', async () => {
    const run = await lakeloop('compact', 'bronze.sales');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^bronze\.sales {2}nothing to compact \(3 files; no partition has 5 small files\)$/m);
    expect(await bronzeVersion()).toBe(versionBefore + 1);
  });

  it('the next run sees no new data: every model is up to date, nothing deferred, gold unchanged', async () => {
    const run = await lakeloop('run', '--json');
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<{ models: ModelRun[] }>();
    expect(models.map((m) => [m.model, m.skipped, m.partitions, m.deferred])).toEqual([
      ['silver.sales', true, [], {}],
      ['gold.daily', true, [], {}],
    ]);
    expect(await gold()).toBe(goldBefore);
    const human = await lakeloop('run');
    expect(human.stdout).toMatch(/^\s*\d+ of \d+ OK +silver\.sales\s+up to date +[\d.]+ s$/m);
  });

  it('new data after the compaction is picked up as usual', async () => {
    const late = salesOfDay(3, 3900).slice(0, 4);
    const file = join(dir, 'after-compaction.ndjson');
    await writeFile(file, `${late.map((s) => JSON.stringify(s)).join('\n')}\n`);
    expect((await lakeloop('ingest', 'sales', '--file', file)).code).toBe(0);
    sent.push(...late);
    const run = await lakeloop('run', '--json');
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<{ models: ModelRun[] }>();
    expect(models.map((m) => [m.model, m.mode, m.partitions])).toEqual([
      ['silver.sales', 'incremental', [day(3)]],
      ['gold.daily', 'incremental', [day(3)]],
    ]);
    const rows = JSON.parse(await gold()) as { d: string; store: string; revenue: number; sales: number | string }[];
    expect(new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]))).toEqual(oracle(sent));
  });

  it('rows ingested but not yet run when their files get compacted still reach the models', async () => {
    // three new sales and a newer version of one already run
    const updated = sent.find((s) => s.ts.startsWith(day(3))) as Sale;
    const more = [...salesOfDay(3, 3950).slice(0, 3), { ...updated, amount: 1.25, ts: `${day(3)}T23:59:00Z` }];
    const file = join(dir, 'before-compaction.ndjson');
    await writeFile(file, `${more.map((s) => JSON.stringify(s)).join('\n')}\n`);
    expect((await lakeloop('ingest', 'sales', '--file', file)).code).toBe(0);
    sent.push(...more);
    const compact = await lakeloop('compact', 'bronze.sales', '--min-files', '2', '--json');
    expect(compact.json<{ tables: { partitions: number; filesRewritten: number }[] }>().tables[0]).toMatchObject({ partitions: 1, filesRewritten: 3 });
    const run = await lakeloop('run', '--json');
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<{ models: ModelRun[] }>();
    expect(models.map((m) => [m.model, m.mode, m.partitions, m.deferred])).toEqual([
      ['silver.sales', 'incremental', [day(3)], {}],
      ['gold.daily', 'incremental', [day(3)], {}],
    ]);
    const rows = JSON.parse(await gold()) as { d: string; store: string; revenue: number; sales: number | string }[];
    expect(new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]))).toEqual(oracle(sent));
  });

  it('refuses unknown tables and a bad --min-files with exit code 2', async () => {
    const unknown = await lakeloop('compact', 'bronze.nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Cannot compact bronze\.nope: no such table/);
    expect(unknown.stderr).toMatch(/hint: Tables: bronze\.sales, gold\.daily, silver\.sales\./);
    const bad = await lakeloop('compact', '--min-files', '1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--min-files expects a whole number ≥ 2/);
  });
});

describe('lakeloop vacuum', () => {
  it('--help shows the verb and its options', async () => {
    const run = await lakeloop('vacuum', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: lakeloop vacuum [tables...] [--retention duration] [--dry-run] [--force] [--json]');
    expect(run.stdout).toContain('--force');
  });

  it('keeps the merged files while they are younger than the retention', async () => {
    const run = await lakeloop('vacuum', '--dry-run');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^dry run: nothing deleted; retention 168 h/m);
    expect(run.stdout).toMatch(/^bronze\.sales {2}nothing to delete; kept 18 newer unreferenced files/m);
  });

  it('refuses a retention under an hour without --force (exit 2)', async () => {
    const run = await lakeloop('vacuum', '--retention', '30m');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Refusing to vacuum the tables of .* with a retention of 0\.5 h/);
    expect(run.stderr).toMatch(/hint: .*--force/);
    const bad = await lakeloop('vacuum', '--retention', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--retention expects a duration/);
  });

  it('a dry run with --force lists the merged files; the real run deletes them; time travel before the compaction then fails clearly', async () => {
    const dry = await lakeloop('vacuum', 'bronze.sales', '--retention', '0h', '--force', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^bronze\.sales {2}would delete 18 files, .* \(18 removed files, 0 orphans\)$/m);
    expect(dry.stdout).toMatch(/^ {16}event_date=\d{4}-\d{2}-\d{2}\/part-.*\.parquet \(removed, .*\)$/m);

    const run = await lakeloop('vacuum', 'bronze.sales', '--retention', '0h', '--force', '--json');
    expect(run.code, run.stderr).toBe(0);
    const { tables } = run.json<{ tables: { table: string; deletedFiles: number; dryRun: boolean }[] }>();
    expect(tables).toEqual([expect.objectContaining({ table: 'bronze.sales', deletedFiles: 18, dryRun: false })]);

    const now = await lakeloop('query', 'SELECT count(*) AS n FROM bronze.sales', '--format', 'json');
    expect(JSON.parse(now.stdout)).toEqual([{ n: 128 }]);
    const past = await lakeloop('query', 'SELECT count(*) AS n FROM bronze.sales', '--as-of', String(versionBefore));
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(new RegExp(`bronze\\.sales at version ${versionBefore}: data file .*\\.parquet is missing .*probably vacuumed`));
    expect(past.stderr).toMatch(/hint: Time travel only reaches versions whose files vacuum kept/);
  });
});
