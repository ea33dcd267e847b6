import type { SqlRow, SqlValue } from '../engine/index.js';
import type { PartitionValues } from './actions.js';
import type { SchemaField } from './delta-schema.js';

/** One written data file with what its `add` action needs: rows, partition values and stats. */
export interface DescribedFile {
  readonly localPath: string;
  readonly numRecords: number;
  readonly partitionValues: PartitionValues;
  readonly nullCounts: ReadonlyMap<string, number>;
  readonly statsJson: string;
}

/** Longest string kept in min/max stats; a longer min is cut (still a lower bound), a longer max left out. */
export const MAX_STRING_STAT = 256;

/**
 * The files a `COPY … (FORMAT parquet, RETURN_STATS)` wrote, described from the statistics
 * DuckDB's writer returns (one row per file: `filename`, `count`, `column_statistics`), so
 * nothing is read back. Partition values come from the partition columns' min and max, which
 * must be equal (an exact value: DuckDB cuts a long string's max and raises it, so a cut value
 * never has min = max). Undefined when a file cannot be described this way (a partition value
 * it does not show exactly, a column without a null count, a partition type not handled): the
 * caller then reads the files' stats back.
 */
export function describeCopiedFiles(
  rows: readonly SqlRow[],
  fields: readonly SchemaField[],
  partitionFields: readonly SchemaField[],
  /** String columns whose every non-null value is the given one (the writer reports no bounds for them). */
  constants: ReadonlyMap<string, string> = new Map(),
  /** Columns left out of the stats JSON (the partition columns: readers take `partitionValues`); still null-counted. */
  unstated: ReadonlySet<string> = new Set(),
): DescribedFile[] | undefined {
  const described: DescribedFile[] = [];
  for (const row of rows) {
    const file = describeCopiedFile(row, fields, partitionFields, constants, unstated);
    if (file === undefined) return undefined;
    described.push(file);
  }
  return described;
}

function describeCopiedFile(
  row: SqlRow,
  fields: readonly SchemaField[],
  partitionFields: readonly SchemaField[],
  constants: ReadonlyMap<string, string>,
  unstated: ReadonlySet<string>,
): DescribedFile | undefined {
  const numRecords = Number(row['count']);
  if (!Number.isSafeInteger(numRecords)) return undefined;
  const columns = new Map<string, Map<string, string>>();
  for (const entry of entriesOf(row['column_statistics'])) {
    const name = unquoteName(entry.key);
    if (name !== undefined) columns.set(name, new Map(entriesOf(entry.value).map((e) => [e.key, String(e.value)])));
  }

  const partitionValues: Record<string, string | null> = {};
  for (const field of partitionFields) {
    const stats = columns.get(field.name);
    if (stats === undefined) return undefined;
    if (Number(stats.get('null_count')) === numRecords) {
      partitionValues[field.name] = null;
      continue;
    }
    const min = stats.get('min');
    if (min === undefined || min !== stats.get('max') || stats.get('null_count') !== '0') return undefined;
    const value = typeof field.type === 'string' ? partitionValueOf(min, field.type) : undefined;
    if (value === undefined) return undefined;
    partitionValues[field.name] = value;
  }

  const perColumn: ColumnStats[] = [];
  for (const field of fields) {
    if (typeof field.type !== 'string') continue;
    const stats = columns.get(field.name);
    const nulls = Number(stats?.get('null_count'));
    if (!Number.isSafeInteger(nulls)) return undefined;
    // NaN is left out of the writer's max; DuckDB orders it above every number, so there is no max then.
    const constant = nulls < numRecords ? constants.get(field.name) : undefined;
    const max = constant ?? (stats?.get('has_nan') === 'true' ? undefined : stats?.get('max'));
    perColumn.push({ name: field.name, type: field.type, nulls, min: constant ?? stats?.get('min'), max });
  }
  return { localPath: String(row['filename']), ...deltaStats(numRecords, perColumn, unstated), partitionValues };
}

/** One column's stats as DuckDB gives them: its null count, and min/max as DuckDB's text. */
export interface ColumnStats {
  readonly name: string;
  /** The Delta type (`string`, `long`, `timestamp`, …). */
  readonly type: string;
  readonly nulls: number;
  readonly min: string | undefined;
  readonly max: string | undefined;
}

