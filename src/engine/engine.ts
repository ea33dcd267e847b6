import { DuckDBInstance, version as duckdbLibraryVersion, type DuckDBConnection } from '@duckdb/node-api';
import { messageOf, SqlError } from '../core/index.js';
import { quotePath } from './literal-path.js';

/** A JSON-safe value as the engine returns it: BIGINT/HUGEINT/DECIMAL come back as strings. */
export type SqlValue = string | number | boolean | null | SqlValue[] | { [key: string]: SqlValue };

/** One result row, column name → JSON-safe value. */
export type SqlRow = Record<string, SqlValue>;

/** A result column's name and DuckDB type (`BIGINT`, `TIMESTAMP WITH TIME ZONE`, `STRUCT(...)`). */
export interface SqlColumn {
  readonly name: string;
  readonly type: string;
}

/** A statement parameter. */
export type SqlParam = string | number | boolean | null | bigint;

/** Resource limits of one DuckDB instance (one "circuit"). */
export interface EngineOptions {
  /** Worker threads; default: DuckDB's (all cores). */
  readonly threads?: number;
  /** e.g. `'2GB'`; default: DuckDB's (80% of RAM). */
  readonly memoryLimit?: string;
  /** Where DuckDB spills; default: DuckDB's. */
  readonly tempDirectory?: string;
  /** A database file; default in-memory. */
  readonly databasePath?: string;
}

export interface ParquetWriteOptions {
  readonly compression?: 'zstd' | 'snappy' | 'uncompressed';
  readonly rowGroupSize?: number;
}

/**
 * How many files a partitioned COPY keeps open (DuckDB's default is 100). Past it, DuckDB
 * closes a partition's file and later starts another one for the same partition: a full build
 * of a 365-day table came out as 1,919 files instead of 365, which every later scan and catalog
 * view pays for. Each open file buffers at most one row group, so an engine with a memory
 * limit under OPEN_PARTITION_FILES_MIN_MEMORY keeps DuckDB's default.
 */
export const OPEN_PARTITION_FILES = 1000;

/** The memory limit from which an engine keeps OPEN_PARTITION_FILES open (4 GB); below it, DuckDB's default. */
export const OPEN_PARTITION_FILES_MIN_MEMORY = 4e9;

/** `'2GB'`, `'512 MiB'` → bytes; NaN for undefined or a text that is not a size. */
export function bytesOf(size: string | undefined): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$/i.exec(size ?? '');
  if (!match) return Number.NaN;
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 }[unit] ?? Number.NaN;
  return Number(match[1]) * factor;
}

/** Quotes an identifier for DuckDB SQL: `my col` → `"my col"`. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for DuckDB SQL: `it's` → `'it''s'`. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A list literal of string literals: `['a', 'b']`, for `read_parquet([...])`. */
export function quoteList(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}

/**
 * The DuckDB session wrapper: the only module that imports `@duckdb/node-api`.
 * Every instance runs with `TimeZone = 'UTC'` so timestamps mean the same everywhere.
 *
 * @example
 * const engine = await Engine.create({ threads: 2, memoryLimit: '1GB' });
 * const rows = await engine.all('SELECT count(*) AS n FROM read_parquet($1)', ['/tmp/a.parquet']);
 * await engine.close();
 */
/** A DuckDB instance's thread count and memory limit as DuckDB reports them. */
export interface EngineLimits {
  readonly threads: number;
  /** DuckDB's rendering, e.g. `1.8 GiB` for `2GB`. */
  readonly memoryLimit: string;
}

export class Engine {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** The DuckDB library's version (`v1.5.x`): what renders query results, for caches keyed by it. */
  static duckdbVersion(): string {
    return duckdbLibraryVersion();
  }

