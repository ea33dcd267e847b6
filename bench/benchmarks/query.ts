import { quoteList, Engine } from '../../src/engine/index.js';
import { runQuery } from '../../src/query/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { median, timed } from '../support.js';

/**
 * `lakeloop query` vs plain DuckDB: a 1M-row events table (30 days, partitioned by day)
 * written through the table API, then the same aggregation run (a) the way `lakeloop
 * query` runs it — parse the table references, read the snapshot, bind views over the
 * live files, run — and (b) as plain `read_parquet` over exactly those files. Same
 * process, same engine settings, alternating, median of the timed runs after a warm-up.
 */
const AGGREGATION = (source: string): string => `
  SELECT date_trunc('day', event_time) AS day, country,
         count(*) AS events, count(DISTINCT user_id) AS users, sum(amount) AS revenue, avg(amount) AS avg_amount
  FROM ${source}
  WHERE event_type <> 'page_view'
  GROUP BY ALL
  ORDER BY day, country`;

const benchmark: Benchmark = {
  name: 'query',
  description: 'an aggregation over a 1M-row Delta table: lakeloop query path vs DuckDB read_parquet on the same files',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const rows = context.quick ? 100_000 : 1_000_000;
    const runs = context.quick ? 3 : 7;
    const store = await LocalObjectStore.create(`${context.workDir}/lake`);
    const engine = await Engine.create({ memoryLimit: '2GB' });
    try {
      const lake = await Lake.open({ store, engine });
      const written = await writeEvents(lake, rows, context);

      const snapshot = await (await lake.table('bronze.events')).snapshot();
      const paths = await Promise.all(snapshot.files.map((f) => store.localPath(snapshot.fileKey(f))));
      const lakeloopSql = AGGREGATION('bronze.events');
      const duckdbSql = AGGREGATION(`read_parquet(${quoteList(paths)})`);

      // Same answer both ways, or the timing means nothing.
      const a = await runQuery(lake, lakeloopSql);
      const b = await engine.table(duckdbSql);
      if (JSON.stringify(a.rows) !== JSON.stringify(b.rows)) throw new Error('lakeloop and DuckDB disagree on the result');

      const lakeloopTimes: number[] = [];
      const duckdbTimes: number[] = [];
      for (let i = 0; i < runs; i++) {
        lakeloopTimes.push(await timed(() => runQuery(lake, lakeloopSql)));
        duckdbTimes.push(await timed(() => engine.table(duckdbSql)));
        context.log(`run ${i + 1}/${runs}: lakeloop ${lakeloopTimes[i]?.toFixed(3)} s, duckdb ${duckdbTimes[i]?.toFixed(3)} s`);
      }
      const value = median(lakeloopTimes);
      const baseline = median(duckdbTimes);
      return [
        {
          name: 'query',
          value,
          unit: 's',
          baseline,
          ratio: value / baseline,
          target: '<= 1.1',
          details: {
            rows: written.rows,
            files: snapshot.files.length,
            tableBytes: snapshot.sizeBytes(),
            resultRows: a.rows.length,
            runs,
            writeSeconds: Number(written.seconds.toFixed(2)),
            lakeloopMinS: Number(Math.min(...lakeloopTimes).toFixed(4)),
            duckdbMinS: Number(Math.min(...duckdbTimes).toFixed(4)),
          },
        },
      ];
    } finally {
      await engine.close();
      await store.close();
    }
  },
};

export default benchmark;

async function writeEvents(lake: Lake, rows: number, context: BenchContext): Promise<{ rows: number; seconds: number }> {
  const started = performance.now();
  const table = await lake.createTable('bronze.events', {
    columns: [
      { name: 'event_id', type: 'BIGINT' },
      { name: 'user_id', type: 'BIGINT' },
      { name: 'session_id', type: 'VARCHAR' },
      { name: 'event_time', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'event_type', type: 'VARCHAR' },
      { name: 'country', type: 'VARCHAR' },
      { name: 'device', type: 'VARCHAR' },
      { name: 'amount', type: 'DECIMAL(12,2)' },
      { name: 'event_date', type: 'DATE' },
    ],
    partitionColumns: ['event_date'],
  });
  // Deterministic pseudo-random columns from hash(i): 30 days of events, skewed countries.
  await table.append(`
    WITH base AS (
      SELECT i,
             TIMESTAMPTZ '2024-04-01 00:00:00+00' + to_microseconds((hash(i, 'time') % (30 * 86400 * 1000000::UBIGINT))::BIGINT) AS t
      FROM range(${rows}) r(i)
    )
    SELECT i AS event_id,
           (hash(i, 'user') % 50000)::BIGINT AS user_id,
           'sess-' || (hash(i, 'session') % 200000)::VARCHAR AS session_id,
           t AS event_time,
           (['page_view', 'page_view', 'page_view', 'add_to_cart', 'checkout', 'purchase'])[1 + (hash(i, 'type') % 6)::INT] AS event_type,
           (['US', 'US', 'US', 'DE', 'DE', 'FR', 'GB', 'GB', 'BR', 'IN', 'JP', 'NL'])[1 + (hash(i, 'country') % 12)::INT] AS country,
           (['ios', 'android', 'web', 'web'])[1 + (hash(i, 'device') % 4)::INT] AS device,
           ((hash(i, 'amount') % 50000) / 100.0)::DECIMAL(12,2) AS amount,
           CAST(t AS DATE) AS event_date
    FROM base`);
  const seconds = (performance.now() - started) / 1000;
  context.log(`wrote ${rows.toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s`);
  return { rows, seconds };
}

