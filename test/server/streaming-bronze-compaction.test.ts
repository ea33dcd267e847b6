import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContracts } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import type { Model } from '../../src/models/index.js';
import { runModels } from '../../src/runner/index.js';
import { Collector, StreamingLoop } from '../../src/server/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { compactTable, Lake, type CompactionResult } from '../../src/table/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { LAKELOOP_ENTRY, openProjectLake, writeProject } from '../helpers/project.js';
import { day, oracle, SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';

/**
 * The streaming loop compacts the bronze tables its models read, while the collector keeps
 * landing small batches into the same partitions (in-process, as `serve` runs them: the
 * collector and the loop each on their own DuckDB instance, real HTTP, a real lake): bronze
 * ends with fewer files than batches, every acknowledged record is in bronze exactly once
 * (idempotency keys still answer duplicates), and gold equals the oracle. A compaction
 * commit in bronze is not new data for the models.
 */
const CONTRACT = [
  `import { defineContract, z } from ${LAKELOOP_ENTRY};`,
  'export default defineContract({',
  "  source: 'sales', version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict',",
  '  schema: z.object({ id: z.int(), store: z.string(), amount: z.number(), status: z.enum(["placed", "cancelled"]), ts: z.iso.datetime({ offset: true }) }),',
  '  batch: { maxMs: 20 },',
  '});',
].join('\n');

let remove: () => Promise<void>;
let lakeRoot: string;
let loopEngine: Engine;
let loopLake: Lake;
let landingEngine: Engine;
let collector: Collector;
let models: readonly Model[];
const sent: Sale[] = [];
let batches = 0;

/** Four new sales over two days: each batch adds a small file to both days' partitions. */
function batchOf(n: number): Sale[] {
  return Array.from({ length: 4 }, (_, i) => ({
    id: n * 10 + i,
    store: ['north', 'south'][i % 2] as string,
    amount: n + i + 0.5,
    status: 'placed' as const,
    // Either side of midnight: both days stay inside the models' 2h lateness horizon (none deferred).
    ts: i % 2 === 0 ? `${day(1)}T23:${String(n % 60).padStart(2, '0')}:0${i}Z` : `${day(2)}T00:${String(n % 60).padStart(2, '0')}:0${i}Z`,
  }));
}

async function post(sales: readonly Sale[], key?: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${collector.url}/ingest/sales`, {
    method: 'POST',
    body: `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`,
    headers: key ? { 'Idempotency-Key': key } : {},
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as Record<string, unknown>;
  if (body['duplicate'] !== true) {
    sent.push(...sales);
    batches += 1;
  }
  return body;
}

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function bronzeCounts(): Promise<{ files: number; rows: number; ids: number }> {
  const snapshot = await (await loopLake.table('bronze.sales')).snapshot();
  const [row] = await loopEngine.all(`SELECT count(*) AS n, count(DISTINCT id) AS k FROM (${await snapshot.scanSql(loopLake.store)})`);
  return { files: snapshot.files.length, rows: Number(row?.['n']), ids: Number(row?.['k']) };
}

async function gold(): Promise<Map<string, { revenue: number; sales: number }>> {
  const snapshot = await (await loopLake.table('gold.daily')).snapshot();
  const rows = await loopEngine.all(`SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM (${await snapshot.scanSql(loopLake.store)})`);
  return new Map(rows.map((r) => [`${String(r['d'])}|${String(r['store'])}`, { revenue: Number(r['revenue']), sales: Number(r['sales']) }]));
}

async function optimizeCommits(): Promise<string[]> {
  const log = join(lakeRoot, 'bronze', 'sales', '_delta_log');
  const bodies = await Promise.all((await readdir(log)).filter((f) => f.endsWith('.json')).map((f) => readFile(join(log, f), 'utf8')));
  return bodies.filter((b) => b.includes('"operation":"OPTIMIZE"'));
}

const sorted = (m: Map<string, unknown>): string => JSON.stringify([...m].sort(([a], [b]) => a.localeCompare(b)));

beforeAll(async () => {
  let dir: string;
  ({ dir, remove } = await tempDir('streaming-bronze-compaction'));
  const project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, 'contracts/sales.ts': CONTRACT });
  lakeRoot = join(dir, 'lake');
  ({ engine: loopEngine, lake: loopLake, models } = await openProjectLake(project, lakeRoot));
  landingEngine = await Engine.create({ threads: 1 });
  const landingLake = await Lake.open({ store: await LocalObjectStore.create(lakeRoot), engine: landingEngine });
  collector = await Collector.create({ lake: landingLake, contracts: await loadContracts(project), port: 0 });
}, 120_000);

afterAll(async () => {
  await collector?.close();
  await landingEngine?.close();
  await loopEngine?.close();
  await remove?.();
});

describe('the streaming loop compacts bronze', () => {
  it('merges the collector\'s small files while batches keep landing: fewer files than batches, every acknowledged record once, gold = oracle', async () => {
    const compacted: CompactionResult[] = [];
    const failures: unknown[] = [];
    const loop = new StreamingLoop({
      lake: loopLake,
      models,
      eventTimeColumns: { 'bronze.sales': 'ts' },
      pollMs: 50,
      compaction: { everyMs: 0, minFiles: 4, minAgeMs: 150, targetFileBytes: 32 * 1024 * 1024 },
      onCompact: (r) => compacted.push(r),
      onCompactError: (table, e) => failures.push({ table, e }),
      onError: (e) => failures.push(e),
    });
    loop.start();
    try {
      // Batches land one after another (each answered only once committed) while the loop runs
      // and compacts: compactions race the collector's appends into the same partitions.
      for (let n = 1; n <= 40; n++) {
        await post(batchOf(n), n % 5 === 0 ? `key-${n}` : undefined);
        // Re-sent requests with the same key land nothing.
        if (n % 10 === 0) expect(await post(batchOf(n), `key-${n}`)).toMatchObject({ duplicate: true });
      }
      await until(() => compacted.some((r) => r.table === 'bronze.sales'), 'a bronze compaction');
      await until(async () => sorted(await gold()) === sorted(oracle(sent)), 'gold to catch up');
    } finally {
      await loop.stop({ drain: true });
    }
    expect(failures).toEqual([]);
    expect(batches).toBe(40);
    const bronze = compacted.filter((r) => r.table === 'bronze.sales');
    expect(bronze.length).toBeGreaterThanOrEqual(1);
    expect(bronze.every((r) => r.filesRewritten > r.filesWritten)).toBe(true);
    // 40 batches, each with a file in two partitions: 80 files without compaction.
    const counts = await bronzeCounts();
    expect(counts.files).toBeLessThan(batches);
    expect(counts).toMatchObject({ rows: sent.length, ids: sent.length });
    // The compaction commits carry no txn: the collector's stream and the keys are the collector's alone.
    const commits = await optimizeCommits();
    expect(commits.length).toBe(bronze.length);
    for (const body of commits) expect(body).not.toContain('"txn"');
    expect(sorted(await gold())).toBe(sorted(oracle(sent)));
  }, 60_000);

  it('a bronze compaction is not new data: the next run skips every model, and gold stays the oracle', async () => {
    for (let n = 41; n <= 46; n++) await post(batchOf(n));
    const first = await runModels(loopLake, models, { eventTimeColumns: { 'bronze.sales': 'ts' } });
    expect(first.failures).toEqual([]);
    const versions = async (): Promise<number[]> => Promise.all(['silver.sales', 'gold.daily'].map(async (t) => (await (await loopLake.table(t)).snapshot()).version));
    const before = await versions();

    const result = await compactTable(await loopLake.table('bronze.sales'), { minFiles: 2 });
    expect(result.committed).toBe(true);
    const second = await runModels(loopLake, models, { eventTimeColumns: { 'bronze.sales': 'ts' } });
    expect(second.failures).toEqual([]);
    expect(second.summaries.map((s) => s.skipped)).toEqual([true, true]);
    expect(await versions()).toEqual(before);

    // New rows merged by a compaction before any run read them are still new data, once.
    await post(batchOf(47));
    expect((await compactTable(await loopLake.table('bronze.sales'), { minFiles: 2 })).committed).toBe(true);
    const third = await runModels(loopLake, models, { eventTimeColumns: { 'bronze.sales': 'ts' } });
    expect(third.failures).toEqual([]);
    expect(sorted(await gold())).toBe(sorted(oracle(sent)));
    expect(await bronzeCounts()).toMatchObject({ rows: sent.length, ids: sent.length });
  }, 60_000);
});
