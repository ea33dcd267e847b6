import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionStatusTracker } from '../../../src/cli/partition-status.js';
import { loadContracts } from '../../../src/contracts/index.js';
import type { Engine } from '../../../src/engine/index.js';
import type { Model } from '../../../src/models/index.js';
import { Metrics } from '../../../src/observe/index.js';
import { lakeStatus } from '../../../src/query/index.js';
import { jobsStatus, listRuns, Scheduler, type JobStatus } from '../../../src/scheduler/index.js';
import type { ResolvedBudgets } from '../../../src/config/index.js';
import { Collector, CONSOLE_RECONCILE_JOB, ConsoleReconcile, DecisionLog, jobHandlers, lineageGraph, WebConsole } from '../../../src/server/index.js';
import type { Lake } from '../../../src/table/index.js';
import { cli, tempDir } from '../../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../../helpers/project.js';
import { day, SALES_PROJECT, salesOfDay, type Sale } from '../../fixtures/sales-project.js';

/**
 * The console's truth API on a real collector over the sales project's lake (days 1–2, then
 * a late event of day 1 deferred by the streaming path): partition status and its
 * drill-down, `POST /api/control/reconcile` (401/403/400/409/202) running the reconcile job
 * through a real scheduler and the nightly job's handler, the reports it lists and serves,
 * and the contracts checklist.
 */
let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
const closers: (() => Promise<void>)[] = [];

