import { copyFile, rename, rm } from 'node:fs/promises';
import { Engine, quoteIdent, quoteLiteral } from '../engine/index.js';
import type { Lake } from '../table/index.js';
import { writePartitionStatusTable, type PartitionStatusRecord } from './partition-status-table.js';

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
 * Each view's comment records its table's version (`lakeloop: silver.orders version 42 in …`);
 * a refresh starts from a copy of the current catalog and rebinds only the views whose
 * table has a new version (binding a view over hundreds of files costs ~0.1 s), and drops
 * the views of tables that are gone.
 *
 * @example
 * await writeCatalog(lake, '/data/lake/catalog.duckdb');
 */
export async function writeCatalog(lake: Lake, path: string, options: PublishOptions = {}): Promise<{ tables: number; rebound: number }> {
  return (await CatalogCopy.open(path)).publish(lake, options);
}

/** Options of `CatalogCopy.publish`. */
export interface PublishOptions {
  /** The rows of `lakeloop.partition_status`, computed at publish time (none, or undefined: the table is left as it is). */
  readonly partitionStatus?: () => Promise<readonly PartitionStatusRecord[] | undefined>;
}

/**
 * A catalog being rewritten: a copy of the current catalog file, open in its own DuckDB
 * instance, that `publish` brings up to date with the lake and renames into place (or
 * `discard` throws away). Opening it early lets a verb overlap the copy and the open with
 * its own work (`run` opens it while its models run).
 */
export class CatalogCopy {
  /** The rebinds started with `rebindSoon`, one after another; `publish` waits for them. */
  private rebinding: Promise<void> = Promise.resolve();
  private discarded = false;
  private readonly rebound = new Set<string>();
  private dropped = 0;

  private constructor(
    private readonly path: string,
    private readonly temp: string,
    private readonly catalog: Engine,
    /** true when the copy started from the catalog in place (false: a new file). */
    private readonly reused: boolean,
  ) {}

  static async open(path: string): Promise<CatalogCopy> {
    const temp = `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`;
    const reused = await copyFile(path, temp).then(
      () => true,
      () => false,
    );
    try {
      return new CatalogCopy(path, temp, await Engine.create({ databasePath: temp, threads: 1 }), reused);
    } catch (error) {
      // A copy DuckDB cannot open (a catalog of another version, a torn file): start afresh.
      await rm(temp, { force: true });
      if (!reused) throw error;
      return new CatalogCopy(path, temp, await Engine.create({ databasePath: temp, threads: 1 }), false);
    }
  }

  /**
   * Starts rebinding one table's view now, in the copy's own DuckDB instance, while the
   * caller goes on (`run` calls it as each model commits, so binding a view overlaps the
   * next model). `publish` waits for it; a view this could not bind, `publish` binds (and
   * reports a failure of its own).
   */
  rebindSoon(lake: Lake, name: string): void {
    this.rebinding = this.rebinding.then(async () => {
      if (this.discarded) return;
      await this.bind(lake, name, await this.viewComments()).catch(() => undefined);
    });
  }

  /** Rebinds the views whose table has a new version, drops those of tables gone, and renames the copy into place. */
  async publish(lake: Lake, options: PublishOptions = {}): Promise<{ tables: number; rebound: number }> {
    const catalog = this.catalog;
    let tables = 0;
    try {
      await this.rebinding;
      const current = await this.viewComments();
      const names = await lake.tables();
      for (const name of names) {
        tables += 1;
        await this.bind(lake, name, current);
      }
      for (const [name, comment] of current) {
        // Views of tables that are gone; views someone else added to the catalog stay.
        if (names.includes(name) || !comment.startsWith('lakeloop: ')) continue;
        const [layer, table] = name.split('.') as [string, string];
        await catalog.run(`DROP VIEW IF EXISTS ${quoteIdent(layer)}.${quoteIdent(table)}`);
        this.dropped += 1;
      }
      const statusRows = await options.partitionStatus?.();
      const statusChanged = statusRows ? await writePartitionStatusTable(catalog, statusRows) : false;
      // Already current: the catalog in place stays as it is (no rename, no new file for readers).
      if (this.reused && this.rebound.size === 0 && this.dropped === 0 && !statusChanged) {
        await this.discard();
        return { tables, rebound: 0 };
      }
      await catalog.run('CHECKPOINT');
    } catch (error) {
      await this.discard();
      throw error;
    }
    await catalog.close();
    await rename(this.temp, this.path);
    await rm(`${this.temp}.wal`, { force: true });
    return { tables, rebound: this.rebound.size };
  }