  static async create(options: EngineOptions = {}): Promise<Engine> {
    const settings: Record<string, string> = {};
    if (options.threads !== undefined) settings['threads'] = String(options.threads);
    if (options.memoryLimit !== undefined) settings['memory_limit'] = options.memoryLimit;
    if (options.tempDirectory !== undefined) settings['temp_directory'] = options.tempDirectory;
    // DuckDB keeps every Parquet file it reads in memory (its external file cache) until the
    // memory limit (80% of RAM by default, per instance). lakeloop's engines read local files
    // only (S3 objects are downloaded first), which the OS already caches, and the files a
    // long-running serve reads are mostly read once (a compaction's small files, then removed):
    // the cache grew serve's memory by the size of every file compacted (~36 MiB a round).
    settings['enable_external_file_cache'] = 'false';
    // Each open file buffers up to a row group: a small circuit (reconcile's 1GB) keeps DuckDB's default.
    if (!(bytesOf(options.memoryLimit) < OPEN_PARTITION_FILES_MIN_MEMORY)) settings['partitioned_write_max_open_files'] = String(OPEN_PARTITION_FILES);
    const instance = await DuckDBInstance.create(options.databasePath ?? ':memory:', settings);
    const connection = await instance.connect();
    const engine = new Engine(instance, connection);
    await engine.run("SET TimeZone = 'UTC'");
    return engine;
  }

  /**
   * The limits this instance runs with, as DuckDB reports them (`current_setting`): what a
   * circuit's budget (`budgets.circuits`) took effect as.
   *
   * @example
   * await engine.limits(); // { threads: 1, memoryLimit: '953.6 MiB' }
   */
  async limits(): Promise<EngineLimits> {
    const [row] = await this.all("SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS memory_limit");
    return { threads: Number(row?.['threads']), memoryLimit: String(row?.['memory_limit']) };
  }

  /** Runs statements for their effect. */
  async run(sql: string, params: readonly SqlParam[] = []): Promise<void> {
    try {
      await this.connection.run(sql, params.length ? (params as SqlParam[]) : undefined);
    } catch (error) {
      throw new SqlError(messageOf(error), sql, { cause: error });
    }
  }

