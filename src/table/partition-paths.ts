import type { PartitionValues } from './actions.js';

/** The directory name Hive/Spark use for a null partition value. */
export const NULL_PARTITION_DIR = '__HIVE_DEFAULT_PARTITION__';

/**
 * A partition (or a set of partitions): partition column → value string (null = the null
 * partition). Columns left out match any value, so `{}` means the whole table.
 */
export type PartitionSpec = Readonly<Record<string, string | null>>;

// The characters Spark's ExternalCatalogUtils.escapePathName escapes in partition directory names.
const SPARK_ESCAPED = new Set(['"', '#', '%', "'", '*', '/', ':', '=', '?', '\\', '\x7f', '{', '[', ']', '^']);

/** Escapes a partition column name or value for a directory name the way Spark does (`a/b` → `a%2Fb`). */
export function escapePartitionName(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if ((code >= 0x01 && code <= 0x1f) || SPARK_ESCAPED.has(ch)) out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** The Hive-style directory of a partition (`event_date=2024-01-01/`), with a trailing slash; '' when unpartitioned. */
export function partitionDirectory(partitionColumns: readonly string[], values: PartitionValues): string {
  return partitionColumns
    .map((column) => {
      const value = values[column];
      return `${escapePartitionName(column)}=${value === null || value === undefined ? NULL_PARTITION_DIR : escapePartitionName(value)}/`;
    })
    .join('');
}

// RFC 3986 pchar minus '%' (which is always encoded): what may stay literal in a path segment.
const PATH_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/**
 * URL-encodes a relative object path for `add.path` (the protocol stores URIs): every byte
 * outside RFC 3986 `pchar` is percent-encoded, segment by segment, so `x=a%2Fb` → `x=a%252Fb`.
 */
export function encodeAddPath(relative: string): string {
  return relative
    .split('/')
    .map((segment) => {
      let out = '';
      for (const ch of segment) {
        if (PATH_SAFE.test(ch)) out += ch;
        else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
      return out;
    })
    .join('/');
}

/** Decodes an `add.path`/`remove.path` into the object path relative to the table; throws on malformed escapes. */
export function decodeAddPath(path: string): string {
  return decodeURIComponent(path);
}

/**
 * A partition value as the Delta log spells it, from DuckDB's text of the value: a float or
 * double NaN or infinity is `NaN`, `Infinity`, `-Infinity` (Java's spelling, which Trino and
 * Delta Kernel parse), not DuckDB's `nan`, `inf`, `-inf`. Readers accept both.
 *
 * @example
 * deltaPartitionText('-inf', 'double'); // '-Infinity'
 */
export function deltaPartitionText(duckdbText: string, type: unknown): string {
  if (type !== 'double' && type !== 'float') return duckdbText;
  return NON_FINITE[duckdbText.toLowerCase()] ?? duckdbText;
}

const NON_FINITE: Readonly<Record<string, string>> = { nan: 'NaN', '-nan': 'NaN', inf: 'Infinity', '+inf': 'Infinity', infinity: 'Infinity', '-inf': '-Infinity', '-infinity': '-Infinity' };

/** Whether a file's partition values fall inside a partition spec (missing spec keys match anything). */
export function partitionMatches(values: PartitionValues | null | undefined, spec: PartitionSpec): boolean {
  for (const [column, wanted] of Object.entries(spec)) {
    const actual = values?.[column];
    if ((actual ?? null) !== wanted) return false;
  }
  return true;
}

/** Whether two partition specs can describe a common file (equal on every column both name). */
export function partitionsOverlap(a: PartitionSpec, b: PartitionSpec): boolean {
  for (const [column, value] of Object.entries(a)) {
    if (column in b && (b[column] ?? null) !== value) return false;
  }
  return true;
}

/** A stable text key of a partition tuple, for grouping. */
export function partitionKey(partitionColumns: readonly string[], values: PartitionValues): string {
  return JSON.stringify(partitionColumns.map((c) => values[c] ?? null));
}