async function ingestAndRun(sales: readonly Sale[], n: number): Promise<void> {
  const file = join(dir, `batch-${n}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
  expect((await cli(['--lake', lakeRoot, 'run'], project)).code).toBe(0);
}

/** A released gate: the reconcile job waits on it before recomputing (here, in this process). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

interface Started {
  url: string;
  tracker: PartitionStatusTracker;
  reconcile: ConsoleReconcile;
  hold: { promise: Promise<void>; open: () => void };
}

async function start(options: { token?: string; reconcile?: boolean; budgets?: ResolvedBudgets } = {}): Promise<Started> {
  const metrics = new Metrics({ processMetrics: false });
  const decisions = new DecisionLog({ foldLandings: true });
  const tracker = new PartitionStatusTracker(lake, engine, models);
  const hold = gate();
  let consoleReconcile: ConsoleReconcile | undefined;
  const handlers = jobHandlers({
    lake,
    models,
    eventTimeColumns: { 'bronze.sales': 'ts' },
    // The documented hook for "somewhere else": here it only holds the run and says so, then the handler recomputes in process.
    recompute: (_request, _signal, onProgress) => {
      onProgress?.('waiting for the test to let the run go');
      return hold.promise.then(() => undefined);
    },
    progressOf: (job) => (job === CONSOLE_RECONCILE_JOB.name ? (line) => consoleReconcile?.progress(line) : undefined),
    onReport: (report, job) => consoleReconcile?.reported(report, job === CONSOLE_RECONCILE_JOB.name),
    onTablesChanged: () => tracker.request(),
    ...(options.budgets ? { budgets: options.budgets } : {}),
  });
  const scheduler = new Scheduler({ jobs: [CONSOLE_RECONCILE_JOB], store: lake.store, handlers });
  const reconcile = new ConsoleReconcile({ run: (params, requestedBy) => scheduler.runNow(CONSOLE_RECONCILE_JOB.name, params, { requestedBy }), models: models.map((m) => m.name) });
  if (options.reconcile !== false) consoleReconcile = reconcile;
  const contracts = await loadContracts(project);
  const web = await WebConsole.create({
    status: () => ({ lake: lakeRoot, ...metrics.snapshot(), partitions: tracker.summary() }),
    tables: () => lakeStatus(lake),
    // as serve lists them: no scheduled job here, the console's once it ran
    jobs: () => jobsStatus([], lake.store, { onDemand: [CONSOLE_RECONCILE_JOB] }),
    lineage: lineageGraph(['sales'], models),
    decisions,
    controlToken: options.token,
    partitions: () => tracker.details(),
    refreshPartitions: () => tracker.request(),
    reconcile: consoleReconcile,
    reports: lake.store,
    contracts: [...contracts.values()],
    models,
  });
  const collector = await Collector.create({ lake, contracts, port: 0, metrics, endpoints: web.endpoints() });
  closers.push(async () => {
    hold.open();
    await reconcile.settled();
    await scheduler.stop();
    await web.close();
    await collector.close();
  });
  return { url: collector.url, tracker, reconcile, hold };
}

/** The console job's line in the snapshot's jobs (what the page's Jobs table shows). */
async function consoleJob(url: string): Promise<JobStatus | undefined> {
  const data = (await (await fetch(`${url}/api/console`)).json()) as { jobs: JobStatus[] };
  return data.jobs.find((j) => j.name === CONSOLE_RECONCILE_JOB.name);
}

const post = (url: string, body: unknown, headers: Record<string, string> = { authorization: 'Bearer T' }): Promise<Response> =>
  fetch(`${url}/api/control/reconcile`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  ({ dir, remove } = await tempDir('console-reconcile-api'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lakeRoot = join(dir, 'lake');
  await ingestAndRun([...salesOfDay(1, 1000), ...salesOfDay(2, 2000)], 1);
  await ingestAndRun([{ id: 9001, store: 'north', amount: 100, status: 'placed', ts: `${day(1)}T05:00:00Z` }], 2);
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 60_000);

afterAll(async () => {
  for (const close of closers) await close();
  await engine?.close();
  await remove?.();
});

describe('the console API: partitions, reconcile, reports, contracts', () => {
  it('refuses the reconcile control without a configured token (403), without or with a wrong token (401), and GET (405)', async () => {
    const off = await start();
    const disabled = await post(off.url, {});
    expect(disabled.status).toBe(403);
    expect(((await disabled.json()) as { hint: string }).hint).toMatch(/--control-token/);
    const on = await start({ token: 'T' });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'T' }] as Record<string, string>[]) {
      const refused = await post(on.url, { dryRun: true }, headers);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await fetch(`${on.url}/api/control/reconcile`)).status).toBe(405);
    // Nothing was started by any of them.
    expect(on.reconcile.state).toEqual({ running: null, last: null, reports: 0 });
  });

  it('answers 400 for a malformed request and 409 where serve runs no models', async () => {
    const { url } = await start({ token: 'T' });
    const cases: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [[1], /JSON object/],
      [{ window: '7d' }, /unknown field "window"/],
      [{ from: '2026-02-30' }, /real calendar day/],
      [{ from: day(5), to: day(1) }, /after/],
      [{ models: ['gold.nope'] }, /no model named gold\.nope; models: silver\.sales, gold\.daily/],
      [{ dryRun: 'yes' }, /dryRun expects true or false/],
      [JSON.stringify({ models: ['x'.repeat(20_000)] }), /over 16384 bytes/],
    ];
    for (const [body, error] of cases) {
      const response = await post(url, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(error);
    }
    const none = await start({ token: 'T', reconcile: false });
    expect((await post(none.url, {})).status).toBe(409);
  });

  it('shows pending_late, runs a reconcile (202, 409 while it runs, progress), lists and serves its report, and the partition turns exact', async () => {
    const { url, tracker, reconcile, hold } = await start({ token: 'T' });
    expect((await fetch(`${url}/api/partitions`)).status).toBe(503);
    await tracker.refresh();
    // Cached per table version: nothing moved, so a second refresh keeps the first computation.
    const first = tracker.details();
    await tracker.refresh();
    expect(tracker.details()).toBe(first);
    const all = (await (await fetch(`${url}/api/partitions`)).json()) as { tables: { table: string; counts: Record<string, number> }[] };
    // The first run built day 1 and 2 from scratch (exact); the late row of day 1 waits behind the horizon.
    expect(all.tables.find((t) => t.table === 'silver.sales')?.counts).toEqual({ pending_late: 1, exact: 1 });
    const silver = (await (await fetch(`${url}/api/partitions?table=silver.sales`)).json()) as { nonExact: number; partitions: Record<string, unknown>[] };
    expect(silver.nonExact).toBe(1);
    expect(silver.partitions[0]).toMatchObject({ partition: day(1), status: 'pending_late', pendingLateRows: 1 });
    expect((await fetch(`${url}/api/partitions?table=gold.nope`)).status).toBe(404);

    const started = await post(url, { dryRun: false });
    expect(started.status).toBe(202);
    expect(((await started.json()) as { run: { id: number; status: string } }).run).toMatchObject({ id: 1, status: 'running' });
    const busy = await post(url, {});
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as { error: string }).error).toMatch(/is running/);
    const consoleState = async (): Promise<{ running: { progress: string[] } | null; last: { status: string; report: string | null; ledgerId: string } | null }> =>
      ((await (await fetch(`${url}/api/console`)).json()) as { reconcile: never }).reconcile;
    // The job writes its ledger entry first, then its handler says it waits at the gate.
    let running = (await consoleState()).running;
    while (running?.progress.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      running = (await consoleState()).running;
    }
    expect(running?.progress).toEqual(['waiting for the test to let the run go']);
    // The Jobs table lists it while it runs, like a scheduled job's run: asked for through the API (no page header).
    // (the jobs are read at most once a second: the first read may have come before the run's ledger entry)
    let during = await consoleJob(url);
    for (let tries = 0; during?.last?.status !== 'running' && tries < 40; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      during = await consoleJob(url);
    }
    expect(during).toMatchObject({ name: 'console-reconcile', kind: 'reconcile', onDemand: true, next: null, last: { status: 'running', trigger: 'manual', requestedBy: 'api', seconds: null } });
    hold.open();
    await reconcile.settled();
    const last = (await consoleState()).last;
    expect(last).toMatchObject({ status: 'succeeded', requestedBy: 'api' });
    expect(last?.report).toMatch(/^reconcile-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    // The run is the job's, in the run ledger like a scheduled one.
    const [ledger] = await listRuns(lake.store, { job: CONSOLE_RECONCILE_JOB.name, limit: 1 });
    expect(ledger).toMatchObject({ id: last?.ledgerId, kind: 'reconcile', trigger: 'manual', requestedBy: 'api', status: 'succeeded' });
    // ... and after it ended (the jobs are read again when a console run ends), with its duration.
    const ended = await consoleJob(url);
    expect(ended?.last).toMatchObject({ status: 'succeeded', startedAt: ledger?.startedAt, seconds: ledger?.seconds });
    expect(ended?.last?.seconds).toBeGreaterThan(0);

    const list = (await (await fetch(`${url}/api/reconcile/reports`)).json()) as { reports: Record<string, any>[] };
    expect(list.reports[0]).toMatchObject({
      id: last?.report,
      kind: 'reconcile',
      dryRun: false,
      partitions: { corrected: 2, held: 0, failed: 0 },
      lateRows: 1,
      measureDeltas: { 'silver.sales.amount': 100, 'gold.daily.revenue': 100, 'gold.daily.sales': 1 },
      held: [],
    });
    expect(list.reports[0]?.['window']).toMatchObject({ to: day(1) });
    const one = (await (await fetch(`${url}/api/reconcile/report?id=${last?.report}`)).json()) as { report: { models: { model: string; partitions: { partition: string; status: string }[] }[] } };
    expect(one.report.models.find((m) => m.model === 'silver.sales')?.partitions.find((p) => p.partition === day(1))?.status).toBe('corrected');
    expect((await fetch(`${url}/api/reconcile/report?id=${encodeURIComponent('../../../etc/passwd')}`)).status).toBe(400);
    expect((await fetch(`${url}/api/reconcile/report?id=reconcile-20200101T000000Z-00000000`)).status).toBe(404);

    await tracker.refresh();
    expect(tracker.details()).not.toBe(first);
    const after = (await (await fetch(`${url}/api/partitions?table=silver.sales`)).json()) as { counts: Record<string, number>; partitions: { partition: string }[] };
    expect(after.counts).toEqual({ exact: 2 });
    expect(after.partitions).toEqual([]);
  }, 30_000);

  it('a reconcile the page starts (X-Lakeloop-Client: console) is the console\'s in the Jobs table', async () => {
    const { url, reconcile, hold } = await start({ token: 'T' });
    hold.open();
    const fromPage = await post(url, { dryRun: true }, { authorization: 'Bearer T', 'x-lakeloop-client': 'console' });
    expect(fromPage.status).toBe(202);
    await reconcile.settled();
    expect(await consoleJob(url)).toMatchObject({ last: { status: 'succeeded', trigger: 'manual', requestedBy: 'console' } });
  });

  it('lakeloop control reconcile --wait: a run the scan budget refuses is skipped (exit 3, skipped: <reason>), and SKIPPED in the Jobs table', async () => {
    // A budget of one byte in refuse mode: the job's handler refuses before recomputing (skipped, not failed).
    const budgets: ResolvedBudgets = { maxBytesScannedPerRun: 1, mode: 'refuse', storageQuota: {}, circuits: { streaming: {}, reconcile: {} } };
    const refusing = await start({ token: 'T', budgets });
    const run = await cli(['control', 'reconcile', '--url', refusing.url, '--token', 'T', '--wait'], project);
    expect(run.stdout).toMatch(/^reconcile #1 skipped$/m);
    expect(run.stderr).toMatch(/^skipped: Job console-reconcile \(reconcile\) .*over budgets\.maxBytesScannedPerRun of 1 B: refused, nothing was read$/m);
    expect(run.stderr).toMatch(/^hint: Raise budgets\.maxBytesScannedPerRun/m);
    expect(run.stderr).not.toMatch(/^error:/m);
    expect(run.code).toBe(3);
    expect(await consoleJob(refusing.url)).toMatchObject({ last: { status: 'skipped', requestedBy: 'api', error: null, reason: expect.stringMatching(/over budgets\.maxBytesScannedPerRun/) } });
  }, 30_000);

  it('carries the contracts checklist, flagging the missing freshness and completeness SLOs and runbook', async () => {
    const { url } = await start({ token: 'T' });
    const data = (await (await fetch(`${url}/api/console`)).json()) as { contracts: { source: string; missing: number; items: { item: string; state: string; detail: string }[] }[] };
    const [sales] = data.contracts;
    expect(sales?.source).toBe('sales');
    const state = Object.fromEntries((sales?.items ?? []).map((i) => [i.item, i.state]));
    expect(state).toEqual({ owner: 'ok', runbook: 'missing', schema: 'ok', key: 'ok', event_time: 'ok', drift: 'ok', lateness: 'ok', freshness: 'missing', completeness: 'missing', batch: 'default', quarantine: 'ok' });
    expect(sales?.missing).toBe(3);
    expect(sales?.items.find((i) => i.item === 'lateness')?.detail).toBe('silver.sales: 2h');
    expect(sales?.items.find((i) => i.item === 'quarantine')?.detail).toBe('0 of 81 records (0.0%)');
  });
  it('says which model tables moved since their partition status was computed, and asks for it again until it catches up', async () => {
    const { url, tracker } = await start({ token: 'T' });
    await tracker.refresh();
    type Snapshot = { lake: { tables: { name: string; version: number }[] }; status: { partitions: Record<string, { version: number }> }; partitionsBehind: { table: string; computedFor: number; current: number }[] };
    const snapshot = async (): Promise<Snapshot> => (await (await fetch(`${url}/api/console`)).json()) as Snapshot;
    const before = await snapshot();
    expect(before.partitionsBehind).toEqual([]);
    const computedFor = before.status.partitions['gold.daily']?.version as number;
    // Another process commits (serve never hears of it): the cached status describes older versions now.
    expect((await cli(['--lake', lakeRoot, 'run', '--full-refresh'], project)).code).toBe(0);
    // (the tables are read at most once a second)
    let moved = await snapshot();
    for (let tries = 0; moved.partitionsBehind.length === 0 && tries < 30; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      moved = await snapshot();
    }
    const current = (name: string): number => moved.lake.tables.find((t) => t.name === name)?.version ?? -1;
    expect(current('gold.daily')).toBeGreaterThan(computedFor);
    expect(moved.partitionsBehind).toContainEqual({ table: 'gold.daily', computedFor, current: current('gold.daily') });
    // The snapshot that saw it asked for the status again: it catches up without another commit.
    let caughtUp = await snapshot();
    for (let tries = 0; caughtUp.partitionsBehind.length > 0 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      caughtUp = await snapshot();
    }
    expect(caughtUp.partitionsBehind).toEqual([]);
    expect(caughtUp.status.partitions['gold.daily']?.version).toBe(current('gold.daily'));
  }, 30_000);
});
