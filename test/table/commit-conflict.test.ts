import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommitConflict, ManualClock } from '../../src/core/index.js';
import type { LocalObjectStore } from '../../src/storage/index.js';
import { DeltaTable, type CommitResult } from '../../src/table/index.js';
import { filesUnder, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * Two writers (two `DeltaTable` handles, each with its own cached state) on one table.
 * A real store wrapper holds both commits at the put-if-absent until both arrive, so every
 * race below really happens: both writers read the same version and try the same next one.
 */
function racingStore(inner: LocalObjectStore): { store: LocalObjectStore; race(writers: number): void } {
  let armed = 0;
  let waiting: (() => void)[] = [];
  const store = Object.create(inner) as LocalObjectStore;
  store.putIfAbsent = async (key, body) => {
    if (armed > 0 && /_delta_log\/\d{20}\.json$/.test(key)) {
      armed--;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (armed === 0) {
          for (const release of waiting) release();
          waiting = [];
        }
      });
    }
    return inner.putIfAbsent(key, body);
  };
  return {
    store,
    race(writers: number) {
      armed = writers;
    },
  };
}

const rows = (day: string, from: number, to: number): string =>
  `SELECT i::BIGINT AS id, DATE '${day}' AS day, 'v' || i AS payload FROM range(${from}, ${to}) t(i)`;

