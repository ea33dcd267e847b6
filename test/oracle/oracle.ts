import { expect } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import { cli } from '../cli/cli-harness.js';

/**
 * How a column is compared: `num` rounded to 4 decimals (counts, ratios), `exact` and
 * `text` as their text, unrounded — `exact` is for DECIMAL money, where `1111.16` must be
 * `1111.16` on both sides (a DOUBLE would print `1111.1599999999999` or `1111.1`).
 */
export type ColumnKind = 'num' | 'exact' | 'text';

/** A table's columns for comparison, in order. */
export type Columns = Readonly<Record<string, ColumnKind>>;

/** The SELECT over `relation` that renders `columns` comparably (every value a string, numbers rounded), sorted. */
export function comparableSql(relation: string, columns: Columns): string {
  const list = Object.entries(columns).map(([name, kind]) =>
    kind === 'num' ? `CAST(round(CAST("${name}" AS DOUBLE), 4) AS VARCHAR) AS "${name}"` : `CAST("${name}" AS VARCHAR) AS "${name}"`,
  );
  return `SELECT ${list.join(', ')} FROM ${relation} ORDER BY ALL`;
}

/** A table as `lakeloop query` returns it (the analyst's path), rendered by `comparableSql`. */
export async function lakeRows(projectDir: string, table: string, columns: Columns): Promise<Record<string, string | null>[]> {
  const run = await cli(['query', comparableSql(table, columns), '--format', 'json'], projectDir);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, string | null>[];
}

/** The oracle's rows: `sql` run by plain DuckDB (never through lakeloop), rendered by `comparableSql`. */
export async function oracleRows(engine: Engine, sql: string, columns: Columns): Promise<Record<string, string | null>[]> {
  return (await engine.all(comparableSql(`(${sql}) AS oracle`, columns))) as Record<string, string | null>[];
}

/** `[a, b]` as a DuckDB list of string literals. */
export function fileList(files: readonly string[]): string {
  return `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`;
}
