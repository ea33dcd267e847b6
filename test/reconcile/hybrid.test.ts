import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/cli-harness.js';
import { spawnTs } from '../helpers/child.js';
import { writeProject } from '../helpers/project.js';
import { day, differingDays, GOLD, oracle, SALES_PROJECT, salesOfDay, type Sale } from '../fixtures/sales-project.js';

/**
 * The hybrid invariant (SPEC §7): events streamed day by day with duplicates and with late
 * events behind the horizon; before reconcile gold differs from the oracle in exactly the
 * partitions that received late events, the report names exactly those with the exact
 * deltas, after it gold equals the oracle, and a second reconcile changes nothing.
 */
interface Report {
  id: string;
  dryRun: boolean;
  models: {
    model: string;
    published: number | null;
    partitions: { partition: string; status: string; rowsBefore: number; rowsAfter: number; added: number; removed: number; changed: number; sumDeltas: Record<string, number>; lateRows: number }[];
  }[];
}

let dir: string;
let project: string;
let remove: () => Promise<void>;
let batch = 0;

async function ingest(lake: string, sales: readonly Sale[], sent: Sale[]): Promise<void> {
  const file = join(dir, `batch-${++batch}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const run = await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project);
  expect(run.code, run.stderr).toBe(0);
  sent.push(...sales);
}

async function run(lake: string): Promise<void> {
  const result = await cli(['--lake', lake, 'run'], project);
  expect(result.code, result.stderr).toBe(0);
}

/** Streams days first..last (one ingest + run each), re-sending three events of the previous day each time. */
async function stream(lake: string, first: number, last: number, sent: Sale[]): Promise<void> {
  for (let d = first; d <= last; d++) {
    const duplicates = d > 1 ? salesOfDay(d - 1, (d - 1) * 1000).slice(0, 3) : [];
    await ingest(lake, [...salesOfDay(d, d * 1000), ...duplicates], sent);
    await run(lake);
  }
}

async function reconcile(lake: string, args: readonly string[], cwd = project): Promise<{ code: number; report: Report; stdout: string; stderr: string }> {
  const result = await cli(['--lake', lake, 'reconcile', '--json', ...args], cwd);
  const last = result.stdout.trim().split('\n').at(-1) ?? '{}';
  return { code: result.code, report: JSON.parse(last.startsWith('{') ? last : '{}') as Report, stdout: result.stdout, stderr: result.stderr };
}

async function gold(lake: string): Promise<Map<string, { revenue: number; sales: number }>> {
  const result = await cli(['--lake', lake, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY 1, 2', '--format', 'json'], project);
  expect(result.code, result.stderr).toBe(0);
  const rows = JSON.parse(result.stdout) as { d: string; store: string; revenue: number; sales: number | string }[];
  return new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]));
}

async function versions(lake: string): Promise<number[]> {
  const out: number[] = [];
  for (const table of [['silver', 'sales'], ['gold', 'daily']]) {
    const names = await readdir(join(lake, ...table, '_delta_log'));
    out.push(Math.max(...names.filter((n) => n.endsWith('.json')).map((n) => Number(n.slice(0, 20)))));
  }
  return out;
}

function partitionsOf(report: Report, model: string, status: string): string[] {
  return (report.models.find((m) => m.model === model)?.partitions ?? []).filter((p) => p.status === status).map((p) => p.partition);
}

/** Per day: gold revenue and sales the oracle has minus what gold has. */
function expectedDeltas(actual: Map<string, { revenue: number; sales: number }>, expected: Map<string, { revenue: number; sales: number }>, d: string): { revenue: number; sales: number } {
  let revenue = 0;
  let sales = 0;
  for (const [key, cell] of expected) if (key.startsWith(d)) (revenue += cell.revenue), (sales += cell.sales);
  for (const [key, cell] of actual) if (key.startsWith(d)) (revenue -= cell.revenue), (sales -= cell.sales);
  return { revenue: Math.round(revenue * 100) / 100, sales };
}

/** A day before the stream started: its partition is missing until reconcile fills it. */
const BEFORE = '2026-02-28';

const LATE: Sale[] = [
  { id: 90_000, store: 'south', amount: 12, status: 'placed', ts: `${BEFORE}T20:00:00Z` },
  { id: 90_001, store: 'north', amount: 50.5, status: 'placed', ts: `${day(3)}T10:00:00Z` },
  { id: 90_002, store: 'west', amount: 70, status: 'placed', ts: `${day(3)}T11:00:00Z` },
  { id: 90_003, store: 'east', amount: 30.25, status: 'placed', ts: `${day(6)}T09:30:00Z` },
];

beforeAll(async () => {
  ({ dir, remove } = await tempDir('hybrid'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
});

afterAll(async () => {
  await remove?.();
});

describe('the hybrid invariant', () => {
  const sent: Sale[] = [];
  let lake: string;

  it('streams 8 days with duplicates and late events: gold differs from the oracle in exactly the late partitions', async () => {
    lake = join(dir, 'lake');
    await stream(lake, 1, 8, sent);
    expect(await gold(lake)).toEqual(oracle(sent));
    await ingest(lake, LATE, sent);
    await run(lake);
    expect(differingDays(await gold(lake), oracle(sent))).toEqual([BEFORE, day(3), day(6)]);
    const status = JSON.parse((await cli(['--lake', lake, 'status', '--json'], project)).stdout.trim().split('\n').at(-1) as string) as { late: { model: string; partitions: Record<string, number> }[] };
    // lateness in event time: the newest event before the late batch (day 8, 22:21) minus the oldest late one
    const lateness = (Date.parse(`${day(8)}T22:21:00Z`) - Date.parse(`${BEFORE}T20:00:00Z`)) / 1000;
    expect(status.late).toEqual([{ model: 'silver.sales', rows: 4, partitions: { [BEFORE]: 1, [day(3)]: 2, [day(6)]: 1 }, maxLatenessSeconds: lateness }]);
  }, 120_000);

  it('a dry run reports the differences and publishes nothing', async () => {
    const before = await versions(lake);
    const { code, report } = await reconcile(lake, ['--from', BEFORE, '--to', day(8), '--dry-run']);
    expect(code).toBe(0);
    expect(report.dryRun).toBe(true);
    expect(partitionsOf(report, 'gold.daily', 'corrected')).toEqual([BEFORE, day(3), day(6)]);
    expect(await versions(lake)).toEqual(before);
  });

  it('reconcile names exactly the late partitions with the exact deltas, publishes them, and gold equals the oracle', async () => {
    const goldBefore = await gold(lake);
    const expected = oracle(sent);
    const { code, report, stdout } = await reconcile(lake, ['--from', BEFORE, '--to', day(8)]);
    expect(code, stdout).toBe(0);
    expect(partitionsOf(report, 'silver.sales', 'corrected')).toEqual([BEFORE, day(3), day(6)]);
    expect(partitionsOf(report, 'gold.daily', 'corrected')).toEqual([BEFORE, day(3), day(6)]);
    expect(partitionsOf(report, 'gold.daily', 'match')).toHaveLength(6);
    const silver = report.models.find((m) => m.model === 'silver.sales');
    expect(silver?.partitions.filter((p) => p.status === 'corrected').map((p) => [p.partition, p.added, p.removed, p.lateRows])).toEqual([
      [BEFORE, 1, 0, 1],
      [day(3), 2, 0, 2],
      [day(6), 1, 0, 1],
    ]);
    for (const p of report.models.find((m) => m.model === 'gold.daily')?.partitions.filter((x) => x.status === 'corrected') ?? []) {
      const want = expectedDeltas(goldBefore, expected, p.partition);
      expect(p.sumDeltas['revenue']).toBeCloseTo(want.revenue, 6);
      expect(p.sumDeltas['sales']).toBe(want.sales);
    }
    // day 3 gained a new store row (west) and changed north's; day 6 changed east's
    const day3 = report.models.find((m) => m.model === 'gold.daily')?.partitions.find((p) => p.partition === day(3));
    expect([day3?.added, day3?.removed, day3?.changed]).toEqual([1, 0, 1]);
    expect(await gold(lake)).toEqual(expected);
    // the report is on disk as JSON and Markdown
    const markdown = await readFile(join(lake, '_lakeloop', 'reports', `${report.id}.md`), 'utf8');
    expect(markdown).toContain(`| ${day(3)} | corrected |`);
    // status shows the report and no late rows pending any more
    const status = JSON.parse((await cli(['--lake', lake, 'status', '--json'], project)).stdout.trim().split('\n').at(-1) as string) as { late: unknown[]; reconciliation: { id: string; totals: Record<string, number> } };
    expect(status.late).toEqual([]);
    expect(status.reconciliation.id).toBe(report.id);
    expect(status.reconciliation.totals['corrected']).toBe(6);
    // a partition the streaming path never wrote is filled, and the report says it was missing
    const missing = report.models.find((m) => m.model === 'gold.daily')?.partitions.find((p) => p.partition === BEFORE) as { note?: string } | undefined;
    expect(missing?.note).toContain('missing');
  });

  it('a second reconcile reports every partition match and commits nothing', async () => {
    const before = await versions(lake);
    const { code, report } = await reconcile(lake, ['--from', BEFORE, '--to', day(8)]);
    expect(code).toBe(0);
    for (const m of report.models) {
      expect(m.partitions.every((p) => p.status === 'match')).toBe(true);
      expect(m.published).toBeNull();
    }
    expect(await versions(lake)).toEqual(before);
  });

  it('after reconcile, streaming goes on incrementally and does not count the corrections as late', async () => {
    await stream(lake, 9, 9, sent);
    const result = await cli(['--lake', lake, 'run', '--json'], project);
    expect(result.code).toBe(0);
    expect(await gold(lake)).toEqual(oracle(sent));
  });

  it('a partition whose blocking test fails during reconcile is held and reported, the others are published, exit 1', async () => {
    const strict = await writeProject(join(dir, 'strict'), { ...SALES_PROJECT, 'sql/gold/daily.sql': GOLD.replace('  - not_null: [sale_date, store]', "  - not_null: [sale_date, store]\n  - expression: 'revenue < 10000'") });
    const late: Sale[] = [
      { id: 91_001, store: 'north', amount: 20_000, status: 'placed', ts: `${day(4)}T10:00:00Z` },
      { id: 91_002, store: 'north', amount: 5, status: 'placed', ts: `${day(5)}T10:00:00Z` },
    ];
    await ingest(lake, late, sent);
    await run(lake);
    const { code, report, stderr } = await reconcile(lake, ['--from', day(1), '--to', day(8)], strict);
    expect(code).toBe(1);
    expect(stderr).toContain('held');
    expect(stderr).toContain(day(4));
    expect(partitionsOf(report, 'gold.daily', 'held')).toEqual([day(4)]);
    expect(partitionsOf(report, 'gold.daily', 'corrected')).toEqual([day(5)]);
    expect(differingDays(await gold(lake), oracle(sent))).toEqual([day(4)]);
  });
});

describe('reconcile under failure and concurrency', () => {
  it('killed with SIGKILL, it publishes nothing partial; re-running completes it', async () => {
    const lake = join(dir, 'killed');
    const sent: Sale[] = [];
    await stream(lake, 1, 4, sent);
    await ingest(lake, [{ id: 92_001, store: 'north', amount: 11, status: 'placed', ts: `${day(2)}T10:00:00Z` }], sent);
    await run(lake);
    const before = await versions(lake);
    const child = spawnTs('bin/lakeloop.js', ['--lake', lake, 'reconcile', '--from', day(1), '--to', day(4)], { LAKELOOP_FAILPOINTS: 'table.before-log-put' }, project);
    expect(await child.exited).toBe('SIGKILL');
    expect(await versions(lake)).toEqual(before);
    expect(differingDays(await gold(lake), oracle(sent))).toEqual([day(2)]);
    const { code, report } = await reconcile(lake, ['--from', day(1), '--to', day(4)]);
    expect(code).toBe(0);
    expect(partitionsOf(report, 'gold.daily', 'corrected')).toEqual([day(2)]);
    expect(await gold(lake)).toEqual(oracle(sent));
  }, 120_000);

  it('streaming ingestion and runs keep landing while a reconcile runs; no commit is lost', async () => {
    const lake = join(dir, 'concurrent');
    const sent: Sale[] = [];
    await stream(lake, 1, 5, sent);
    await ingest(lake, [{ id: 93_001, store: 'south', amount: 7, status: 'placed', ts: `${day(2)}T08:00:00Z` }], sent);
    await run(lake);
    const child = spawnTs('bin/lakeloop.js', ['--lake', lake, 'reconcile', '--from', day(1), '--to', day(4), '--verbose'], {}, project);
    await stream(lake, 6, 7, sent);
    expect(await child.exited, child.stderr()).toBe(0);
    // It ran in the idle scheduling class, leaving the cores to the streaming path.
    expect(child.stderr()).toContain('idle CPU priority (SCHED_IDLE)');
    await run(lake);
    expect(await gold(lake)).toEqual(oracle(sent));
  }, 120_000);
});

describe('bad reconcile and replay input', () => {
  it('--from after --to is a usage error', async () => {
    const result = await cli(['--lake', join(dir, 'lake'), 'reconcile', '--from', day(5), '--to', day(2)], project);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--from ${day(5)} is after --to ${day(2)}`);
  });

  it('--priority takes idle, low or normal', async () => {
    const result = await cli(['--lake', join(dir, 'lake'), 'reconcile', '--priority', 'urgent'], project);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--priority expects idle, low or normal, got "urgent"');
  });

  it('a day that is not YYYY-MM-DD is a usage error', async () => {
    const result = await cli(['--lake', join(dir, 'lake'), 'reconcile', '--from', 'yesterday'], project);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--from expects a day as YYYY-MM-DD');
  });

  it('replay of an unknown model names the known ones', async () => {
    const result = await cli(['--lake', join(dir, 'lake'), 'replay', '--from', day(1), '--to', day(2), '--models', 'gold.nope'], project);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown model gold.nope');
    expect(result.stderr).toContain('gold.daily');
  });

  it('a window with no data says so and changes nothing', async () => {
    const lake = join(dir, 'lake');
    const before = await versions(lake);
    const result = await cli(['--lake', lake, 'reconcile', '--from', '2025-01-01', '--to', '2025-01-03'], project);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('no data in the window');
    expect(await versions(lake)).toEqual(before);
  });

  it('replay rebuilds a new model over history (backfill)', async () => {
    const lake = join(dir, 'lake');
    const withNew = await writeProject(join(dir, 'with-new'), {
      ...SALES_PROJECT,
      'sql/gold/store_days.sql': '/*\nkind: incremental_by_partition\npartition_by: sale_date\n*/\nSELECT sale_date, count(DISTINCT store) AS stores FROM silver.sales GROUP BY sale_date\n',
    });
    const result = await cli(['--lake', lake, 'replay', '--from', day(1), '--to', day(9), '--models', 'gold.store_days', '--json'], withNew);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as Report;
    expect(report.models.map((m) => m.model)).toEqual(['gold.store_days']);
    const rows = await cli(['--lake', lake, 'query', 'SELECT count(*) AS n FROM gold.store_days', '--format', 'json'], withNew);
    expect(JSON.parse(rows.stdout)).toEqual([{ n: 9 }]);
  });
});
