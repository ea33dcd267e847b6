import { rename, rm } from 'node:fs/promises';
import { Engine, quoteIdent } from '../engine/index.js';
import type { Lake } from '../table/index.js';

/** Where the analyst catalog of a local lake lives: `<lake root>/catalog.duckdb`. */
export const CATALOG_FILE = 'catalog.duckdb';

/**
 * Writes the analyst catalog: a DuckDB database file with one view per table
 * (`bronze.orders`, `gold.daily_revenue`, …) over exactly the live files of its current
 * snapshot, so `duckdb lake/catalog.duckdb -c "select * from gold.daily_revenue"` works
 * with no lakeloop installed. It is written to a temp file and renamed into place, so a
 * reader opens the old catalog or the new one, never a half-written one. Local lakes
 * only: the views name the data files by their local paths.
 *
 * @example
 * await writeCatalog(lake, '/data/lake/catalog.duckdb');
 */
export async function writeCatalog(lake: Lake, path: string): Promise<{ tables: number }> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const catalog = await Engine.create({ databasePath: temp, threads: 1 });
  let tables = 0;
  try {
    for (const name of await lake.tables()) {
      const [layer, table] = name.split('.') as [string, string];
      const snapshot = await (await lake.table(name)).snapshot();
      await catalog.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(layer)}`);
      await catalog.run(`CREATE OR REPLACE VIEW ${quoteIdent(layer)}.${quoteIdent(table)} AS ${await snapshot.scanSql(lake.store)}`);
      tables += 1;
    }
    await catalog.run('CHECKPOINT');
  } catch (error) {
    await catalog.close();
    await rm(temp, { force: true });
    throw error;
  } finally {
    await catalog.close().catch(() => undefined);
  }
  await rename(temp, path);
  await rm(`${temp}.wal`, { force: true });
  return { tables };
}
