import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedBudgets } from '../../src/config/index.js';
import type { Engine } from '../../src/engine/index.js';
import type { Model } from '../../src/models/index.js';
import { listReports } from '../../src/reconcile/index.js';
import type { ScanBudgetCheck } from '../../src/runner/index.js';
import { defineJob, jobsStatus, listRuns, Scheduler, type SchedulerLogEvent } from '../../src/scheduler/index.js';
import { jobHandlers, StreamingLoop } from '../../src/server/index.js';
import type { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';

/**
 * `budgets.maxBytesScannedPerRun` beyond `lakeloop run` (issue 15): serve's streaming loop
 * and its reconcile/replay jobs check the scan estimate before reading, as `run` does. In
 * `refuse` mode the cycle (or job) is skipped with the reason and nothing is read or
 * written; in `warn` mode it runs and its check says it was over.
 */
let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
let batches = 0;

const budgets = (bytes: number, mode: 'warn' | 'refuse'): ResolvedBudgets => ({ maxBytesScannedPerRun: bytes, mode, storageQuota: {}, circuits: { streaming: {}, reconcile: {} } });
const EVENT_TIME = { 'bronze.sales': 'ts' };

async function ingest(d: number): Promise<void> {
  const file = join(dir, `batch-${++batches}.ndjson`);
  await writeFile(file, `${salesOfDay(d, d * 1000).map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
}

async function versionOf(name: string): Promise<number | undefined> {
  const table = await lake.tableIfExists(name);
  return table ? (await table.snapshot()).version : undefined;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('streaming-budget'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lakeRoot = join(dir, 'lake');
  await ingest(1);
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('scan budget on the streaming path', () => {
  it('refuse: the cycle is skipped before reading, with the reason; nothing is written', async () => {
    const checks: ScanBudgetCheck[] = [];
    const loop = new StreamingLoop({ lake, models, eventTimeColumns: EVENT_TIME, compaction: false, budgets: budgets(1, 'refuse'), onBudget: (c) => checks.push(c) });
    const cycle = await loop.step();
    await loop.stop();
    expect(cycle.ran).toBe(false);
    expect(cycle.reason).toMatch(/^skipped: The streaming cycle would scan an estimated .* over budgets\.maxBytesScannedPerRun of 1 B: refused, nothing was read$/);
    expect(cycle.budget).toMatchObject({ over: true, mode: 'refuse', budgetBytes: 1 });
    expect(checks).toHaveLength(1);
    expect(checks[0]?.hint).toMatch(/Raise budgets\.maxBytesScannedPerRun/);
    // silver reads bronze's files: the estimate is at least their size.
    const bronze = await (await lake.table('bronze.sales')).snapshot();
    expect(checks[0]?.estimatedBytes).toBeGreaterThanOrEqual(bronze.sizeBytes());
    expect(await versionOf('silver.sales')).toBeUndefined();
    expect(await versionOf('gold.daily')).toBeUndefined();
  }, 60_000);

  it('warn: the cycle runs, and its check says it was over', async () => {
    const checks: ScanBudgetCheck[] = [];
    const loop = new StreamingLoop({ lake, models, eventTimeColumns: EVENT_TIME, compaction: false, budgets: budgets(1, 'warn'), onBudget: (c) => checks.push(c) });
    const cycle = await loop.step();
    await loop.stop();
    expect(cycle.ran).toBe(true);
    expect(cycle.errors).toEqual([]);
    expect(cycle.budget).toMatchObject({ over: true, mode: 'warn' });
    expect(cycle.budget?.message).not.toContain('refused');
    expect(checks.map((c) => c.over)).toEqual([true]);
    expect(await versionOf('gold.daily')).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('within the budget: the cycle runs and the check is not over (a breach recovers)', async () => {
    await ingest(2);
    const checks: ScanBudgetCheck[] = [];
    const before = await versionOf('gold.daily');
    const loop = new StreamingLoop({ lake, models, eventTimeColumns: EVENT_TIME, compaction: false, budgets: budgets(1e9, 'refuse'), onBudget: (c) => checks.push(c) });
    const cycle = await loop.step();
    await loop.stop();
    expect(cycle.ran).toBe(true);
    expect(cycle.budget?.over).toBe(false);
    expect(checks.map((c) => c.over)).toEqual([false]);
    expect(await versionOf('gold.daily')).toBeGreaterThan(before as number);
  }, 60_000);
});

describe('scan budget of reconcile jobs', () => {
  const job = defineJob({ name: 'nightly', kind: 'reconcile', schedule: '0 2 * * *', params: { from: day(1), to: day(1) } });

  it("refuse: the job reads nothing, writes no report, and is recorded skipped (not succeeded) with why; the estimate is the window's bronze files", async () => {
    const checks: { job: string; check: ScanBudgetCheck }[] = [];
    const logs: SchedulerLogEvent[] = [];
    const handlers = jobHandlers({ lake, models, eventTimeColumns: EVENT_TIME, budgets: budgets(1, 'refuse'), onBudget: (name, check) => checks.push({ job: name, check }) });
    const scheduler = new Scheduler({ jobs: [job], store: lake.store, handlers, log: (e) => logs.push(e) });
    const record = await scheduler.runNow('nightly');
    await scheduler.stop();
    const why = /^Job nightly \(reconcile\) would scan .*refused, nothing was read$/;
    expect(record.status).toBe('skipped');
    expect(record.error).toBeNull();
    expect(record.reason).toMatch(why);
    expect(record.result).toMatchObject({ status: 'skipped', budget: { over: true, mode: 'refuse' } });
    expect(String((record.result as { reason: string }).reason)).toMatch(why);
    // The ledger, jobsStatus (status and the console's jobs table) and the job's log line say skipped, with the reason.
    const [ledger] = await listRuns(lake.store, { job: 'nightly', limit: 1 });
    expect(ledger).toMatchObject({ id: record.id, status: 'skipped', reason: record.reason });
    const [status] = await jobsStatus([job], lake.store);
    expect(status?.last).toMatchObject({ status: 'skipped', reason: record.reason, error: null });
    const ended = logs.filter((e) => e.job === 'nightly' && !/started/.test(e.message));
    expect(ended).toHaveLength(1);
    expect(ended[0]?.level).toBe('warn');
    expect(ended[0]?.message).toMatch(/^job nightly skipped: Job nightly \(reconcile\) would scan /);
    expect(logs.some((e) => /succeeded/.test(e.message))).toBe(false);
    expect(await listReports(lake.store, 10)).toEqual([]);
    // Only bronze is read from the lake (silver and gold are recomputed by the job): its files of the one day.
    const bronze = await (await lake.table('bronze.sales')).snapshot();
    const dayBytes = bronze.files.filter((f) => f.partitionValues['event_date'] === day(1)).reduce((n, f) => n + f.size, 0);
    expect(dayBytes).toBeGreaterThan(0);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ job: 'nightly', check: { estimatedBytes: dayBytes } });
  }, 60_000);

  it('warn: the job runs, and its result carries the warning', async () => {
    const handlers = jobHandlers({ lake, models, eventTimeColumns: EVENT_TIME, budgets: budgets(1, 'warn') });
    const scheduler = new Scheduler({ jobs: [job], store: lake.store, handlers });
    const record = await scheduler.runNow('nightly');
    await scheduler.stop();
    expect(record.status, JSON.stringify(record.error)).toBe('succeeded');
    expect(record.result).toMatchObject({ held: 0, budget: { over: true, mode: 'warn' } });
    expect((record.result as { warnings: string[] }).warnings[0]).toMatch(/^Job nightly \(reconcile\) would scan/);
    expect(await listReports(lake.store, 10)).toHaveLength(1);
  }, 60_000);
});
