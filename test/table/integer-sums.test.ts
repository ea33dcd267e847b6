import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeloopError } from '../../src/core/index.js';
import { quotePaths } from '../../src/engine/index.js';
import { Lake } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/**
 * DuckDB types an integer `sum()` HUGEINT. Stored as Delta `decimal(38,0)`, nodejs-polars
 * (and other readers) refuse it without a cast; stored as BIGINT every reader opens it. A
 * value that does not fit fails the write, naming the column.
 */
describe('integer sums in a table', () => {
  let fx: TableFixture;
  let lake: Lake;

  beforeAll(async () => {
    fx = await tableFixture();
    lake = await Lake.open({ store: fx.store, engine: fx.engine });
  });

  afterAll(async () => {
    await fx.close();
  });

  const sums = `SELECT k, sum(v) AS total, count(*) AS n FROM (VALUES ('a', 1), ('a', 2), ('b', 40)) AS t(k, v) GROUP BY k`;

  it('are stored as long (BIGINT in the files), not decimal(38,0)', async () => {
    const columns = await fx.engine.describe(sums);
    expect(columns.find((c) => c.name === 'total')?.type).toBe('HUGEINT');
    const table = await lake.createTable('gold.sums', { columns });
    await table.overwrite(sums);
    const snapshot = await table.snapshot();
    expect(snapshot.schema.fields.map((f) => [f.name, f.type])).toEqual([
      ['k', 'string'],
      ['total', 'long'],
      ['n', 'long'],
    ]);
    const paths = await Promise.all(snapshot.files.map((f) => fx.store.localPath(snapshot.fileKey(f))));
    const fileTypes = await fx.engine.describe(`SELECT * FROM read_parquet(${quotePaths(paths)})`);
    expect(fileTypes.find((c) => c.name === 'total')?.type).toBe('BIGINT');
    expect(await fx.engine.all(`SELECT k, total FROM (${await snapshot.scanSql(fx.store)}) ORDER BY k`)).toEqual([
      { k: 'a', total: '3' },
      { k: 'b', total: '40' },
    ]);
  });

  it('fail the write, naming the column and saying how to cast, when a value does not fit BIGINT', async () => {
    const big = `SELECT sum(v) AS total FROM (VALUES (9223372036854775807::BIGINT), (1::BIGINT)) AS t(v)`;
    const table = await lake.createTable('gold.big', { columns: await fx.engine.describe(big) });
    const error = await table.overwrite(big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeloopError);
    expect((error as LakeloopError).code).toBe('WRITE');
    expect((error as LakeloopError).message).toMatch(/^Failed to write to gold\.big: column total holds a value beyond BIGINT/);
    expect((error as LakeloopError).hint).toContain('CAST(total AS DECIMAL(38,0))');
    expect((await table.snapshot()).files).toHaveLength(0);
    // The explicit cast keeps every digit in a decimal(38,0) table.
    const exact = `SELECT CAST(sum(v) AS DECIMAL(38,0)) AS total FROM (VALUES (9223372036854775807::BIGINT), (1::BIGINT)) AS t(v)`;
    const decimal = await lake.createTable('gold.big_exact', { columns: await fx.engine.describe(exact) });
    await decimal.overwrite(exact);
    const snapshot = await decimal.snapshot();
    expect(snapshot.schema.fields[0]?.type).toBe('decimal(38,0)');
    expect(await fx.engine.all(`SELECT CAST(total AS VARCHAR) AS total FROM (${await snapshot.scanSql(fx.store)})`)).toEqual([{ total: '9223372036854775808' }]);
  });

  it('still write to a table created before, whose column is decimal(38,0)', async () => {
    const table = await lake.createTable('gold.legacy', {
      schema: {
        type: 'struct',
        fields: [
          { name: 'k', type: 'string', nullable: true, metadata: {} },
          { name: 'total', type: 'decimal(38,0)', nullable: true, metadata: {} },
          { name: 'n', type: 'long', nullable: true, metadata: {} },
        ],
      },
    });
    await table.overwrite(sums);
    const snapshot = await table.snapshot();
    expect(snapshot.schema.fields[1]?.type).toBe('decimal(38,0)');
    expect(await fx.engine.all(`SELECT k, CAST(total AS VARCHAR) AS total, typeof(total) AS t FROM (${await snapshot.scanSql(fx.store)}) ORDER BY k`)).toEqual([
      { k: 'a', total: '3', t: 'DECIMAL(38,0)' },
      { k: 'b', total: '40', t: 'DECIMAL(38,0)' },
    ]);
  });
});
