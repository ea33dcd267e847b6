import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlError } from '../../src/core/index.js';
import { bytesOf, Engine } from '../../src/engine/index.js';

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 1, memoryLimit: '256MB' });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-engine-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Engine', () => {
  it('runs with the limits it was given, in UTC', async () => {
    expect(await engine.all("SELECT current_setting('threads') AS t, current_setting('TimeZone') AS tz")).toEqual([{ t: '1', tz: 'UTC' }]);
    expect(String(await engine.scalar("SELECT current_setting('memory_limit')"))).toMatch(/^2\d\d\.\d MiB$/);
  });

  it('keeps 1,000 partition files open with room for their row groups (4 GB or no limit), DuckDB\'s 100 below', async () => {
    expect(await engine.scalar("SELECT current_setting('partitioned_write_max_open_files')")).toBe('100');
    const roomy = await Engine.create({ threads: 1, memoryLimit: '4GB' });
    try {
      expect(await roomy.scalar("SELECT current_setting('partitioned_write_max_open_files')")).toBe('1000');
    } finally {
      await roomy.close();
    }
    expect([bytesOf('1GB'), bytesOf('512 MiB'), bytesOf('4 gb'), bytesOf(undefined), bytesOf('lots')]).toEqual([1e9, 512 * 2 ** 20, 4e9, Number.NaN, Number.NaN]);
  });

  it('does not keep the Parquet files it reads in memory (DuckDB\'s external file cache is off)', async () => {
    const path = join(dir, 'cached.parquet');
    await engine.copyToParquet("SELECT range AS id, repeat('x', 100) || range AS s FROM range(200000)", path);
    for (let i = 0; i < 3; i++) expect(Number(await engine.scalar(`SELECT count(DISTINCT s) FROM read_parquet('${path}')`))).toBe(200000);
    expect(await engine.scalar("SELECT current_setting('enable_external_file_cache')")).toBe(false);
    const held = await engine.scalar("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'EXTERNAL_FILE_CACHE'");
    expect(Number(held)).toBe(0);
  });

  it('writes zstd Parquet with COPY and reads its footer: rows, row groups, min/max/null counts', async () => {
    const path = join(dir, 'a.parquet');
    await engine.copyToParquet("SELECT range AS id, CASE WHEN range % 10 = 0 THEN NULL ELSE 'x' || range END AS s FROM range(10000)", path, { rowGroupSize: 4096 });
    const meta = await engine.parquetMetadata(path);
    expect(meta.rows).toBe(10000);
    expect(meta.rowGroups).toBeGreaterThanOrEqual(2);
    const id = meta.columns.find((c) => c.name === 'id');
    const s = meta.columns.find((c) => c.name === 's');
    expect(id).toMatchObject({ min: '0', max: '9999', nullCount: 0, compression: 'ZSTD' });
    expect(s?.nullCount).toBe(1000);
  });

  it('finds the tables a statement reads with DuckDB’s parser, not CTE names', async () => {
    const refs = await engine.tableRefs('WITH c AS (SELECT 1) SELECT * FROM bronze.orders o JOIN c ON true WHERE o.x IN (SELECT x FROM gold.daily)');
    expect(refs.map((r) => `${r.schema}.${r.name}`)).toEqual(['bronze.orders', 'gold.daily']);
  });

  it('wraps a failing statement in SqlError naming the reason and keeping the SQL', async () => {
    await expect(engine.all('SELEC 1')).rejects.toThrow(SqlError);
    await expect(engine.all('SELEC 1')).rejects.toThrow(/Failed to run SQL: Parser Error/);
  });
});
