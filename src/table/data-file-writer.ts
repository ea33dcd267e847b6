import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, LakeloopError, type Clock } from '../core/index.js';
import type { Engine, SqlValue } from '../engine/index.js';
import { quoteIdent, quoteLiteral, quotePaths } from '../engine/index.js';
import { deltaStats, describeCopiedFiles, type DescribedFile } from './copy-stats.js';
import type { ObjectStore } from '../storage/index.js';
import type { AddAction, PartitionValues } from './actions.js';
import { deltaTypeOfDuckdb, deltaTypeText, duckdbTypeOf, widensTo, type SchemaField, type TableSchema } from './delta-schema.js';
import { tableKey } from './log-files.js';
import { deltaPartitionText, encodeAddPath, partitionDirectory, partitionKey, partitionMatches, type PartitionSpec } from './partition-paths.js';
import { mapLimit } from './snapshot.js';
import { withTempDir } from './temp-dir.js';

/** Where and how data files are written. */
export interface DataFileWriterContext {
  readonly store: ObjectStore;
  readonly engine: Engine;
  readonly clock: Clock;
  readonly table: string;
  readonly tablePath: string;
}

/** One write: a query, the table's schema and partitioning, and the guards a caller wants. */
export interface DataFilesRequest {
  readonly selectSql: string;
  readonly schema: TableSchema;
  readonly partitionColumns: readonly string[];
  /**
   * Also write min/max/nullCount of the partition columns in `add.stats` (readers ignore them):
   * for tables created before `delta.writePartitionColumnsToParquet`, whose scans take the
   * null counts as the sign that a file holds the partition columns.
   */
  readonly partitionColumnStats?: boolean;
  /** Deterministic file names (idempotent writers): `part-<n>-<prefix>.c000.zstd.parquet`. */
  readonly fileNamePrefix?: string;
  /** When set, every output partition must match one of these (else nothing is uploaded). */
  readonly allowedPartitions?: readonly PartitionSpec[];
  /** Decoded paths of live files: a deterministic name must never overwrite one of them. */
  readonly livePaths?: ReadonlySet<string>;
  /** When set, the query must return exactly this many rows (else `ROW_COUNT`, nothing uploaded). */
  readonly expectedRows?: number;
  /**
   * The files' row order does not matter and they are written fast: in row groups of 16k
   * rows that both writer threads encode, each emitting its own (a file of one default row
   * group is encoded by one thread as the COPY ends: 1M rows in 30 dates, 1.2 s against
   * 0.85 s). For bronze batches, which compaction later rewrites.
   */
  readonly clustered?: boolean;
  /**
   * The caller knows every row holds the same partition values (a bronze batch of one event
   * date): the rows are written as one file by a plain COPY, without `PARTITION_BY`'s hashing
   * and per-partition writers (1M rows of one date: ~0.14 s CPU less). The writer's stats must
   * then show one value per partition column, else the write fails before anything is uploaded.
   * Ignored with `fileGroupColumn`.
   */
  readonly onePartition?: boolean;
  /**
   * A column of the query that is not written: rows of one partition with different values
   * in it go to different files (null is a value). For a partitioned write.
   */
  readonly fileGroupColumn?: string;
  /**
   * Write-audit-publish without a copy of the rows: called with a relation over the files
   * just written (local, not yet uploaded; the table's columns) and their row count, after
   * the writer's own checks. Throwing abandons the write: nothing is uploaded.
   */
  readonly audit?: (relation: string, rows: number) => Promise<void>;
}

const PARTITION_HELPER = '__lakeloop_partition';
const FILE_COLUMN = '__lakeloop_file';

