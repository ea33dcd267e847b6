import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, LakeloopError, type Clock } from '../core/index.js';
import type { Engine, SqlValue } from '../engine/index.js';
import { OPEN_PARTITION_FILES, quoteIdent, quoteList, quoteLiteral } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { AddAction, PartitionValues } from './actions.js';
import { deltaTypeOfDuckdb, deltaTypeText, duckdbTypeOf, widensTo, type SchemaField, type TableSchema } from './delta-schema.js';
import { tableKey } from './log-files.js';
import { encodeAddPath, partitionDirectory, partitionKey, partitionMatches, type PartitionSpec } from './partition-paths.js';
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
  /** Deterministic file names (idempotent writers): `part-<n>-<prefix>.c000.zstd.parquet`. */
  readonly fileNamePrefix?: string;
  /** When set, every output partition must match one of these (else nothing is uploaded). */
  readonly allowedPartitions?: readonly PartitionSpec[];
  /** Decoded paths of live files: a deterministic name must never overwrite one of them. */
  readonly livePaths?: ReadonlySet<string>;
  /** When set, the query must return exactly this many rows (else `ROW_COUNT`, nothing uploaded). */
  readonly expectedRows?: number;
  /**
   * The query is a cheap scan (e.g. a temp table): each partition's file is then written by
   * its own COPY filtered on the partition columns, each writer thread emitting its own row
   * groups (row order inside a file is not kept), and stats come from one aggregate over the
   * query, instead of one partitioned COPY, which pushes every row through per-partition
   * buffers and reads the files back for stats. Fastest when rows are grouped by partition
   * (zonemaps skip the others' row groups), and still faster unsorted: 30 dates × 33k rows,
   * 1.8 s against 2.2 s for the partitioned COPY (DuckDB 1.5, 2 threads). Same files, same stats.
   */
  readonly clustered?: boolean;
  /**
   * A column of the query that is not written: rows of one partition with different values
   * in it go to different files (null is a value). For a partitioned, non-clustered write.
   */
  readonly fileGroupColumn?: string;
}

