import { join } from 'node:path';
import { Engine, quoteList } from '../../src/engine/index.js';
import { CATALOG_FILE, writeCatalog } from '../../src/query/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { median, timed } from '../support.js';

/**
 * An analyst's gold query through `lake/catalog.duckdb` vs plain DuckDB over the same
 * files (SPEC §10: within 1.2×). A 2M-row gold table of orders (a year, partitioned by
 * month, written in several commits, one of which rewrites a month so the snapshot has
 * removed files to leave out) is published through the table API and the catalog is
 * written as after a run. Then (a) DuckDB opens the catalog file, as `duckdb
 * lake/catalog.duckdb` would, and queries the view `gold.orders`; (b) an in-memory DuckDB
 * runs the same query over `read_parquet` of exactly the snapshot's live files. Same
 * settings, alternating, median of the timed runs after a warm-up; opening the catalog is
 * reported apart.
 */
const QUERY = (source: string): string => `
  SELECT date_trunc('month', order_date) AS month, country, currency,
         count(*) AS orders, count(DISTINCT customer_id) AS customers, sum(amount) AS revenue, avg(item_count) AS items
  FROM ${source}
  WHERE status IN ('paid', 'shipped')
  GROUP BY ALL
  ORDER BY ALL`;

const benchmark: Benchmark = {
  name: 'catalog-query',
  description: 'a gold query through lake/catalog.duckdb vs DuckDB read_parquet over the same files (2M-row gold table)',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const rows = context.quick ? 200_000 : 2_000_000;
    const runs = context.quick ? 5 : 11;
    const root = join(context.workDir, 'lake');
    const store = await LocalObjectStore.create(root);
    const writer = await Engine.create({ memoryLimit: '2GB' });
    let files: string[];
    let tableBytes: number;
    try {
      const lake = await Lake.open({ store, engine: writer });
      const started = performance.now();
      await writeGoldOrders(lake, rows);
      context.log(`wrote gold.orders (${rows.toLocaleString('en-US')} rows) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      await writeCatalog(lake, join(root, CATALOG_FILE));
      const snapshot = await (await lake.table('gold.orders')).snapshot();
      files = await Promise.all(snapshot.files.map((f) => store.localPath(snapshot.fileKey(f))));
      tableBytes = snapshot.sizeBytes();
    } finally {
      await writer.close();
    }

    const openStarted = performance.now();
    const analyst = await Engine.create({ databasePath: join(root, CATALOG_FILE), memoryLimit: '2GB' });
    const openMs = performance.now() - openStarted;
    const plain = await Engine.create({ memoryLimit: '2GB' });
    try {
      const catalogSql = QUERY('gold.orders');
      const duckdbSql = QUERY(`read_parquet(${quoteList(files)})`);
      // Same answer both ways, or the timing means nothing.
      const a = await analyst.table(catalogSql);
      const b = await plain.table(duckdbSql);
      if (JSON.stringify(a.rows) !== JSON.stringify(b.rows)) throw new Error('the catalog and DuckDB disagree on the result');

      const catalogTimes: number[] = [];
      const duckdbTimes: number[] = [];
      for (let i = 0; i < runs; i++) {
        // Which goes first alternates, so neither always runs on the caches the other warmed.
        if (i % 2 === 0) {
          catalogTimes.push(await timed(() => analyst.table(catalogSql)));
          duckdbTimes.push(await timed(() => plain.table(duckdbSql)));
        } else {
          duckdbTimes.push(await timed(() => plain.table(duckdbSql)));
          catalogTimes.push(await timed(() => analyst.table(catalogSql)));
        }
        context.log(`run ${i + 1}/${runs}: catalog ${catalogTimes[i]?.toFixed(3)} s, duckdb ${duckdbTimes[i]?.toFixed(3)} s`);
      }
      const value = median(catalogTimes);
      const baseline = median(duckdbTimes);
      return [
        {
          name: 'catalog-query',
          value,
          unit: 's',
          baseline,
          ratio: value / baseline,
          target: '<= 1.2',
          details: {
            rows,
            files: files.length,
            tableBytes,
            resultRows: a.rows.length,
            runs,
            catalogOpenMs: Number(openMs.toFixed(1)),
            catalogMinS: Number(Math.min(...catalogTimes).toFixed(4)),
            duckdbMinS: Number(Math.min(...duckdbTimes).toFixed(4)),
          },
        },
      ];
    } finally {
      await analyst.close();
      await plain.close();
    }
  },
};

export default benchmark;

/**
 * gold.orders: `rows` orders over 2026, partitioned by month, appended in four commits (so a
 * month has several files), then March rewritten in place (its old files are removed).
 */
async function writeGoldOrders(lake: Lake, rows: number): Promise<void> {
  const table = await lake.createTable('gold.orders', {
    columns: [
      { name: 'order_id', type: 'VARCHAR' },
      { name: 'customer_id', type: 'VARCHAR' },
      { name: 'status', type: 'VARCHAR' },
      { name: 'amount', type: 'DECIMAL(12,2)' },
      { name: 'currency', type: 'VARCHAR' },
      { name: 'country', type: 'VARCHAR' },
      { name: 'item_count', type: 'INTEGER' },
      { name: 'order_ts', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'order_date', type: 'DATE' },
      { name: 'order_month', type: 'DATE' },
    ],
    partitionColumns: ['order_month'],
  });
  // Deterministic pseudo-random columns from hash(i); each commit holds a quarter of the rows.
  const slice = (from: number, to: number, where = 'true'): string => `
    WITH base AS (
      SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds((hash(i, 'ts') % (365 * 86400 * 1000000::UBIGINT))::BIGINT) AS ts
      FROM range(${from}, ${to}) r(i)
    )
    SELECT 'ord_' || i AS order_id,
           'cus_' || (hash(i, 'customer') % 100000) AS customer_id,
           (['placed', 'paid', 'paid', 'shipped', 'shipped', 'cancelled'])[1 + (hash(i, 'status') % 6)::INT] AS status,
           ((hash(i, 'amount') % 40000) / 100.0)::DECIMAL(12,2) AS amount,
           (['EUR', 'EUR', 'USD', 'GBP', 'SEK', 'PLN'])[1 + (hash(i, 'currency') % 6)::INT] AS currency,
           (['DE', 'DE', 'FR', 'US', 'US', 'GB', 'SE', 'PL', 'NL', 'ES'])[1 + (hash(i, 'country') % 10)::INT] AS country,
           (1 + hash(i, 'items') % 5)::INTEGER AS item_count,
           ts AS order_ts,
           CAST(timezone('UTC', ts) AS DATE) AS order_date,
           CAST(date_trunc('month', timezone('UTC', ts)) AS DATE) AS order_month
    FROM base WHERE ${where}`;
  const quarter = Math.ceil(rows / 4);
  for (let q = 0; q < 4; q++) await table.append(slice(q * quarter, Math.min(rows, (q + 1) * quarter)));
  // A late correction rewrites March: same rows, new files; the old ones become tombstones.
  await table.overwritePartitions(slice(0, rows, "order_month = DATE '2026-03-01'"));
}
