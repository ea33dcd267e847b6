import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import { ConfigError } from '../../src/core/index.js';
import type { Model, ModelDag } from '../../src/models/index.js';
import { defineJob, listRuns, Scheduler } from '../../src/scheduler/index.js';
import { checkJobSelectors, jobHandlers } from '../../src/server/index.js';
import { recomputeInChild } from '../../src/cli/recompute-child.js';
import { listReports } from '../../src/reconcile/index.js';
import type { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, oracle, SALES_PROJECT, salesOfDay, type Sale } from '../fixtures/sales-project.js';

/**
 * The built-in job kinds as `serve`'s scheduler runs them: a reconcile job applies the late
 * events and records its partition counts in the run ledger; compact and vacuum jobs run
 * over the lake's tables and record what they did.
 */
let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
const sent: Sale[] = [];

async function ingestAndRun(sales: readonly Sale[], n: number): Promise<void> {
  const file = join(dir, `batch-${n}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
  expect((await cli(['--lake', lakeRoot, 'run'], project)).code).toBe(0);
  sent.push(...sales);
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('job-handlers'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lakeRoot = join(dir, 'lake');
  for (let d = 1; d <= 3; d++) await ingestAndRun(salesOfDay(d, d * 1000), d);
  await ingestAndRun([{ id: 99_001, store: 'north', amount: 40, status: 'placed', ts: `${day(1)}T09:00:00Z` }], 4);
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('job handlers', () => {
  it('a reconcile job applies the late events and records the partition counts in the ledger', async () => {
    const job = defineJob({ name: 'nightly', kind: 'reconcile', schedule: '0 2 * * *', params: { from: day(1), to: day(3) } });
    const scheduler = new Scheduler({ jobs: [job], store: lake.store, handlers: jobHandlers({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' } }) });
    const record = await scheduler.runNow('nightly');
    expect(record.status, JSON.stringify(record.error)).toBe('succeeded');
    expect(record.result).toMatchObject({ corrected: 2, held: 0 });
    const [latest] = await listRuns(lake.store, { job: 'nightly', limit: 1 });
    expect(latest?.id).toBe(record.id);
    const gold = await cli(['--lake', lakeRoot, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily', '--format', 'json'], project);
    const rows = JSON.parse(gold.stdout) as { d: string; store: string; revenue: number; sales: number }[];
    expect(new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]))).toEqual(oracle(sent));
    await scheduler.stop();
  });

  it("serve's way: a reconcile job in a child process (own circuit, idle class) applies late events; a timed-out one is stopped", async () => {
    await ingestAndRun([{ id: 99_002, store: 'south', amount: 12, status: 'placed', ts: `${day(2)}T10:00:00Z` }], 5);
    const recompute = recomputeInChild({ cwd: project, lakeRoot });
    const reports: string[] = [];
    const jobs = [
      defineJob({ name: 'nightly-child', kind: 'reconcile', schedule: '0 2 * * *', params: { from: day(1), to: day(3), models: ['silver.sales'], priority: 'low' } }),
      defineJob({ name: 'too-slow', kind: 'reconcile', schedule: '0 2 * * *', params: { from: day(1), to: day(3) }, timeoutMs: 50, retries: 0 }),
    ];
    const scheduler = new Scheduler({ jobs, store: lake.store, handlers: jobHandlers({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, recompute, onReport: (r) => reports.push(r.id) }) });
    const record = await scheduler.runNow('nightly-child');
    expect(record.status, JSON.stringify(record.error)).toBe('succeeded');
    expect(record.result).toMatchObject({ corrected: 2, held: 0 });
    expect(reports).toEqual([(record.result as { report: string }).report]);
    const gold = await cli(['--lake', lakeRoot, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily', '--format', 'json'], project);
    const rows = JSON.parse(gold.stdout) as { d: string; store: string; revenue: number; sales: number }[];
    expect(new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]))).toEqual(oracle(sent));

    const stopped = await scheduler.runNow('too-slow');
    expect(stopped.status).not.toBe('succeeded');
    expect(JSON.stringify(stopped.error)).toMatch(/timed out|timeout/i);
    // The job's child process is stopped with it: it never gets to write a report (a reconcile
    // of this lake takes a child about 2–3 s), and no such process is left.
    const reportsBefore = (await listReports(lake.store, 1000)).length;
    await new Promise((r) => setTimeout(r, 6_000));
    expect((await listReports(lake.store, 1000)).length).toBe(reportsBefore);
    const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
    const commands = await Promise.all(pids.map((p) => readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')));
    expect(commands.filter((c) => c.includes(lakeRoot) && c.includes('reconcile'))).toEqual([]);
    await scheduler.stop();
  }, 120_000);

  it('compact and vacuum jobs run over the lake and record what they did', async () => {
    const jobs = [
      defineJob({ name: 'compact', kind: 'compact', schedule: '0 3 * * *', params: { minFiles: 2 } }),
      defineJob({ name: 'vacuum', kind: 'vacuum', schedule: '0 4 * * *', params: { retention: '168h', dryRun: true } }),
    ];
    const scheduler = new Scheduler({ jobs, store: lake.store, handlers: jobHandlers({ lake, models, eventTimeColumns: {} }) });
    const compacted = await scheduler.runNow('compact');
    expect(compacted.status, JSON.stringify(compacted.error)).toBe('succeeded');
    expect(compacted.result).toMatchObject({ tables: 3, compacted: 1 });
    const vacuumed = await scheduler.runNow('vacuum');
    expect(vacuumed.status, JSON.stringify(vacuumed.error)).toBe('succeeded');
    await scheduler.stop();
  });

  it("a reconcile job's params.models and params.exclude are the CLI's selectors, in this process and in serve's child", async () => {
    const window = { from: day(1), to: day(3) };
    const jobs = [
      // silver.* brings gold.daily downstream; exclude leaves it out.
      defineJob({ name: 'silver-only', kind: 'reconcile', schedule: '0 2 * * *', params: { ...window, models: 'silver.*', exclude: ['gold.daily'] } }),
      defineJob({ name: 'upstream-too', kind: 'reconcile', schedule: '0 2 * * *', params: { ...window, models: ['+gold.daily'] } }),
      defineJob({ name: 'child-exclude', kind: 'reconcile', schedule: '0 2 * * *', params: { ...window, models: ['silver.sales+'], exclude: 'gold.*' } }),
    ];
    const reported = new Map<string, string[]>();
    const scheduler = new Scheduler({
      jobs,
      store: lake.store,
      handlers: jobHandlers({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, onReport: (r) => reported.set(r.id, r.models.map((m) => m.model)) }),
    });
    const inChild = new Scheduler({
      jobs,
      store: lake.store,
      handlers: jobHandlers({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, recompute: recomputeInChild({ cwd: project, lakeRoot }), onReport: (r) => reported.set(r.id, r.models.map((m) => m.model)) }),
    });
    const modelsOf = async (on: Scheduler, job: string): Promise<string[] | undefined> => {
      const record = await on.runNow(job);
      expect(record.status, JSON.stringify(record.error)).toBe('succeeded');
      return reported.get((record.result as { report: string }).report);
    };
    expect(await modelsOf(scheduler, 'silver-only')).toEqual(['silver.sales']);
    expect(await modelsOf(scheduler, 'upstream-too')).toEqual(['silver.sales', 'gold.daily']);
    expect(await modelsOf(inChild, 'child-exclude')).toEqual(['silver.sales']);
    await scheduler.stop();
    await inChild.stop();
  }, 60_000);

  it("serve checks every job's selectors against the project first: an unknown model is an invalid job file", () => {
    const dag: ModelDag = { models, byName: new Map(models.map((m) => [m.name, m])) };
    const job = (params: Record<string, unknown>) => ({ ...defineJob({ name: 'nightly', kind: 'reconcile', schedule: '0 2 * * *', params }), file: '/p/jobs/nightly.ts' });
    expect(() => checkJobSelectors([job({ models: ['silver.*', '+gold.daily'], exclude: 'gold.daily' })], dag)).not.toThrow();
    const problem = (params: Record<string, unknown>): string => {
      try {
        checkJobSelectors([job(params)], dag);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message;
      }
      return 'no error';
    };
    expect(problem({ models: 'silver.salez' })).toMatch(/Invalid config \/p\/jobs\/nightly\.ts:\n {2}- params\.models: no model matches silver\.salez: did you mean silver\.sales\?/);
    expect(problem({ exclude: ['domain:nowhere'] })).toMatch(/params\.exclude: no model matches domain:nowhere/);
    expect(problem({ models: 'gold.daily', exclude: 'gold.*' })).toMatch(/params\.exclude: models and exclude together select no model/);
  });
});