describe('concurrent commits to one table', () => {
  let fx: TableFixture;
  let race: ReturnType<typeof racingStore>;
  let a: DeltaTable;
  let b: DeltaTable;

  beforeEach(async () => {
    fx = await tableFixture();
    race = racingStore(fx.store);
    const clock = new ManualClock(Date.UTC(2024, 0, 1)); // backoff sleeps advance it instantly
    const options = { engine: fx.engine, clock, name: 'silver.daily' };
    a = await DeltaTable.create(race.store, 'silver/daily', { ...options, columns: await fx.engine.describe(rows('2024-01-01', 0, 1)), partitionColumns: ['day'] });
    await a.append(rows('2024-01-01', 0, 10));
    await a.append(rows('2024-01-02', 0, 10));
    b = await DeltaTable.open(race.store, 'silver/daily', options);
    await b.snapshot();
  });
  afterEach(async () => {
    await fx.close();
  });

  async function dataFilesOnDisk(): Promise<string[]> {
    return (await filesUnder(join(fx.dir, 'silver', 'daily'))).filter((f) => !f.startsWith('_delta_log/'));
  }

  /** Files the log references: live ones and tombstones (kept until a vacuum). */
  async function referencedFiles(): Promise<string[]> {
    const snapshot = await (await DeltaTable.open(fx.store, 'silver/daily', { engine: fx.engine })).snapshot();
    return [...snapshot.files, ...snapshot.tombstones].map((f) => decodeURIComponent(f.path)).sort();
  }

  it('lands both blind appends at distinct versions, every file live', async () => {
    race.race(2);
    const results = await Promise.all([a.append(rows('2024-01-01', 100, 105)), b.append(rows('2024-01-01', 200, 205))]);
    expect(results.map((r) => r.version).sort()).toEqual([3, 4]);
    expect(results.map((r) => r.attempts).sort()).toEqual([1, 2]);
    const snapshot = await a.snapshot();
    expect(snapshot.version).toBe(4);
    expect(snapshot.numRecords()).toBe(30);
    expect(await referencedFiles()).toEqual(await dataFilesOnDisk());
  });

  it('lets one of two overwrites of the SAME partition win; the other gets CommitConflict', async () => {
    race.race(2);
    const outcomes = await Promise.allSettled([
      a.overwritePartitions(rows('2024-01-01', 300, 303)),
      b.overwritePartitions(rows('2024-01-01', 400, 404)),
    ]);
    const won = outcomes.filter((o): o is PromiseFulfilledResult<CommitResult> => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(won[0]?.value).toMatchObject({ version: 3, skipped: false, attempts: 1 });
    expect(lost).toHaveLength(1);
    const conflict = lost[0]?.reason as CommitConflict;
    expect(conflict).toBeInstanceOf(CommitConflict);
    expect([conflict.table, conflict.expected, conflict.actual]).toEqual(['silver.daily', 3, 3]);
    expect(conflict.message).toMatch(/version 3 won the race and it also removed day=2024-01-01\/part-.*, which this commit removes$/);
    expect(conflict.retryable).toBe(true);
    // The table holds exactly the winner's rows for that day, and the loser left no files behind.
    const snapshot = await (await DeltaTable.open(fx.store, 'silver/daily', { engine: fx.engine })).snapshot();
    expect(snapshot.version).toBe(3);
    const day1 = snapshot.files.filter((f) => f.partitionValues['day'] === '2024-01-01');
    expect(day1).toHaveLength(1);
    expect(await referencedFiles()).toEqual(await dataFilesOnDisk());
  });

  it('replaceFiles removes just the listed files and adds the new rows in one commit', async () => {
    await a.append(rows('2024-01-01', 10, 20));
    const before = await a.snapshot();
    const [first, second] = before.files.filter((f) => f.partitionValues['day'] === '2024-01-01');
    const day2 = before.files.filter((f) => f.partitionValues['day'] === '2024-01-02');
    // The first file's rows changed, plus a new row.
    const result = await a.replaceFiles(
      `SELECT id, day, 'changed' AS payload FROM (${await before.scanSql(fx.store, [first!])}) UNION ALL ${rows('2024-01-01', 100, 101)}`,
      { remove: [first!], readPartitions: [{ day: '2024-01-01' }] },
    );
    expect(result).toMatchObject({ removedFiles: 1, addedFiles: 1 });
    const after = await a.snapshot();
    expect(after.files.map((f) => f.path)).toContain(second!.path);
    expect(after.files.filter((f) => f.partitionValues['day'] === '2024-01-02')).toEqual(day2);
    const changed = await fx.engine.all(`SELECT count(*) AS n, count(*) FILTER (WHERE payload = 'changed') AS c FROM (${await after.scanSql(fx.store)}) WHERE day = DATE '2024-01-01'`);
    expect(changed).toEqual([{ n: '21', c: '10' }]);
    // A file that is no longer live cannot be replaced; rows outside readPartitions are refused.
    await expect(a.replaceFiles(rows('2024-01-01', 0, 1), { remove: [first!], readPartitions: [{ day: '2024-01-01' }] })).rejects.toThrow(/not live at version/);
    await expect(a.replaceFiles(rows('2024-01-02', 0, 1), { remove: [second!], readPartitions: [{ day: '2024-01-01' }] })).rejects.toThrow(/not among the partitions/);
  });

  it('replaceFiles conflicts with a concurrent write to a partition it read', async () => {
    const file = (await a.snapshot()).files.find((f) => f.partitionValues['day'] === '2024-01-01');
    race.race(2);
    const outcomes = await Promise.allSettled([
      a.replaceFiles(rows('2024-01-01', 500, 501), { remove: [file!], readPartitions: [{ day: '2024-01-01' }] }),
      b.overwritePartitions(rows('2024-01-01', 600, 601)),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const lost = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(lost?.reason).toBeInstanceOf(CommitConflict);
  });

  it('lands two overwrites of DIFFERENT partitions, the loser after a retry', async () => {
    race.race(2);
    const results = await Promise.all([
      a.overwritePartitions(rows('2024-01-01', 300, 303)),
      b.overwritePartitions(rows('2024-01-02', 400, 404)),
    ]);
    expect(results.map((r) => [r.version, r.attempts]).sort()).toEqual([
      [3, 1],
      [4, 2],
    ]);
    const snapshot = await a.snapshot();
    expect(snapshot.version).toBe(4);
    expect(snapshot.files.map((f) => [f.partitionValues['day'], f.size > 0])).toEqual([
      ['2024-01-01', true],
      ['2024-01-02', true],
    ]);
    expect(snapshot.numRecords()).toBe(7);
  });

  it('applies a txn raced by two writers exactly once; the other is skipped', async () => {
    race.race(2);
    const txn = { appId: 'orders-collector', version: 7 };
    const results = await Promise.all([
      a.append(rows('2024-01-03', 0, 5), { txn, fileNamePrefix: 'orders-batch-7' }),
      b.append(rows('2024-01-03', 0, 5), { txn, fileNamePrefix: 'orders-batch-7' }),
    ]);
    expect(results.map((r) => r.skipped).sort()).toEqual([false, true]);
    expect(results.find((r) => r.skipped)).toMatchObject({ version: 3, addedFiles: 0 });
    const snapshot = await b.snapshot();
    expect(snapshot.version).toBe(3);
    expect(snapshot.txns.get('orders-collector')).toBe(7);
    expect(snapshot.files.filter((f) => f.partitionValues['day'] === '2024-01-03')).toHaveLength(1);
    expect(snapshot.numRecords()).toBe(25);
    // A retry of the same batch afterwards is skipped before writing anything.
    expect(await a.append(rows('2024-01-03', 0, 5), { txn })).toMatchObject({ skipped: true, attempts: 0 });
  });

  it('fails an append planned before a schema change that won the race', async () => {
    const adds = await b.writeDataFiles(rows('2024-01-01', 500, 501));
    await a.addColumns([{ name: 'note', type: 'VARCHAR' }]);
    const error = await b.commit({ readVersion: 2, add: adds, operation: 'WRITE' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommitConflict);
    expect((error as Error).message).toMatch(/version 3 won the race and it changed the table metadata/);
  });

  it('commits with a stale readVersion judge every commit since (remove of a file already removed)', async () => {
    const stale = await b.snapshot();
    await a.overwritePartitions(rows('2024-01-02', 600, 601));
    const victim = stale.files.find((f) => f.partitionValues['day'] === '2024-01-02');
    const error = await b
      .commit({ readVersion: stale.version, remove: [{ path: victim?.path ?? '', dataChange: true, partitionValues: victim?.partitionValues ?? {} }], operation: 'DELETE' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommitConflict);
    expect((error as Error).message).toMatch(/it also removed/);
  });

  it('recognises its own commit when a put landed but reported failure (no duplicate)', async () => {
    const ambiguous = Object.create(fx.store) as LocalObjectStore;
    let lies = 1;
    ambiguous.putIfAbsent = async (key, body) => {
      const result = await fx.store.putIfAbsent(key, body);
      if (lies > 0 && result.written && key.endsWith('.json')) {
        lies--;
        return { written: false };
      }
      return result;
    };
    const table = await DeltaTable.open(ambiguous, 'silver/daily', { engine: fx.engine });
    const result = await table.append(rows('2024-01-05', 0, 3));
    expect(result).toMatchObject({ version: 3, skipped: false, attempts: 1, addedFiles: 1 });
    const snapshot = await (await DeltaTable.open(fx.store, 'silver/daily', { engine: fx.engine })).snapshot();
    expect(snapshot.version).toBe(3);
    expect(snapshot.numRecords()).toBe(23);
  });
});
