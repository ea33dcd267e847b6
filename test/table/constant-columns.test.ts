import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/**
 * A string every row of a write shares, given as a one-value ENUM (as bronze's `_batch_id`
 * and `_source_offset` are), is written as a plain string column, and the file stats carry
 * its exact bounds, which DuckDB's writer does not report for an ENUM.
 */
describe('constant string columns written as one-value ENUMs', () => {
  let fx: TableFixture;

  beforeAll(async () => {
    fx = await tableFixture();
  });

  afterAll(async () => {
    await fx.close();
  });

  it('land as strings with exact bounds, quotes and all; a NULL-only file has no bounds', async () => {
    const lake = await Lake.open({ store: fx.store, engine: fx.engine });
    const table = await lake.createTable('bronze.consts', {
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'day', type: 'DATE' },
        { name: 'batch', type: 'VARCHAR' },
        { name: 'source_offset', type: 'VARCHAR' },
      ],
      partitionColumns: ['day'],
    });
    const tricky = `it's a "path"\\with ✓`;
    await table.append(
      `SELECT range AS id, DATE '2024-01-01' + CAST(range % 3 AS INTEGER) AS day, CAST('b1' AS ENUM('b1')) AS batch, ` +
        `CASE WHEN range % 3 = 2 THEN NULL ELSE CAST('${tricky.replaceAll("'", "''")}' AS ENUM('${tricky.replaceAll("'", "''")}')) END AS source_offset FROM range(300)`,
    );
    const snapshot = await table.snapshot();
    expect(snapshot.schema.fields.map((f) => [f.name, f.type])).toEqual([
      ['id', 'long'],
      ['day', 'date'],
      ['batch', 'string'],
      ['source_offset', 'string'],
    ]);
    const stats = snapshot.files
      .map((f) => ({ day: f.partitionValues['day'], ...(JSON.parse(f.stats ?? '{}') as { minValues: Record<string, unknown>; maxValues: Record<string, unknown>; nullCount: Record<string, number> }) }))
      .sort((a, b) => String(a.day).localeCompare(String(b.day)));
    expect(stats.map((s) => [s.day, s.minValues['batch'], s.maxValues['batch'], s.minValues['source_offset'], s.maxValues['source_offset'], s.nullCount['source_offset']])).toEqual([
      ['2024-01-01', 'b1', 'b1', tricky, tricky, 0],
      ['2024-01-02', 'b1', 'b1', tricky, tricky, 0],
      ['2024-01-03', 'b1', 'b1', undefined, undefined, 100],
    ]);
    // The stats agree with the files themselves, which hold plain strings.
    const rows = await fx.engine.all(`SELECT typeof(source_offset) AS t, count(*) AS n, count(source_offset) AS present, min(source_offset) AS v FROM (${await snapshot.scanSql(lake.store)}) GROUP BY ALL`);
    expect(rows).toEqual([{ t: 'VARCHAR', n: '300', present: '200', v: tricky }]);
  });
});