/**
 * Runs `selectSql` in the engine once and writes its rows as zstd Parquet, one file per
 * partition value tuple under Hive-style directories (`col=value/`), computes per-file
 * stats, uploads the files with `putFile`, and returns their `add` actions. Nothing is
 * visible until the actions are committed.
 *
 * Rows are cast to the table schema (lossless widenings only). Partition columns are also
 * kept inside the data files, so a plain `read_parquet` over the live files returns whole
 * rows; the Delta partition values stay the source of truth for readers that need them.
 * Empty strings in string partition columns are written as null, as Spark does, in both
 * the partition value and the file, so the two never disagree.
 */
export async function writeDataFiles(context: DataFileWriterContext, request: DataFilesRequest): Promise<AddAction[]> {
  const { engine, table } = context;
  const prefix = request.fileNamePrefix ?? randomUUID();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(prefix)) {
    throw new LakeloopError('WRITE', `Failed to write to ${table}: fileNamePrefix ${JSON.stringify(prefix)} may hold only letters, digits, '.', '_' and '-'`);
  }
  const fields = request.schema.fields;
  const partitioned = request.partitionColumns.length > 0;
  const { projection, constants } = await castProjection(engine, table, request);
  const inner = `SELECT ${projection.join(', ')} FROM ${subquery(request.selectSql)} AS __lakeloop_source`;
  const partitionFields = request.partitionColumns.map((c) => fieldOf(request.schema, c, table));

  return withTempDir('write', async (dir) => {
    // A clustered write's files are cut into row groups both threads encode, in no particular row order.
    const layout = request.clustered ? `, ROW_GROUP_SIZE ${CLUSTERED_ROW_GROUP_SIZE}, PRESERVE_ORDER false` : '';
    let copy: string;
    const onePartition = partitioned && request.onePartition === true && request.fileGroupColumn === undefined;
    if (partitioned && !onePartition) {
      // Files by the raw partition values (formatting them per row costs more than the hash).
      const tuple = partitionFields.map((f) => quoteIdent(f.name)).join(', ');
      const group = request.fileGroupColumn === undefined ? undefined : quoteIdent(request.fileGroupColumn);
      const grouped = group ? `SELECT ${projection.join(', ')}, __lakeloop_source.${group} AS __lakeloop_group FROM ${subquery(request.selectSql)} AS __lakeloop_source` : inner;
      copy =
        `COPY (SELECT *${group ? ' EXCLUDE (__lakeloop_group)' : ''}, hash(${tuple}${group ? ', __lakeloop_group' : ''}) AS ${PARTITION_HELPER} FROM (${grouped})) TO ${quoteLiteral(join(dir, 'out'))} ` +
        `(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${PARTITION_HELPER}), RETURN_STATS${layout})`;
    } else {
      copy = `COPY (${inner}) TO ${quoteLiteral(join(dir, 'data.parquet'))} (FORMAT parquet, COMPRESSION zstd, RETURN_STATS${layout})`;
    }
    // The writer's own statistics describe the files; only what they cannot show exactly is read back.
    const written = (
      await engine.all(copy).catch((error: unknown) => {
        throw overflowError(table, error);
      })
    ).filter((row) => Number(row['count']) > 0);
    const unstated = new Set(request.partitionColumnStats ? [] : request.partitionColumns);
    const described =
      describeCopiedFiles(written, fields, partitionFields, constants, unstated) ??
      (written.length === 0 ? [] : await describeFiles(engine, written.map((row) => String(row['filename'])), fields, partitionFields, unstated));
    // describeFiles asserts one partition per file: a wrong onePartition promise stops there, before any upload.
    if (described.length === 0) {
      if (request.expectedRows) throw rowCountError(table, request.expectedRows, 0);
      await request.audit?.(`(SELECT * FROM (${inner}) WHERE false)`, 0);
      return [];
    }

    if (request.expectedRows !== undefined) {
      const rows = described.reduce((sum, file) => sum + file.numRecords, 0);
      if (rows !== request.expectedRows) throw rowCountError(table, request.expectedRows, rows);
    }
    for (const file of described) {
      for (const field of fields) {
        const nulls = file.nullCounts.get(field.name) ?? 0;
        if (!field.nullable && nulls > 0) {
          throw new LakeloopError('WRITE', `Failed to write to ${table}: column ${field.name} is NOT NULL but the query returned ${nulls} null value(s)`);
        }
      }
      if (request.allowedPartitions && !request.allowedPartitions.some((spec) => partitionMatches(file.partitionValues, spec))) {
        throw new LakeloopError(
          'WRITE',
          `Failed to overwrite partitions of ${table}: the query returned rows for partition ${JSON.stringify(file.partitionValues)}, ` +
            `which is not among the partitions being replaced (${JSON.stringify(request.allowedPartitions)})`,
          { hint: 'Filter the query to the listed partitions, or list every partition it writes.' },
        );
      }
    }
    // The files sit in the COPY's hash directories: no hive columns from their paths.
    await request.audit?.(`read_parquet(${quotePaths(described.map((f) => f.localPath))}, hive_partitioning = false)`, described.reduce((sum, file) => sum + file.numRecords, 0));
    described.sort((a, b) => {
      const ka = partitionKey(request.partitionColumns, a.partitionValues);
      const kb = partitionKey(request.partitionColumns, b.partitionValues);
      return ka < kb ? -1 : ka > kb ? 1 : a.localPath < b.localPath ? -1 : a.localPath > b.localPath ? 1 : 0;
    });
    const modificationTime = context.clock.nowMs();
    return mapLimit(described, context.store.putFileConcurrency ?? 4, async (file, index) => {
      const relative = `${partitionDirectory(request.partitionColumns, file.partitionValues)}part-${String(index).padStart(5, '0')}-${prefix}.c000.zstd.parquet`;
      if (request.fileNamePrefix !== undefined && request.livePaths?.has(relative)) {
        throw new LakeloopError('WRITE', `Failed to write to ${table}: file ${relative} is already live; a deterministic name must not be reused`, {
          hint: 'Use a txn (appId, version) with deterministic names so a committed batch is skipped, or a new fileNamePrefix.',
        });
      }
      const sizeBytes = (await stat(file.localPath)).size;
      await context.store.putFile(tableKey(context.tablePath, relative), file.localPath, { move: true });
      const add: AddAction = {
        path: encodeAddPath(relative),
        partitionValues: file.partitionValues,
        size: sizeBytes,
        modificationTime,
        dataChange: true,
        stats: file.statsJson,
      };
      return add;
    });
  });
}

