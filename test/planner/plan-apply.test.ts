import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { GOLD, oracle, SALES_PROJECT, salesOfDay, SILVER, type Sale } from '../fixtures/sales-project.js';

/**
 * `lakeloop plan` / `lakeloop apply` (SPEC §6 "Model versions") on the sales project
 * (bronze.sales → silver.sales incremental_by_key → gold.daily incremental_by_partition),
 * each case on its own lake: an edited model is never silently ignored, `run` keeps the
 * published version until apply, apply equals a from-scratch build of the new SQL and
 * leaves its upstream tables untouched.
 */
let root: string;
let remove: () => Promise<void>;
let n = 0;

interface PlanJson {
  models: { name: string; change: string; columns: { added: string[]; removed: string[]; retyped: { name: string; from: string; to: string }[] }; downstream: string[]; partitions: number; rebuild: boolean; rebuildFor: string[] }[];
  rebuild: string[];
  record: string[];
}

/** A fresh project (the sales project with `files` overriding) and lake, with `days` days of sales ingested and run. */
async function setup(files: Record<string, string> = {}, days = 3): Promise<{ project: string; lake: string; sent: Sale[] }> {
  const dir = join(root, `case-${++n}`);
  const project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, ...files });
  const lake = join(dir, 'lake');
  const sent: Sale[] = [];
  for (let d = 1; d <= days; d++) sent.push(...salesOfDay(d, d * 1000));
  await ingest(project, lake, sent, 'history');
  const run = await cli(['--lake', lake, 'run', '--json'], project);
  expect(run.code, run.stderr).toBe(0);
  return { project, lake, sent };
}

