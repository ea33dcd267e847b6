import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { cli, type CliRun } from '../cli/cli-harness.js';
import type { Sale } from '../fixtures/sales-project.js';

/**
 * A sales project's lake driven through the CLI (in-process): ingest batches of sales,
 * run, reconcile, read gold and the tables' versions. Shared by the reconcile tests.
 */
export class SalesLake {
  readonly sent: Sale[] = [];
  private batch = 0;

  constructor(
    readonly project: string,
    readonly lake: string,
    private readonly scratch: string,
  ) {}

  async ingest(sales: readonly Sale[]): Promise<void> {
    const file = join(this.scratch, `${join(this.lake).replace(/[^A-Za-z0-9]/g, '_')}-batch-${++this.batch}.ndjson`);
    await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
    const run = await cli(['--lake', this.lake, 'ingest', 'sales', '--file', file], this.project);
    expect(run.code, run.stderr).toBe(0);
    this.sent.push(...sales);
  }

  cli(args: readonly string[]): Promise<CliRun> {
    return cli(['--lake', this.lake, ...args], this.project);
  }

  async run(): Promise<CliRun> {
    const result = await this.cli(['run', '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    return result;
  }

  async gold(): Promise<Map<string, { revenue: number; sales: number }>> {
    const result = await this.cli(['query', 'SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM gold.daily ORDER BY 1, 2', '--format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as { d: string; store: string; revenue: number; sales: number | string }[];
    return new Map(rows.map((r) => [`${r.d}|${r.store}`, { revenue: r.revenue, sales: Number(r.sales) }]));
  }

  /** The latest version of silver.sales and gold.daily. */
  async versions(): Promise<number[]> {
    const out: number[] = [];
    for (const table of [['silver', 'sales'], ['gold', 'daily']]) {
      const names = await readdir(join(this.lake, ...table, '_delta_log'));
      out.push(Math.max(...names.filter((n) => n.endsWith('.json')).map((n) => Number(n.slice(0, 20)))));
    }
    return out;
  }
}

/** 20 sales on `date` (YYYY-MM-DD), ids from `from`. */
export function salesOn(date: string, from: number, count = 20): Sale[] {
  return Array.from({ length: count }, (_, i) => ({
    id: from + i,
    store: ['north', 'south', 'east'][i % 3] as string,
    amount: 10 + ((i * 7) % 50) + 0.25,
    status: 'placed' as const,
    ts: `${date}T${String(1 + (i % 22)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00Z`,
  }));
}

/** `YYYY-MM-DD` `n` days after `date`. */
export function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}
