import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { oracle, SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';
import { addDays, SalesLake, salesOn } from './sales-lake.js';

/**
 * `reconcile`'s window on replayed old data (May 2001): the default window is measured back
 * from the newest event time, not the wall clock, and also covers every partition with
 * deferred late rows however old (the self-healing default); dates are validated and a
 * window is never inverted.
 */
interface Report {
  window?: { from: string; to: string; latePartitions: string[] };
  models: { model: string; from: string; to: string; partitions: { partition: string; status: string; lateRows: number }[] }[];
}

let dir: string;
let remove: () => Promise<void>;
let sales: SalesLake;
const FIRST = '2001-05-01';
const NEWEST = '2001-05-31';

beforeAll(async () => {
  ({ dir, remove } = await tempDir('reconcile-window'));
  const project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  sales = new SalesLake(project, join(dir, 'lake'), dir);
  // a month of 2001 replayed in one batch, then run: nothing is late on a first run
  const month: Sale[] = [];
  for (let d = 0; d < 31; d++) month.push(...salesOn(addDays(FIRST, d), 10_000 + d * 100, 6));
  await sales.ingest(month);
  await sales.run();
}, 120_000);

afterAll(async () => remove?.());

describe('reconcile with no arguments', () => {
  it('applies a late row 30 days older than the newest data; gold equals the oracle', async () => {
    await sales.ingest([{ id: 99_001, store: 'west', amount: 77.5, status: 'placed', ts: `${FIRST}T08:00:00Z` }]);
    const run = await sales.run();
    const silver = run.json<{ models: { model: string; deferred: Record<string, number> }[] }>().models.find((m) => m.model === 'silver.sales');
    expect(silver?.deferred).toEqual({ [FIRST]: 1 });
    expect(await sales.gold()).not.toEqual(oracle(sales.sent));

    const result = await sales.cli(['reconcile', '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = result.json<Report>();
    // the recent window ends at the newest data (2001), not the wall clock, and is not inverted
    for (const m of report.models) expect(m.from <= m.to, `${m.model} ${m.from} → ${m.to}`).toBe(true);
    expect(report.window?.to).toBe(addDays(NEWEST, -1));
    expect(report.window?.latePartitions).toEqual([FIRST]);
    const gold = report.models.find((m) => m.model === 'gold.daily');
    expect(gold?.partitions.filter((p) => p.status === 'corrected').map((p) => p.partition)).toEqual([FIRST]);
    expect(gold?.partitions.filter((p) => p.status === 'match').length).toBeGreaterThanOrEqual(7);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
  }, 120_000);

  it('with nothing to do, says so and why', async () => {
    const result = await sales.cli(['reconcile', '--window', '1d', '--models', 'gold.daily']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/0 corrected/);
    const empty = await sales.cli(['reconcile', '--from', '1999-01-01', '--to', '1999-01-03']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toContain('nothing to reconcile: no late rows pending, no data in the window 1999-01-01 → 1999-01-03');
  }, 60_000);
});

describe('reconcile window flags', () => {
  it.each([['2026-02-30'], ['2026-13-01'], ['garbage'], ['2026-1-5']])('--from %s is a usage error naming the expected form', async (day) => {
    const result = await sales.cli(['reconcile', '--from', day]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--from expects a day as YYYY-MM-DD');
  });

  it('--from alone runs to the newest data or today, whichever is later: never inverted', async () => {
    const result = await sales.cli(['reconcile', '--from', '2001-05-20', '--json', '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    const report = result.json<Report>();
    for (const m of report.models) {
      expect(m.from).toBe('2001-05-20');
      expect(m.to >= new Date().toISOString().slice(0, 10)).toBe(true);
    }
    expect(report.models.find((m) => m.model === 'gold.daily')?.partitions.map((p) => p.partition)).toHaveLength(12);
  }, 60_000);

  it('--from after the default --to is a usage error', async () => {
    const result = await sales.cli(['reconcile', '--from', '2999-01-01']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--from 2999-01-01 is after --to');
  });
});
