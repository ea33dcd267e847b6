import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/**
 * A write over many partitions: DuckDB's partitioned COPY closes files past an open-file
 * limit and starts new ones for the same partition later, which left a full build of a
 * 365-day table in 1,919 files. Every partition must come out as one file.
 */
describe('a write over hundreds of partitions', () => {
  let fx: TableFixture;

  beforeAll(async () => {
    fx = await tableFixture();
  });

  afterAll(async () => {
    await fx.close();
  });

  it('leaves one file per partition, even when DuckDB flushes its partition buffers often', async () => {
    const lake = await Lake.open({ store: fx.store, engine: fx.engine });
    const table = await lake.createTable('silver.days', {
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'day', type: 'DATE' },
      ],
      partitionColumns: ['day'],
    });
    // Flushing every 100 rows makes the open-file limit bite on a small write.
    await fx.engine.run('SET partitioned_write_flush_threshold = 100');
    try {
      await table.append(`SELECT range AS id, DATE '2024-01-01' + CAST(range % 400 AS INTEGER) AS day FROM range(40000)`);
    } finally {
      await fx.engine.run('RESET partitioned_write_flush_threshold');
    }
    const snapshot = await table.snapshot();
    expect(snapshot.files).toHaveLength(400);
    expect(snapshot.files.reduce((sum, f) => sum + (JSON.parse(f.stats ?? '{}') as { numRecords: number }).numRecords, 0)).toBe(40000);
  });
});
