import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { CatalogCopy } from '../../src/query/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/**
 * `CatalogCopy.rebindSoon`: a view bound in the background while the caller goes on (as `run`
 * does after each model commits); `publish` waits for it and binds whatever it could not;
 * `discard` leaves the catalog in place untouched.
 */
describe('binding catalog views while models run', () => {
  let dir: string;
  let engine: Engine;
  let lake: Lake;
  let catalogPath: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lakeloop-catalog-copy-'));
    engine = await Engine.create({ threads: 1 });
    lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
    catalogPath = join(dir, 'lake', 'catalog.duckdb');
    const table = await lake.createTable('silver.t', { columns: [{ name: 'id', type: 'BIGINT' }] });
    await table.append('SELECT range AS id FROM range(3)');
  });

  afterEach(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function views(): Promise<Record<string, string>> {
    const reader = await Engine.create({ databasePath: catalogPath, threads: 1 });
    try {
      const rows = await reader.all(`SELECT schema_name || '.' || view_name AS name, comment FROM duckdb_views() WHERE NOT internal ORDER BY name`);
      return Object.fromEntries(rows.map((r) => [String(r['name']), String(r['comment'])]));
    } finally {
      await reader.close();
    }
  }

  it('publish waits for the background binds, which count as rebound, and binds what they could not', async () => {
    const copy = await CatalogCopy.open(catalogPath);
    copy.rebindSoon(lake, 'silver.t');
    // A table that does not exist: the background bind fails quietly; publish is not affected.
    copy.rebindSoon(lake, 'silver.gone');
    const gold = await lake.createTable('gold.g', { columns: [{ name: 'n', type: 'BIGINT' }] });
    await gold.append('SELECT 7 AS n');
    expect(await copy.publish(lake)).toEqual({ tables: 2, rebound: 2 });
    expect(await views()).toEqual({
      'gold.g': expect.stringMatching(/^lakeloop: gold\.g version 1 in /),
      'silver.t': expect.stringMatching(/^lakeloop: silver\.t version 1 in /),
    });
    const reader = await Engine.create({ databasePath: catalogPath, threads: 1 });
    expect(Number(await reader.scalar('SELECT sum(id) FROM silver.t'))).toBe(3);
    await reader.close();
  });

  it('discard after a background bind leaves the catalog in place as it was', async () => {
    const first = await CatalogCopy.open(catalogPath);
    await first.publish(lake);
    await (await lake.table('silver.t')).append('SELECT 10 AS id');
    const copy = await CatalogCopy.open(catalogPath);
    copy.rebindSoon(lake, 'silver.t');
    await copy.discard();
    expect(await views()).toEqual({ 'silver.t': expect.stringMatching(/^lakeloop: silver\.t version 1 in /) });
    expect((await readdir(join(dir, 'lake'))).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});