const PARTITION_HELPER = '__lakeloop_partition';
const FILE_COLUMN = '__lakeloop_file';
const MAX_STRING_STAT = 256;

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
  const projection = await castProjection(engine, table, request);
  const inner = `SELECT ${projection.list.join(', ')} FROM ${subquery(request.selectSql)} AS __lakeloop_source`;
  const partitionFields = request.partitionColumns.map((c) => fieldOf(request.schema, c, table));

  return withTempDir('write', async (dir) => {
    let described: DescribedFile[];
    if (partitioned && request.clustered && partitionFields.every((f) => CLUSTERED_PARTITION_TYPES.has(f.type as string))) {
      described = await writeClustered(engine, table, request, projection, partitionFields, dir);
    } else {
      let localFiles: string[];
      if (partitioned) {
        const tuple = partitionFields.map((f) => partitionText(quoteIdent(f.name), f)).join(', ');
        const group = request.fileGroupColumn === undefined ? undefined : quoteIdent(request.fileGroupColumn);
        const grouped = group ? `SELECT ${projection.list.join(', ')}, __lakeloop_source.${group} AS __lakeloop_group FROM ${subquery(request.selectSql)} AS __lakeloop_source` : inner;
        await engine.run(
          `COPY (SELECT *${group ? ' EXCLUDE (__lakeloop_group)' : ''}, hash(${tuple}${group ? ', __lakeloop_group' : ''}) AS ${PARTITION_HELPER} FROM (${grouped})) TO ${quoteLiteral(join(dir, 'out'))} ` +
            `(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${PARTITION_HELPER}))`,
        );
        localFiles = await parquetFilesUnder(join(dir, 'out'));
      } else {
        const file = join(dir, 'data.parquet');
        await engine.copyToParquet(inner, file, { compression: 'zstd' });
        localFiles = [file];
      }
      described = localFiles.length === 0 ? [] : await describeFiles(engine, localFiles, fields, partitionFields);
    }
    if (described.length === 0) {
      if (request.expectedRows) throw rowCountError(table, request.expectedRows, 0);
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
    described.sort((a, b) => {
      const ka = partitionKey(request.partitionColumns, a.partitionValues);
      const kb = partitionKey(request.partitionColumns, b.partitionValues);
      return ka < kb ? -1 : ka > kb ? 1 : a.localPath < b.localPath ? -1 : a.localPath > b.localPath ? 1 : 0;
    });
    const modificationTime = context.clock.nowMs();
    return mapLimit(described, 4, async (file, index) => {
      const relative = `${partitionDirectory(request.partitionColumns, file.partitionValues)}part-${String(index).padStart(5, '0')}-${prefix}.c000.zstd.parquet`;
      if (request.fileNamePrefix !== undefined && request.livePaths?.has(relative)) {
        throw new LakeloopError('WRITE', `Failed to write to ${table}: file ${relative} is already live; a deterministic name must not be reused`, {
          hint: 'Use a txn (appId, version) with deterministic names so a committed batch is skipped, or a new fileNamePrefix.',
        });
      }
      const sizeBytes = (await stat(file.localPath)).size;
      await context.store.putFile(tableKey(context.tablePath, relative), file.localPath);
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

/** DuckDB's default Parquet row group, and the smallest a clustered write cuts a file into. */
const DEFAULT_ROW_GROUP_SIZE = 122_880;
const MIN_ROW_GROUP_SIZE = 16_384;

/** Partition column types whose values a clustered write can match with a plain `=` on the source column. */
const CLUSTERED_PARTITION_TYPES = new Set(['string', 'date', 'long', 'integer', 'short', 'byte', 'boolean']);

/**
 * A clustered partitioned write: stats and the partitions in one aggregate over the query (a
 * cheap scan), then one COPY partitioned by the hash of the partition tuple, in row groups
 * small enough that both threads encode every file (a file of one default row group is encoded
 * by one thread when the COPY ends: 1.2 s against 0.85 s for 1M rows in 30 dates). The COPY
 * reports each file's row count and hash, which must match the aggregate's group exactly, so a
 * partition that lost or gained rows cannot go unseen.
 */
async function writeClustered(
  engine: Engine,
  table: string,
  request: DataFilesRequest,
  projection: { readonly list: readonly string[] },
  partitionFields: readonly SchemaField[],
  dir: string,
): Promise<DescribedFile[]> {
  const inner = `SELECT ${projection.list.join(', ')} FROM ${subquery(request.selectSql)} AS __lakeloop_source`;
  const groups = await statsByGroup(engine, `(${inner})`, request.schema.fields, partitionFields, undefined);
  if (groups.length === 0) return [];
  const rows = groups.reduce((sum, g) => sum + g.numRecords, 0);
  const rowGroupSize = Math.min(DEFAULT_ROW_GROUP_SIZE, Math.max(MIN_ROW_GROUP_SIZE, Math.ceil(rows / groups.length / 2)));
  const tuple = partitionFields.map((f) => quoteIdent(f.name)).join(', ');
  const copy =
    `COPY (SELECT *, hash(${tuple}) AS ${PARTITION_HELPER} FROM (${inner})) TO ${quoteLiteral(join(dir, 'out'))} ` +
    `(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${PARTITION_HELPER}), ROW_GROUP_SIZE ${rowGroupSize}, PRESERVE_ORDER false, RETURN_STATS)`;
  // Past its open-file limit, DuckDB closes a partition's file and starts another one.
  const written = groups.length > OPEN_PARTITION_FILES ? await withSetting(engine, 'partitioned_write_max_open_files', groups.length, () => engine.all(copy)) : await engine.all(copy);
  const byHash = new Map<string, { file: string; rows: number }>();
  for (const row of written) {
    const keys = row['partition_keys'] as { key: string; value: string }[];
    const hash = keys.find((k) => k.key === PARTITION_HELPER)?.value;
    assert(hash !== undefined, `clustered write of ${table}: every file has its partition hash`);
    if (byHash.has(hash)) {
      // Still more than one file for a partition: each needs stats of its own, read back.
      return describeFiles(engine, written.map((r) => String(r['filename'])), request.schema.fields, partitionFields);
    }
    byHash.set(hash, { file: String(row['filename']), rows: Number(row['count']) });
  }
  assert(byHash.size === groups.length, `clustered write of ${table}: ${groups.length} partition(s), ${byHash.size} file(s)`);
  return groups.map(({ group, ...described }) => {
    const file = byHash.get(String(group));
    assert(file !== undefined && file.rows === described.numRecords, `clustered write of ${table}: partition ${JSON.stringify(described.partitionValues)} has ${described.numRecords} row(s), its file ${file?.rows}`);
    return { ...described, localPath: file.file };
  });
}

/** Runs `work` with a DuckDB setting at `value`, then puts the setting back. */
async function withSetting<T>(engine: Engine, name: string, value: number, work: () => Promise<T>): Promise<T> {
  const before = await engine.scalar(`SELECT current_setting(${quoteLiteral(name)})`);
  await engine.run(`SET ${name} = ${value}`);
  try {
    return await work();
  } finally {
    await engine.run(`SET ${name} = ${quoteLiteral(String(before))}`);
  }
}

/**
 * The SELECT list that casts the query's columns to the table schema, in schema order, and
 * which query column each schema column comes from.
 */
async function castProjection(
  engine: Engine,
  table: string,
  request: DataFilesRequest,
): Promise<{ list: string[] }> {
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
  const list = request.schema.fields.map((field) => {
    const type = duckdbTypeOf(field.type);
    const target = quoteIdent(field.name);
    const column = byName.get(field.name.toLowerCase());
    if (!column) {
      if (!field.nullable) throw new LakeloopError('WRITE', `Failed to write to ${table}: the query lacks NOT NULL column ${field.name}`);
      return `CAST(NULL AS ${type}) AS ${target}`;
    }
    const sourceType = deltaTypeOfDuckdb(column.type, column.name);
    if (!widensTo(sourceType, field.type)) {
      throw new LakeloopError(
        'WRITE',
        `Failed to write to ${table}: column ${field.name} is ${column.type} in the query but ${deltaTypeText(field.type)} in the table`,
        { hint: `Cast it in the query: CAST(${field.name} AS ${type}).` },
      );
    }
    const cast = `CAST(${quoteIdent(column.name)} AS ${type})`;
    const isStringPartition = field.type === 'string' && request.partitionColumns.includes(field.name);
    return `${isStringPartition ? `NULLIF(${cast}, '')` : cast} AS ${target}`;
  });
  return { list };
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

interface DescribedFile {
  readonly localPath: string;
  readonly numRecords: number;
  readonly partitionValues: PartitionValues;
  readonly nullCounts: ReadonlyMap<string, number>;
  readonly statsJson: string;
}

/** Row counts, partition values and min/max/nullCount of every written file, in one query. */
async function describeFiles(
  engine: Engine,
  localFiles: readonly string[],
  fields: readonly SchemaField[],
  partitionFields: readonly SchemaField[],
): Promise<DescribedFile[]> {
  const source = `read_parquet(${quoteList(localFiles)}, filename = ${quoteLiteral(FILE_COLUMN)})`;
  const groups = await statsByGroup(engine, source, fields, partitionFields, FILE_COLUMN);
  return groups.map(({ group, ...file }) => ({ ...file, localPath: String(group) }));
}

/**
 * Stats of `source` grouped by `groupColumn` (each group must hold one partition tuple), or,
 * without one, by the partition tuple itself (`group` is then its hash); groups in no particular order.
 */
async function statsByGroup(
  engine: Engine,
  source: string,
  fields: readonly SchemaField[],
  partitionFields: readonly SchemaField[],
  groupColumn: string | undefined,
): Promise<(Omit<DescribedFile, 'localPath'> & { group: SqlValue | undefined })[]> {
  // Grouped by the raw partition values (formatted once per group, not once per row).
  const selects: string[] = ['count(*) AS n'];
  const keys = partitionFields.map((f) => quoteIdent(f.name));
  if (groupColumn !== undefined) {
    selects.push(`${groupColumn} AS g`);
    if (keys.length > 0) selects.push(`count(DISTINCT row(${keys.join(', ')})) AS tuples`);
    keys.forEach((key, i) => selects.push(`any_value(${key}) AS __pk${i}`));
  } else {
    keys.forEach((key, i) => selects.push(`${key} AS __pk${i}`));
  }
  const statFields = fields.filter((f) => typeof f.type === 'string');
  statFields.forEach((field, i) => {
    const c = quoteIdent(field.name);
    selects.push(`count(*) - count(${c}) AS z${i}`);
    const bounds = minMaxText(c, field.type as string);
    if (bounds) selects.push(`${bounds.min} AS lo${i}`, `${bounds.max} AS hi${i}`);
  });
  const groupBy = groupColumn !== undefined ? groupColumn : keys.map((_, i) => `__pk${i}`).join(', ');
  const texts = partitionFields.map((f, i) => `${partitionText(`__pk${i}`, f)} AS p${i}`);
  // Without a group column, a group is named by the hash of its partition tuple (as a clustered write's files are).
  if (groupColumn === undefined && keys.length > 0) texts.push(`hash(${keys.map((_, i) => `__pk${i}`).join(', ')}) AS g`);
  const rows = await engine.all(
    `SELECT *${texts.length ? `, ${texts.join(', ')}` : ''} FROM (SELECT ${selects.join(', ')} FROM ${source}${groupBy ? ` GROUP BY ${groupBy}` : ''})`,
  );
  return rows.map((row) => {
    assert(groupColumn === undefined || partitionFields.length === 0 || Number(row['tuples']) === 1, `written file ${String(row['g'])} holds exactly one partition`);
    const partitionValues: Record<string, string | null> = {};
    partitionFields.forEach((f, i) => {
      const value = row[`p${i}`];
      partitionValues[f.name] = value === null || value === undefined ? null : String(value);
    });
    const nullCounts = new Map<string, number>();
    const mins: string[] = [];
    const maxs: string[] = [];
    const nulls: string[] = [];
    statFields.forEach((field, i) => {
      const name = JSON.stringify(field.name);
      const z = Number(row[`z${i}`] ?? 0);
      nullCounts.set(field.name, z);
      nulls.push(`${name}:${z}`);
      const lo = statValue(row[`lo${i}`], field.type as string, 'min');
      const hi = statValue(row[`hi${i}`], field.type as string, 'max');
      if (lo !== undefined) mins.push(`${name}:${lo}`);
      if (hi !== undefined) maxs.push(`${name}:${hi}`);
    });
    const statsJson = `{"numRecords":${Number(row['n'])},"minValues":{${mins.join(',')}},"maxValues":{${maxs.join(',')}},"nullCount":{${nulls.join(',')}}}`;
    return { group: row['g'], numRecords: Number(row['n']), partitionValues, nullCounts, statsJson };
  });
}

/** SQL for a column's min and max as text, or undefined for types without min/max stats (boolean, binary). */
function minMaxText(c: string, type: string): { min: string; max: string } | undefined {
  if (type === 'boolean' || type === 'binary') return undefined;
  if (type === 'string') return { min: `min(${c})`, max: `max(${c})` };
  if (type === 'date') return { min: `strftime(min(${c}), '%Y-%m-%d')`, max: `strftime(max(${c}), '%Y-%m-%d')` };
  if (type === 'timestamp' || type === 'timestamp_ntz') {
    // Stats hold milliseconds: the min rounds down and the max rounds up, so pruning stays safe.
    const lo = `date_trunc('millisecond', min(${c}))`;
    const hiTrunc = `date_trunc('millisecond', max(${c}))`;
    const hi = `(${hiTrunc} + CASE WHEN ${hiTrunc} < max(${c}) THEN INTERVAL 1 MILLISECOND ELSE INTERVAL 0 MILLISECOND END)`;
    return { min: `strftime(${lo}, '%Y-%m-%dT%H:%M:%S.%gZ')`, max: `strftime(${hi}, '%Y-%m-%dT%H:%M:%S.%gZ')` };
  }
  if (type === 'float' || type === 'double') {
    return {
      min: `CASE WHEN isfinite(min(${c})) THEN CAST(min(${c}) AS VARCHAR) END`,
      max: `CASE WHEN isfinite(max(${c})) THEN CAST(max(${c}) AS VARCHAR) END`,
    };
  }
  return { min: `CAST(min(${c}) AS VARCHAR)`, max: `CAST(max(${c}) AS VARCHAR)` };
}

/** A stats value as JSON text, or undefined when it must be left out. */
function statValue(value: SqlValue | undefined, type: string, bound: 'min' | 'max'): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value);
  if (type === 'string') {
    const chars = Array.from(text);
    if (chars.length <= MAX_STRING_STAT) return JSON.stringify(text);
    // A truncated prefix is still a lower bound, but not an upper bound.
    return bound === 'min' ? JSON.stringify(chars.slice(0, MAX_STRING_STAT).join('')) : undefined;
  }
  if (type === 'date' || type.startsWith('timestamp')) return JSON.stringify(text);
  return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? text : undefined;
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

async function parquetFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.parquet')) found.push(join(entry.parentPath, entry.name));
  }
  return found.sort();
}
