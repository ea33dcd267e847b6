import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionStatusTracker } from '../../src/cli/partition-status.js';
import { ManualClock } from '../../src/core/index.js';
import type { Engine } from '../../src/engine/index.js';
import type { Model } from '../../src/models/index.js';
import { AlertManager, JsonEventLog, Metrics, ServeObserver, type AlertMessage } from '../../src/observe/index.js';
import { StreamingLoop } from '../../src/server/index.js';
import type { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, GOLD, SALES_PROJECT, SILVER, salesOfDay, type Sale } from '../fixtures/sales-project.js';

/**
 * The alerts of issue 15 beyond freshness, delivered to a real webhook receiver on loopback
 * through serve's observer: a scan-budget breach of the streaming loop (and its recovery),
 * partitions held by a failing blocking test in the last reconcile (naming the table and
 * partitions), the completeness SLO (late rows pending, old partitions not exact) with its
 * breach and recovery, and rate divergence past the configured threshold with its recovery.
 * Time is a `ManualClock` where it matters; deliveries are awaited, never timed.
 */
/** Silver (where late rows are deferred) has the completeness SLO; gold a blocking test that a sale of 20,000 fails. */
const SLO_SILVER = SILVER.replace('lateness: 2h', 'lateness: 2h\ncompleteness:\n  max_pending_late_rows: 0\n  exact_after: 1d');
const STRICT_GOLD = GOLD.replace(
  '  - not_null: [sale_date, store]',
  "  - not_null: [sale_date, store]\n  - expression: 'revenue < 10000'",
);

let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
let receiver: Server;
let base: string;
let batches = 0;
const received: AlertMessage[] = [];
const logLines: string[] = [];

