import type { SqlColumn, SqlValue } from '../engine/index.js';

/** A query result as the engine returns it (BIGINT, HUGEINT, DECIMAL arrive as strings). */
export interface ResultTable {
  readonly columns: readonly SqlColumn[];
  readonly rows: readonly (readonly SqlValue[])[];
}

/** How long a cell may be in `table` output before it is cut with `…`. */
export const MAX_CELL_WIDTH = 60;

const INTEGER_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const DECIMAL_TYPE = /^DECIMAL\(\d+,\d+\)$/;
const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$/;

/**
 * Aligned columns with a header, numbers right-aligned, `NULL` for nulls, long cells cut
 * at `maxCellWidth` with `…`, and a `(N rows)` footer.
 *
 * @example
 * formatTable({ columns: [{ name: 'n', type: 'BIGINT' }], rows: [['42']] });
 * // "  n\n---\n 42\n(1 row)\n"
 */
export function formatTable(result: ResultTable, options: { maxCellWidth?: number } = {}): string {
  const maxWidth = Math.max(4, options.maxCellWidth ?? MAX_CELL_WIDTH);
  const header = result.columns.map((c) => clip(c.name, maxWidth));
  const body = result.rows.map((row) => result.columns.map((c, i) => clip(cellText(row[i] ?? null, 'NULL', c.type), maxWidth)));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const right = result.columns.map((c) => NUMERIC_TYPE.test(c.type));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  const n = result.rows.length;
  out.push(`(${n} ${n === 1 ? 'row' : 'rows'})`);
  return `${out.join('\n')}\n`;
}

/**
 * CSV with a header row: RFC 4180 quoting (fields holding `,` `"` CR or LF are quoted,
 * `"` doubled), LF line endings, NULL as an empty field and the empty string as `""`,
 * lists and structs as JSON text.
 */
export function formatCsv(result: ResultTable): string {
  const lines = [result.columns.map((c) => csvField(c.name)).join(',')];
  for (const row of result.rows) {
    lines.push(result.columns.map((c, i) => csvValue(row[i] ?? null, c.type)).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One JSON array of row objects on a single line. Integers the engine returns as text
 * become JSON numbers when they are safe integers (|n| ≤ 2^53-1), decimals when they
 * have at most 15 significant digits; larger values stay strings so no digit is lost.
 * Repeated column names get `_2`, `_3` suffixes.
 */
export function formatJson(result: ResultTable): string {
  const keys = uniqueNames(result.columns.map((c) => c.name));
  const objects = result.rows.map((row) => {
    const object: Record<string, unknown> = {};
    result.columns.forEach((column, i) => {
      object[keys[i] ?? column.name] = jsonValue(row[i] ?? null, column.type);
    });
    return object;
  });
  return `${JSON.stringify(objects)}\n`;
}

/** An engine value as a JSON value of its column type (see `formatJson`). */
export function jsonValue(value: SqlValue, type: string): unknown {
  if (typeof value === 'string') {
    if (INTEGER_TYPE.test(type) && /^-?\d+$/.test(value)) {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : value;
    }
    if (DECIMAL_TYPE.test(type) && /^-?\d+(\.\d+)?$/.test(value)) {
      return value.replace(/^-|\./g, '').replace(/^0+/, '').length <= 15 ? Number(value) : value;
    }
    return value;
  }
  if (Array.isArray(value) && type.endsWith('[]')) {
    const inner = type.slice(0, -2);
    return value.map((v) => jsonValue(v, inner));
  }
  return value;
}

/** How a value reads in table and CSV output: scalars as DuckDB prints them, lists and structs as JSON. */
export function cellText(value: SqlValue, nullText: string, type: string): string {
  if (value === null) return nullText;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isInterval(value)) return formatInterval(value);
  return JSON.stringify(jsonValue(value, type));
}

function csvValue(value: SqlValue, type: string): string {
  if (value === null) return '';
  if (value === '') return '""';
  return csvField(cellText(value, '', type));
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function clip(text: string, maxWidth: number): string {
  const flat = text.replace(/\r?\n/g, '↵').replace(/\t/g, ' ');
  return flat.length > maxWidth ? `${flat.slice(0, maxWidth - 1)}…` : flat;
}

function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name}_${count}`;
  });
}

interface IntervalValue {
  months: number;
  days: number;
  micros: string | number;
}

function isInterval(value: SqlValue): value is { [key: string]: SqlValue } & IntervalValue {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length === 3 &&
    typeof value['months'] === 'number' &&
    typeof value['days'] === 'number' &&
    (typeof value['micros'] === 'string' || typeof value['micros'] === 'number')
  );
}

/** DuckDB's own interval text: `1 year 2 months 3 days 04:05:06.5`. */
function formatInterval(value: IntervalValue): string {
  const parts: string[] = [];
  const years = Math.trunc(value.months / 12);
  const months = value.months % 12;
  if (years) parts.push(`${years} year${Math.abs(years) === 1 ? '' : 's'}`);
  if (months) parts.push(`${months} month${Math.abs(months) === 1 ? '' : 's'}`);
  if (value.days) parts.push(`${value.days} day${Math.abs(value.days) === 1 ? '' : 's'}`);
  const micros = BigInt(value.micros);
  if (micros !== 0n || parts.length === 0) {
    const negative = micros < 0n;
    const abs = negative ? -micros : micros;
    const hours = abs / 3_600_000_000n;
    const minutes = (abs / 60_000_000n) % 60n;
    const seconds = (abs / 1_000_000n) % 60n;
    const fraction = abs % 1_000_000n;
    const two = (n: bigint): string => n.toString().padStart(2, '0');
    const frac = fraction ? `.${fraction.toString().padStart(6, '0').replace(/0+$/, '')}` : '';
    parts.push(`${negative ? '-' : ''}${two(hours)}:${two(minutes)}:${two(seconds)}${frac}`);
  }
  return parts.join(' ');
}
