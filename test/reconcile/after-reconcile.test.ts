import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { oracle, SALES_PROJECT } from '../fixtures/sales-project.js';
import { addDays, SalesLake, salesOn } from './sales-lake.js';

/**
 * Reconcile's (and replay's, and compaction's) commits carry the progress downstream runs
 * read: the next streaming `run` does not count reconcile's rewrite of silver as late rows
 * for gold, defers nothing, commits nothing, and `status` shows nothing pending.
 */
interface RunJson {
  models: { model: string; status: string; skipped: boolean; deferred: Record<string, number> }[];
}

let dir: string;
let remove: () => Promise<void>;
let sales: SalesLake;
const FIRST = '2026-03-01';

beforeAll(async () => {
  ({ dir, remove } = await tempDir('after-reconcile'));
  sales = new SalesLake(await writeProject(join(dir, 'project'), SALES_PROJECT), join(dir, 'lake'), dir);
  await sales.ingest(salesOn(FIRST, 1000));
  await sales.run();
  for (let d = 1; d <= 4; d++) {
    await sales.ingest(salesOn(addDays(FIRST, d), 1000 + d * 100));
    await sales.run();
  }
  await sales.ingest([
    { id: 9001, store: 'west', amount: 12, status: 'placed', ts: `${FIRST}T12:00:00Z` },
    { id: 9002, store: 'north', amount: 8, status: 'placed', ts: `${addDays(FIRST, 1)}T12:00:00Z` },
  ]);
  const late = (await sales.run()).json<RunJson>();
  expect(late.models.find((m) => m.model === 'silver.sales')?.deferred).toEqual({ [FIRST]: 1, [addDays(FIRST, 1)]: 1 });
}, 120_000);

afterAll(async () => remove?.());

async function expectQuietRun(): Promise<void> {
  const before = await sales.versions();
  const run = (await sales.run()).json<RunJson>();
  for (const m of run.models) expect([m.model, m.status, m.deferred]).toEqual([m.model, 'ok', {}]);
  expect(run.models.every((m) => m.skipped)).toBe(true);
  expect(await sales.versions()).toEqual(before);
  const status = (await sales.cli(['status', '--json'])).json<{ late: unknown[] }>();
  expect(status.late).toEqual([]);
}

describe('the run after a reconcile', () => {
  it('defers nothing, commits nothing, and status shows nothing pending', async () => {
    const result = await sales.cli(['reconcile', '--from', FIRST, '--to', addDays(FIRST, 4)]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
    await expectQuietRun();
    // and again: nothing piles up
    await expectQuietRun();
  }, 60_000);

  it('the same after a replay of silver and its downstream', async () => {
    const result = await sales.cli(['replay', '--from', FIRST, '--to', addDays(FIRST, 4), '--models', 'silver.sales']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    await expectQuietRun();
  }, 60_000);

  it('the same after a compaction', async () => {
    const result = await sales.cli(['compact']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    await expectQuietRun();
  }, 60_000);

  it('new data afterwards is taken as usual, and gold still equals the oracle', async () => {
    await sales.ingest(salesOn(addDays(FIRST, 5), 2000));
    const run = (await sales.run()).json<RunJson>();
    expect(run.models.every((m) => !m.skipped && Object.keys(m.deferred).length === 0)).toBe(true);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
  }, 60_000);
});
