import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, isLiteralPath, literalPath, quotePath, quotePaths, readablePath } from '../../src/engine/index.js';
import { LakeloopError } from '../../src/core/index.js';

/** DuckDB globs `* ? [` in any path it reads; quotePath names exactly one file, whatever its name holds. */
let engine: Engine;
let dir: string;

/** Names a producer may give, each beside decoys its glob reading would also match. */
const HOSTILE = ['h[12].ndjson', 'g*.ndjson', 'q?.ndjson', 'b{x,y}.ndjson', '**.ndjson', 'x]y[.ndjson', `it's "q".ndjson`, '[*?]{}.ndjson'];
const DECOYS = ['h1.ndjson', 'h2.ndjson', 'g1.ndjson', 'qa.ndjson', 'bx.ndjson', 'x]y1.ndjson', 'a.ndjson'];

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
  // The folder's own name holds glob characters too, as a lake root or drop folder may.
  dir = join(await mkdtemp(join(tmpdir(), 'lakeloop-literal-')), 'my[lake]*?');
  await mkdir(dir, { recursive: true });
  for (const name of [...HOSTILE, ...DECOYS]) await writeFile(join(dir, name), `${JSON.stringify({ name })}\n`);
});

afterAll(async () => {
  await engine.close();
  await rm(join(dir, '..'), { recursive: true, force: true });
});

describe('literal paths', () => {
  it('reads exactly the named file for names holding * ? [ ] { } quotes, in a folder named with them too', async () => {
    for (const name of [...HOSTILE, ...DECOYS]) {
      const path = join(dir, name);
      const rows = await engine.all(`SELECT name, filename FROM read_ndjson(${quotePath(path)}, filename = true)`);
      expect(rows, name).toEqual([{ name, filename: path }]);
    }
    const all = [...HOSTILE, ...DECOYS].map((name) => join(dir, name));
    const listed = await engine.all(`SELECT name FROM read_ndjson(${quotePaths(all)}) ORDER BY name`);
    expect(listed.map((r) => r['name'])).toEqual([...HOSTILE, ...DECOYS].sort());
  });

  it('CSV, text and Parquet readers and footers take the same literal path', async () => {
    const csv = join(dir, 'c[1]*.csv');
    await writeFile(csv, 'a\n1\n');
    await writeFile(join(dir, 'c1x.csv'), 'a\n2\n');
    expect(await engine.all(`SELECT a FROM read_csv(${quotePath(csv)}, header = true)`)).toEqual([{ a: '1' }]);
    expect(await engine.all(`SELECT content FROM read_text(${quotePath(csv)})`)).toEqual([{ content: 'a\n1\n' }]);
    const parquet = join(dir, 'p[1]?.parquet');
    await engine.copyToParquet('SELECT 7 AS v', parquet); // COPY TO writes the name as given
    await engine.copyToParquet('SELECT 8 AS v UNION ALL SELECT 9', join(dir, 'p1x.parquet'));
    expect(await engine.all(`SELECT v FROM read_parquet(${quotePaths([parquet])})`)).toEqual([{ v: 7 }]);
    expect((await engine.parquetMetadata(parquet)).rows).toBe(1);
  });

  it('leaves a path without glob characters as it is', () => {
    const plain = '/data/lake/bronze/orders/part-00000.zstd.parquet';
    expect(literalPath(plain)).toBe(plain);
    expect(literalPath('/a/b{x}\\c].ndjson')).toBe('/a/b{x}\\c].ndjson');
    expect(literalPath('/a/h[12]*?.ndjson')).toBe('/a/h[[]12][*][?].ndjson');
  });

  it('a path holding a backslash and a glob character cannot be named: refused with a clear error, or linked by readablePath', async () => {
    const name = 'back\\slash[1]*.ndjson';
    const path = join(dir, name);
    await writeFile(path, `${JSON.stringify({ name })}\n`);
    await writeFile(join(dir, 'back\\slash1x.ndjson'), `${JSON.stringify({ name: 'decoy' })}\n`);
    expect(isLiteralPath(path)).toBe(false);
    expect(() => literalPath(path)).toThrow(LakeloopError);
    expect(() => literalPath(path)).toThrow(/cannot read a path holding both a backslash and one of \* \? \[ literally/);
    const spool = await mkdtemp(join(tmpdir(), 'lakeloop-literal-spool-'));
    try {
      const readable = await readablePath(path, spool);
      expect(readable).not.toBe(path);
      expect(readable.endsWith('.ndjson')).toBe(true);
      expect(await engine.all(`SELECT name FROM read_ndjson(${quotePath(readable)})`)).toEqual([{ name }]);
      expect(await readablePath(join(dir, 'h[12].ndjson'), spool)).toBe(join(dir, 'h[12].ndjson'));
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  });
});
