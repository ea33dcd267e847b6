import { createHash } from 'node:crypto';
import { quoteLiteral, type Engine } from '../engine/index.js';

/**
 * One row of the analyst catalog's `lakeloop.partition_status`: a model table's partition
 * and its status (`state/partitionStatus`), for a BI tool's "provisional" badge.
 *
 * @example
 * { table_name: 'gold.daily', partition: '2026-03-01', status: 'pending_late', statuses: 'pending_late,provisional', pending_late_rows: 2, max_lateness_seconds: 302400, version: 7, mode: 'stream', fingerprint: '3b9d…', last_exact_version: 0 }
 */
export interface PartitionStatusRecord {
  readonly table_name: string;
  readonly partition: string;
  readonly status: string;
  /** Every status that applies, comma-separated, in precedence order. */
  readonly statuses: string;
  readonly pending_late_rows: number;
  readonly max_lateness_seconds: number | null;
  readonly version: number | null;
  readonly mode: string | null;
  readonly fingerprint: string | null;
  readonly last_exact_version: number | null;
}

const COLUMNS: readonly [keyof PartitionStatusRecord, string][] = [
  ['table_name', 'VARCHAR'],
  ['partition', 'VARCHAR'],
  ['status', 'VARCHAR'],
  ['statuses', 'VARCHAR'],
  ['pending_late_rows', 'BIGINT'],
  ['max_lateness_seconds', 'DOUBLE'],
  ['version', 'BIGINT'],
  ['mode', 'VARCHAR'],
  ['fingerprint', 'VARCHAR'],
  ['last_exact_version', 'BIGINT'],
];

/**
 * Replaces `lakeloop.partition_status` in a catalog with `rows`, unless its comment shows it
 * holds these rows already (a hash of them): returns whether it wrote. A table, not a view:
 * the rows are the state at the refresh, read by tools that never run lakeloop.
 */
export async function writePartitionStatusTable(catalog: Engine, rows: readonly PartitionStatusRecord[]): Promise<boolean> {
  const hash = createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16);
  const comment = `lakeloop: partition status ${hash}`;
  const current = await catalog.all(`SELECT comment FROM duckdb_tables() WHERE schema_name = 'lakeloop' AND table_name = 'partition_status'`);
  if (current[0]?.['comment'] === comment) return false;
  await catalog.run('CREATE SCHEMA IF NOT EXISTS lakeloop');
  await catalog.run(`CREATE OR REPLACE TABLE lakeloop.partition_status (${COLUMNS.map(([name, type]) => `"${name}" ${type}`).join(', ')})`);
  for (let i = 0; i < rows.length; i += 1000) {
    const values = rows.slice(i, i + 1000).map((row) => `(${COLUMNS.map(([name]) => literal(row[name])).join(', ')})`);
    await catalog.run(`INSERT INTO lakeloop.partition_status VALUES ${values.join(', ')}`);
  }
  await catalog.run(`COMMENT ON TABLE lakeloop.partition_status IS ${quoteLiteral(comment)}`);
  return true;
}

function literal(value: string | number | null): string {
  if (value === null) return 'NULL';
  return typeof value === 'number' ? String(value) : quoteLiteral(value);
}
