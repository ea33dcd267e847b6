import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
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
      'silver.order_events',
      'silver.orders',
      'silver.page_views',
      'silver.payments',
    ]);
  });
});