  /** Closes and deletes the copy; the catalog in place is untouched. */
  async discard(): Promise<void> {
    this.discarded = true;
    await this.rebinding;
    await this.catalog.close().catch(() => undefined);
    await rm(this.temp, { force: true });
    await rm(`${this.temp}.wal`, { force: true });
  }

  /** The copy's views by name (`silver.orders`) with their comments. */
  private async viewComments(): Promise<Map<string, string>> {
    const current = new Map<string, string>();
    for (const row of await this.catalog.all(`SELECT schema_name || '.' || view_name AS name, comment FROM duckdb_views() WHERE NOT internal`)) {
      current.set(String(row['name']), String(row['comment'] ?? ''));
    }
    return current;
  }

  /** Binds `name`'s view over its current snapshot, unless `current` shows it at that version already. */
  private async bind(lake: Lake, name: string, current: ReadonlyMap<string, string>): Promise<void> {
    const [layer, table] = name.split('.') as [string, string];
    const snapshot = await (await lake.table(name)).snapshot();
    // The store is part of it: a lake moved to another folder has views over other paths.
    const comment = `lakeloop: ${name} version ${snapshot.version} in ${lake.store.description}`;
    if (current.get(name) === comment) return;
    const view = `${quoteIdent(layer)}.${quoteIdent(table)}`;
    await this.catalog.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(layer)}`);
    // A view reads its files when queried, where DuckDB reports one that is gone: no stat of each here.
    await this.catalog.run(`CREATE OR REPLACE VIEW ${view} AS ${await snapshot.scanSql(lake.store, undefined, { checkFiles: false })}`);
    await this.catalog.run(`COMMENT ON VIEW ${view} IS ${quoteLiteral(comment)}`);
    this.rebound.add(name);
  }
}

/**
 * Keeps one catalog current for a long-running process (`serve`): refreshes run one at a
 * time (two racing renames could leave the older state in place), requests made while one
 * runs coalesce into one more, and `flush` returns once a refresh that started after the
 * call has published, so a stopping process leaves the catalog at the lake's last commit.
 *
 * @example
 * const refresher = new CatalogRefresher(lake, '/data/lake/catalog.duckdb', (e) => console.warn(e));
 * refresher.request(); // after each commit
 * await refresher.flush(); // at shutdown
 */
export class CatalogRefresher {
  private running: Promise<void> | undefined;
  private again = false;
  private startedAt = -Infinity;
  private trailing: NodeJS.Timeout | undefined;

  constructor(
    private readonly lake: Lake,
    private readonly path: string,
    private readonly onError: (error: unknown) => void,
    /** `requestSoon` refreshes at most this often (a refresh rebinds views: ~0.1 s each). */
    private readonly minIntervalMs = 5_000,
    private readonly options: PublishOptions = {},
  ) {}

  /** Asks for a refresh now; returns at once. */
  request(): void {
    void this.schedule();
  }

  /** Asks for a refresh within `minIntervalMs`: now when the last one started that long ago, else once that time has passed. */
  requestSoon(): void {
    const wait = this.startedAt + this.minIntervalMs - Date.now();
    if (wait <= 0) return this.request();
    this.trailing ??= setTimeout(() => {
      this.trailing = undefined;
      this.request();
    }, wait);
    this.trailing.unref();
  }

  /** Refreshes once more and waits for it (and for any refresh running now). */
  async flush(): Promise<void> {
    clearTimeout(this.trailing);
    this.trailing = undefined;
    await this.schedule();
    while (this.running) await this.running;
  }

  private schedule(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        this.startedAt = Date.now();
        await writeCatalog(this.lake, this.path, this.options).catch(this.onError);
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
