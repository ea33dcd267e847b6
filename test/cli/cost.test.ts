import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake, type AddAction } from '../../src/table/index.js';
import { SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';
import { writeProject } from '../helpers/project.js';
import { cli, tempDir } from './cli-harness.js';

/**
 * Cost governance on the sales project (bronze.sales → silver.sales incremental_by_key →
 * gold.daily incremental_by_partition): what each model's run read and wrote, checked
 * against the tables' own `add.size`s; the scan budget refusing or warning before a run;
 * storage per layer in `status`.
 */
let dir: string;
let project: string;
let lake: string;
let remove: () => Promise<void>;
let engine: Engine;
let reader: Lake;

interface Cost {
  filesRead: number;
  bytesRead: number;
  filesWritten: number;
  bytesWritten: number;
  cpuSeconds: number;
  peakRssBytes: number;
}
interface ModelRun {
  model: string;
  status: string;
  mode: string;
  version: number;
  upstream: Record<string, number>;
  partitions: string[] | 'all';
  cost: Cost;
}
interface RunJson {
  status: string;
  models: ModelRun[];
  run: string;
  budget?: { estimatedBytes: number; budgetBytes: number; mode: string; over: boolean };
  warnings?: string[];
}

async function lakeloop(...args: string[]): ReturnType<typeof cli> {
  return cli(['--lake', lake, ...args], project);
}

let batch = 0;
async function ingestDays(days: readonly number[]): Promise<void> {
  batch += 1;
  const sales = days.flatMap((d) => salesOfDay(d, d * 1000 + batch * 100).slice(0, 10));
  const file = join(dir, `batch-${batch}.ndjson`);
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const run = await lakeloop('ingest', 'sales', '--file', file);
  expect(run.code, run.stderr).toBe(0);
}

async function filesAt(name: string, version: number): Promise<readonly AddAction[]> {
  return (await (await reader.table(name)).snapshot({ version })).files;
}

async function commitAdds(name: string, version: number): Promise<readonly AddAction[]> {
  return (await (await reader.table(name)).commitActions(version))?.adds ?? [];
}

const sizeOf = (files: readonly AddAction[]): number => files.reduce((n, f) => n + f.size, 0);

async function versionOf(name: string): Promise<number> {
  return (await (await reader.table(name)).snapshot()).version;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('cost'));
  project = await writeProject(join(dir, 'project'), {
    ...SALES_PROJECT,
    'refuse.config.ts': "export default { budgets: { maxBytesScannedPerRun: '1KB', mode: 'refuse' } };\n",
    'warn.config.ts': "export default { budgets: { maxBytesScannedPerRun: '1KB', mode: 'warn', storageQuota: { gold: '1KB', silver: '1GB' } } };\n",
    'quota.config.ts': "export default { budgets: { mode: 'refuse', storageQuota: { bronze: '1KB', gold: '1KB' } } };\n",
    'silver-quota.config.ts': "export default { budgets: { mode: 'refuse', storageQuota: { gold: '1KB' } } };\n",
  });
  lake = join(dir, 'lake');
  engine = await Engine.create({ threads: 1 });
  reader = await Lake.open({ store: await LocalObjectStore.create(lake), engine, checkpointCache: null });
  await ingestDays([1, 2, 3]);
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('run --json: what each model read and wrote', () => {
  it('a first build reads every live upstream file and writes the files its commit adds', async () => {
    const run = await lakeloop('run', '--json');
    expect(run.code, run.stderr).toBe(0);
    const { models } = run.json<RunJson>();
    const silver = models.find((m) => m.model === 'silver.sales') as ModelRun;
    const gold = models.find((m) => m.model === 'gold.daily') as ModelRun;
    const bronzeFiles = await filesAt('bronze.sales', silver.upstream['bronze.sales'] as number);
    expect(silver.cost.filesRead).toBe(bronzeFiles.length);
    expect(silver.cost.bytesRead).toBe(sizeOf(bronzeFiles));
    const silverAdds = await commitAdds('silver.sales', silver.version);
    expect(silverAdds.length).toBeGreaterThan(0);
    expect(silver.cost.filesWritten).toBe(silverAdds.length);
    expect(silver.cost.bytesWritten).toBe(sizeOf(silverAdds));
    // A first build's table holds exactly what it wrote.
    expect(silver.cost.bytesWritten).toBe(sizeOf(await filesAt('silver.sales', silver.version)));

    const silverFiles = await filesAt('silver.sales', gold.upstream['silver.sales'] as number);
    expect(gold.cost.bytesRead).toBe(sizeOf(silverFiles));
    expect(gold.cost.bytesWritten).toBe(sizeOf(await commitAdds('gold.daily', gold.version)));
    for (const m of models) {
      expect(m.cost.cpuSeconds).toBeGreaterThan(0);
      expect(m.cost.peakRssBytes).toBeGreaterThan(0);
    }
  }, 120_000);

  it('an incremental run reads only the upstream files of the partitions it rewrites, and the ledger keeps the cost', async () => {
    await ingestDays([3]);
    const run = await lakeloop('run', '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = run.json<RunJson>();
    const gold = result.models.find((m) => m.model === 'gold.daily') as ModelRun;
    expect(gold.mode).toBe('incremental');
    expect(gold.partitions).toEqual(['2026-03-03']);
    const silverFiles = await filesAt('silver.sales', gold.upstream['silver.sales'] as number);
    const read = silverFiles.filter((f) => f.partitionValues['sale_date'] === '2026-03-03');
    expect(read.length).toBeLessThan(silverFiles.length);
    expect(gold.cost.filesRead).toBe(read.length);
    expect(gold.cost.bytesRead).toBe(sizeOf(read));
    expect(gold.cost.bytesWritten).toBe(sizeOf(await commitAdds('gold.daily', gold.version)));
    // The key merge read the new bronze file (and probed its own files).
    const silver = result.models.find((m) => m.model === 'silver.sales') as ModelRun;
    const landed = await commitAdds('bronze.sales', silver.upstream['bronze.sales'] as number);
    expect(landed.length).toBeGreaterThan(0);
    expect(silver.cost.bytesRead).toBeGreaterThanOrEqual(sizeOf(landed));

    const ledger = await reader.store.get(result.run);
    const record = JSON.parse(ledger.toString('utf8')) as { result: { models: ModelRun[] } };
    expect(record.result.models.find((m) => m.model === 'gold.daily')?.cost).toEqual(gold.cost);
  }, 120_000);
});

describe('budgets.maxBytesScannedPerRun', () => {
  it('refuse: a run over the budget reads nothing, commits nothing, exits 1 and names the budget', async () => {
    await ingestDays([4]);
    const before = { silver: await versionOf('silver.sales'), gold: await versionOf('gold.daily') };
    const run = await lakeloop('--config', join(project, 'refuse.config.ts'), 'run', '--json');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/would scan an estimated \d+(\.\d)? [KM]?B .*over budgets\.maxBytesScannedPerRun of 1\.0 KB: refused/);
    expect(run.stderr).toContain('Raise budgets.maxBytesScannedPerRun in lakeloop.config.ts or run fewer models');
    const json = run.json<RunJson>();
    expect(json.status).toBe('refused');
    expect(json.budget).toMatchObject({ budgetBytes: 1000, mode: 'refuse', over: true });
    expect(json.budget?.estimatedBytes).toBeGreaterThan(1000);
    expect({ silver: await versionOf('silver.sales'), gold: await versionOf('gold.daily') }).toEqual(before);
    const ledger = JSON.parse((await reader.store.get(json.run)).toString('utf8')) as { status: string; error: { code: string } };
    expect(ledger).toMatchObject({ status: 'failed', error: { code: 'BUDGET_EXCEEDED' } });
  }, 120_000);

  it('warn: the run goes ahead, the warning is printed and in --json with the estimate', async () => {
    const before = await versionOf('gold.daily');
    const run = await lakeloop('--config', join(project, 'warn.config.ts'), 'run', '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^warning: This run would scan an estimated .* over budgets\.maxBytesScannedPerRun of 1\.0 KB$/m);
    const json = run.json<RunJson>();
    expect(json.budget).toMatchObject({ budgetBytes: 1000, mode: 'warn', over: true });
    expect(json.warnings?.[0]).toContain('budgets.maxBytesScannedPerRun');
    // gold is over its 1KB quota: said after the run.
    expect(json.warnings?.some((w) => w.startsWith('gold holds') && w.includes('budgets.storageQuota.gold'))).toBe(true);
    expect(await versionOf('gold.daily')).toBeGreaterThan(before);
    // silver's estimate is the bronze file it then read; gold's stands on silver's (silver's new files were not written yet): conservative.
    const estimate = json.budget as unknown as { models: { model: string; bytes: number }[]; estimatedBytes: number };
    const silver = json.models.find((m) => m.model === 'silver.sales') as ModelRun;
    expect(estimate.models.find((m) => m.model === 'silver.sales')?.bytes).toBe(silver.cost.bytesRead);
    expect(estimate.estimatedBytes).toBeGreaterThanOrEqual(json.models.reduce((n, m) => n + m.cost.bytesRead, 0));
  }, 120_000);

  it('within the budget (nothing new to read) a run is not warned about', async () => {
    const run = await lakeloop('--config', join(project, 'warn.config.ts'), 'run', '--json');
    expect(run.code, run.stderr).toBe(0);
    const json = run.json<RunJson>();
    expect(json.budget).toMatchObject({ estimatedBytes: 0, over: false });
    expect(run.stderr).not.toContain('maxBytesScannedPerRun');
  }, 120_000);
});

describe('budgets.storageQuota in refuse mode', () => {
  it('refuses an ingest into a bronze over its quota before reading the file, and a run writing a layer over its quota; a run of a layer within quota goes on', async () => {
    const bronze = await versionOf('bronze.sales');
    const file = join(dir, 'over-quota.ndjson');
    await writeFile(file, `${salesOfDay(9, 9000).slice(0, 3).map((s) => JSON.stringify(s)).join('\n')}\n`);
    const ingest = await lakeloop('--config', join(project, 'quota.config.ts'), 'ingest', 'sales', '--file', file);
    expect(ingest.code).toBe(1);
    expect(ingest.stderr).toMatch(/Refused before ingesting sales: bronze holds .*, over its quota of 1\.0 KB \(budgets\.storageQuota\.bronze/);
    expect(ingest.stderr).toContain("budgets.mode: 'warn'");
    expect(await versionOf('bronze.sales')).toBe(bronze);
    // gold is over 1KB: a run of gold is refused before it reads anything
    const gold = await versionOf('gold.daily');
    const run = await lakeloop('--config', join(project, 'silver-quota.config.ts'), 'run', 'gold.daily', '--full-refresh');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Refused before running gold\.daily: gold holds/);
    expect(await versionOf('gold.daily')).toBe(gold);
    // silver has no quota: its run goes on
    expect((await lakeloop('--config', join(project, 'silver-quota.config.ts'), 'run', 'silver.sales', '--full-refresh')).code).toBe(0);
  }, 120_000);
});

describe('status: storage per layer and table', () => {
  interface Storage {
    smallFileBytes: number;
    unreferencedCounted: boolean;
    layers: { layer: string; tables: number; files: number; liveBytes: number; smallFiles: number; unreferencedBytes: number | null; quotaBytes: number | null; overQuota: boolean }[];
    tables: { name: string; layer: string; files: number; liveBytes: number; smallFiles: number; unreferencedFiles: number | null; unreferencedBytes: number | null }[];
  }

  it('--json has live, small and unreferenced bytes per layer and table, and usage against the quotas', async () => {
    const run = await lakeloop('--config', join(project, 'warn.config.ts'), 'status', '--json');
    expect(run.code, run.stderr).toBe(0);
    const status = run.json<{ layers: { layer: string; files: number; sizeBytes: number }[]; storage: Storage }>();
    const { storage } = status;
    expect(storage.unreferencedCounted).toBe(true);
    expect(storage.smallFileBytes).toBe(8 * 2 ** 20);
    expect(storage.layers.map((l) => l.layer)).toEqual(['bronze', 'silver', 'gold']);
    for (const layer of storage.layers) {
      const summary = status.layers.find((l) => l.layer === layer.layer);
      expect(layer.liveBytes).toBe(summary?.sizeBytes);
      expect(layer.files).toBe(summary?.files);
      // The fixture's files are all small.
      expect(layer.smallFiles).toBe(layer.files);
    }
    const gold = storage.tables.find((t) => t.name === 'gold.daily');
    expect(gold?.liveBytes).toBe(sizeOf(await filesAt('gold.daily', await versionOf('gold.daily'))));
    // Incremental runs replaced gold partitions: the replaced files are still in its folder.
    expect(gold?.unreferencedFiles).toBeGreaterThan(0);
    expect(gold?.unreferencedBytes).toBeGreaterThan(0);
    expect(storage.layers.find((l) => l.layer === 'gold')).toMatchObject({ quotaBytes: 1000, overQuota: true });
    expect(storage.layers.find((l) => l.layer === 'silver')).toMatchObject({ quotaBytes: 1e9, overQuota: false });
    expect(storage.layers.find((l) => l.layer === 'bronze')).toMatchObject({ quotaBytes: null, overQuota: false });
  }, 60_000);

  it('prints a storage section', async () => {
    const run = await lakeloop('--config', join(project, 'warn.config.ts'), 'status');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^storage \(small: files under 8\.0 MiB\):$/m);
    expect(run.stdout).toMatch(/^ {2}gold +\d+(\.\d)? (B|KiB) +1000 B OVER +\d+ +\d+ +\d+(\.\d)? (B|KiB) in \d+ files?$/m);
  }, 60_000);
});
