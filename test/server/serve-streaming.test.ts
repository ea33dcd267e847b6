import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { spawnTs, type TsChild } from '../helpers/child.js';
import { writeProject } from '../helpers/project.js';
import { oracle, SALES_PROJECT, salesOfDay, type Sale } from '../fixtures/sales-project.js';

/**
 * `serve` as one process (SPEC §7, §8): the collector lands batches, the streaming loop
 * runs the models after bronze commits, `/status` and `/metrics` report them, and SIGTERM
 * stops accepting, commits, runs the models over the last batches and exits 0.
 */
let dir: string;
let project: string;
let lake: string;
let remove: () => Promise<void>;
let child: TsChild;
let url: string;
const sent: Sale[] = [];

async function gold(): Promise<Map<string, { revenue: number; sales: number }>> {
  const result = await cli(['--lake', lake, 'query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY 1, 2', '--format', 'json'], project);
  if (result.code !== 0) return new Map();
  const rows = JSON.parse(result.stdout) as { d: string; store: string; revenue: number; sales: number | string }[];
  return new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]));
}

/** gold.daily as the analyst catalog (lake/catalog.duckdb) shows it. */
async function catalogGold(): Promise<Map<string, { revenue: number; sales: number }>> {
  const engine = await Engine.create({ databasePath: join(lake, 'catalog.duckdb'), threads: 1 });
  try {
    const rows = await engine.all('SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY 1, 2');
    return new Map(rows.map((r) => [`${String(r['d'])}|${String(r['store'])}`, { revenue: Number(r['revenue']), sales: Number(r['sales']) }]));
  } finally {
    await engine.close();
  }
}

async function post(sales: readonly Sale[]): Promise<void> {
  const response = await fetch(`${url}/ingest/sales`, { method: 'POST', body: `${sales.map((s) => JSON.stringify(s)).join('\n')}\n` });
  expect(response.status).toBe(200);
  sent.push(...sales);
}

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the streaming loop');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('serve-streaming'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lake = join(dir, 'lake');
  child = spawnTs('bin/lakeloop.js', ['--lake', lake, 'serve', '--port', '0', '--poll-ms', '100'], {}, project);
  const line = await child.waitForLine(/^listening on http:\/\//, 60_000);
  url = line.replace('listening on ', '').trim();
}, 90_000);

afterAll(async () => {
  if (child.process.exitCode === null) await child.kill();
  await remove?.();
});

describe('lakeloop serve: collector + streaming loop + /status + /metrics', () => {
  it('events posted to the collector become visible in gold without any other command', async () => {
    await post(salesOfDay(1, 1000));
    await post([...salesOfDay(2, 2000), ...salesOfDay(1, 1000).slice(0, 5)]);
    const expected = oracle(sent);
    const sorted = (m: Map<string, unknown>): string => JSON.stringify([...m].sort(([a], [b]) => a.localeCompare(b)));
    await until(async () => sorted(await gold()) === sorted(expected));
  }, 90_000);

  it('/status shows the streaming runs and /metrics the model counters', async () => {
    const status = (await (await fetch(`${url}/status`)).json()) as { streaming: { runs: number; last: { model: string }[] } };
    expect(status.streaming.runs).toBeGreaterThanOrEqual(1);
    expect(status.streaming.last.map((s) => s.model)).toEqual(['silver.sales', 'gold.daily']);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/lakeloop_model_runs_total\{model="gold.daily",status="success"\} [1-9]/);
    expect(metrics).toMatch(/lakeloop_records_landed_total\{source="sales"\} 85/);
  });

  it('/status counts each model table\'s partitions by status', async () => {
    type Status = { partitions?: Record<string, { counts: Record<string, number>; pendingChange: string | null }> };
    const days = (s: Status, table: string): number => Object.values(s.partitions?.[table]?.counts ?? {}).reduce((a, b) => a + b, 0);
    let status: Status = {};
    await until(async () => {
      status = (await (await fetch(`${url}/status`)).json()) as Status;
      return days(status, 'silver.sales') === 2 && days(status, 'gold.daily') === 2;
    });
    for (const table of ['silver.sales', 'gold.daily']) {
      expect(status.partitions?.[table]?.pendingChange).toBeNull();
      // Day 1 is exact (the first run) or provisional (rewritten by a later run); day 2 the same.
      expect(Object.keys(status.partitions?.[table]?.counts ?? {}).every((k) => k === 'exact' || k === 'provisional')).toBe(true);
    }
  }, 90_000);

  it('SIGTERM right after a batch: it is committed, the models run over it, and serve exits 0', async () => {
    await post(salesOfDay(3, 3000));
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(child.lines).toContain('running the models over the last batches…');
    expect(await gold()).toEqual(oracle(sent));
    // The analyst catalog follows the drain run: every view at its table's last version.
    expect(await catalogGold()).toEqual(oracle(sent));
  }, 90_000);
});
