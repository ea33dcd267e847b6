import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { day, oracle, SALES_PROJECT, salesOfDay, SILVER, type Sale } from '../fixtures/sales-project.js';
import { SalesLake } from '../reconcile/sales-lake.js';

/**
 * Partition status (`status --partitions`, `lakeloop.partition_status`) on the sales project
 * driven through the CLI, checked against what the test itself did: which days each verb
 * wrote, how many late rows it sent, which model files it edited.
 */
interface Row {
  partition: string;
  status: string;
  statuses: string[];
  pendingLateRows: number;
  version: number | null;
  mode: string | null;
}
interface StatusJson {
  tables: Record<string, Row[]>;
  models: Record<string, { pendingChange: string | null; staleFrom: string[]; counts: Record<string, number> }>;
}

let dir: string;
let remove: () => Promise<void>;
let sales: SalesLake;
const TABLES = ['silver.sales', 'gold.daily'] as const;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('partition-status'));
  sales = new SalesLake(await writeProject(join(dir, 'project'), SALES_PROJECT), join(dir, 'lake'), dir);
}, 60_000);
afterAll(async () => remove?.());

async function status(): Promise<StatusJson> {
  const run = await sales.cli(['status', '--partitions', '--json']);
  expect(run.code, run.stderr).toBe(0);
  return run.json<StatusJson>();
}

/** Table → partition → status, as `status --partitions --json` reports. */
async function statuses(): Promise<Record<string, Record<string, string>>> {
  const s = await status();
  return Object.fromEntries(TABLES.map((t) => [t, Object.fromEntries((s.tables[t] ?? []).map((p) => [p.partition, p.status]))]));
}

/** What the test expects: every table the same days with the same status. */
function expected(days: Record<string, string>, overrides: Partial<Record<(typeof TABLES)[number], Record<string, string>>> = {}): Record<string, Record<string, string>> {
  return Object.fromEntries(TABLES.map((t) => [t, { ...days, ...overrides[t] }]));
}

async function catalogRows(): Promise<Record<string, unknown>[]> {
  const engine = await Engine.create({ databasePath: join(sales.lake, 'catalog.duckdb'), threads: 1 });
  try {
    return await engine.all('SELECT table_name, partition, status, statuses, pending_late_rows, version, mode FROM lakeloop.partition_status ORDER BY table_name, partition');
  } finally {
    await engine.close();
  }
}

/** The catalog's rows equal `status --partitions --json`. */
async function expectCatalogAgrees(): Promise<void> {
  const s = await status();
  const fromCli = Object.entries(s.tables)
    .flatMap(([table, rows]) => rows.map((p) => ({ table_name: table, partition: p.partition, status: p.status, statuses: p.statuses.join(','), pending_late_rows: p.pendingLateRows, version: p.version, mode: p.mode })))
    .sort((a, b) => a.table_name.localeCompare(b.table_name) || a.partition.localeCompare(b.partition));
  const rows = (await catalogRows()).map((r) => ({ ...r, pending_late_rows: Number(r['pending_late_rows']), version: r['version'] === null ? null : Number(r['version']) }));
  expect(rows).toEqual(fromCli);
}

describe('partition status', () => {
  it('a first run is exact; a streaming run of new on-time data makes its day provisional', async () => {
    await sales.ingest(salesOfDay(1, 1000));
    await sales.run();
    expect(await statuses()).toEqual(expected({ [day(1)]: 'exact' }));
    await sales.ingest(salesOfDay(2, 2000));
    await sales.run();
    expect(await statuses()).toEqual(expected({ [day(1)]: 'exact', [day(2)]: 'provisional' }));
    await expectCatalogAgrees();
  }, 120_000);

  it('late rows are pending_late with exact counts, then exact after reconcile', async () => {
    // Behind the 2 h horizon of day 2's data: 3 rows of day 1, deferred by silver (gold never sees them).
    const late: Sale[] = [0, 1, 2].map((i) => ({ id: 9000 + i, store: 'west', amount: 5 + i, status: 'placed', ts: `${day(1)}T1${i}:00:00Z` }));
    await sales.ingest(late);
    await sales.run();
    const s = await status();
    const silverDay1 = s.tables['silver.sales']?.find((p) => p.partition === day(1));
    expect(silverDay1).toMatchObject({ status: 'pending_late', pendingLateRows: late.length });
    expect(await statuses()).toEqual(expected({ [day(1)]: 'exact', [day(2)]: 'provisional' }, { 'silver.sales': { [day(1)]: 'pending_late' } }));
    expect(s.tables['silver.sales']?.reduce((n, p) => n + p.pendingLateRows, 0)).toBe(late.length);
    await expectCatalogAgrees();
    // The text form: counts per status, then the non-exact partitions.
    const text = await sales.cli(['status', '--partitions', 'silver.sales']);
    expect(text.stdout).toMatch(/^silver\.sales \(version \d+\): 1 pending_late, 1 provisional$/m);
    expect(text.stdout).toContain(`${day(1)}  pending_late 3 late rows`);
    const plain = await sales.cli(['status']);
    expect(plain.stdout).toMatch(/^ {2}silver\.sales: 1 pending_late, 1 provisional — lakeloop reconcile$/m);

    const reconciled = await sales.cli(['reconcile', '--from', day(1), '--to', day(2)]);
    expect(reconciled.code, reconciled.stdout + reconciled.stderr).toBe(0);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
    expect(await statuses()).toEqual(expected({ [day(1)]: 'exact', [day(2)]: 'exact' }));
    expect((await status()).tables['silver.sales']?.every((p) => p.pendingLateRows === 0)).toBe(true);
    await expectCatalogAgrees();
  }, 120_000);

  it('a streaming batch after the reconcile makes only its day provisional', async () => {
    await sales.ingest(salesOfDay(3, 3000));
    await sales.run();
    expect(await statuses()).toEqual(expected({ [day(1)]: 'exact', [day(2)]: 'exact', [day(3)]: 'provisional' }));
  }, 120_000);

  it('a breaking edit of silver makes its partitions and gold downstream stale_code; apply makes them exact', async () => {
    await writeFile(join(sales.project, 'sql/silver/sales.sql'), SILVER.replace('SELECT id, store, amount,', 'SELECT id, store, amount * 2 AS amount,'));
    const s = await status();
    expect(await statuses()).toEqual(expected({ [day(1)]: 'stale_code', [day(2)]: 'stale_code', [day(3)]: 'stale_code' }));
    expect(s.models['silver.sales']).toMatchObject({ pendingChange: 'breaking', staleFrom: [] });
    expect(s.models['gold.daily']).toMatchObject({ pendingChange: null, staleFrom: ['silver.sales'] });
    // Day 3 is both: the precedence puts stale_code first.
    expect(s.tables['gold.daily']?.find((p) => p.partition === day(3))?.statuses).toEqual(['stale_code', 'provisional']);
    const plain = await sales.cli(['status']);
    expect(plain.stdout).toMatch(/^ {2}silver\.sales: 3 stale_code; plan pending \(breaking\) — lakeloop plan$/m);

    const applied = await sales.cli(['apply', '--yes']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(await statuses()).toEqual(expected({ [day(1)]: 'exact', [day(2)]: 'exact', [day(3)]: 'exact' }));
    await expectCatalogAgrees();
  }, 120_000);

  it('status --partitions of a table that is not a model table is a usage error', async () => {
    const run = await sales.cli(['status', '--partitions', 'bronze.sales']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('No model table bronze.sales');
  }, 60_000);
});