/**
 * A file's `add.stats` JSON and null counts from its columns' stats (bounds in Delta's form,
 * see `statText`). Columns in `unstated` are null-counted for the writer's checks but left out
 * of the JSON.
 */
export function deltaStats(
  numRecords: number,
  columns: readonly ColumnStats[],
  unstated: ReadonlySet<string> = new Set(),
): { numRecords: number; nullCounts: Map<string, number>; statsJson: string } {
  const nullCounts = new Map<string, number>();
  const mins: string[] = [];
  const maxs: string[] = [];
  const nulls: string[] = [];
  for (const column of columns) {
    const name = JSON.stringify(column.name);
    nullCounts.set(column.name, column.nulls);
    if (unstated.has(column.name)) continue;
    nulls.push(`${name}:${column.nulls}`);
    const lo = statText(column.min, column.type, 'min');
    const hi = statText(column.max, column.type, 'max');
    if (lo !== undefined) mins.push(`${name}:${lo}`);
    if (hi !== undefined) maxs.push(`${name}:${hi}`);
  }
  const statsJson = `{"numRecords":${numRecords},"minValues":{${mins.join(',')}},"maxValues":{${maxs.join(',')}},"nullCount":{${nulls.join(',')}}}`;
  return { numRecords, nullCounts, statsJson };
}

/** A Delta partition value from a stats text, or undefined for types whose text differs. */
function partitionValueOf(text: string, type: string): string | undefined {
  switch (type) {
    case 'string':
      return text === '' ? undefined : text;
    case 'date':
      return DATE.test(text) ? text : undefined;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
      return INTEGER.test(text) ? text : undefined;
    default:
      return undefined;
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INTEGER = /^-?\d+$/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:\+00(?::00)?)?$/;

/**
 * A stats value as the JSON text of Delta's stats (the form the aggregate path writes), or
 * undefined when it must be left out: strings longer than MAX_STRING_STAT (a cut min stays),
 * non-finite numbers, timestamps outside years 1–9999. Timestamps hold milliseconds, the min
 * rounded down and the max up, so pruning stays safe.
 */
export function statText(value: string | undefined, type: string, bound: 'min' | 'max'): string | undefined {
  if (value === undefined) return undefined;
  switch (type) {
    case 'string': {
      const chars = Array.from(value);
      if (chars.length <= MAX_STRING_STAT) return JSON.stringify(value);
      return bound === 'min' ? JSON.stringify(chars.slice(0, MAX_STRING_STAT).join('')) : undefined;
    }
    case 'date':
      return DATE.test(value) ? JSON.stringify(value) : undefined;
    case 'timestamp':
    case 'timestamp_ntz': {
      const iso = timestampMs(value, bound);
      return iso === undefined ? undefined : JSON.stringify(iso);
    }
    case 'boolean':
    case 'binary':
      return undefined;
    default:
      return NUMBER.test(value) ? value : undefined;
  }
}

/** `YYYY-MM-DD HH:MM:SS[.f…][+00]` as ISO-8601 UTC with milliseconds, rounded down (min) or up (max). */
function timestampMs(text: string, bound: 'min' | 'max'): string | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = (m[7] ?? '').padEnd(9, '0');
  if (year < 1) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3)));
  const beyondMs = Number(fraction.slice(3)) > 0;
  const ms = date.getTime() + (bound === 'max' && beyondMs ? 1 : 0);
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

/** `"name"` (DuckDB's quoted column path) → name; undefined for a nested path (`"a"."b"`). */
function unquoteName(key: string): string | undefined {
  const m = /^"((?:[^"]|"")*)"$/.exec(key);
  return m ? (m[1] as string).replaceAll('""', '"') : undefined;
}

function entriesOf(value: SqlValue | undefined): { key: string; value: SqlValue }[] {
  if (!Array.isArray(value)) return [];
  return value.filter((e): e is { key: string; value: SqlValue } => e !== null && typeof e === 'object' && !Array.isArray(e) && typeof e['key'] === 'string');
}