  /** Runs a query and returns every row as a JSON-safe object. */
  async all(sql: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params.length ? (params as SqlParam[]) : undefined);
      return reader.getRowObjectsJson() as SqlRow[];
    } catch (error) {
      throw new SqlError(messageOf(error), sql, { cause: error });
    }
  }

  /** Runs a query and returns its columns and rows (rows as arrays, JSON-safe). */
  async table(sql: string, params: readonly SqlParam[] = []): Promise<{ columns: SqlColumn[]; rows: SqlValue[][] }> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params.length ? (params as SqlParam[]) : undefined);
      const names = reader.columnNames();
      const types = reader.columnTypes().map(String);
      return {
        columns: names.map((name, i) => ({ name, type: types[i] ?? 'UNKNOWN' })),
        rows: reader.getRowsJson() as SqlValue[][],
      };
    } catch (error) {
      throw new SqlError(messageOf(error), sql, { cause: error });
    }
  }

  /**
   * Runs a query and returns its result as an Arrow IPC stream, types kept (see
   * `arrowIpcStream`), with its row count.
   */
  async arrowIpc(sql: string, params: readonly SqlParam[] = []): Promise<{ bytes: Uint8Array; rows: number }> {
    let reader;
    try {
      reader = await this.connection.runAndReadAll(sql, params.length ? (params as SqlParam[]) : undefined);
    } catch (error) {
      throw new SqlError(messageOf(error), sql, { cause: error });
    }
    // Loaded on first use: apache-arrow costs ~0.2 s of CPU to load, which every other command (ingest, run) would pay.
    const { arrowIpcStream } = await import('./arrow-ipc.js');
    return { bytes: arrowIpcStream(reader.columnNames(), reader.columnTypes(), reader.getColumns()), rows: reader.currentRowCount };
  }

  /** The first column of the first row, or null when there is no row. */
  async scalar(sql: string, params: readonly SqlParam[] = []): Promise<SqlValue> {
    const rows = await this.all(sql, params);
    const first = rows[0];
    if (!first) return null;
    return Object.values(first)[0] ?? null;
  }

  /** The columns a query would return, without running it. */
  async describe(sql: string): Promise<SqlColumn[]> {
    const rows = await this.all(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: String(r['column_name']), type: String(r['column_type']) }));
  }

  /** Writes a query's result to one Parquet file (zstd by default). */
  async copyToParquet(selectSql: string, path: string, options: ParquetWriteOptions = {}): Promise<void> {
    const compression = options.compression ?? 'zstd';
    const rowGroup = options.rowGroupSize ? `, ROW_GROUP_SIZE ${options.rowGroupSize}` : '';
    await this.run(`COPY (${selectSql}) TO ${quoteLiteral(path)} (FORMAT parquet, COMPRESSION ${compression}${rowGroup})`);
  }

  /**
   * What a Parquet file's footer says, without reading its data: rows, row groups, and per
   * column the physical/logical type, compression, and min/max/null count over all row
   * groups (min/max as the footer's text, null where the writer stored none).
   */
  async parquetMetadata(path: string): Promise<ParquetMetadata> {
    const file = quotePath(path);
    const summary = await this.all(`SELECT num_rows, num_row_groups FROM parquet_file_metadata(${file})`);
    const columns = await this.all(
      `SELECT path_in_schema AS name, any_value(type) AS physical_type, any_value(compression) AS compression, ` +
        `min(stats_min_value) AS min, max(stats_max_value) AS max, sum(stats_null_count) AS null_count, ` +
        `sum(total_compressed_size) AS compressed_bytes FROM parquet_metadata(${file}) GROUP BY path_in_schema, column_id ORDER BY column_id`,
    );
    return {
      rows: Number(summary[0]?.['num_rows'] ?? 0),
      rowGroups: Number(summary[0]?.['num_row_groups'] ?? 0),
      columns: columns.map((c) => ({
        name: String(c['name']),
        physicalType: String(c['physical_type']),
        compression: String(c['compression']),
        min: c['min'] === null ? null : String(c['min']),
        max: c['max'] === null ? null : String(c['max']),
        nullCount: c['null_count'] === null ? null : Number(c['null_count']),
        compressedBytes: Number(c['compressed_bytes'] ?? 0),
      })),
    };
  }

  /**
   * The tables a statement reads, as written (`bronze.orders` → `{schema: 'bronze', name: 'orders'}`),
   * found with DuckDB's own parser. CTE names are excluded.
   */
  async tableRefs(sql: string): Promise<TableRef[]> {
    const serialized = await this.scalar(`SELECT json_serialize_sql(${quoteLiteral(sql)})`);
    const tree = JSON.parse(String(serialized)) as { error: boolean; error_message?: string };
    if (tree.error) throw new SqlError(tree.error_message ?? 'cannot parse', sql);
    const found = new Map<string, TableRef>();
    collectTableRefs(tree, new Set(), found);
    return [...found.values()];
  }

  /** Cancels the statement running now, if any. */
  interrupt(): void {
    this.connection.interrupt();
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** A Parquet file's footer, summarised (see `Engine.parquetMetadata`). */
export interface ParquetMetadata {
  readonly rows: number;
  readonly rowGroups: number;
  readonly columns: readonly {
    readonly name: string;
    readonly physicalType: string;
    readonly compression: string;
    readonly min: string | null;
    readonly max: string | null;
    readonly nullCount: number | null;
    readonly compressedBytes: number;
  }[];
}

/** A table named in a SQL statement. */
export interface TableRef {
  readonly catalog: string;
  readonly schema: string;
  readonly name: string;
  /** 0-based character offset of the reference in the statement, where the parser knows it. */
  readonly location: number | undefined;
}

function collectTableRefs(node: unknown, ctes: Set<string>, found: Map<string, TableRef>): void {
  if (Array.isArray(node)) {
    for (const child of node) collectTableRefs(child, ctes, found);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  const cteMap = record['cte_map'] as { map?: { key: string }[] } | undefined;
  const scoped = new Set(ctes);
  for (const entry of cteMap?.map ?? []) scoped.add(entry.key.toLowerCase());
  if (record['type'] === 'BASE_TABLE' && typeof record['table_name'] === 'string') {
    const schema = String(record['schema_name'] ?? '');
    const name = record['table_name'];
    if (schema !== '' || !scoped.has(name.toLowerCase())) {
      const ref: TableRef = {
        catalog: String(record['catalog_name'] ?? ''),
        schema,
        name,
        location: typeof record['query_location'] === 'number' ? record['query_location'] : undefined,
      };
      const key = `${ref.catalog}.${ref.schema}.${ref.name}`.toLowerCase();
      if (!found.has(key)) found.set(key, ref);
    }
  }
  for (const value of Object.values(record)) collectTableRefs(value, scoped, found);
}

