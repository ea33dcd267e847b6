import { copyFile, mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, TableCorrupt, UsageError } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { DeltaTable, vacuumTable, type AddAction } from '../../src/table/index.js';
import { createTestS3Store, s3rverTestEndpoint } from '../helpers/s3.js';
import { filesUnder, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * `vacuumTable` on a table with a known history: files removed 300 h ago, a file removed
 * 10 h ago, live files, orphans (never committed) old and new, hidden files and the log.
 * Commit times come from a ManualClock ending at the real "now", and the orphans' mtimes
 * are set on disk, so the 168 h retention splits them exactly.
 */
const HOUR_MS = 3_600_000;

const rows = (day: string, from: number, to: number): string =>
  `SELECT i::BIGINT AS id, DATE '${day}' AS day, 'v' || i AS payload FROM range(${from}, ${to}) t(i)`;

const pathOf = (file: AddAction | undefined): string => decodeURIComponent(file?.path ?? '');

describe('vacuumTable (local)', () => {
  let fx: TableFixture;
  let clock: ManualClock;
  let table: DeltaTable;
  let tableDir: string;
  const files: Record<'a' | 'b' | 'c' | 'd' | 'e', string> = { a: '', b: '', c: '', d: '', e: '' };
  let nowMs: number;

  async function backdate(relative: string, hoursAgo: number): Promise<void> {
    const when = new Date(nowMs - hoursAgo * HOUR_MS);
    await utimes(join(tableDir, relative), when, when);
  }

  beforeEach(async () => {
    fx = await tableFixture();
    nowMs = Date.now();
    clock = new ManualClock(nowMs - 400 * HOUR_MS);
    tableDir = join(fx.dir, 'bronze', 'events');
    table = await DeltaTable.create(fx.store, 'bronze/events', {
      engine: fx.engine,
      clock,
      name: 'bronze.events',
      checkpointInterval: 2,
      columns: await fx.engine.describe(rows('2024-01-01', 0, 1)),
      partitionColumns: ['day'],
    });
    await table.append(rows('2024-01-01', 0, 5)); // v1: a
    files.a = pathOf((await table.snapshot()).files[0]);
    await table.append(rows('2024-01-01', 5, 9)); // v2: b
    files.b = pathOf((await table.snapshot()).files.find((f) => pathOf(f) !== files.a));
    await table.append(rows('2024-01-02', 0, 3)); // v3: d
    files.d = pathOf((await table.snapshot()).files.find((f) => f.partitionValues['day'] === '2024-01-02'));
    clock.advance(100 * HOUR_MS);
    await table.overwritePartitions(rows('2024-01-01', 100, 102)); // v4: a, b → c (300 h ago)
    files.c = pathOf((await table.snapshot()).files.find((f) => f.partitionValues['day'] === '2024-01-01'));
    clock.advance(290 * HOUR_MS);
    await table.overwritePartitions(rows('2024-01-01', 200, 201)); // v5: c → e (10 h ago)
    files.e = pathOf((await table.snapshot()).files.find((f) => f.partitionValues['day'] === '2024-01-01'));
    clock.advance(10 * HOUR_MS); // now

    // Orphans of killed writers (never committed), one old and one fresh; hidden files; an old log.
    for (const [name, hoursAgo] of [
      ['day=2024-01-01/part-00000-orphan-old.c000.zstd.parquet', 400],
      ['day=2024-01-02/part-00000-orphan-new.c000.zstd.parquet', 0],
      ['_staging/part-old.parquet', 400],
      ['day=2024-01-01/.part-old.parquet.crc', 400],
    ] as const) {
      await mkdir(dirname(join(tableDir, name)), { recursive: true });
      await copyFile(join(tableDir, files.e), join(tableDir, name));
      await backdate(name, hoursAgo);
    }
    for (const name of await readdir(join(tableDir, '_delta_log'))) await backdate(`_delta_log/${name}`, 400);
    for (const name of [files.a, files.b, files.c, files.d, files.e]) await backdate(name, 400);
  });
  afterEach(async () => {
    await fx.close();
  });

  const onDisk = (): Promise<string[]> => filesUnder(tableDir);

  it('a dry run lists exactly the old removed files and old orphans, and deletes nothing', async () => {
    const before = await onDisk();
    const result = await vacuumTable(table, { dryRun: true, clock });
    expect(result.files.map((f) => [f.path, f.reason])).toEqual(
      [
        [files.a, 'removed'],
        [files.b, 'removed'],
        ['day=2024-01-01/part-00000-orphan-old.c000.zstd.parquet', 'orphan'],
      ].sort((x, y) => (x[0] as string).localeCompare(y[0] as string)),
    );
    expect(result).toMatchObject({ table: 'bronze.events', dryRun: true, retentionHours: 168, version: 5, deletedFiles: 3, keptFiles: 2 });
    let bytes = 0;
    for (const f of result.files) bytes += (await stat(join(tableDir, f.path))).size;
    expect(result.deletedBytes).toBe(bytes);
    expect(await onDisk()).toEqual(before);
  });

  it('deletes them; keeps live files, recent tombstones, fresh orphans, hidden files and the whole log', async () => {
    const log = (await onDisk()).filter((f) => f.startsWith('_delta_log/'));
    expect(log.some((f) => f.endsWith('.checkpoint.parquet'))).toBe(true);
    const result = await vacuumTable(table, { clock });
    expect(result.deletedFiles).toBe(3);
    const left = await onDisk();
    expect(left).toEqual(
      [
        ...log,
        files.c,
        files.d,
        files.e,
        'day=2024-01-02/part-00000-orphan-new.c000.zstd.parquet',
        '_staging/part-old.parquet',
        'day=2024-01-01/.part-old.parquet.crc',
      ].sort(),
    );
    // the latest version and versions whose files were kept still read
    const latest = await fx.engine.all(`SELECT id FROM (${await (await table.snapshot()).scanSql(fx.store)}) ORDER BY id`);
    expect(latest.map((r) => r['id'])).toEqual(['0', '1', '2', '200']);
    const v4 = await table.snapshot({ version: 4 });
    expect(await fx.engine.all(`SELECT count(*) AS n FROM (${await v4.scanSql(fx.store)})`)).toEqual([{ n: '5' }]);
    // a second vacuum finds nothing
    expect((await vacuumTable(table, { clock })).deletedFiles).toBe(0);
  });

  it('time travel to a vacuumed version fails naming the file and saying it was probably vacuumed', async () => {
    await vacuumTable(table, { clock });
    const v1 = await table.snapshot({ version: 1 });
    const error = await v1.scanSql(fx.store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TableCorrupt);
    expect((error as TableCorrupt).message).toContain(`bronze.events at version 1: data file ${files.a} is missing`);
    expect((error as TableCorrupt).message).toMatch(/version 1 is not the latest, so the file was probably vacuumed/);
    expect((error as TableCorrupt).hint).toMatch(/Time travel only reaches versions whose files vacuum kept.*read a newer version/);
  });

  it('a live file deleted outside lakeloop is not blamed on vacuum', async () => {
    await rm(join(tableDir, files.d));
    const error = await (await table.snapshot()).scanSql(fx.store).catch((e: unknown) => e);
    expect((error as TableCorrupt).message).toContain(`data file ${files.d} is missing (bronze/events/${files.d} not found in ${fx.store.description}) from the latest version`);
    expect((error as TableCorrupt).hint).toMatch(/deleted outside lakeloop/);
  });

  it('refuses a retention under 1 hour unless forced; forced, it deletes every unreferenced file', async () => {
    const error = await vacuumTable(table, { retentionHours: 0.5, clock }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(/Refusing to vacuum bronze\.events with a retention of 0\.5 h/);
    expect((error as UsageError).hint).toMatch(/--force/);
    expect((await onDisk()).length).toBeGreaterThan(8);
    const forced = await vacuumTable(table, { retentionHours: 0, force: true, clock });
    expect(forced.files.map((f) => f.path).sort()).toEqual(
      [files.a, files.b, files.c, 'day=2024-01-01/part-00000-orphan-old.c000.zstd.parquet', 'day=2024-01-02/part-00000-orphan-new.c000.zstd.parquet'].sort(),
    );
    expect(forced.keptFiles).toBe(0);
  });

  it('vacuums partition folders whose column starts with an underscore', async () => {
    const other = await DeltaTable.create(fx.store, 'bronze/hidden_part', {
      engine: fx.engine,
      clock,
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: '_part', type: 'VARCHAR' },
      ],
      partitionColumns: ['_part'],
    });
    await other.append(`SELECT 1::BIGINT AS id, 'x' AS _part`);
    const first = pathOf((await other.snapshot()).files[0]);
    await other.overwritePartitions(`SELECT 2::BIGINT AS id, 'x' AS _part`);
    expect(first.startsWith('_part=x/')).toBe(true);
    const later = new ManualClock(clock.nowMs() + 200 * HOUR_MS);
    const result = await vacuumTable(other, { clock: later });
    expect(result.files.map((f) => f.path)).toEqual([first]);
    // the other table's folder was not touched
    expect((await vacuumTable(table, { dryRun: true, clock })).deletedFiles).toBe(3);
  });
});

