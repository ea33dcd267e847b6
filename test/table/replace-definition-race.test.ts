import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommitConflict } from '../../src/core/index.js';
import { DeltaTable } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/**
 * `replaceDefinition` (a model's rebuild by `lakeloop apply`) against a writer racing it on
 * the same table (serve's streaming run). The race is made certain with the write's own
 * `audit` hook, which runs after the files are written and before the commit: the other
 * writer commits there. The rebuild's rows come from its query alone, so it wins; a writer
 * that read the table before the rebuild must not land on it.
 */
const rows = (day: string, from: number, to: number, tag = 'v'): string =>
  `SELECT i::BIGINT AS id, DATE '${day}' AS day, '${tag}' || i AS payload FROM range(${from}, ${to}) t(i)`;

describe('replaceDefinition racing another writer', () => {
  let fx: TableFixture;
  let rebuild: DeltaTable;
  let stream: DeltaTable;

  beforeEach(async () => {
    fx = await tableFixture();
    const options = { engine: fx.engine, name: 'gold.daily' };
    rebuild = await DeltaTable.create(fx.store, 'gold/daily', { ...options, columns: await fx.engine.describe(rows('2024-01-01', 0, 1)), partitionColumns: ['day'] });
    await rebuild.append(rows('2024-01-01', 0, 10));
    stream = await DeltaTable.open(fx.store, 'gold/daily', options);
  });
  afterEach(async () => {
    await fx.close();
  });

  async function content(table: DeltaTable): Promise<string[]> {
    const all = await fx.engine.all(`SELECT CAST(day AS VARCHAR) || '/' || payload AS r FROM (${await (await table.snapshot()).scanSql(fx.store)}) ORDER BY 1`);
    return all.map((r) => String(r['r']));
  }

  it('wins over commits that land while it writes: they are superseded, not mixed in', async () => {
    const columns = await fx.engine.describe(rows('2024-01-01', 0, 1));
    let raced = 0;
    const result = await rebuild.replaceDefinition(rows('2024-01-01', 0, 3, 'new'), {
      columns,
      partitionColumns: ['day'],
      configuration: { 'lakeloop.model.build': 'b1' },
      audit: async () => {
        // A streaming commit of a new partition, and one rewriting a partition the rebuild removes.
        raced = (await stream.overwritePartitions(rows('2024-01-02', 0, 5, 'old'))).version;
        await stream.overwritePartitions(rows('2024-01-01', 0, 5, 'old'));
      },
    });
    expect(raced).toBe(2);
    expect(result.version).toBe(4);
    expect(await content(rebuild)).toEqual(['2024-01-01/new0', '2024-01-01/new1', '2024-01-01/new2']);
    expect((await rebuild.snapshot()).metadata.configuration['lakeloop.model.build']).toBe('b1');
  });

  it('makes a writer that read the table before it conflict, even on a partition it never touched', async () => {
    const columns = await fx.engine.describe(rows('2024-01-01', 0, 1));
    const write = stream.overwritePartitions(rows('2024-01-03', 0, 5, 'old'), {
      audit: async () => {
        // Same schema and layout: the rebuild still carries a metaData, which a reader of the old table conflicts with.
        await rebuild.replaceDefinition(rows('2024-01-01', 0, 3, 'new'), { columns, partitionColumns: ['day'] });
      },
    });
    await expect(write).rejects.toBeInstanceOf(CommitConflict);
    expect(await content(stream)).toEqual(['2024-01-01/new0', '2024-01-01/new1', '2024-01-01/new2']);
  });

  it('refuses a write whose precondition fails on the snapshot it reads', async () => {
    await rebuild.replaceDefinition(rows('2024-01-01', 0, 3, 'new'), { columns: await fx.engine.describe(rows('2024-01-01', 0, 1)), partitionColumns: ['day'], configuration: { k: 'b2' } });
    const write = stream.overwritePartitions(rows('2024-01-03', 0, 5, 'old'), {
      precondition: (snapshot) => {
        if (snapshot.metadata.configuration['k'] !== undefined) throw new CommitConflict('gold.daily', 1, snapshot.version, 'rebuilt since');
      },
    });
    await expect(write).rejects.toBeInstanceOf(CommitConflict);
    expect((await stream.snapshot()).version).toBe(2);
  });
});
