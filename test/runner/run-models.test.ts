import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/cli-harness.js';
import { PROJECT_ROOT } from '../helpers/child.js';

/**
 * `lakeloop run` on the default project (sql/silver/orders.sql, sql/gold/daily_revenue.sql):
 * the gold table must equal a hand-written query over the distinct raw input (the oracle).
 */
let dir: string;
let remove: () => Promise<void>;
let lake: string;

interface RawOrder {
  order_id: string;
  status: string;
  amount: number;
  currency: string;
  country: string;
  order_ts: string;
}

const order = (o: RawOrder): string => JSON.stringify({ customer_id: 'c1', item_count: 1, ...o });

const FIRST: RawOrder[] = [
  { order_id: 'ord_1', status: 'placed', amount: 10, currency: 'EUR', country: 'DE', order_ts: '2026-10-01T09:00:00Z' },
  { order_id: 'ord_1', status: 'paid', amount: 10, currency: 'EUR', country: 'DE', order_ts: '2026-10-01T09:05:00Z' },
  { order_id: 'ord_2', status: 'paid', amount: 20.25, currency: 'EUR', country: 'DE', order_ts: '2026-10-01T23:30:00-02:00' },
  { order_id: 'ord_3', status: 'shipped', amount: 7.5, currency: 'USD', country: 'US', order_ts: '2026-10-01T12:00:00Z' },
  { order_id: 'ord_4', status: 'cancelled', amount: 99, currency: 'EUR', country: 'FR', order_ts: '2026-10-01T12:00:00Z' },
  { order_id: 'ord_5', status: 'paid', amount: 5, currency: 'EUR', country: 'FR', order_ts: '2026-10-02T01:00:00+01:00' },
];
const SECOND: RawOrder[] = [
  { order_id: 'ord_4', status: 'paid', amount: 99, currency: 'EUR', country: 'FR', order_ts: '2026-10-01T12:30:00Z' },
  { order_id: 'ord_6', status: 'shipped', amount: 3, currency: 'EUR', country: 'DE', order_ts: '2026-10-02T08:00:00Z' },
];

/** The oracle: the expected gold rows, computed by DuckDB from the raw files only. */
function oracleSql(files: readonly string[]): string {
  return `
    WITH raw AS (SELECT DISTINCT order_id, status, amount, currency, country, CAST(order_ts AS TIMESTAMPTZ) AS ts
                 FROM read_json_auto([${files.map((f) => `'${f}'`).join(', ')}])),
         latest AS (SELECT * FROM raw QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ts DESC) = 1)
    SELECT CAST(timezone('UTC', ts) AS DATE)::VARCHAR AS d, country, currency, round(sum(amount), 2) AS revenue, count(*) AS n
    FROM latest WHERE status IN ('paid', 'shipped') GROUP BY ALL ORDER BY ALL`;
}

/** The default project's models this file checks (the others have oracle tests in test/oracle/). */
const ORDER_MODELS = ['silver.orders', 'gold.daily_revenue'];

const GOLD = `SELECT order_date::VARCHAR AS d, country, currency, revenue, orders AS n FROM gold.daily_revenue ORDER BY ALL`;

async function query(sql: string): Promise<unknown[]> {
  const run = await cli(['--lake', lake, 'query', sql, '--format', 'json'], PROJECT_ROOT);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as unknown[];
}

