import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import type { Model } from '../../src/models/index.js';
import { publishedModels } from '../../src/planner/index.js';
import { StreamingLoop } from '../../src/server/index.js';
import type { ModelRunSummary } from '../../src/runner/index.js';
import type { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, GOLD, goldSalesOn, SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';

/**
 * serve's streaming loop with an edited model (SPEC §6 "Model versions"): it keeps running
 * the published version until `lakeloop apply`, and picks the applied version up on its
 * next run without a restart.
 */
let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let models: readonly Model[];
let batches = 0;

async function ingestDay(d: number): Promise<void> {
  const file = join(dir, `batch-${++batches}.ndjson`);
  await writeFile(file, `${salesOfDay(d, d * 1000).map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
}

async function nextRun(loop: StreamingLoop, runs: ModelRunSummary[][]): Promise<void> {
  const before = runs.length;
  loop.nudge();
  const deadline = Date.now() + 30_000;
  while (runs.length === before) {
    if (Date.now() > deadline) throw new Error('the streaming loop did not run');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('streaming-published'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lakeRoot = join(dir, 'lake');
  await ingestDay(1);
  expect((await cli(['--lake', lakeRoot, 'run'], project)).code).toBe(0);
  await writeFile(join(project, 'sql', 'gold', 'daily.sql'), GOLD.replace('count(*) AS sales', 'count(*) * 1000 AS sales'));
  ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('the streaming loop and an edited model', () => {
  it('runs the published version until apply, then the applied one', async () => {
    const runs: ModelRunSummary[][] = [];
    const loop = new StreamingLoop({
      lake,
      models,
      eventTimeColumns: { 'bronze.sales': 'ts' },
      pollMs: 600_000,
      compaction: false,
      modelsForRun: async (due) => (await publishedModels(lake, engine, due)).models,
      onRun: (s) => runs.push([...s]),
      onError: (error) => {
        throw error;
      },
    });
    try {
      await ingestDay(2);
      await nextRun(loop, runs);
      expect(await goldSalesOn(lake, engine, 2)).toEqual([13, 14, 13]);
      const applied = await cli(['--lake', lakeRoot, 'apply', '--yes'], project);
      expect(applied.code, applied.stderr).toBe(0);
      expect(await goldSalesOn(lake, engine, 1)).toEqual([13_000, 14_000, 13_000]);
      await ingestDay(3);
      await nextRun(loop, runs);
      expect(await goldSalesOn(lake, engine, 3)).toEqual([13_000, 14_000, 13_000]);
    } finally {
      await loop.stop();
    }
  });
});