/** The row group of a clustered write: small enough that a date of a few tens of thousands of rows is encoded by both threads. */
const CLUSTERED_ROW_GROUP_SIZE = 16_384;

/**
 * The SELECT list that casts the query's columns to the table schema, in schema order, and
 * which query column each schema column comes from.
 */
async function castProjection(
  engine: Engine,
  table: string,
  request: DataFilesRequest,
): Promise<{ projection: string[]; constants: Map<string, string> }> {
  const source = await engine.describe(`SELECT * FROM ${subquery(request.selectSql)} AS __lakeloop_source`);
  const byName = new Map<string, { name: string; type: string }>();
  for (const column of source) {
    const lower = column.name.toLowerCase();
    if (byName.has(lower)) throw new LakeloopError('WRITE', `Failed to write to ${table}: the query returns column ${column.name} twice`);
    byName.set(lower, column);
  }
  const known = new Set(request.schema.fields.map((f) => f.name.toLowerCase()));
  const group = request.fileGroupColumn?.toLowerCase();
  const extra = source.filter((c) => !known.has(c.name.toLowerCase()) && c.name.toLowerCase() !== group).map((c) => c.name);
  if (extra.length > 0) {
    throw new LakeloopError('WRITE', `Failed to write to ${table}: column(s) ${extra.join(', ')} are not in the table's schema`, {
      hint: 'Add them first with addColumns (schema evolution), or drop them from the query.',
    });
  }
  // Columns that hold one value (or null) in every row: one-value ENUMs. The writer's stats leave out an ENUM's bounds; these are them.
  const constants = new Map<string, string>();
  const projection = request.schema.fields.map((field) => {
    const type = duckdbTypeOf(field.type);
    const target = quoteIdent(field.name);
    const column = byName.get(field.name.toLowerCase());
    if (!column) {
      if (!field.nullable) throw new LakeloopError('WRITE', `Failed to write to ${table}: the query lacks NOT NULL column ${field.name}`);
      return `CAST(NULL AS ${type}) AS ${target}`;
    }
    const isPartition = request.partitionColumns.includes(field.name);
    // A one-value ENUM (a constant) is written as the string column it is in the file, from
    // its own dictionary (cheaper than a VARCHAR, which the writer hashes row by row), so it is
    // not cast. Its value is read from the type, only when the type prints back exactly.
    const member = field.type === 'string' && !isPartition ? /^ENUM\('((?:[^']|'')*)'\)$/i.exec(column.type)?.[1]?.replaceAll("''", "'") : undefined;
    if (member !== undefined && column.type === `ENUM(${quoteLiteral(member)})`) {
      constants.set(field.name, member);
      return `${quoteIdent(column.name)} AS ${target}`;
    }
    const sourceType = deltaTypeOfDuckdb(column.type, column.name);
    if (!widensTo(sourceType, field.type)) {
      throw new LakeloopError(
        'WRITE',
        `Failed to write to ${table}: column ${field.name} is ${column.type} in the query but ${deltaTypeText(field.type)} in the table`,
        { hint: `Cast it in the query: CAST(${field.name} AS ${type}).` },
      );
    }
    const cast = /^U?HUGEINT$/i.test(column.type.trim()) && field.type === 'long' ? bigintOrFail(quoteIdent(column.name), field.name) : `CAST(${quoteIdent(column.name)} AS ${type})`;
    return `${field.type === 'string' && isPartition ? `NULLIF(${cast}, '')` : cast} AS ${target}`;
  });
  return { projection, constants };
}