async function ingest(name: string, orders: readonly RawOrder[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${orders.map(order).join('\n')}\n`);
  const run = await cli(['--lake', lake, 'ingest', 'orders', '--file', file], PROJECT_ROOT);
  expect(run.code, run.stderr).toBe(0);
  return file;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('runner'));
  lake = join(dir, 'lake');
});

afterAll(async () => remove());

describe('lakeloop run (full models)', () => {
  const files: string[] = [];

  it('builds silver.orders and gold.daily_revenue, and gold equals the oracle', async () => {
    files.push(await ingest('orders-1.ndjson', FIRST));
    // a re-delivery of the same records under another key: duplicates in bronze must not count twice
    files.push(await ingest('orders-1-again.ndjson', FIRST.slice(0, 3)));
    const run = await cli(['--lake', lake, 'run'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\d+ of \d+ OK +silver\.orders\s+5 rows, \d+ files?, .* \(version 1\) +[\d.]+ s$/m);
    expect(run.stdout).toMatch(/^\d+ of \d+ OK +gold\.daily_revenue\s+\d+ rows?, \d+ files?/m);
    expect(run.stdout.indexOf('silver.orders')).toBeLessThan(run.stdout.indexOf('gold.daily_revenue'));
    const gold = await query(GOLD);
    expect(gold).toEqual(await query(oracleSql(files)));
    expect(gold).toContainEqual({ d: '2026-10-02', country: 'DE', currency: 'EUR', revenue: 20.25, n: 1 });
  });

  it('records the upstream versions consumed in the commit', async () => {
    const log = await readFile(join(lake, 'gold', 'daily_revenue', '_delta_log', '00000000000000000001.json'), 'utf8');
    const commitInfo = log
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { commitInfo?: { lakeloop?: unknown } })
      .find((action) => action.commitInfo)?.commitInfo;
    expect(commitInfo?.lakeloop).toMatchObject({ model: 'gold.daily_revenue', kind: 'incremental_by_partition', upstream: { 'silver.orders': 1 }, mode: 'full' });
  });

  it('a second run commits nothing: up to date', async () => {
    const run = await cli(['--lake', lake, 'run', '--json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<{ models: { model: string; skipped: boolean; version: number }[] }>();
    expect(models.filter((m) => ORDER_MODELS.includes(m.model))).toEqual([
      expect.objectContaining({ model: 'silver.orders', skipped: true, version: 1 }),
      expect.objectContaining({ model: 'gold.daily_revenue', skipped: true, version: 1 }),
    ]);
    expect(models.filter((m) => !m.skipped)).toEqual([]);
    const human = await cli(['--lake', lake, 'run'], PROJECT_ROOT);
    expect(human.stdout).toMatch(/^\s*\d+ of \d+ OK +silver\.orders\s+up to date +[\d.]+ s$/m);
    expect(human.stdout).toMatch(/^\s*\d+ of \d+ OK +gold\.daily_revenue\s+up to date +[\d.]+ s$/m);
  });

  it('more input, another run: gold is updated and still equals the oracle', async () => {
    files.push(await ingest('orders-2.ndjson', SECOND));
    const run = await cli(['--lake', lake, 'run', '--json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<{ models: { model: string; skipped: boolean; version: number }[] }>();
    expect(models.filter((m) => ORDER_MODELS.includes(m.model)).map((m) => [m.model, m.skipped, m.version])).toEqual([
      ['silver.orders', false, 2],
      ['gold.daily_revenue', false, 2],
    ]);
    expect(await query(GOLD)).toEqual(await query(oracleSql(files)));
  });

  it('runs only the named model; --full-refresh recomputes', async () => {
    const run = await cli(['--lake', lake, 'run', 'silver.orders', '--full-refresh', '--json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<{ models: { model: string; skipped: boolean }[] }>();
    expect(models).toEqual([expect.objectContaining({ model: 'silver.orders', skipped: false })]);
    const unknown = await cli(['--lake', lake, 'run', 'gold.nope'], PROJECT_ROOT);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown model gold.nope');
  });
});

describe('lakeloop test (default models)', () => {
  it('the data tests of silver.orders and gold.daily_revenue pass on the published tables', async () => {
    const run = await cli(['--lake', lake, 'test', '--json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const report = run.json<{ tests: { model: string; test: string; status: string }[]; failed: number }>();
    expect(report.failed).toBe(0);
    // The orders of October 2026 are older than the 2h freshness SLO: a warning, not a failure.
    expect(report.tests.filter((t) => ORDER_MODELS.includes(t.model)).map((t) => `${t.model} ${t.test} ${t.status}`)).toEqual([
      'silver.orders not_null(order_id, order_date) pass',
      'silver.orders unique(order_id) pass',
      'silver.orders accepted_values(status) pass',
      'silver.orders freshness(order_ts, max_age 2h) warn',
      'gold.daily_revenue not_null(order_date, country, currency) pass',
      'gold.daily_revenue unique(order_date, country, currency) pass',
      'gold.daily_revenue expression(revenue >= 0) pass',
      'gold.daily_revenue expression(orders > 0) pass',
      'gold.daily_revenue row_count(min 1) pass',
      'gold.daily_revenue sql(tests/daily_revenue_reconciles.sql) pass',
    ]);
  });
});

describe('lakeloop lineage', () => {
  it('text: one edge per line', async () => {
    const run = await cli(['--lake', lake, 'lineage'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toContain('source:orders -> bronze.orders');
    expect(lines).toContain('bronze.orders -> silver.orders');
    expect(lines).toContain('silver.orders -> gold.daily_revenue');
  });

  it('mermaid: a graph LR with the edges', async () => {
    const run = await cli(['--lake', lake, 'lineage', '--format', 'mermaid'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('graph LR');
    expect(run.stdout).toContain('  bronze_orders --> silver_orders');
    expect(run.stdout).toContain('  silver_orders --> gold_daily_revenue');
  });

  it('json: nodes and edges', async () => {
    const run = await cli(['--lake', lake, 'lineage', '--format', 'json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const graph = run.json<{ nodes: { id: string; kind: string }[]; edges: { from: string; to: string }[] }>();
    expect(graph.nodes).toContainEqual({ id: 'gold.daily_revenue', kind: 'model' });
    expect(graph.nodes).toContainEqual({ id: 'bronze.orders', kind: 'table' });
    expect(graph.edges).toContainEqual({ from: 'bronze.orders', to: 'silver.orders' });
  });
});

describe('run before anything was ingested', () => {
  it('builds empty models over an empty bronze table instead of failing', async () => {
    const empty = join(dir, 'empty-lake');
    const run = await cli(['--lake', empty, 'run', '--json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    const models = run.json<{ models: { model: string; rows: number }[] }>().models;
    expect(models.filter((m) => ORDER_MODELS.includes(m.model)).map((m) => [m.model, m.rows])).toEqual([
      ['silver.orders', 0],
      ['gold.daily_revenue', 0],
    ]);
    expect(models.filter((m) => m.rows !== 0)).toEqual([]);
    const gold = await cli(['--lake', empty, 'query', 'select count(*) as n from gold.daily_revenue', '--format', 'csv'], PROJECT_ROOT);
    expect(gold.stdout).toBe('n\n0\n');
  });
});
