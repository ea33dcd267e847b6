import { LakeloopError, SqlError, TableNotFound, unknownNamesHint } from '../core/index.js';
import { literalPath, type Engine, type SqlColumn, type SqlValue, type TableRef } from '../engine/index.js';
import { LAYERS, type Lake, type Snapshot } from '../table/index.js';
import type { AsOf } from './as-of.js';

/** A query's result and the snapshots it read. */
export interface QueryResult {
  readonly columns: readonly SqlColumn[];
  readonly rows: readonly (readonly SqlValue[])[];
  /** `layer.name` → the snapshot its view was bound to. */
  readonly snapshots: ReadonlyMap<string, Snapshot>;
}

/**
 * The lake tables a statement reads, as `layer.name`, found with DuckDB's own parser:
 * schema-qualified references whose schema is a lake layer (bronze, silver, gold,
 * quarantine). Other references (CTEs, `main.x`, files, `information_schema`) are DuckDB's.
 * A reference in a lake layer that names no table is `TableNotFound` listing the known ones.
 */
export async function lakeTablesIn(lake: Lake, sql: string): Promise<string[]> {
  const refs = (await lake.engine.tableRefs(sql)).filter((ref) => isLakeRef(ref, new Set<string>(LAYERS)));
  const names: string[] = [];
  let known: string[] | undefined;
  for (const ref of refs) {
    const written = `${ref.schema.toLowerCase()}.${ref.name}`;
    // Open the named table directly (one probe); list the lake only when that misses,
    // to match case-insensitively as DuckDB does, or to say which tables exist.
    let name: string | undefined = (await lake.table(written).then(() => written).catch(() => undefined));
    if (name === undefined) {
      known ??= await lake.tables();
      name = known.find((candidate) => candidate.toLowerCase() === written.toLowerCase());
    }
    if (name === undefined) {
      throw new TableNotFound(
        `${ref.schema}.${ref.name}`,
        unknownNamesHint([written], known ?? [], 'Known tables', `The lake at ${lake.store.description} has no tables yet.`),
      );
    }
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Binds a view `layer.name` over exactly the live files of each lake table the statement
 * reads (and only those), at `at` or the latest version, in the lake's engine.
 */
export async function bindQueryTables(lake: Lake, sql: string, at?: AsOf): Promise<Map<string, Snapshot>> {
  const names = await lakeTablesIn(lake, sql);
  if (names.length === 0) return new Map();
  return lake.bindViews(lake.engine, names, at);
}

/**
 * Runs one SQL statement over the lake at a consistent snapshot: what `lakeloop query`
 * and the query benchmark both do.
 *
 * @example
 * const { columns, rows } = await runQuery(lake, 'SELECT count(*) AS n FROM gold.daily_revenue');
 */
export async function runQuery(lake: Lake, sql: string, options: { at?: AsOf } = {}): Promise<QueryResult> {
  const snapshots = await bindQueryTables(lake, sql, options.at);
  const result = await withTableHint(lake, sql, () => lake.engine.table(sql));
  return { ...result, snapshots };
}

/** Runs one `SELECT` over the lake and writes its result to a Parquet file (zstd). */
export async function copyQueryToParquet(
  lake: Lake,
  sql: string,
  path: string,
  options: { at?: AsOf } = {},
): Promise<{ rows: number; snapshots: ReadonlyMap<string, Snapshot> }> {
  const snapshots = await bindQueryTables(lake, sql, options.at);
  const body = stripTrailingSemicolons(sql);
  await withTableHint(lake, sql, () => lake.engine.copyToParquet(body, path));
  const rows = await lake.engine.scalar('SELECT count(*) FROM read_parquet($1)', [literalPath(path)]);
  return { rows: Number(rows), snapshots };
}

/**
 * Runs one statement over the lake at a consistent snapshot and returns its result as an
 * Arrow IPC stream, types kept (decimals as Decimal, TIMESTAMPTZ as Timestamp in `UTC`, lists
 * as List, dates as Date): what `lakeloop query --format arrow` writes.
 */
export async function queryToArrow(
  lake: Lake,
  sql: string,
  options: { at?: AsOf } = {},
): Promise<{ bytes: Uint8Array; rows: number; snapshots: ReadonlyMap<string, Snapshot> }> {
  const snapshots = await bindQueryTables(lake, sql, options.at);
  const { bytes, rows } = await withTableHint(lake, sql, () => lake.engine.arrowIpc(sql));
  return { bytes, rows, snapshots };
}

function isLakeRef(ref: TableRef, layers: ReadonlySet<string>): boolean {
  return ref.catalog === '' && ref.schema !== '' && layers.has(ref.schema.toLowerCase());
}

function stripTrailingSemicolons(sql: string): string {
  return sql.replace(/[;\s]+$/, '');
}

/** A DuckDB "table does not exist" on an unqualified name that is a lake table gets a hint. */
async function withTableHint<T>(lake: Lake, sql: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof SqlError) || !/Table with name (\S+) does not exist/i.test(error.message)) throw error;
    const missing = /Table with name (\S+) does not exist/i.exec(error.message)?.[1]?.replace(/!$/, '') ?? '';
    const matches = (await lake.tables()).filter((name) => name.slice(name.indexOf('.') + 1).toLowerCase() === missing.toLowerCase());
    if (matches.length === 0) throw error;
    throw new LakeloopError('SQL', error.message, {
      cause: error,
      hint: `Lake tables are named layer.table: did you mean ${matches.join(' or ')}?`,
    });
  }
}
