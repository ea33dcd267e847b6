import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LakeloopError, TableCorrupt, TableNotFound, UsageError } from '../../src/core/index.js';
import { DeltaTable, Lake } from '../../src/table/index.js';
import { tableFixture, type TableFixture } from './table-fixture.js';

/** What the reader and writer refuse, and how they say so: never wrong data silently. */
const SQL = `SELECT i::BIGINT AS id, 'k' || (i % 2) AS k FROM range(10) t(i)`;

describe('bad input to the Delta reader and writer', () => {
  let fx: TableFixture;
  let lake: Lake;

  const logFile = (version: number): string => join(fx.dir, 'bronze', 't', '_delta_log', `${String(version).padStart(20, '0')}.json`);

  async function makeTable(): Promise<DeltaTable> {
    const table = await lake.createTable('bronze.t', { columns: await fx.engine.describe(SQL), partitionColumns: ['k'] });
    await table.append(SQL);
    return table;
  }

  async function freshRead(): Promise<unknown> {
    const table = await DeltaTable.open(fx.store, 'bronze/t', { engine: fx.engine, name: 'bronze.t' });
    return table.snapshot().catch((e: unknown) => e);
  }

  beforeEach(async () => {
    fx = await tableFixture();
    lake = await Lake.open({ store: fx.store, engine: fx.engine });
  });
  afterEach(async () => {
    await fx.close();
  });

  it('refuses a malformed JSON line, naming table, version and line', async () => {
    await makeTable();
    await writeFile(logFile(2), '{"commitInfo":{"timestamp":1}}\n{"add": {"path": "x.parquet", \n');
    const error = await freshRead();
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as Error).message).toMatch(/^Failed to read table bronze\.t at version 2: line 2 of .*00000000000000000002\.json is not valid JSON/);
  });

  it('refuses an add action without a path', async () => {
    await makeTable();
    await writeFile(logFile(2), '{"add":{"size":1,"partitionValues":{},"modificationTime":1,"dataChange":true}}\n');
    const error = await freshRead();
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as Error).message).toMatch(/bronze\.t at version 2: .*an add action has no path/);
  });

  it('refuses a gap in the versions', async () => {
    const table = await makeTable();
    await table.append(SQL);
    await table.append(SQL);
    await unlink(logFile(2));
    const error = await freshRead();
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as Error).message).toMatch(/bronze\.t at version 3: commit 00000000000000000002\.json is missing from the log \(a gap before version 3\)/);
    // Time travel across the gap is refused too.
    await expect(table.snapshot({ version: 2 })).rejects.toThrow(/commit 00000000000000000002\.json is missing/);
  });

  it('names the missing data file when scanning', async () => {
    const table = await makeTable();
    const snapshot = await table.snapshot();
    const victim = snapshot.files[0];
    await unlink(join(fx.dir, snapshot.fileKey(victim ?? { path: '' })));
    const error = await snapshot.scanSql(fx.store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as TableCorrupt).version).toBe(1);
    expect((error as Error).message).toContain('bronze.t at version 1');
    expect((error as Error).message).toContain(`data file ${victim?.path} is missing`);
  });

  it('refuses reader version 3 with deletion vectors, naming table and version', async () => {
    await makeTable();
    await writeFile(
      logFile(2),
      '{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}\n',
    );
    const error = await freshRead();
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as Error).message).toBe(
      'Failed to read table bronze.t at version 2: it needs Delta reader version 3 with features [deletionVectors]; lakeloop reads reader version 1 tables only',
    );
    // Time travel to a version before the upgrade still works.
    const table = await DeltaTable.open(fx.store, 'bronze/t', { engine: fx.engine });
    expect((await table.snapshot({ version: 1 })).files.length).toBe(2);
  });

  it('reads but refuses to write a table that needs writer version 7', async () => {
    const table = await makeTable();
    await writeFile(logFile(2), '{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["appendOnly","invariants"]}}\n');
    expect((await table.snapshot()).version).toBe(2);
    const error = await table.append(SQL).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeloopError);
    expect((error as LakeloopError).code).toBe('TABLE_UNSUPPORTED');
    expect((error as Error).message).toMatch(/^Failed to write to table bronze\.t at version 2: it needs Delta writer version 7 with features \[appendOnly, invariants\]/);
    const direct = await table.commit({ readVersion: 2, operation: 'WRITE' }).catch((e: unknown) => e);
    expect((direct as LakeloopError).code).toBe('TABLE_UNSUPPORTED');
  });

  it('refuses to remove files from an append-only table', async () => {
    const table = await lake.createTable('bronze.t', { columns: await fx.engine.describe(SQL), configuration: { 'delta.appendOnly': 'true' } });
    await table.append(SQL);
    await expect(table.overwrite(SQL)).rejects.toThrow(/append-only/);
  });

  it('refuses DuckDB types a Delta table cannot store, naming the column', async () => {
    for (const [sql, column, type] of [
      [`SELECT 1 AS id, INTERVAL 1 DAY AS gap`, 'gap', 'INTERVAL'],
      [`SELECT 1 AS id, 1::UNION(a INTEGER, b VARCHAR) AS u`, 'u', 'UNION'],
      [`SELECT 1 AS id, {'inner': TIME '10:00'} AS s`, 's.inner', 'TIME'],
    ] as const) {
      const error = await lake.createTable('bronze.bad', { columns: await fx.engine.describe(sql) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LakeloopError);
      expect((error as Error).message).toContain(`Column ${column} has DuckDB type ${type}`);
    }
    expect(await lake.tables()).toEqual([]);
  });

  it('refuses a checkpoint that does not parse', async () => {
    await makeTable();
    await writeFile(join(fx.dir, 'bronze', 't', '_delta_log', '00000000000000000001.checkpoint.parquet'), 'not parquet');
    await writeFile(join(fx.dir, 'bronze', 't', '_delta_log', '_last_checkpoint'), '{"version":1,"size":4}');
    const error = await freshRead();
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as Error).message).toMatch(/bronze\.t at version 1: checkpoint .*00000000000000000001\.checkpoint\.parquet does not parse/);
  });

  it('says which table is missing, and which names are malformed', async () => {
    const missing = await lake.table('gold.nothing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TableNotFound);
    expect((missing as Error).message).toContain('gold.nothing');
    expect(() => Lake.pathOf('platinum.x')).toThrow(UsageError);
    expect(() => Lake.pathOf('bronze.../x')).toThrow(UsageError);
  });

  it('refuses writes that do not fit the schema', async () => {
    const table = await makeTable();
    await expect(table.append(`SELECT 1::BIGINT AS id, 'k0' AS k, 2 AS extra`)).rejects.toThrow(/column\(s\) extra are not in the table's schema/);
    await expect(table.append(`SELECT 'x' AS id, 'k0' AS k`)).rejects.toThrow(/column id is VARCHAR in the query but long in the table/);
    await expect(lake.createTable('bronze.t', { columns: [{ name: 'other', type: 'VARCHAR' }] })).rejects.toThrow(/already exists with a different schema/);
    await expect(table.overwritePartitions(SQL, { partitions: [{ nope: 'x' }] })).rejects.toThrow(/nope is not a partition column/);
  });

  it('accepts a query with a trailing semicolon and line comment', async () => {
    const table = await makeTable();
    await table.append(`${SQL} -- the usual tail\n;`);
    await table.append(`${SQL};`);
    expect((await table.snapshot()).numRecords()).toBe(30);
  });

  it('scans an empty table as a typed empty relation', async () => {
    const table = await lake.createTable('bronze.empty', { columns: await fx.engine.describe(SQL), partitionColumns: ['k'] });
    const sql = await (await table.snapshot()).scanSql(fx.store);
    expect(await fx.engine.describe(sql)).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'k', type: 'VARCHAR' },
    ]);
    expect(await fx.engine.all(sql)).toEqual([]);
  });
});
