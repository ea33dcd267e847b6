import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import { Lake } from '../../src/table/index.js';
import { filesUnder, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * `onePartition`: rows that all hold one partition value are written by a plain COPY (no
 * `PARTITION_BY`), and must come out as the partitioned write makes them: one file under the
 * same partition directory, the same rows and the same stats. A wrong promise must fail
 * before anything is uploaded or committed.
 */
describe('a write whose rows all hold one partition value (onePartition)', () => {
  let fx: TableFixture;

  beforeAll(async () => {
    fx = await tableFixture();
  });

  afterAll(async () => {
    await fx.close();
  });

  const columns = [
    { name: 'id', type: 'BIGINT' },
    { name: 'name', type: 'VARCHAR' },
    { name: 'amount', type: 'DOUBLE' },
    { name: 'day', type: 'DATE' },
  ];
  const rows = (days: number): string =>
    `SELECT range AS id, CASE WHEN range % 7 = 0 THEN NULL ELSE 'n' || range END AS name, range * 1.5 AS amount, DATE '2026-04-01' + CAST(range % ${days} AS INTEGER) AS day FROM range(5000)`;

  /** The COPY statements `engine` runs while `work` does (the real engine runs them; this only records their text). */
  async function copiesDuring(engine: Engine, work: () => Promise<unknown>): Promise<string[]> {
    const copies: string[] = [];
    const all = engine.all.bind(engine);
    engine.all = async (sql, params) => {
      if (/^\s*COPY\b/i.test(sql)) copies.push(sql);
      return all(sql, params);
    };
    try {
      await work();
    } finally {
      engine.all = all;
    }
    return copies;
  }

  it('writes one file without PARTITION_BY, under the same partition path, with the same rows and stats as the partitioned write', async () => {
    const lake = await Lake.open({ store: fx.store, engine: fx.engine });
    const plain = await lake.createTable('bronze.plain', { columns, partitionColumns: ['day'] });
    const one = await lake.createTable('bronze.one', { columns, partitionColumns: ['day'] });
    const plainCopies = await copiesDuring(fx.engine, () => plain.append(rows(1), { clustered: true }));
    const oneCopies = await copiesDuring(fx.engine, () => one.append(rows(1), { clustered: true, onePartition: true }));
    expect(plainCopies.map((sql) => sql.includes('PARTITION_BY'))).toEqual([true]);
    expect(oneCopies.map((sql) => sql.includes('PARTITION_BY'))).toEqual([false]);

    const [a, b] = [await plain.snapshot(), await one.snapshot()];
    const described = (files: typeof a.files) => files.map((f) => ({ dir: f.path.slice(0, f.path.lastIndexOf('/')), partitionValues: f.partitionValues, stats: JSON.parse(f.stats ?? 'null') }));
    expect(described(b.files)).toEqual(described(a.files));
    expect(described(b.files)).toEqual([expect.objectContaining({ dir: 'day=2026-04-01', partitionValues: { day: '2026-04-01' } })]);
    expect(JSON.parse(b.files[0]?.stats ?? '{}')).toMatchObject({ numRecords: 5000, minValues: { id: 0, amount: 0 }, maxValues: { id: 4999, amount: 7498.5 }, nullCount: { name: 715 } });
    const scan = async (table: typeof plain) => fx.engine.all(`SELECT * FROM (${await (await table.snapshot()).scanSql(fx.store)}) ORDER BY id`);
    expect(await scan(one)).toEqual(await scan(plain));
  });

  it('a wrong promise (rows of two partitions) fails, and nothing is uploaded or committed', async () => {
    const lake = await Lake.open({ store: fx.store, engine: fx.engine });
    const table = await lake.createTable('bronze.wrong', { columns, partitionColumns: ['day'] });
    const before = await filesUnder(fx.dir);
    await expect(table.append(rows(2), { onePartition: true })).rejects.toThrow(/one partition/);
    expect((await table.snapshot()).files).toHaveLength(0);
    expect(await filesUnder(fx.dir)).toEqual(before);
  });
});
