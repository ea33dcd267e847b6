import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/**
 * A deterministic file name (`fileNamePrefix`) is never written over a live file: the writer
 * checks its names against the live files' decoded paths, also where a partition value is
 * escaped in the path (a `:` is `%3A`), before anything is uploaded.
 */
describe('deterministic file names', () => {
  let fx: TableFixture;
  beforeEach(async () => {
    fx = await tableFixture();
  });
  afterEach(async () => {
    await fx.close();
  });

  const rows = (key: string): string => `SELECT i::BIGINT AS id, ${key} AS part FROM range(0, 3) t(i)`;

  it.each([
    ['a plain partition value', "'2024-01-01'"],
    ['a partition value escaped in the path', "'10:30 a/b'"],
  ])('a name already live is refused: %s', async (_, key) => {
    const table = await DeltaTable.create(fx.store, 'silver/names', { engine: fx.engine, columns: await fx.engine.describe(rows(key)), partitionColumns: ['part'] });
    await table.append(rows(key), { fileNamePrefix: 'batch-1' });
    const before = await table.snapshot();
    await expect(table.append(rows(key), { fileNamePrefix: 'batch-1' })).rejects.toThrow(/is already live; a deterministic name must not be reused/);
    expect((await table.snapshot()).version).toBe(before.version);
    // another prefix lands
    expect(await table.append(rows(key), { fileNamePrefix: 'batch-2' })).toMatchObject({ skipped: false, addedFiles: 1 });
  });
});
