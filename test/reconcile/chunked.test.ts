import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cli/cli-harness.js';
import { spawnTs } from '../helpers/child.js';
import { writeProject } from '../helpers/project.js';
import { differingDays, oracle, SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';
import { addDays, SalesLake, salesOn } from './sales-lake.js';

/**
 * A year reconciled in 30-day chunks (13): killed with SIGKILL in the middle, the same
 * command resumes at the last published chunk and ends equal to the oracle; a second run
 * commits nothing; late rows on both sides of a chunk boundary are applied; new bronze rows
 * since the interrupted run make every chunk run again.
 */
interface Report {
  id: string;
  chunks?: { run: string; days: number; count: number; skipped: number[] };
  models: { model: string; published: number | null; partitions: { partition: string; status: string }[] }[];
}

const FIRST = '2025-01-01';
const LAST = '2025-12-31';
const WINDOW = ['reconcile', '--from', FIRST, '--to', LAST, '--chunk-days', '30'];

let dir: string;
let remove: () => Promise<void>;
let sales: SalesLake;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('reconcile-chunked'));
  const project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  sales = new SalesLake(project, join(dir, 'lake'), dir);
  const year: Sale[] = [];
  for (let d = 0; d < 365; d++) year.push(...salesOn(addDays(FIRST, d), 10_000 + d * 10, 3));
  await sales.ingest(year);
  await sales.run();
}, 120_000);

afterAll(async () => remove?.());

function late(id: number, ts: string, extra: Partial<Sale> = {}): Sale {
  return { id, store: 'west', amount: 41.5, status: 'placed', ts, ...extra };
}

/** Versions of silver.sales' commits tagged with a chunk of a chunked run, and their chunk indexes. */
async function chunkCommits(): Promise<number[]> {
  const log = join(sales.lake, 'silver', 'sales', '_delta_log');
  const out: number[] = [];
  for (const name of (await readdir(log)).filter((n) => n.endsWith('.json')).sort()) {
    for (const line of (await readFile(join(log, name), 'utf8')).split('\n')) {
      const chunk = line.startsWith('{"commitInfo"') ? (JSON.parse(line) as { commitInfo: { lakeloop?: { chunk?: { index: number } } } }).commitInfo.lakeloop?.chunk : undefined;
      if (chunk) out.push(chunk.index);
    }
  }
  return out;
}

describe('a chunked reconcile of a year', () => {
  it('killed with SIGKILL mid-way, resumes at the last published chunk and ends equal to the oracle; a second run commits nothing', async () => {
    // chunk 1 is Jan 1–30, chunk 2 Jan 31–Mar 1, …, chunk 13 Dec 27–31
    await sales.ingest([
      late(90_001, `2025-01-30T23:30:00Z`),
      late(90_002, `2025-01-31T00:15:00Z`, { store: 'north' }),
      // cancels a sale of Jan 30 (chunk 1) with an event of Jan 31 (chunk 2)
      { ...salesOn('2025-01-30', 10_000 + 29 * 10, 3)[1] as Sale, status: 'cancelled', ts: '2025-01-31T02:00:00Z' },
      late(90_006, '2025-04-15T09:00:00Z', { store: 'south' }),
      late(90_003, '2025-06-10T12:00:00Z'),
      late(90_004, '2025-09-09T08:00:00Z', { amount: 12.25 }),
      late(90_005, '2025-12-28T20:00:00Z'),
    ]);
    await sales.run();
    expect(differingDays(await sales.gold(), oracle(sales.sent))).toEqual(['2025-01-30', '2025-01-31', '2025-04-15', '2025-06-10', '2025-09-09', '2025-12-28']);

    const child = spawnTs('bin/lakeloop.js', ['--lake', sales.lake, ...WINDOW], {}, sales.project);
    // stderr is not a terminal: one line per chunk; kill -9 as soon as chunk 5 of 13 starts
    const deadline = Date.now() + 60_000;
    let exitedEarly: number | string | undefined;
    void child.exited.then((code) => (exitedEarly = code));
    while (!/chunk 5\/13/.test(child.stderr()) && exitedEarly === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(exitedEarly, child.stderr()).toBeUndefined();
    expect(await child.kill()).toBe('SIGKILL');
    expect(child.stderr()).toMatch(/chunk 1\/13 2025-01-01 → 2025-01-30 published: \d+ corrected/);
    expect(child.stderr()).not.toMatch(/chunk 13\/13/);

    // killed mid-way: the first chunks are corrected, the late days of later chunks not yet
    // (chunk 4, holding Apr 15, is the last one before the kill with something to publish)
    const done = await chunkCommits();
    expect(new Set(done)).toEqual(new Set([1, 2, 4]));
    const between = differingDays(await sales.gold(), oracle(sales.sent));
    expect(between).not.toContain('2025-01-30');
    expect(between).not.toContain('2025-01-31');
    expect(between).not.toContain('2025-04-15');
    expect(between).toEqual(expect.arrayContaining(['2025-06-10', '2025-09-09', '2025-12-28']));

    const resumed = await sales.cli([...WINDOW, '--json']);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    const report = resumed.json<Report>();
    expect(report.chunks).toMatchObject({ days: 30, count: 13, skipped: [1, 2, 3] });
    expect(resumed.stderr).toMatch(/chunk 4\/13 2025-04-01 → 2025-04-30 … \(resumed: 3 chunks already published\)/);
    // chunk 4 again (idempotent: nothing left to publish there), then the rest
    const gold = report.models.find((m) => m.model === 'gold.daily');
    expect(gold?.partitions.filter((p) => p.status === 'corrected').map((p) => p.partition)).toEqual(['2025-06-10', '2025-09-09', '2025-12-28']);
    expect((gold?.partitions[0]?.partition ?? '') >= '2025-04-01').toBe(true);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
    const reportFiles = (await readdir(join(sales.lake, '_lakeloop', 'reports'))).filter((f) => f.startsWith(report.id));
    expect(reportFiles.sort()).toEqual([`${report.id}.json`, `${report.id}.md`]);
    expect(await readFile(join(sales.lake, '_lakeloop', 'reports', `${report.id}.md`), 'utf8')).toMatch(/ran in 13 chunks of 30 days \(run [0-9a-f]{16}\); resumed: chunks 1–3 were already published and skipped/);

    const versions = await sales.versions();
    const again = await sales.cli([...WINDOW, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<Report>().models.every((m) => m.published === null)).toBe(true);
    expect(await sales.versions()).toEqual(versions);
  }, 120_000);

  it('applies late rows on the last day of a chunk and the first day of the next; new bronze rows make every chunk run again', async () => {
    await sales.ingest([late(91_001, '2025-03-31T22:00:00Z'), late(91_002, '2025-04-01T01:00:00Z', { store: 'east' })]);
    await sales.run();
    expect(differingDays(await sales.gold(), oracle(sales.sent))).toEqual(['2025-03-31', '2025-04-01']);
    const result = await sales.cli([...WINDOW, '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = result.json<Report>();
    expect(report.chunks?.skipped).toEqual([]);
    const gold = report.models.find((m) => m.model === 'gold.daily');
    expect(gold?.partitions.filter((p) => p.status === 'corrected').map((p) => p.partition)).toEqual(['2025-03-31', '2025-04-01']);
    expect(gold?.partitions.filter((p) => p.status === 'match')).toHaveLength(363);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
  }, 120_000);
});
