/**
 * Reading the lake: the functions behind `lakeloop query`, `inspect` and `status`, kept
 * out of the CLI so the benchmarks, the server and tests call exactly the same code.
 *
 * - `runQuery(lake, sql, { at })`: finds the `layer.name` tables a statement reads with
 *   DuckDB's parser, binds a view over exactly the live files of each (only those) at one
 *   snapshot, and runs the statement. `copyQueryToParquet` does the same into a file,
 *   `queryToArrow` into an Arrow IPC stream.
 * - `tableReport(table, ...)`: version, schema, partitions, live files, rows, bytes, history.
 * - `lakeStatus(lake)`: every table's latest snapshot summarized per layer.
 * - `storageUsage(lake, { quotaBytes })`: live, small and unreferenced files per table and layer, against quotas.
 * - `parseAsOf(text)`: `--as-of` as a version number or an ISO timestamp.
 */
export * from './as-of.js';
export * from './run-query.js';
export * from './table-report.js';
export * from './lake-status.js';
export * from './storage-usage.js';
export * from './catalog.js';
export type { PartitionStatusRecord } from './partition-status-table.js';
