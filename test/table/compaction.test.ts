import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CommitConflict, ManualClock } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import type { LocalObjectStore, ObjectStore } from '../../src/storage/index.js';
import { compactTable, DeltaTable, parseStats, type Snapshot } from '../../src/table/index.js';
import { createTestS3Store, s3rverTestEndpoint } from '../helpers/s3.js';
import { filesUnder, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * `compactTable` on real Delta tables: the rows before and after are compared in full
 * (sorted), the commit is read back from the log file, and the races against other
 * writers are forced through a store wrapper that runs the other writer's commit right
 * before the compaction's own put (or the other way round).
 */
const START_MS = Date.UTC(2024, 0, 1);

const rows = (day: string, from: number, to: number): string =>
  `SELECT i::BIGINT AS id, DATE '${day}' AS day, 'v' || i AS payload, i * 1.5 AS amount FROM range(${from}, ${to}) t(i)`;

/** Every row of a snapshot, sorted, as JSON text (exact comparison of content). */
async function content(engine: Engine, store: ObjectStore, snapshot: Snapshot): Promise<string> {
  return JSON.stringify(await engine.all(`SELECT * FROM (${await snapshot.scanSql(store)}) ORDER BY ALL`));
}

/** A store whose next log put first runs `before` (another writer's whole commit). */
function interceptingStore(inner: LocalObjectStore): { store: LocalObjectStore; beforeNextCommit(work: () => Promise<unknown>): void } {
  let hook: (() => Promise<unknown>) | undefined;
  const store = Object.create(inner) as LocalObjectStore;
  store.putIfAbsent = async (key, body) => {
    if (hook && /_delta_log\/\d{20}\.json$/.test(key)) {
      const work = hook;
      hook = undefined;
      await work();
    }
    return inner.putIfAbsent(key, body);
  };
  return {
    store,
    beforeNextCommit(work) {
      hook = work;
    },
  };
}

describe('compactTable', () => {
  let template: TableFixture;
  let fx: TableFixture;
  let clock: ManualClock;
  let table: DeltaTable;

  // The table is built once (6 small files in each of two days, 2 in a third; batches with
  // txn ids) and copied for each test.
  beforeAll(async () => {
    template = await tableFixture();
    const created = await DeltaTable.create(template.store, 'bronze/events', {
      engine: template.engine,
      clock: new ManualClock(START_MS),
      columns: await template.engine.describe(rows('2024-01-01', 0, 1)),
      partitionColumns: ['day'],
    });
    for (let i = 0; i < 6; i++) {
      await created.append(rows('2024-01-01', i * 10, i * 10 + 10), { txn: { appId: 'collector', version: i + 1 } });
      await created.append(rows('2024-01-02', i * 10, i * 10 + 7));
    }
    await created.append(rows('2024-01-03', 0, 5));
    await created.append(rows('2024-01-03', 5, 9), { txn: { appId: 'files', version: 3 } });
  });
  afterAll(async () => {
    await template.close();
  });

  beforeEach(async () => {
    fx = await tableFixture();
    await cp(join(template.dir, 'bronze'), join(fx.dir, 'bronze'), { recursive: true });
    clock = new ManualClock(START_MS + 60_000);
    table = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
  });
  afterEach(async () => {
    await fx.close();
  });

  async function dataFilesOnDisk(): Promise<string[]> {
    return (await filesUnder(join(fx.dir, 'bronze', 'events'))).filter((f) => !f.startsWith('_delta_log/'));
  }

  async function referencedFiles(): Promise<string[]> {
    const snapshot = await (await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine })).snapshot();
    return [...snapshot.files, ...snapshot.tombstones].map((f) => decodeURIComponent(f.path)).sort();
  }

  it('rewrites the small files of each partition into one, in one OPTIMIZE commit with the same rows, stats and txns', async () => {
    const before = await table.snapshot();
    const expected = await content(fx.engine, fx.store, before);
    const result = await compactTable(table);
    expect(result).toMatchObject({
      table: 'bronze.events',
      committed: true,
      version: before.version + 1,
      partitions: 2,
      filesRewritten: 12,
      filesWritten: 2,
      filesBefore: 14,
      filesAfter: 4,
      rows: 60 + 42,
      bytesBefore: before.sizeBytes(),
    });
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore);

    const after = await table.snapshot();
    expect(after.version).toBe(before.version + 1);
    expect(await content(fx.engine, fx.store, after)).toBe(expected);
    expect(after.schema).toEqual(before.schema);
    expect(after.numRecords()).toBe(before.numRecords());
    expect(after.txns).toEqual(before.txns);
    expect(after.txns.get('collector')).toBe(6);
    const perDay = (s: Snapshot): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const f of s.files) counts[f.partitionValues['day'] as string] = (counts[f.partitionValues['day'] as string] ?? 0) + 1;
      return counts;
    };
    expect(perDay(after)).toEqual({ '2024-01-01': 1, '2024-01-02': 1, '2024-01-03': 2 });
    // the untouched partition keeps its very files
    expect(after.files.filter((f) => f.partitionValues['day'] === '2024-01-03')).toEqual(before.files.filter((f) => f.partitionValues['day'] === '2024-01-03'));

    // the commit as written in the log
    const log = await readFile(join(fx.dir, 'bronze', 'events', '_delta_log', `${String(after.version).padStart(20, '0')}.json`), 'utf8');
    const actions = log.trim().split('\n').map((line) => JSON.parse(line) as Record<string, Record<string, unknown>>);
    const commitInfo = actions[0]?.['commitInfo'];
    expect(commitInfo).toMatchObject({ operation: 'OPTIMIZE', lakeloop: { mode: 'compact' }, isBlindAppend: false, readVersion: before.version });
    const adds = actions.filter((a) => a['add']).map((a) => a['add'] as Record<string, unknown>);
    const removes = actions.filter((a) => a['remove']).map((a) => a['remove'] as Record<string, unknown>);
    expect(actions.filter((a) => a['txn'] || a['metaData'] || a['protocol'])).toEqual([]);
    expect(adds).toHaveLength(2);
    expect(removes).toHaveLength(12);
    for (const action of [...adds, ...removes]) expect(action['dataChange']).toBe(false);
    for (const remove of removes) expect(remove['deletionTimestamp']).toBe(clock.nowMs());
    for (const add of after.files.filter((f) => f.partitionValues['day'] !== '2024-01-03')) {
      const stats = parseStats(add);
      expect(stats?.numRecords).toBe(add.partitionValues['day'] === '2024-01-01' ? 60 : 42);
      expect(stats?.minValues).toEqual({ id: 0, payload: 'v0', amount: 0 });
      expect(stats?.nullCount).toMatchObject({ id: 0, payload: 0 });
    }
  });

  it('does nothing (no commit) when no partition has minFiles small files', async () => {
    await compactTable(table);
    const version = (await table.snapshot()).version;
    const again = await compactTable(table);
    expect(again).toMatchObject({ committed: false, version, partitions: 0, filesRewritten: 0, filesWritten: 0, filesBefore: 4, filesAfter: 4 });
    expect((await table.snapshot()).version).toBe(version);
    // the third day's 2 files qualify only with minFiles 2
    const low = await compactTable(table, { minFiles: 2 });
    expect(low).toMatchObject({ committed: true, partitions: 1, filesRewritten: 2, filesWritten: 1, filesAfter: 3 });
  });

  it('keeps files at or above the target size as they are, and packs the small ones into as few target-sized files as fit', async () => {
    const before = await table.snapshot();
    const day1 = before.files.filter((f) => f.partitionValues['day'] === '2024-01-01');
    const sizes = day1.map((f) => f.size).sort((a, b) => a - b);
    // Room for about three day-1 files per output file; every one of them is below the target.
    const target = (sizes[0] as number) + (sizes[1] as number) + (sizes[2] as number) + 1;
    const expected = await content(fx.engine, fx.store, before);
    const result = await compactTable(table, { targetFileBytes: target, minFiles: 5 });
    expect(result.committed).toBe(true);
    const after = await table.snapshot();
    expect(await content(fx.engine, fx.store, after)).toBe(expected);
    const newDay1 = after.files.filter((f) => f.partitionValues['day'] === '2024-01-01');
    expect(newDay1.length).toBeGreaterThanOrEqual(2);
    expect(newDay1.length).toBeLessThanOrEqual(3);
    const big = await compactTable(table, { targetFileBytes: 1, minFiles: 2 });
    expect(big.committed).toBe(false);
  });

  it('compacts files written before a schema change: old rows read the new column as NULL, as before', async () => {
    await table.addColumns([{ name: 'note', type: 'VARCHAR' }]);
    await table.append(`SELECT 1000::BIGINT AS id, DATE '2024-01-01' AS day, 'new' AS payload, 1.0 AS amount, 'hello' AS note`);
    const before = await table.snapshot();
    const expected = await content(fx.engine, fx.store, before);
    await compactTable(table);
    const after = await table.snapshot();
    expect(await content(fx.engine, fx.store, after)).toBe(expected);
    expect(after.schema).toEqual(before.schema);
    expect(after.files.filter((f) => f.partitionValues['day'] === '2024-01-01')).toHaveLength(1);
  });

  it('a blind append that lands in the same partition while compaction rewrites it is compatible: the compaction commits at the next version, every row once', async () => {
    const race = interceptingStore(fx.store);
    const compactor = await DeltaTable.open(race.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const writer = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock });
    const before = await table.snapshot();
    const expected = await content(fx.engine, fx.store, before);
    race.beforeNextCommit(() => writer.append(rows('2024-01-01', 500, 503), { txn: { appId: 'collector', version: 7 } }));
    // One plan only: the put lost to the append, the commit was retried at the next version as it was.
    const result = await compactTable(compactor, { attempts: 1 });
    expect(result).toMatchObject({ committed: true, version: before.version + 2, filesRewritten: 12, filesWritten: 2 });
    const log = await readFile(join(fx.dir, 'bronze', 'events', '_delta_log', `${String(before.version + 2).padStart(20, '0')}.json`), 'utf8');
    expect(log).toContain('"operation":"OPTIMIZE"');
    const after = await writer.snapshot();
    expect(after.numRecords()).toBe((before.numRecords() ?? 0) + 3);
    expect(after.txns.get('collector')).toBe(7);
    // day 1: the compacted file and the appended one
    expect(after.files.filter((f) => f.partitionValues['day'] === '2024-01-01')).toHaveLength(2);
    const all = await fx.engine.all(`SELECT count(*) AS n, count(DISTINCT (id, day)) AS k FROM (${await after.scanSql(fx.store)})`);
    expect(all).toEqual([{ n: String((before.numRecords() ?? 0) + 3), k: String((before.numRecords() ?? 0) + 3) }]);
    const old = JSON.stringify(await fx.engine.all(`SELECT * FROM (${await after.scanSql(fx.store)}) WHERE id < 500 ORDER BY ALL`));
    expect(old).toBe(expected);
    expect(await referencedFiles()).toEqual(await dataFilesOnDisk());
  });

  it('a compaction racing another compaction of the same files fails with CommitConflict: the rows are those of before, once', async () => {
    const race = interceptingStore(fx.store);
    const compactor = await DeltaTable.open(race.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const other = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const before = await table.snapshot();
    const expected = await content(fx.engine, fx.store, before);
    race.beforeNextCommit(() => compactTable(other));
    const error = await compactTable(compactor, { attempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommitConflict);
    expect((error as Error).message).toMatch(/also removed .*, which this commit removes/);
    const after = await other.snapshot();
    expect(after.version).toBe(before.version + 1);
    expect(after.files).toHaveLength(2 + 2);
    expect(await content(fx.engine, fx.store, after)).toBe(expected);
    // the losing compaction's files were deleted, not left to vacuum
    expect(await referencedFiles()).toEqual(await dataFilesOnDisk());
  });

  it('with no attempts left, the lost race is a CommitConflict and the table holds exactly the writer\'s commit', async () => {
    const race = interceptingStore(fx.store);
    const compactor = await DeltaTable.open(race.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const writer = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock });
    const before = await table.snapshot();
    const expected = await content(fx.engine, fx.store, before);
    race.beforeNextCommit(() => writer.overwritePartitions(rows('2024-01-02', 900, 901)));
    const error = await compactTable(compactor, { attempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommitConflict);
    expect((error as Error).message).toMatch(/bronze\.events.*version \d+ won the race/);
    const after = await writer.snapshot();
    expect(after.version).toBe(before.version + 1);
    expect(after.files).toHaveLength(6 + 1 + 2);
    const day2 = await fx.engine.all(`SELECT id FROM (${await after.scanSql(fx.store)}) WHERE day = DATE '2024-01-02'`);
    expect(day2).toEqual([{ id: '900' }]);
    expect(await content(fx.engine, fx.store, after)).not.toBe(expected);
    expect(await referencedFiles()).toEqual(await dataFilesOnDisk());
  });

  it('an overwrite of the partition that lands first wins; the compaction plans again and finds nothing left to merge there', async () => {
    const race = interceptingStore(fx.store);
    const compactor = await DeltaTable.open(race.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const writer = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock });
    race.beforeNextCommit(() => writer.overwritePartitions(rows('2024-01-01', 700, 702)));
    const result = await compactTable(compactor);
    expect(result).toMatchObject({ committed: true, partitions: 1, filesRewritten: 6 });
    const after = await writer.snapshot();
    const day1 = await fx.engine.all(`SELECT id FROM (${await after.scanSql(fx.store)}) WHERE day = DATE '2024-01-01' ORDER BY id`);
    expect(day1).toEqual([{ id: '700' }, { id: '701' }]);
    expect(after.numRecords()).toBe(2 + 42 + 9);
  });

  it('a compaction that lands first makes a concurrent overwrite of that partition fail (CommitConflict), never duplicate rows', async () => {
    const race = interceptingStore(fx.store);
    const writer = await DeltaTable.open(race.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const compactor = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const before = await table.snapshot();
    const expected = await content(fx.engine, fx.store, before);
    await writer.snapshot();
    race.beforeNextCommit(() => compactTable(compactor));
    const error = await writer.overwritePartitions(rows('2024-01-02', 800, 801)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommitConflict);
    const after = await compactor.snapshot();
    expect(after.version).toBe(before.version + 1);
    expect(await content(fx.engine, fx.store, after)).toBe(expected);
    expect(await referencedFiles()).toEqual(await dataFilesOnDisk());
  });

  it('a blind append that loses the race to a compaction simply lands after it', async () => {
    const race = interceptingStore(fx.store);
    const writer = await DeltaTable.open(race.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const compactor = await DeltaTable.open(fx.store, 'bronze/events', { engine: fx.engine, clock, name: 'bronze.events' });
    const before = await table.snapshot();
    await writer.snapshot();
    race.beforeNextCommit(() => compactTable(compactor));
    const result = await writer.append(rows('2024-01-01', 600, 604), { txn: { appId: 'collector', version: 7 } });
    expect(result).toMatchObject({ version: before.version + 2, skipped: false, attempts: 2 });
    const after = await compactor.snapshot();
    expect(after.numRecords()).toBe((before.numRecords() ?? 0) + 4);
    expect(after.files.filter((f) => f.partitionValues['day'] === '2024-01-01')).toHaveLength(2);
  });
});

describe('compactTable on S3 (s3rver)', () => {
  it('merges small files and keeps every row', async () => {
    const { store, cleanup } = await createTestS3Store({}, s3rverTestEndpoint());
    const engine = await Engine.create({ threads: 2 });
    try {
      const table = await DeltaTable.create(store, 'bronze/events', { engine, name: 'bronze.events', columns: await engine.describe(rows('2024-01-01', 0, 1)), partitionColumns: ['day'] });
      for (let i = 0; i < 5; i++) await table.append(rows('2024-01-01', i * 10, i * 10 + 10));
      const before = await table.snapshot();
      const expected = await content(engine, store, before);
      const result = await compactTable(table);
      expect(result).toMatchObject({ committed: true, filesRewritten: 5, filesWritten: 1, filesAfter: 1 });
      const fresh = await DeltaTable.open(store, 'bronze/events', { engine });
      expect(await content(engine, store, await fresh.snapshot())).toBe(expected);
    } finally {
      await engine.close();
      await cleanup();
    }
  });
});
