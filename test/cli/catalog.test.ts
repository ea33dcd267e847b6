import { copyFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp } from 'node:fs/promises';
import { Engine } from '../../src/engine/index.js';
import { writeCatalog } from '../../src/query/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { cli, tempDir } from './cli-harness.js';

/** The analyst catalog: lake/catalog.duckdb, one view per table over the current snapshot, refreshed after each commit. */
let dir: string;
let remove: () => Promise<void>;

const order = (id: string, day: string): string =>
  JSON.stringify({ order_id: id, customer_id: 'c1', status: 'paid', amount: 10, currency: 'EUR', country: 'DE', item_count: 1, order_ts: `${day}T10:00:00Z` });

async function catalogRows(lake: string, sql: string): Promise<Record<string, unknown>[]> {
  const engine = await Engine.create({ databasePath: join(lake, 'catalog.duckdb'), threads: 1 });
  try {
    return await engine.all(sql);
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('lakeloop-catalog-'));
});

afterAll(async () => remove());

describe('lake/catalog.duckdb', () => {
  it('shows every table after ingest and run, and follows new commits', async () => {
    const lake = join(dir, 'lake');
    const first = join(dir, 'a.ndjson');
    await writeFile(first, `${order('ord_1', '2026-10-01')}\n${order('ord_2', '2026-10-02')}\n`);
    expect((await cli(['--lake', lake, 'ingest', 'orders', '--file', first], PROJECT_ROOT)).code).toBe(0);
    expect(await catalogRows(lake, 'SELECT count(*) AS n FROM bronze.orders')).toEqual([{ n: '2' }]);

    expect((await cli(['--lake', lake, 'run'], PROJECT_ROOT)).code).toBe(0);
    expect(await catalogRows(lake, 'SELECT sum(orders) AS n FROM gold.daily_revenue')).toEqual([{ n: '2' }]);

    const second = join(dir, 'b.ndjson');
    await writeFile(second, `${order('ord_3', '2026-10-03')}\n`);
    await cli(['--lake', lake, 'ingest', 'orders', '--file', second], PROJECT_ROOT);
    await cli(['--lake', lake, 'run'], PROJECT_ROOT);
    expect(await catalogRows(lake, 'SELECT sum(orders) AS n FROM gold.daily_revenue')).toEqual([{ n: '3' }]);
    const tables = await catalogRows(lake, 'SELECT table_schema || \'.\' || table_name AS t FROM information_schema.tables ORDER BY 1');
    // run builds every model of the default project (over empty bronze tables for the sources without data)
    expect(tables.map((r) => r['t'])).toEqual([
      'bronze.orders',
      'bronze.page_views',
      'bronze.payments',
      'gold.customer_lifetime_value',
      'gold.daily_revenue',
      'gold.order_funnel',
      // The model tables' partition status (the state at the refresh, see README "Partition status").
      'lakeloop.partition_status',
      'silver.order_events',
      'silver.orders',
      'silver.page_views',
      'silver.payments',
    ]);
    expect(await catalogRows(lake, "SELECT partition, status FROM lakeloop.partition_status WHERE table_name = 'gold.daily_revenue' ORDER BY 1")).toEqual([
      { partition: '2026-10-01', status: 'exact' },
      { partition: '2026-10-02', status: 'exact' },
      { partition: '2026-10-03', status: 'provisional' },
    ]);
    // A run with nothing new opens a copy of the catalog early and throws it away: nothing is left behind.
    const before = await catalogRows(lake, 'SELECT count(*) AS n FROM gold.daily_revenue');
    expect((await cli(['--lake', lake, 'run'], PROJECT_ROOT)).code).toBe(0);
    expect((await readdir(lake)).filter((f) => f.includes('catalog.duckdb.'))).toEqual([]);
    expect(await catalogRows(lake, 'SELECT count(*) AS n FROM gold.daily_revenue')).toEqual(before);
  });

  it('a refresh rebinds only the views whose table changed, keeps views it did not write, and rebinds all of a moved lake', async () => {
    const lake = join(dir, 'lake-refresh');
    const file = join(dir, 'c.ndjson');
    await writeFile(file, `${order('ord_1', '2026-10-01')}\n`);
    expect((await cli(['--lake', lake, 'ingest', 'orders', '--file', file], PROJECT_ROOT)).code).toBe(0);
    expect((await cli(['--lake', lake, 'run'], PROJECT_ROOT)).code).toBe(0);
    const catalog = join(lake, 'catalog.duckdb');
    const comments = await catalogRows(lake, `SELECT schema_name || '.' || view_name AS v, comment FROM duckdb_views() WHERE view_name = 'orders' ORDER BY 1`);
    expect(comments.map((r) => r['v'])).toEqual(['bronze.orders', 'silver.orders']);
    expect(String(comments[0]?.['comment'])).toMatch(/^lakeloop: bronze\.orders version \d+ in /);
    // An analyst's own view in the catalog.
    const engine = await Engine.create({ databasePath: catalog, threads: 1 });
    await engine.run(`CREATE VIEW main.big_orders AS SELECT * FROM silver.orders WHERE amount > 5`);
    await engine.close();

    const open = async (root: string): Promise<{ lake: Lake; close: () => Promise<void> }> => {
      const e = await Engine.create({ threads: 1 });
      return { lake: await Lake.open({ store: await LocalObjectStore.create(root), engine: e }), close: () => e.close() };
    };
    const same = await open(lake);
    expect(await writeCatalog(same.lake, catalog)).toMatchObject({ tables: 10, rebound: 0 });
    await same.close();
    expect(await catalogRows(lake, 'SELECT count(*) AS n FROM main.big_orders')).toEqual([{ n: '1' }]);

    await writeFile(file, `${order('ord_2', '2026-10-02')}\n`);
    expect((await cli(['--lake', lake, 'ingest', 'orders', '--file', file, '--idempotency-key', 'second'], PROJECT_ROOT)).code).toBe(0);
    // ingest refreshed the catalog itself; a commit made through the API is picked up by the next refresh, alone.
    expect(await catalogRows(lake, 'SELECT count(*) AS n FROM bronze.orders')).toEqual([{ n: '2' }]);
    const after = await open(lake);
    const bronze = await after.lake.table('bronze.orders');
    await bronze.append(`SELECT * FROM (${await (await bronze.snapshot()).scanSql(after.lake.store)}) LIMIT 1`);
    expect(await writeCatalog(after.lake, catalog)).toMatchObject({ tables: 10, rebound: 1 });
    await after.close();
    expect(await catalogRows(lake, 'SELECT count(*) AS n FROM bronze.orders')).toEqual([{ n: '3' }]);

    const moved = join(dir, 'lake-moved');
    await cp(lake, moved, { recursive: true });
    const there = await open(moved);
    expect(await writeCatalog(there.lake, join(moved, 'catalog.duckdb'))).toMatchObject({ tables: 10, rebound: 10 });
    await there.close();
    const paths = await catalogRows(moved, `SELECT sql FROM duckdb_views() WHERE view_name = 'orders' AND schema_name = 'bronze'`);
    expect(String(paths[0]?.['sql'])).toContain(moved);
  });

  it('run and reconcile repair a stale catalog even when they commit nothing', async () => {
    const lake = join(dir, 'lake-stale');
    const file = join(dir, 'd.ndjson');
    await writeFile(file, `${order('ord_1', '2026-10-01')}\n`);
    expect((await cli(['--lake', lake, 'ingest', 'orders', '--file', file], PROJECT_ROOT)).code).toBe(0);
    expect((await cli(['--lake', lake, 'run'], PROJECT_ROOT)).code).toBe(0);
    const catalog = join(lake, 'catalog.duckdb');
    const old = join(dir, 'stale-catalog.duckdb');
    await copyFile(catalog, old);
    await writeFile(file, `${order('ord_2', '2026-10-02')}\n`);
    expect((await cli(['--lake', lake, 'ingest', 'orders', '--file', file, '--idempotency-key', 'two'], PROJECT_ROOT)).code).toBe(0);
    expect((await cli(['--lake', lake, 'run'], PROJECT_ROOT)).code).toBe(0);

    // A catalog left behind (as by a process stopped between a commit and its refresh).
    for (const verb of [['run'], ['reconcile', '--from', '2026-10-01', '--to', '2026-10-02']]) {
      await copyFile(old, catalog);
      expect(await catalogRows(lake, 'SELECT sum(orders) AS n FROM gold.daily_revenue')).toEqual([{ n: '1' }]);
      const result = await cli(['--lake', lake, ...verb], PROJECT_ROOT);
      expect(result.code, result.stderr).toBe(0);
      expect(await catalogRows(lake, 'SELECT sum(orders) AS n FROM gold.daily_revenue')).toEqual([{ n: '2' }]);
    }
    // Current already: the file in place is left as it is.
    const before = (await stat(catalog)).mtimeMs;
    expect((await cli(['--lake', lake, 'run'], PROJECT_ROOT)).code).toBe(0);
    expect((await stat(catalog)).mtimeMs).toBe(before);
  });
});