/** What the COPY raises when a 128-bit integer does not fit the BIGINT column it is stored in. */
const OVERFLOW_MARK = 'lakeloop: value beyond BIGINT in column ';

/** A HUGEINT as BIGINT, raising `OVERFLOW_MARK` + the column's JSON name on a value that does not fit. */
function bigintOrFail(source: string, column: string): string {
  return `CASE WHEN ${source} IS NOT NULL AND TRY_CAST(${source} AS BIGINT) IS NULL THEN error(${quoteLiteral(OVERFLOW_MARK + JSON.stringify(column))}) ELSE TRY_CAST(${source} AS BIGINT) END`;
}

/** The COPY's error, or the clear one when it is `bigintOrFail`'s. */
function overflowError(table: string, error: unknown): unknown {
  const message = error instanceof Error ? error.message : '';
  const at = message.indexOf(OVERFLOW_MARK);
  if (at < 0) return error;
  const name = /^"(?:[^"\\]|\\.)*"/.exec(message.slice(at + OVERFLOW_MARK.length))?.[0];
  const column = name === undefined ? '?' : (JSON.parse(name) as string);
  return new LakeloopError('WRITE', `Failed to write to ${table}: column ${column} holds a value beyond BIGINT (an integer sum() is HUGEINT in DuckDB, which lakeloop stores as BIGINT so that every reader opens it)`, {
    cause: error,
    hint: `Cast it explicitly in the query: CAST(${column} AS DECIMAL(38,0)) keeps every digit, CAST(${column} AS DOUBLE) approximates. A table that already stores ${column} as BIGINT must be rebuilt for the new type.`,
  });
}

