import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointCache, DeltaTable, type Snapshot } from '../../src/table/index.js';
import { cli } from '../cli/cli-harness.js';
import { countingStore, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * The checkpoint cache: a reader that finds a checkpoint's JSON lines locally parses them
 * instead of reading the Parquet checkpoint with DuckDB; anything odd about an entry makes
 * it a miss, and a changed checkpoint never meets an old entry.
 */
describe('the checkpoint cache', () => {
  let fx: TableFixture;
  let cacheDir: string;

  beforeEach(async () => {
    fx = await tableFixture();
    cacheDir = await mkdtemp(join(tmpdir(), 'lakeloop-checkpoint-cache-test-'));
    // 12 commits with a checkpoint every 5: the latest snapshot starts from the checkpoint at 10.
    const table = await DeltaTable.create(fx.store, 'silver/t', {
      engine: fx.engine,
      checkpointInterval: 5,
      checkpointCache: null,
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'day', type: 'DATE' },
      ],
      partitionColumns: ['day'],
    });
    for (let i = 0; i < 12; i++) {
      await table.append(`SELECT ${i}::BIGINT AS id, DATE '2024-01-01' + ${i % 3} AS day`, { txn: { appId: 'test', version: i + 1 } });
    }
  });

  afterEach(async () => {
    await fx.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  async function open(cache: CheckpointCache | null, store = fx.store): Promise<Snapshot> {
    return (await DeltaTable.open(store, 'silver/t', { engine: fx.engine, checkpointCache: cache })).snapshot();
  }

  const checkpointReads = (gets: readonly string[]): string[] => gets.filter((k) => k.endsWith('.checkpoint.parquet'));

  it('serves a second reader from the lines the first one kept, with the same snapshot', async () => {
    const cache = CheckpointCache.at(cacheDir);
    const first = countingStore(fx.store);
    const uncached = await open(cache, first.store);
    expect(checkpointReads(first.gets)).toHaveLength(1);
    expect(await readdir(cacheDir)).toHaveLength(1);

    const second = countingStore(fx.store);
    const cached = await open(cache, second.store);
    expect(checkpointReads(second.gets)).toEqual([]);
    expect(cached.version).toBe(12);
    expect(cached.files).toEqual(uncached.files);
    expect([...cached.txns]).toEqual([...uncached.txns]);
    expect(cached.metadata).toEqual(uncached.metadata);
    expect(cached.tombstones).toEqual(uncached.tombstones);
    expect(Number(await fx.engine.scalar(`SELECT count(*) FROM (${await cached.scanSql(fx.store)})`))).toBe(12);
  });

  it('reads the checkpoint again when the entry is torn or unreadable', async () => {
    const cache = CheckpointCache.at(cacheDir);
    const truth = await open(cache);
    const [entry] = await readdir(cacheDir);
    const path = join(cacheDir, entry as string);
    const whole = await readFile(path, 'utf8');
    for (const broken of [whole.slice(0, whole.length - 3), 'not json\n#end\n', '{"add":{"path":1}}\n#end\n']) {
      await writeFile(path, broken);
      const reader = countingStore(fx.store);
      const snapshot = await open(cache, reader.store);
      expect(checkpointReads(reader.gets)).toHaveLength(1);
      expect(snapshot.files).toEqual(truth.files);
      // The reader put a good entry back.
      expect(await readFile(path, 'utf8')).toBe(whole);
    }
  });

  it('names an entry by the checkpoint objects and the rendering: another size, time, ETag, store or format is another entry', () => {
    const cache = CheckpointCache.at(cacheDir);
    const part = { key: 'silver/t/_delta_log/00000000000000000010.checkpoint.parquet', sizeBytes: 100, lastModifiedMs: 5, etag: 'a' };
    const id = cache.entryId('local:/lake', [part], 'f1');
    expect(cache.entryId('local:/lake', [{ ...part }], 'f1')).toBe(id);
    expect(
      new Set([
        id,
        cache.entryId('local:/lake', [{ ...part, sizeBytes: 101 }], 'f1'),
        cache.entryId('local:/lake', [{ ...part, lastModifiedMs: 6 }], 'f1'),
        cache.entryId('local:/lake', [{ ...part, etag: 'b' }], 'f1'),
        cache.entryId('local:/other', [part], 'f1'),
        cache.entryId('local:/lake', [part], 'f2'),
      ]).size,
    ).toBe(6);
  });

  it('keeps its entries private, and is off in a directory others can read or that is a link', async () => {
    const cache = CheckpointCache.at(join(cacheDir, 'fresh'));
    await cache.put('0'.repeat(32), ['{"n":1}']);
    expect((await stat(join(cacheDir, 'fresh'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(cacheDir, 'fresh', `${'0'.repeat(32)}.lakeloop-checkpoint`))).mode & 0o777).toBe(0o600);
    expect(await cache.get('0'.repeat(32))).toEqual(['{"n":1}']);

    const open = join(cacheDir, 'open');
    await mkdir(open, { mode: 0o755 });
    await chmod(open, 0o755);
    await writeFile(join(open, `${'1'.repeat(32)}.lakeloop-checkpoint`), '{"planted":1}\n#end\n');
    const shared = CheckpointCache.at(open);
    expect(await shared.get('1'.repeat(32))).toBeUndefined();
    await shared.put('2'.repeat(32), ['{"n":2}']);
    expect(await readdir(open)).toEqual([`${'1'.repeat(32)}.lakeloop-checkpoint`]);

    await symlink(join(cacheDir, 'fresh'), join(cacheDir, 'link'));
    expect(await CheckpointCache.at(join(cacheDir, 'link')).get('0'.repeat(32))).toBeUndefined();
  });

  it('trusts an entry only for the checkpoint it was made from', async () => {
    const cache = CheckpointCache.at(cacheDir);
    await open(cache);
    const [entry] = await readdir(cacheDir);
    // An entry that claims one file fewer than the checkpoint holds: a reader that uses it shows that.
    const path = join(cacheDir, entry as string);
    const lines = (await readFile(path, 'utf8')).split('\n');
    const firstAdd = lines.findIndex((l) => l.includes('"add":{'));
    lines.splice(firstAdd, 1);
    await writeFile(path, lines.join('\n'));
    expect((await open(cache)).files).toHaveLength(11);
    // Rewriting the checkpoint (a new modification time) leaves that entry behind.
    const key = join(fx.dir, 'silver/t/_delta_log/00000000000000000010.checkpoint.parquet');
    await writeFile(key, await readFile(key));
    expect((await open(cache)).files).toHaveLength(12);
  });

  it('keeps the maxEntries most recently used entries and deletes only its own files', async () => {
    const cache = CheckpointCache.at(cacheDir, { maxEntries: 2 });
    const id = (i: number): string => String(i).repeat(32);
    await writeFile(join(cacheDir, 'user-data.ndjson'), '{"mine":1}\n');
    for (let i = 0; i < 3; i++) {
      await cache.put(id(i), [`{"n":${i}}`]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Entry 0 is read each time: in use, so it stays.
      expect(await cache.get(id(0))).toEqual(['{"n":0}']);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await cache.put(id(3), ['{"n":3}']);
    const names = (await readdir(cacheDir)).sort();
    expect(names).toEqual([`${id(0)}.lakeloop-checkpoint`, `${id(3)}.lakeloop-checkpoint`, 'user-data.ndjson']);
  });

  it('is off with LAKELOOP_CHECKPOINT_CACHE_DIR=off', () => {
    expect(CheckpointCache.fromEnv({ LAKELOOP_CHECKPOINT_CACHE_DIR: 'off' })).toBeUndefined();
    expect(CheckpointCache.fromEnv({ LAKELOOP_CHECKPOINT_CACHE_DIR: cacheDir })?.dir).toBe(cacheDir);
    // The default is per user.
    expect(CheckpointCache.fromEnv({})?.dir).toBe(join(tmpdir(), `lakeloop-checkpoints-${process.getuid?.() ?? ''}`));
  });

  it('the CLI takes LAKELOOP_CHECKPOINT_CACHE_DIR from its environment', async () => {
    const dir = join(cacheDir, 'from-cli-env');
    const result = await cli(['--lake', fx.dir, 'query', 'SELECT count(*) AS n FROM silver.t', '--format', 'json'], fx.dir, { LAKELOOP_CHECKPOINT_CACHE_DIR: dir });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ n: 12 }]);
    expect(await readdir(dir)).toHaveLength(1);
  });
});
