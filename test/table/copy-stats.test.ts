import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteLiteral } from '../../src/engine/index.js';
import { describeCopiedFiles, statText } from '../../src/table/copy-stats.js';
import { Lake, parseStats, type SchemaField } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/**
 * Files described from the statistics DuckDB's writer returns (`COPY … RETURN_STATS`)
 * instead of reading them back: the same Delta stats the read-back gives, and undefined
 * (read back instead) where the writer's statistics are not exact.
 */
describe('describeCopiedFiles', () => {
  let fx: TableFixture;
  let n = 0;

  beforeAll(async () => {
    fx = await tableFixture();
  });

  afterAll(async () => {
    await fx.close();
  });

  /** The rows a COPY with RETURN_STATS returns; partitioned as the writer does, by the hash of the partition column. */
  async function copy(select: string, partitionBy?: string): Promise<Record<string, unknown>[]> {
    n += 1;
    const target = `${fx.dir}/copy-${n}${partitionBy ? '' : '.parquet'}`;
    const query = partitionBy ? `SELECT *, hash(${partitionBy}) AS h FROM (${select})` : select;
    return fx.engine.all(`COPY (${query}) TO ${quoteLiteral(target)} (FORMAT parquet, RETURN_STATS${partitionBy ? ', PARTITION_BY (h)' : ''})`);
  }

  const field = (name: string, type: string): SchemaField => ({ name, type, nullable: true, metadata: {} }) as SchemaField;

  it('gives Delta stats: ms timestamps rounded outward, no max past a NaN, long strings cut or left out, nulls counted', async () => {
    const rows = await copy(
      `SELECT * FROM (VALUES
        (1::BIGINT, TIMESTAMPTZ '2026-10-16 21:01:34.0155+00', 1.5::DOUBLE, 'abc', DATE '2026-01-02', true),
        (7::BIGINT, TIMESTAMPTZ '2026-10-16 21:01:35.0121+00', 'NaN'::DOUBLE, repeat('z', 300), NULL, NULL)
      ) t(id, ts, d, s, day, flag)`,
    );
    const fields = [field('id', 'long'), field('ts', 'timestamp'), field('d', 'double'), field('s', 'string'), field('day', 'date'), field('flag', 'boolean')];
    const [file] = describeCopiedFiles(rows as never, fields, []) ?? [];
    expect(file).toBeDefined();
    expect(JSON.parse(file?.statsJson ?? '{}')).toEqual({
      numRecords: 2,
      minValues: { id: 1, ts: '2026-10-16T21:01:34.015Z', d: 1.5, s: 'abc', day: '2026-01-02' },
      maxValues: { id: 7, ts: '2026-10-16T21:01:35.013Z', s: expect.any(String), day: '2026-01-02' },
      nullCount: { id: 0, ts: 0, d: 0, s: 0, day: 1, flag: 1 },
    });
    // DuckDB cuts a long max and raises its last character: still an upper bound, within the limit.
    const max = (JSON.parse(file?.statsJson ?? '{}') as { maxValues: { s: string } }).maxValues.s;
    expect(max.length).toBeLessThanOrEqual(256);
    expect(max > 'z'.repeat(300)).toBe(true);
  });

  it('takes partition values from the partition columns, and gives up on one it cannot show exactly', async () => {
    const fields = [field('id', 'long'), field('region', 'string')];
    const plain = await copy(`SELECT range AS id, CASE WHEN range = 0 THEN NULL ELSE 'r/' || (range % 2) END AS region FROM range(5)`, 'region');
    const described = describeCopiedFiles(plain as never, fields, [field('region', 'string')]);
    expect(described?.map((f) => [f.partitionValues['region'], f.numRecords]).sort()).toEqual([
      [null, 1],
      ['r/0', 2],
      ['r/1', 2],
    ]);
    // DuckDB cuts a long string's statistics: the value is not known exactly.
    const long = await copy(`SELECT 1 AS id, repeat('x', 5000) AS region`, 'region');
    expect(describeCopiedFiles(long as never, fields, [field('region', 'string')])).toBeUndefined();
  });

  it('a partition type whose stats text differs (timestamp) is read back: exact partition values', async () => {
    const lake = await Lake.open({ store: fx.store, engine: fx.engine });
    const table = await lake.createTable('silver.hourly', {
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'hour', type: 'TIMESTAMP WITH TIME ZONE' },
      ],
      partitionColumns: ['hour'],
    });
    await table.append(`SELECT range AS id, TIMESTAMPTZ '2026-01-01 10:00:00+00' + to_hours(range % 2) AS hour FROM range(4)`);
    const snapshot = await table.snapshot();
    expect(snapshot.files.map((f) => f.partitionValues['hour']).sort()).toEqual(['2026-01-01T10:00:00.000000Z', '2026-01-01T11:00:00.000000Z']);
    expect(snapshot.files.map((f) => parseStats(f)?.numRecords)).toEqual([2, 2]);
  });

  it('statText: Delta forms of DuckDB texts', () => {
    expect(statText('0005-03-01 00:00:00.0000011+00', 'timestamp', 'max')).toBe('"0005-03-01T00:00:00.001Z"');
    expect(statText('2026-12-31 23:59:59.9995', 'timestamp_ntz', 'max')).toBe('"2027-01-01T00:00:00.000Z"');
    expect(statText('2026-12-31 23:59:59.9995', 'timestamp_ntz', 'min')).toBe('"2026-12-31T23:59:59.999Z"');
    expect(statText('294247-01-10 04:00:54.775807+00', 'timestamp', 'min')).toBeUndefined();
    expect(statText('inf', 'double', 'max')).toBeUndefined();
    expect(statText('-1.5e-07', 'double', 'min')).toBe('-1.5e-07');
    expect(statText('12.340', 'decimal(10,3)', 'min')).toBe('12.340');
    expect(statText('x'.repeat(300), 'string', 'min')).toBe(JSON.stringify('x'.repeat(256)));
    expect(statText('x'.repeat(300), 'string', 'max')).toBeUndefined();
    expect(statText('2026-01-02', 'date', 'min')).toBe('"2026-01-02"');
  });
});
