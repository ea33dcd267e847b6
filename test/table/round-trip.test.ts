import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeloopError, ManualClock } from '../../src/core/index.js';
import { quoteList } from '../../src/engine/index.js';
import { DeltaTable, Lake, parseStats, type Snapshot } from '../../src/table/index.js';
import { countingStore, filesUnder, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * One partitioned table through its life: create, appends with txns, a partition
 * overwrite, a checkpoint at version 10, time travel, schema evolution and a full
 * overwrite; after each step the Delta view must equal an independent model of the data.
 */
const START_MS = Date.UTC(2024, 0, 1);

/** Rows i in [from, to): mixed types, nulls and hostile characters in the `region` partition column. */
function rows(from: number, to: number, amountFactor = 1.25): string {
  return `SELECT i::BIGINT AS id,
      CASE WHEN i % 7 = 0 THEN NULL WHEN i % 3 = 0 THEN 'a/b c=d%' WHEN i % 3 = 1 THEN 'plain' ELSE 'ünï #1' END AS region,
      (DATE '2024-01-01' + (i % 2)::INTEGER) AS day,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_milliseconds(i * 1500) AS ts,
      (i * ${amountFactor})::DECIMAL(12,2) AS amount,
      CASE WHEN i % 5 = 0 THEN NULL ELSE 'name-' || i END AS name,
      i % 2 = 0 AS flag,
      (i / 3.0)::DOUBLE AS ratio,
      i::INTEGER AS small
    FROM range(${from}, ${to}) t(i)`;
}

describe('a Delta table round trip', () => {
  let fx: TableFixture;
  let lake: Lake;
  let table: DeltaTable;
  const clock = new ManualClock(START_MS);
  const commitTimes = new Map<number, number>();

  const tick = (): void => clock.advance(1_000);

  async function liveFilesRelation(snapshot: Snapshot): Promise<string> {
    const paths = await Promise.all(snapshot.files.map((f) => fx.store.localPath(snapshot.fileKey(f))));
    return `read_parquet(${quoteList(paths)}, union_by_name = true)`;
  }

  async function expectSameRows(a: string, b: string): Promise<void> {
    const [onlyA, onlyB, countA, countB] = await Promise.all([
      fx.engine.scalar(`SELECT count(*) FROM (SELECT * FROM (${a}) EXCEPT ALL SELECT * FROM (${b}))`),
      fx.engine.scalar(`SELECT count(*) FROM (SELECT * FROM (${b}) EXCEPT ALL SELECT * FROM (${a}))`),
      fx.engine.scalar(`SELECT count(*) FROM (${a})`),
      fx.engine.scalar(`SELECT count(*) FROM (${b})`),
    ]);
    expect([Number(onlyA), Number(onlyB)]).toEqual([0, 0]);
    expect(Number(countA)).toBe(Number(countB));
  }

  /** The model: what the table must hold, kept as a plain DuckDB table. */
  async function model(sql: string): Promise<void> {
    await fx.engine.run(sql);
  }

  beforeAll(async () => {
    fx = await tableFixture();
    lake = await Lake.open({ store: fx.store, engine: fx.engine, clock });
    const columns = await fx.engine.describe(rows(0, 1));
    table = await lake.createTable('silver.events', { columns, partitionColumns: ['region', 'day'] });
    commitTimes.set(0, clock.nowMs());
    await model(`CREATE TABLE expected AS ${rows(0, 0)}`);
    for (let batch = 1; batch <= 3; batch++) {
      tick();
      const result = await table.append(rows((batch - 1) * 50, batch * 50), { txn: { appId: 'gen', version: batch } });
      expect(result).toMatchObject({ version: batch, skipped: false, attempts: 1 });
      commitTimes.set(batch, clock.nowMs());
      await model(`INSERT INTO expected ${rows((batch - 1) * 50, batch * 50)}`);
    }
    tick();
    // Replace partition region='plain' (both days) with recomputed amounts.
    const replaced = await table.overwritePartitions(`SELECT * FROM (${rows(0, 150, 2)}) WHERE region = 'plain'`, {
      partitions: [{ region: 'plain' }],
      commitInfo: { upstream: { 'bronze.events': 3 } },
    });
    expect(replaced.version).toBe(4);
    expect(replaced.removedFiles).toBeGreaterThan(0);
    commitTimes.set(4, clock.nowMs());
    await model(`DELETE FROM expected WHERE region = 'plain'`);
    await model(`INSERT INTO expected SELECT * FROM (${rows(0, 150, 2)}) WHERE region = 'plain'`);
    for (let batch = 4; batch <= 10; batch++) {
      tick();
      const result = await table.append(rows(batch * 50, batch * 50 + 20), { txn: { appId: 'gen', version: batch } });
      commitTimes.set(result.version, clock.nowMs());
      await model(`INSERT INTO expected ${rows(batch * 50, batch * 50 + 20)}`);
    }
  });

  afterAll(async () => {
    await fx.close();
  });

  it('holds exactly the rows written, equal to plain read_parquet over its live files', async () => {
    const snapshot = await table.snapshot();
    expect(snapshot.version).toBe(11);
    const scan = await snapshot.scanSql(fx.store);
    await expectSameRows(scan, 'SELECT * FROM expected');
    await expectSameRows(scan, `SELECT * FROM ${await liveFilesRelation(snapshot)}`);
    expect(snapshot.numRecords()).toBe(Number(await fx.engine.scalar('SELECT count(*) FROM expected')));
    const types = await fx.engine.describe(scan);
    expect(types.map((c) => `${c.name} ${c.type}`)).toEqual([
      'id BIGINT',
      'region VARCHAR',
      'day DATE',
      'ts TIMESTAMP WITH TIME ZONE',
      'amount DECIMAL(12,2)',
      'name VARCHAR',
      'flag BOOLEAN',
      'ratio DOUBLE',
      'small INTEGER',
    ]);
  });

  it('writes hive-style, URL-encoded partition paths and null partitions', async () => {
    const snapshot = await table.snapshot();
    const special = snapshot.files.find((f) => f.partitionValues['region'] === 'a/b c=d%');
    expect(special?.path).toMatch(/^region=a%252Fb%20c%253Dd%2525\/day=2024-01-0[12]\/part-\d{5}-[0-9a-f-]+\.c000\.zstd\.parquet$/);
    const unicode = snapshot.files.find((f) => f.partitionValues['region'] === 'ünï #1');
    expect(unicode?.path.startsWith('region=%C3%BCn%C3%AF%20%25231/')).toBe(true);
    const nulls = snapshot.files.filter((f) => f.partitionValues['region'] === null);
    expect(nulls.length).toBeGreaterThan(0);
    expect(nulls.every((f) => f.path.startsWith('region=__HIVE_DEFAULT_PARTITION__/'))).toBe(true);
    const onDisk = await filesUnder(join(fx.dir, 'silver', 'events'));
    expect(onDisk).toContain(decodeURIComponent(special?.path ?? ''));
  });

  it('writes log actions with the protocol shapes', async () => {
    const logDir = join(fx.dir, 'silver', 'events', '_delta_log');
    const commitFiles = (await filesUnder(logDir)).filter((f) => f.endsWith('.json'));
    expect(commitFiles).toHaveLength(12);
    const first = (await readFile(join(logDir, commitFiles[0] ?? ''), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(first.map((a) => Object.keys(a)[0])).toEqual(['commitInfo', 'protocol', 'metaData']);
    expect(first[1].protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    const meta = first[2].metaData;
    expect(meta.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(meta.format).toEqual({ provider: 'parquet', options: {} });
    expect(meta.partitionColumns).toEqual(['region', 'day']);
    expect(meta.configuration).toEqual({ 'delta.writePartitionColumnsToParquet': 'true' });
    expect(meta.createdTime).toBe(START_MS);
    const schema = JSON.parse(meta.schemaString);
    expect(schema.type).toBe('struct');
    expect(schema.fields.map((f: { name: string; type: string }) => `${f.name}:${f.type}`)).toEqual([
      'id:long',
      'region:string',
      'day:date',
      'ts:timestamp',
      'amount:decimal(12,2)',
      'name:string',
      'flag:boolean',
      'ratio:double',
      'small:integer',
    ]);
    for (const field of schema.fields) expect(field).toEqual({ name: field.name, type: field.type, nullable: true, metadata: {} });

    for (const file of commitFiles) {
      const actions = (await readFile(join(logDir, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      for (const action of actions) {
        const keys = Object.keys(action);
        expect(keys).toHaveLength(1);
        const [kind] = keys as [string];
        const body = action[kind];
        if (kind === 'commitInfo') {
          expect(typeof body.timestamp).toBe('number');
          expect(typeof body.operation).toBe('string');
          expect(body.engineInfo).toMatch(/^lakeloop\/\d+\.\d+\.\d+/);
          expect(typeof body.isBlindAppend).toBe('boolean');
          for (const v of Object.values(body.operationParameters)) expect(typeof v).toBe('string');
          for (const v of Object.values(body.operationMetrics)) expect(typeof v).toBe('string');
        } else if (kind === 'add') {
          expect(Object.keys(body).sort()).toEqual(['dataChange', 'modificationTime', 'partitionValues', 'path', 'size', 'stats']);
          expect(typeof body.path).toBe('string');
          expect(Number.isInteger(body.size)).toBe(true);
          expect(Number.isInteger(body.modificationTime)).toBe(true);
          expect(body.dataChange).toBe(true);
          expect(typeof body.stats).toBe('string');
          for (const v of Object.values(body.partitionValues)) expect(v === null || typeof v === 'string').toBe(true);
        } else if (kind === 'remove') {
          expect(Object.keys(body).sort()).toEqual(['dataChange', 'deletionTimestamp', 'extendedFileMetadata', 'partitionValues', 'path', 'size']);
          expect(Number.isInteger(body.deletionTimestamp)).toBe(true);
        } else if (kind === 'txn') {
          expect(Object.keys(body).sort()).toEqual(['appId', 'lastUpdated', 'version']);
          expect(typeof body.appId).toBe('string');
          expect(Number.isInteger(body.version)).toBe(true);
        } else {
          expect(['protocol', 'metaData']).toContain(kind);
        }
      }
    }
    const v4 = (await readFile(join(logDir, '00000000000000000004.json'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(v4[0].commitInfo.upstream).toEqual({ 'bronze.events': 3 });
    expect(v4[0].commitInfo.readVersion).toBe(3);
    expect(v4[0].commitInfo.isBlindAppend).toBe(false);
    expect(v4.some((a) => a.remove) && v4.some((a) => a.add)).toBe(true);
    expect(v4.filter((a) => a.remove).every((a) => a.remove.partitionValues.region === 'plain')).toBe(true);
  });

  it('computes stats: numRecords, min/max and nullCount per column, none for partition columns', async () => {
    const snapshot = await table.snapshot();
    for (const file of snapshot.files) {
      const stats = parseStats(file);
      expect(stats).not.toBeNull();
      const path = await fx.store.localPath(snapshot.fileKey(file));
      const [actual] = await fx.engine.all(`SELECT count(*) AS n,
          min(id) AS id_lo, max(id) AS id_hi, count(*) - count(name) AS name_nulls,
          strftime(min(ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS ts_lo, strftime(max(ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS ts_hi,
          CAST(min(amount) AS DOUBLE) AS amount_lo, CAST(max(amount) AS DOUBLE) AS amount_hi,
          CAST(min(day) AS VARCHAR) AS day_lo, min(name) AS name_lo, max(name) AS name_hi, count(*) - count(region) AS region_nulls
        FROM read_parquet('${path}')`);
      expect(stats?.numRecords).toBe(Number(actual?.['n']));
      expect(stats?.minValues['id']).toBe(Number(actual?.['id_lo']));
      expect(stats?.maxValues['id']).toBe(Number(actual?.['id_hi']));
      expect(stats?.minValues['ts']).toBe(actual?.['ts_lo']);
      expect(stats?.maxValues['ts']).toBe(actual?.['ts_hi']);
      expect(stats?.minValues['amount']).toBe(actual?.['amount_lo']);
      expect(stats?.maxValues['amount']).toBe(actual?.['amount_hi']);
      // Partition columns (region, day) have no stats: readers take partitionValues.
      expect(file.partitionValues['day']).toBe(actual?.['day_lo']);
      expect([stats?.minValues['day'], stats?.maxValues['day'], stats?.nullCount['day'], stats?.nullCount['region']]).toEqual([undefined, undefined, undefined, undefined]);
      expect(file.partitionValues['region'] === null).toBe(Number(actual?.['region_nulls']) > 0);
      expect(stats?.minValues['name'] ?? null).toBe(actual?.['name_lo']);
      expect(stats?.maxValues['name'] ?? null).toBe(actual?.['name_hi']);
      expect(stats?.nullCount['name']).toBe(Number(actual?.['name_nulls']));
      expect(stats?.nullCount['flag']).toBe(0);
      expect(stats?.minValues['flag']).toBeUndefined();
    }
  });

  it('writes a checkpoint at version 10 that reads back as the same snapshot as the JSON log', async () => {
    const logDir = join(fx.dir, 'silver', 'events', '_delta_log');
    const last = JSON.parse(await readFile(join(logDir, '_last_checkpoint'), 'utf8'));
    const atTen = await table.snapshot({ version: 10 });
    expect(last).toMatchObject({ version: 10, size: 2 + atTen.txns.size + atTen.files.length + atTen.tombstones.length });
    const columns = await fx.engine.describe(`SELECT * FROM read_parquet('${join(logDir, '00000000000000000010.checkpoint.parquet')}')`);
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
    expect(types['add']).toContain('partitionValues MAP(VARCHAR, VARCHAR)');
    expect(types['add']).toContain('stats VARCHAR');
    expect(types['metaData']).toContain('"configuration" MAP(VARCHAR, VARCHAR)');
    expect(types['txn']).toContain('appId VARCHAR');

    const counting = countingStore(fx.store);
    // No checkpoint cache: this reader must read the checkpoint itself (checkpoint-cache.test.ts covers the cache).
    const viaCheckpoint = await (await DeltaTable.open(counting.store, 'silver/events', { engine: fx.engine, checkpointCache: null })).snapshot();
    // Through the checkpoint: _last_checkpoint, the checkpoint, and only the commit after it.
    expect(counting.gets.map((k) => k.slice(k.lastIndexOf('/') + 1))).toEqual([
      '_last_checkpoint',
      '00000000000000000010.checkpoint.parquet',
      '00000000000000000011.json',
    ]);
    const viaJson = await (await DeltaTable.open(fx.store, 'silver/events', { engine: fx.engine, useCheckpoints: false })).snapshot();
    expect(viaCheckpoint.version).toBe(11);
    // Checkpoints carry adds with dataChange: false (they describe state, not a change).
    const withoutDataChange = (s: Snapshot): unknown[] => s.files.map(({ dataChange: _, ...rest }) => rest);
    expect(withoutDataChange(viaCheckpoint)).toEqual(withoutDataChange(viaJson));
    expect(viaCheckpoint.tombstones.map((t) => [t.path, t.size, t.partitionValues])).toEqual(viaJson.tombstones.map((t) => [t.path, t.size, t.partitionValues]));
    expect([...viaCheckpoint.txns]).toEqual([...viaJson.txns]);
    expect(viaCheckpoint.metadata).toEqual(viaJson.metadata);
    expect(viaCheckpoint.protocol).toEqual(viaJson.protocol);
    expect(viaCheckpoint.timestampMs).toBe(viaJson.timestampMs);
  });

  it('travels in time by version and by timestamp', async () => {
    const v2 = await table.snapshot({ version: 2 });
    expect(v2.numRecords()).toBe(100);
    await expectSameRows(await v2.scanSql(fx.store), rows(0, 100));
    const byTime = await table.snapshot({ timestampMs: (commitTimes.get(2) ?? 0) + 500 });
    expect(byTime.version).toBe(2);
    expect(byTime.timestampMs).toBe(commitTimes.get(2));
    expect((await table.snapshot({ timestampMs: commitTimes.get(4) ?? 0 })).version).toBe(4);
    await expect(table.snapshot({ timestampMs: START_MS - 1 })).rejects.toThrow(/before its first commit/);
    await expect(table.snapshot({ version: 99 })).rejects.toThrow(/latest version is 11/);
  });

  it('skips a txn already applied (same or lower version) without writing anything', async () => {
    const before = await filesUnder(fx.dir);
    const same = await table.append(rows(0, 10), { txn: { appId: 'gen', version: 10 } });
    const lower = await table.overwritePartitions(rows(0, 10), { txn: { appId: 'gen', version: 1 } });
    expect(same).toEqual({ version: 11, skipped: true, attempts: 0, addedFiles: 0, removedFiles: 0 });
    expect(lower.skipped).toBe(true);
    expect(await filesUnder(fx.dir)).toEqual(before);
    expect((await table.snapshot()).version).toBe(11);
    expect((await table.snapshot()).txns.get('gen')).toBe(10);
  });

  it('evolves the schema: older files read a new column as NULL', async () => {
    tick();
    const evolved = await table.addColumns([{ name: 'note', type: 'VARCHAR' }]);
    expect(evolved.version).toBe(12);
    tick();
    await table.append(`SELECT *, 'late ' || id AS note FROM (${rows(2000, 2010)})`);
    const snapshot = await table.snapshot();
    expect(snapshot.schema.fields.at(-1)).toEqual({ name: 'note', type: 'string', nullable: true, metadata: {} });
    const scan = await snapshot.scanSql(fx.store);
    const [counts] = await fx.engine.all(`SELECT count(*) AS n, count(note) AS notes, count(*) FILTER (WHERE id >= 2000) AS late FROM (${scan})`);
    expect(counts).toEqual({ n: String(Number(await fx.engine.scalar('SELECT count(*) FROM expected')) + 10), notes: '10', late: '10' });
    // A version from before the new column still scans with the old schema.
    const old = await (await table.snapshot({ version: 11 })).scanSql(fx.store);
    expect((await fx.engine.describe(old)).map((c) => c.name)).not.toContain('note');
  });

  it('overwrites the whole table in one commit (remove + add in the same version)', async () => {
    const before = await table.snapshot();
    tick();
    const result = await table.overwrite(rows(5000, 5030));
    expect(result.version).toBe(before.version + 1);
    expect(result.removedFiles).toBe(before.files.length);
    const log = (await readFile(join(fx.dir, 'silver', 'events', '_delta_log', `${String(result.version).padStart(20, '0')}.json`), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.filter((a) => a.remove)).toHaveLength(before.files.length);
    expect(log.filter((a) => a.add)).toHaveLength(result.addedFiles);
    const after = await table.snapshot();
    await expectSameRows(
      `SELECT * EXCLUDE (note) FROM (${await after.scanSql(fx.store)})`,
      rows(5000, 5030),
    );
    expect(after.tombstones.length).toBeGreaterThanOrEqual(before.files.length);
    const history = await table.history({ limit: 1 });
    expect(history[0]).toMatchObject({ version: result.version, operation: 'WRITE', operationParameters: { mode: 'Overwrite' }, isBlindAppend: false });
    const all = await table.history();
    expect(all.map((h) => h.version)).toEqual(Array.from({ length: result.version + 1 }, (_, i) => result.version - i));
    expect(all.at(-1)?.operation).toBe('CREATE TABLE');
    expect(history[0]?.operationMetrics).toMatchObject({ numRemovedFiles: String(before.files.length), numOutputRows: '30' });
  });

  it('refuses rows outside the listed partitions and uploads nothing', async () => {
    const before = await filesUnder(fx.dir);
    const error = await table.overwritePartitions(rows(0, 30), { partitions: [{ region: 'plain' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeloopError);
    expect((error as Error).message).toMatch(/not among the partitions being replaced/);
    expect(await filesUnder(fx.dir)).toEqual(before);
  });

  it('binds lake views over exactly the snapshot files', async () => {
    expect(await lake.tables()).toEqual(['silver.events']);
    const bound = await lake.bindViews(fx.engine, ['silver.events'], { version: 2 });
    expect(bound.get('silver.events')?.version).toBe(2);
    expect(Number(await fx.engine.scalar('SELECT count(*) FROM silver.events'))).toBe(100);
  });
});