/** The partition value text of a column, as the Delta log writes it (null stays null). */
function partitionText(expr: string, field: SchemaField): string {
  switch (field.type) {
    case 'string':
      return expr;
    case 'date':
      return `strftime(${expr}, '%Y-%m-%d')`;
    case 'timestamp':
      // ISO-8601 UTC with microseconds: unambiguous for every reader (the engine runs in UTC).
      return `strftime(${expr}, '%Y-%m-%dT%H:%M:%S.%fZ')`;
    default:
      return `CAST(${expr} AS VARCHAR)`;
  }
}

function rowCountError(table: string, expected: number, actual: number): LakeloopError {
  return new LakeloopError('ROW_COUNT', `Failed to write to ${table}: expected ${expected} row(s), the query returned ${actual}`);
}

/**
 * Row counts, partition values and min/max/nullCount of written files, read back in one
 * query: for what the writer's own statistics cannot show exactly (see `describeCopiedFiles`).
 */
async function describeFiles(
  engine: Engine,
  localFiles: readonly string[],
  fields: readonly SchemaField[],
  partitionFields: readonly SchemaField[],
  unstated: ReadonlySet<string>,
): Promise<DescribedFile[]> {
  const source = `read_parquet(${quotePaths(localFiles)}, filename = ${quoteLiteral(FILE_COLUMN)})`;
  // Grouped by file; partition values formatted once per file, not once per row.
  const selects: string[] = ['count(*) AS n', `${FILE_COLUMN} AS g`];
  const keys = partitionFields.map((f) => quoteIdent(f.name));
  if (keys.length > 0) selects.push(`count(DISTINCT row(${keys.join(', ')})) AS tuples`);
  keys.forEach((key, i) => selects.push(`any_value(${key}) AS __pk${i}`));
  const statFields = fields.filter((f) => typeof f.type === 'string');
  statFields.forEach((field, i) => {
    const c = quoteIdent(field.name);
    selects.push(`count(*) - count(${c}) AS z${i}`);
    // Min and max as DuckDB's text, as the writer's statistics give them: statText makes both Delta's form.
    if (field.type !== 'boolean' && field.type !== 'binary') selects.push(`CAST(min(${c}) AS VARCHAR) AS lo${i}`, `CAST(max(${c}) AS VARCHAR) AS hi${i}`);
  });
  const texts = partitionFields.map((f, i) => `${partitionText(`__pk${i}`, f)} AS p${i}`);
  const rows = await engine.all(`SELECT *${texts.length ? `, ${texts.join(', ')}` : ''} FROM (SELECT ${selects.join(', ')} FROM ${source} GROUP BY ${FILE_COLUMN})`);
  const text = (value: SqlValue | undefined): string | undefined => (value === null || value === undefined ? undefined : String(value));
  return rows.map((row) => {
    assert(partitionFields.length === 0 || Number(row['tuples']) === 1, `written file ${String(row['g'])} holds exactly one partition`);
    const partitionValues: Record<string, string | null> = {};
    partitionFields.forEach((f, i) => {
      const value = text(row[`p${i}`]);
      partitionValues[f.name] = value === undefined ? null : deltaPartitionText(value, f.type);
    });
    const columns = statFields.map((field, i) => ({
      name: field.name,
      type: field.type as string,
      nulls: Number(row[`z${i}`] ?? 0),
      min: text(row[`lo${i}`]),
      max: text(row[`hi${i}`]),
    }));
    return { localPath: String(row['g']), ...deltaStats(Number(row['n']), columns, unstated), partitionValues };
  });
}

/** A query as a parenthesized subquery; tolerates a trailing `;` or `-- comment`. */
function subquery(sql: string): string {
  return `(\n${sql.trim().replace(/;+\s*$/, '')}\n)`;
}

function fieldOf(schema: TableSchema, column: string, table: string): SchemaField {
  const field = schema.fields.find((f) => f.name === column);
  if (!field) throw new LakeloopError('WRITE', `Failed to write to ${table}: partition column ${column} is not in the schema`);
  return field;
}