async function ingest(project: string, lake: string, sales: readonly Sale[], name: string): Promise<void> {
  const file = join(project, '..', `${name}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const run = await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project);
  expect(run.code, run.stderr).toBe(0);
}

async function plan(project: string, lake: string, models: string[] = []): Promise<PlanJson> {
  const run = await cli(['--lake', lake, 'plan', '--json', ...models], project);
  expect(run.code, run.stderr).toBe(0);
  return run.json<PlanJson>();
}

async function apply(project: string, lake: string, args: string[] = []): Promise<void> {
  const run = await cli(['--lake', lake, 'apply', '--yes', ...args], project);
  expect(run.code, run.stderr + run.stdout).toBe(0);
}

async function rows(project: string, lake: string, sql: string): Promise<Record<string, unknown>[]> {
  const run = await cli(['--lake', lake, 'query', sql, '--format', 'json'], project);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>[];
}

async function edit(project: string, file: string, text: string): Promise<void> {
  await writeFile(join(project, file), text);
}

async function versionOf(lake: string, table: string): Promise<number> {
  const names = await readdir(join(lake, ...table.split('.'), '_delta_log'));
  return Math.max(...names.filter((f) => f.endsWith('.json')).map((f) => Number(f.slice(0, 20))));
}

/** A from-scratch build: the same bronze, copied into a new lake, run with the project as it is now. */
async function fromScratch(project: string, lake: string): Promise<string> {
  const fresh = `${lake}-scratch-${++n}`;
  await cp(join(lake, 'bronze'), join(fresh, 'bronze'), { recursive: true });
  const run = await cli(['--lake', fresh, 'run', '--json'], project);
  expect(run.code, run.stderr).toBe(0);
  return fresh;
}

/** A table's schema and partitioning, from its log. */
async function definitionOf(lake: string, table: string): Promise<{ columns: Record<string, unknown>; partitionColumns: readonly string[] }> {
  const engine = await Engine.create({ threads: 1 });
  try {
    const store = await LocalObjectStore.create(lake);
    const snapshot = await (await (await Lake.open({ store, engine, checkpointCache: null })).table(table)).snapshot();
    return { columns: Object.fromEntries(snapshot.schema.fields.map((f) => [f.name, f.type])), partitionColumns: snapshot.partitionColumns };
  } finally {
    await engine.close();
  }
}

const SILVER_ROWS = 'SELECT id, store, amount, status, CAST(sale_date AS VARCHAR) AS d FROM silver.sales ORDER BY id';
const GOLD_ROWS = 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY 1, 2';

beforeAll(async () => {
  ({ dir: root, remove } = await tempDir('plan-apply'));
});

afterAll(async () => remove());

describe('a breaking value change: plan, run keeps the published logic, apply, revert', () => {
  it('is planned as breaking with its downstream, held back by run, applied, and reverted by a second apply', async () => {
    const { project, lake, sent } = await setup();
    const before = await rows(project, lake, SILVER_ROWS);
    const edited = SILVER.replace('SELECT id, store, amount,', 'SELECT id, store, amount * 1000 AS amount,');
    expect(edited).not.toBe(SILVER);
    await edit(project, 'sql/silver/sales.sql', edited);

    const planned = await plan(project, lake);
    const silver = planned.models.find((m) => m.name === 'silver.sales');
    const gold = planned.models.find((m) => m.name === 'gold.daily');
    expect(silver).toMatchObject({ change: 'breaking', downstream: ['gold.daily'], rebuild: true, partitions: 3 });
    expect(silver?.columns).toEqual({ added: [], removed: [], retyped: [] });
    expect(gold).toMatchObject({ change: 'unchanged', rebuild: true, rebuildFor: ['silver.sales'], partitions: 3 });
    expect(planned.rebuild).toEqual(['silver.sales', 'gold.daily']);

    // Until apply, run keeps the published SQL (new rows too) and says a plan is pending.
    const day4 = salesOfDay(4, 4000);
    sent.push(...day4);
    await ingest(project, lake, day4, 'day4');
    const run = await cli(['--lake', lake, 'run'], project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/plan pending: silver\.sales \(breaking\).*lakeloop plan \/ lakeloop apply/);
    expect(run.stdout).not.toMatch(/^gold\.daily\s+up to date$/m);
    const json = await cli(['--lake', lake, 'run', '--json'], project);
    expect(json.json<{ pendingPlan: unknown }>().pendingPlan).toEqual([{ model: 'silver.sales', change: 'breaking' }]);
    const held = await rows(project, lake, SILVER_ROWS);
    expect(held.slice(0, before.length)).toEqual(before);
    expect(held.find((r) => r['id'] === 4000)?.['amount']).toBe(day4[0]?.amount);
    // gold still equals the oracle of the published logic
    const goldBefore = await rows(project, lake, GOLD_ROWS);
    expect(goldBefore.length).toBe(oracle(sent).size);

    const bronzeVersion = await versionOf(lake, 'bronze.sales');
    await apply(project, lake);
    expect(await versionOf(lake, 'bronze.sales')).toBe(bronzeVersion);
    const scratch = await fromScratch(project, lake);
    expect(await rows(project, lake, SILVER_ROWS)).toEqual(await rows(project, scratch, SILVER_ROWS));
    expect(await rows(project, lake, GOLD_ROWS)).toEqual(await rows(project, scratch, GOLD_ROWS));
    expect((await rows(project, lake, SILVER_ROWS)).find((r) => r['id'] === 4000)?.['amount']).toBe((day4[0]?.amount ?? 0) * 1000);
    expect((await plan(project, lake)).rebuild).toEqual([]);
    const after = await cli(['--lake', lake, 'run'], project);
    expect(after.stdout).not.toMatch(/plan pending/);

    // Reverting the SQL is a change like any other.
    await edit(project, 'sql/silver/sales.sql', SILVER);
    const reverted = await plan(project, lake);
    expect(reverted.models.find((m) => m.name === 'silver.sales')?.change).toBe('breaking');
    await apply(project, lake);
    const original = await fromScratch(project, lake);
    expect(await rows(project, lake, SILVER_ROWS)).toEqual(await rows(project, original, SILVER_ROWS));
    expect(await rows(project, lake, GOLD_ROWS)).toEqual(await rows(project, original, GOLD_ROWS));
    expect(await versionOf(lake, 'bronze.sales')).toBe(bronzeVersion);
  }, 180_000);
});

describe('change kinds and schema changes', () => {
  it('a comment- or whitespace-only edit is unchanged; run does not say a plan is pending', async () => {
    const { project, lake } = await setup({}, 2);
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('GROUP BY sale_date, store', '-- per day and store\nGROUP   BY sale_date,\n   store  /* same */'));
    const planned = await plan(project, lake);
    expect(planned.models.map((m) => [m.name, m.change])).toEqual([
      ['silver.sales', 'unchanged'],
      ['gold.daily', 'unchanged'],
    ]);
    expect(planned.rebuild).toEqual([]);
    const run = await cli(['--lake', lake, 'run'], project);
    expect(run.stdout).not.toMatch(/plan pending/);
  }, 120_000);

  it('a column added is non-breaking (no downstream); apply fills it for every row; a metadata-only edit is recorded without a rebuild', async () => {
    const { project, lake } = await setup({}, 2);
    await edit(project, 'sql/silver/sales.sql', SILVER.replace('SELECT id, store, amount,', 'SELECT id, store, amount, upper(store) AS store_code,'));
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('lateness: 2h', 'lateness: 3h\nowner: finance'));
    const planned = await plan(project, lake);
    expect(planned.models.find((m) => m.name === 'silver.sales')).toMatchObject({ change: 'non-breaking', downstream: [], rebuild: true, columns: { added: ['store_code'], removed: [], retyped: [] } });
    expect(planned.models.find((m) => m.name === 'gold.daily')).toMatchObject({ change: 'metadata', rebuild: false });
    expect(planned.rebuild).toEqual(['silver.sales']);
    expect(planned.record).toEqual(['gold.daily']);
    const goldVersion = await versionOf(lake, 'gold.daily');
    await apply(project, lake);
    const nulls = await rows(project, lake, 'SELECT count(*) AS n FROM silver.sales WHERE store_code IS NULL OR store_code <> upper(store)');
    expect(Number(nulls[0]?.['n'])).toBe(0);
    // the metadata change is one commit with no files
    expect(await versionOf(lake, 'gold.daily')).toBe(goldVersion + 1);
    const log = await readFile(join(lake, 'gold', 'daily', '_delta_log', `${String(goldVersion + 1).padStart(20, '0')}.json`), 'utf8');
    expect(log).not.toMatch(/"add"|"remove"/);
    const again = await plan(project, lake);
    expect(again.models.map((m) => m.change)).toEqual(['unchanged', 'unchanged']);
  }, 120_000);

  it('a removed and a retyped column are breaking with the schema diff; apply drops and retypes them in the table', async () => {
    const { project, lake } = await setup({}, 2);
    const silverVersion = await versionOf(lake, 'silver.sales');
    const bronzeVersion = await versionOf(lake, 'bronze.sales');
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('round(sum(amount), 2) AS revenue, count(*) AS sales', 'CAST(round(sum(amount), 2) AS DECIMAL(12,2)) AS revenue'));
    const planned = await plan(project, lake);
    const gold = planned.models.find((m) => m.name === 'gold.daily');
    expect(gold).toMatchObject({ change: 'breaking', downstream: [], rebuild: true });
    expect(gold?.columns).toEqual({ added: [], removed: ['sales'], retyped: [{ name: 'revenue', from: 'double', to: 'decimal(12,2)' }] });
    expect(planned.rebuild).toEqual(['gold.daily']);
    await apply(project, lake);
    const definition = await definitionOf(lake, 'gold.daily');
    expect(definition.columns).toEqual({ sale_date: 'date', store: 'string', revenue: 'decimal(12,2)' });
    // upstream tables untouched by apply
    expect(await versionOf(lake, 'silver.sales')).toBe(silverVersion);
    expect(await versionOf(lake, 'bronze.sales')).toBe(bronzeVersion);
    const scratch = await fromScratch(project, lake);
    const sql = 'SELECT CAST(sale_date AS VARCHAR) AS d, store, CAST(revenue AS VARCHAR) AS revenue FROM gold.daily ORDER BY 1, 2';
    expect(await rows(project, lake, sql)).toEqual(await rows(project, scratch, sql));
    // and the next run goes on incrementally with the new definition
    const run = await cli(['--lake', lake, 'run', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
  }, 120_000);

  it('a new partition_by re-lays the table out', async () => {
    const { project, lake } = await setup({}, 2);
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('kind: incremental_by_partition\npartition_by: sale_date', 'kind: full\npartition_by: store'));
    const planned = await plan(project, lake);
    expect(planned.models.find((m) => m.name === 'gold.daily')).toMatchObject({ change: 'breaking', rebuild: true, partitionBy: { from: ['sale_date'], to: ['store'] } });
    await apply(project, lake);
    expect((await definitionOf(lake, 'gold.daily')).partitionColumns).toEqual(['store']);
    const folders = (await readdir(join(lake, 'gold', 'daily'))).filter((f) => f.includes('=')).sort();
    expect(folders.filter((f) => f.startsWith('store='))).toEqual(['store=east', 'store=north', 'store=south']);
    const scratch = await fromScratch(project, lake);
    expect(await rows(project, lake, GOLD_ROWS)).toEqual(await rows(project, scratch, GOLD_ROWS));
  }, 120_000);
});

/** Makes a lake look built before fingerprints: every commit's modelVersion record removed. */
async function forgetVersions(lake: string, table: string): Promise<void> {
  const dir = join(lake, ...table.split('.'), '_delta_log');
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
    const lines = (await readFile(join(dir, name), 'utf8')).trim().split('\n').map((line) => {
      const action = JSON.parse(line) as { commitInfo?: { lakeloop?: { modelVersion?: unknown } } };
      if (action.commitInfo?.lakeloop) delete action.commitInfo.lakeloop.modelVersion;
      return JSON.stringify(action);
    });
    await writeFile(join(dir, name), `${lines.join('\n')}\n`);
  }
}

describe('tables built before fingerprints', () => {
  it('adopt the current file silently: plan says unchanged, run uses the file and records its version; later edits are planned', async () => {
    const { project, lake, sent } = await setup({}, 2);
    await forgetVersions(lake, 'silver.sales');
    await forgetVersions(lake, 'gold.daily');
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('count(*) AS sales', 'count(*) * 10 AS sales'));
    const planned = await plan(project, lake);
    expect(planned.models.map((m) => m.change)).toEqual(['unchanged', 'unchanged']);
    const day3 = salesOfDay(3, 3000);
    sent.push(...day3);
    await ingest(project, lake, day3, 'day3');
    const run = await cli(['--lake', lake, 'run'], project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/plan pending/);
    const newest = await rows(project, lake, "SELECT sales FROM gold.daily WHERE sale_date = DATE '2026-03-03' ORDER BY store");
    expect(newest.map((r) => Number(r['sales']) % 10)).toEqual([0, 0, 0]);
    // the run's commit recorded the adopted file: the next edit is a change again
    await edit(project, 'sql/gold/daily.sql', GOLD);
    expect((await plan(project, lake)).models.find((m) => m.name === 'gold.daily')?.change).toBe('breaking');
  }, 120_000);
});

describe('added and removed models, trailing comments, confirmation', () => {
  it('a new model is added (run builds it); a removed model file is listed as removed and apply keeps its table', async () => {
    const { project, lake } = await setup({}, 2);
    await edit(project, 'sql/gold/stores.sql', 'SELECT store, count(*) AS n FROM silver.sales GROUP BY store -- one row per store');
    let planned = await plan(project, lake);
    expect(planned.models.find((m) => m.name === 'gold.stores')).toMatchObject({ change: 'added', rebuild: true });
    const run = await cli(['--lake', lake, 'run'], project);
    expect(run.code, run.stderr).toBe(0);
    expect((await plan(project, lake)).models.find((m) => m.name === 'gold.stores')?.change).toBe('unchanged');

    await rm(join(project, 'sql', 'gold', 'stores.sql'));
    planned = await plan(project, lake);
    expect(planned.models.find((m) => m.name === 'gold.stores')).toMatchObject({ change: 'removed', rebuild: false, partitions: 1 });
    const text = await cli(['--lake', lake, 'plan'], project);
    expect(text.stdout).toMatch(/gold\.stores\s+removed/);
    const version = await versionOf(lake, 'gold.stores');
    await apply(project, lake);
    expect(await versionOf(lake, 'gold.stores')).toBe(version);
  }, 120_000);

  it('plan on a lake that has nothing yet lists every model as added, reading no source', async () => {
    const project = await writeProject(join(root, 'empty', 'project'), SALES_PROJECT);
    const planned = await plan(project, join(root, 'empty', 'lake'));
    expect(planned.models.map((m) => [m.name, m.change, m.rebuild])).toEqual([
      ['silver.sales', 'added', true],
      ['gold.daily', 'added', true],
    ]);
  }, 60_000);

  it('a model whose SQL ends with a -- comment works in plan and apply', async () => {
    const withComment = `${GOLD.trimEnd()} -- trailing comment`;
    const { project, lake } = await setup({ 'sql/gold/daily.sql': withComment }, 2);
    await edit(project, 'sql/gold/daily.sql', withComment.replace('count(*) AS sales', 'count(*) * 1000 AS sales'));
    const planned = await plan(project, lake);
    expect(planned.models.find((m) => m.name === 'gold.daily')?.change).toBe('breaking');
    // run keeps the published SQL, comment and all
    const run = await cli(['--lake', lake, 'run'], project);
    expect(run.code, run.stderr).toBe(0);
    await apply(project, lake);
    const sales = await rows(project, lake, 'SELECT min(sales) AS s FROM gold.daily');
    expect(Number(sales[0]?.['s']) % 1000).toBe(0);
    expect(Number(sales[0]?.['s'])).toBeGreaterThan(0);
  }, 120_000);

  it('a rebuild that fails its data tests publishes nothing (exit 1) and stays pending', async () => {
    const { project, lake } = await setup({}, 1);
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('count(*) AS sales', 'count(*) - 100 AS sales').replace('tests:', 'tests:\n  - expression: sales >= 0'));
    const version = await versionOf(lake, 'gold.daily');
    const failed = await cli(['--lake', lake, 'apply', '--yes'], project);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/expression\(sales >= 0\)/);
    expect(await versionOf(lake, 'gold.daily')).toBe(version);
    expect((await plan(project, lake)).models.find((m) => m.name === 'gold.daily')?.change).toBe('breaking');
  }, 120_000);

  it('run <model> --full-refresh rebuilds that model only and reads what it reads as published', async () => {
    const { project, lake } = await setup({}, 1);
    const silver = await versionOf(lake, 'silver.sales');
    const run = await cli(['--lake', lake, 'run', 'gold.daily', '--full-refresh', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    const models = run.json<{ models: { model: string; mode: string }[] }>().models;
    expect(models.map((m) => [m.model, m.mode])).toEqual([['gold.daily', 'full']]);
    expect(await versionOf(lake, 'silver.sales')).toBe(silver);
  }, 60_000);

  it('plan and apply are listed by --help', async () => {
    const help = await cli(['--help'], root);
    expect(help.code).toBe(0);
    expect(help.stdout.replace(/\n {6}\[/g, ' [')).toMatch(/^ {2}plan \[models\.\.\.\] \[--exclude selector\.\.\.\] \[--json\]$/m);
    expect(help.stdout).toMatch(/^ {2}apply \[models\.\.\.\] \[--exclude selector\.\.\.\] \[--yes\] \[--dry-run\] \[--json\]$/m);
  });

  it('apply without a terminal and without --yes refuses (exit 2); --dry-run changes nothing', async () => {
    const { project, lake } = await setup({}, 1);
    await edit(project, 'sql/gold/daily.sql', GOLD.replace('count(*) AS sales', 'count(*) + 1 AS sales'));
    const version = await versionOf(lake, 'gold.daily');
    const refused = await cli(['--lake', lake, 'apply'], project);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    const dry = await cli(['--lake', lake, 'apply', '--dry-run'], project);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/gold\.daily\s+breaking/);
    expect(await versionOf(lake, 'gold.daily')).toBe(version);
  }, 120_000);
});