describe('vacuumTable on S3 (s3rver)', () => {
  it('deletes old tombstones and orphans through list + delete, keeps the rest; a dry run deletes nothing', async () => {
    const { store, cleanup } = await createTestS3Store({}, s3rverTestEndpoint());
    const engine = await Engine.create({ threads: 2 });
    try {
      const clock = new ManualClock(Date.now());
      const table = await DeltaTable.create(store, 'bronze/events', { engine, clock, name: 'bronze.events', columns: await engine.describe(rows('2024-01-01', 0, 1)), partitionColumns: ['day'] });
      await table.append(rows('2024-01-01', 0, 5));
      await table.append(rows('2024-01-01', 5, 9));
      const old = (await table.snapshot()).files.map(pathOf);
      await table.overwritePartitions(rows('2024-01-01', 100, 102)); // removes the two at "now"
      const recent = pathOf((await table.snapshot()).files[0]);
      clock.advance(150 * HOUR_MS);
      await table.overwritePartitions(rows('2024-01-01', 200, 201)); // removes `recent` 150 h later
      const live = pathOf((await table.snapshot()).files[0]);
      await store.put('bronze/events/day=2024-01-01/part-00000-orphan.c000.zstd.parquet', 'not committed');
      const keys = async (): Promise<string[]> => (await store.listAll('bronze/events/')).map((o) => o.key.slice('bronze/events/'.length)).sort();
      const before = await keys();

      const vacuumAt = new ManualClock(clock.nowMs() + 50 * HOUR_MS); // 200 h after the first removes and the orphan
      const dry = await vacuumTable(table, { clock: vacuumAt, dryRun: true });
      expect(dry.files.map((f) => [f.path, f.reason]).sort()).toEqual(
        [...old.map((p) => [p, 'removed']), ['day=2024-01-01/part-00000-orphan.c000.zstd.parquet', 'orphan']].sort(),
      );
      expect(await keys()).toEqual(before);

      const result = await vacuumTable(table, { clock: vacuumAt });
      expect(result).toMatchObject({ deletedFiles: 3, keptFiles: 1 });
      const after = await keys();
      expect(after).toEqual(before.filter((k) => !old.includes(k) && !k.includes('orphan')));
      expect(after).toContain(recent);
      expect(after).toContain(live);
      expect(after.filter((k) => k.startsWith('_delta_log/'))).toEqual(before.filter((k) => k.startsWith('_delta_log/')));
      const fresh = await DeltaTable.open(store, 'bronze/events', { engine });
      expect(await engine.all(`SELECT id FROM (${await (await fresh.snapshot()).scanSql(store)})`)).toEqual([{ id: '200' }]);
    } finally {
      await engine.close();
      await cleanup();
    }
  });
});