async function ingest(sales: readonly Sale[]): Promise<void> {
  const file = join(dir, `batch-${++batches}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
}

async function run(): Promise<void> {
  const result = await cli(['--lake', lakeRoot, 'run'], project);
  expect(result.code, result.stderr).toBe(0);
}

/** A fresh observer over the given state, its alerts to the receiver's JSON hook. */
function observer(options: { metrics?: Metrics; tracker?: PartitionStatusTracker } = {}): { observer: ServeObserver; alerts: AlertManager } {
  const alerts = new AlertManager({ webhooks: [{ url: `${base}/json`, format: 'json' }] });
  const watch = new ServeObserver({
    log: new JsonEventLog({ write: (line: string) => logLines.push(line) }),
    alerts,
    sources: [],
    models: models.map((m) => ({ name: m.name })),
    jobs: [],
    ...(options.tracker ? { partitions: () => ({ held: options.tracker?.held() ?? [], completeness: options.tracker?.completeness() ?? [] }) } : {}),
    ...(options.metrics ? { divergence: () => options.metrics?.snapshot().backlog } : {}),
  });
  return { observer: watch, alerts };
}

/** Evaluates now and waits until the deliveries reached the receiver; returns the new ones. */
async function evaluate(o: { observer: ServeObserver; alerts: AlertManager }): Promise<AlertMessage[]> {
  const before = received.length;
  o.observer.evaluate();
  await o.alerts.close();
  return received.slice(before);
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('slo-alerts'));
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push(JSON.parse(body) as AlertMessage);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, 'sql/silver/sales.sql': SLO_SILVER, 'sql/gold/daily.sql': STRICT_GOLD });
  lakeRoot = join(dir, 'lake');
  for (let d = 1; d <= 3; d++) {
    await ingest(salesOfDay(d, d * 1000));
    await run();
  }
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 180_000);

afterAll(async () => {
  receiver?.close();
  await engine?.close();
  await remove?.();
});

describe('budget alerts', () => {
  it("the streaming loop's refused cycle raises a budget alert (and one log line); a cycle within the budget resolves it", async () => {
    const o = observer();
    await ingest(salesOfDay(3, 3500).slice(0, 5));
    const refused = new StreamingLoop({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, compaction: false, budgets: { maxBytesScannedPerRun: 1, mode: 'refuse', storageQuota: {}, circuits: { streaming: {}, reconcile: {} } }, onBudget: (c) => o.observer.budget('streaming', c) });
    expect((await refused.step()).ran).toBe(false);
    await refused.stop();
    const firing = await evaluate(o);
    expect(firing).toHaveLength(1);
    expect(firing[0]).toMatchObject({ status: 'firing', key: 'budget:streaming', kind: 'budget', subject: 'streaming', details: { mode: 'refuse', action: 'refused', budgetBytes: 1 } });
    expect(firing[0]?.message).toMatch(/^The streaming cycle would scan .*refused, nothing was read$/);
    expect(await evaluate(o)).toEqual([]);
    const logged = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['event'] === 'budget_exceeded');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'warn', subject: 'streaming', mode: 'refuse', budgetBytes: 1 });

    const within = new StreamingLoop({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, compaction: false, budgets: { maxBytesScannedPerRun: 1e9, mode: 'refuse', storageQuota: {}, circuits: { streaming: {}, reconcile: {} } }, onBudget: (c) => o.observer.budget('streaming', c) });
    expect((await within.step()).ran).toBe(true);
    await within.stop();
    const resolved = await evaluate(o);
    expect(resolved).toMatchObject([{ status: 'resolved', key: 'budget:streaming' }]);
  }, 60_000);

  it('a warned cycle raises the alert too', async () => {
    const o = observer();
    await ingest(salesOfDay(3, 3600).slice(0, 5));
    const warned = new StreamingLoop({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, compaction: false, budgets: { maxBytesScannedPerRun: 1, mode: 'warn', storageQuota: {}, circuits: { streaming: {}, reconcile: {} } }, onBudget: (c) => o.observer.budget('streaming', c) });
    expect((await warned.step()).ran).toBe(true);
    await warned.stop();
    expect(await evaluate(o)).toMatchObject([{ status: 'firing', key: 'budget:streaming', details: { mode: 'warn', action: 'warned' } }]);
  }, 60_000);
});

describe('held partitions and the completeness SLO', () => {
  it('late rows pending and an old partition not exact breach completeness, a reconcile recovers it; a held partition is named until a clean reconcile', async () => {
    const tracker = new PartitionStatusTracker(lake, engine, models);
    const o = observer({ tracker });
    await tracker.refresh();
    // Day 1 was built whole (exact); days 2 and 3 by incremental runs (provisional), not older than exact_after (1d before day 3): met, nothing sent.
    expect(tracker.completeness()?.[0]).toMatchObject({ model: 'silver.sales', met: true, pendingLateRows: 0, notExact: [] });
    expect(await evaluate(o)).toEqual([]);

    // A late sale for day 1, far behind the horizon, too large for the blocking test: deferred (pending late), then held by reconcile.
    await ingest([{ id: 91_001, store: 'north', amount: 20_000, status: 'placed', ts: `${day(1)}T10:00:00Z` }]);
    await run();
    await tracker.refresh();
    expect(tracker.completeness()?.[0]).toMatchObject({ met: false, pendingLateRows: 1, notExact: [day(1)] });
    const breach = await evaluate(o);
    expect(breach).toMatchObject([{ status: 'firing', key: 'completeness:model:silver.sales', kind: 'completeness', subject: 'silver.sales', details: { pendingLateRows: 1, notExact: [day(1)] } }]);
    expect(breach[0]?.message).toBe(`1 late rows wait for reconcile (SLO at most 0); 1 partition(s) older than 1d not exact: ${day(1)}; lakeloop reconcile publishes them`);
    // `lakeloop status` evaluates the same SLO from the logs.
    const status = await cli(['--lake', lakeRoot, 'status', '--json'], project);
    expect((JSON.parse(status.stdout.trim().split('\n').at(-1) as string) as { completeness: unknown[] }).completeness).toMatchObject([{ model: 'silver.sales', met: false, pendingLateRows: 1, notExact: [day(1)] }]);
    expect((await cli(['--lake', lakeRoot, 'status'], project)).stdout).toContain('silver.sales: BREACHED — 1 late rows wait for reconcile');
    const rec = await cli(['--lake', lakeRoot, 'reconcile', '--from', day(1), '--to', day(3)], project);
    expect(rec.code).toBe(1);
    await tracker.refresh();
    const held = await evaluate(o);
    expect(held.filter((a) => a.kind === 'held_partitions')).toMatchObject([{ status: 'firing', key: 'held_partitions:gold.daily', kind: 'held_partitions', subject: 'gold.daily', details: { table: 'gold.daily', partitions: [day(1)] } }]);
    expect(held.find((a) => a.kind === 'held_partitions')?.message).toContain(`gold.daily held by failing blocking tests in the last reconcile: ${day(1)}`);
    // Reconcile published silver's day 1 (only gold's was held): silver's completeness recovers.
    expect(held.filter((a) => a.kind === 'completeness')).toMatchObject([{ status: 'resolved', key: 'completeness:model:silver.sales' }]);
    expect(tracker.completeness()?.[0]).toMatchObject({ model: 'silver.sales', met: true, pendingLateRows: 0, notExact: [] });

    // The sale is cancelled; the next reconcile publishes day 1: nothing held, every old partition exact, no late row pending.
    await ingest([{ id: 91_001, store: 'north', amount: 20_000, status: 'cancelled', ts: `${day(1)}T11:00:00Z` }]);
    await run();
    const clean = await cli(['--lake', lakeRoot, 'reconcile', '--from', day(1), '--to', day(3)], project);
    expect(clean.code, clean.stderr).toBe(0);
    await tracker.refresh();
    expect(tracker.held()).toEqual([{ table: 'silver.sales', partitions: [] }, { table: 'gold.daily', partitions: [] }]);
    expect(await evaluate(o)).toMatchObject([{ status: 'resolved', key: 'held_partitions:gold.daily' }]);
  }, 180_000);
});

describe('rate divergence', () => {
  it('records waiting past the configured threshold raise the divergence alert; landing them resolves it', async () => {
    const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    const metrics = new Metrics({ clock, processMetrics: false, maxPendingSeconds: 5 });
    const o = observer({ metrics });
    metrics.recordReceived('sales', 500);
    clock.advance(4_000);
    // Under the threshold: nothing sent.
    expect(await evaluate(o)).toEqual([]);
    clock.advance(2_000);
    const firing = await evaluate(o);
    expect(firing).toMatchObject([{ status: 'firing', key: 'divergence', kind: 'divergence', subject: 'pipeline' }]);
    expect(firing[0]?.message).toContain('sales: 500 records waiting and nothing landed for 6 s');
    metrics.recordLanding({ source: 'sales', received: 500, landed: 500, quarantined: 0, duplicates: 0, files: 1, addedColumns: [] }, { receivedCounted: true });
    expect(await evaluate(o)).toMatchObject([{ status: 'resolved', key: 'divergence' }]);
  });
});
