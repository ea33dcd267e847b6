import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import { modelFingerprint, type Model } from '../../src/models/index.js';
import { publishedModels, publishedVersion } from '../../src/planner/index.js';
import { runModels } from '../../src/runner/index.js';
import type { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { day, GOLD, goldSalesOn, SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';

/**
 * A streaming run that chose its models before an `apply` landed (serve reads the published
 * versions at the start of a cycle, then runs model after model): when it reaches the
 * rebuilt model it holds the old SQL. It must not write the old logic's rows into the
 * rebuilt table (nor record the old version as published again); it fails with a conflict,
 * and the next run, reading the published versions again, runs the applied SQL.
 */
let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let batches = 0;
const EVENT_TIME = { 'bronze.sales': 'ts' };

async function ingestDay(d: number): Promise<void> {
  const file = join(dir, `batch-${++batches}.ndjson`);
  await writeFile(file, `${salesOfDay(d, d * 1000).map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('apply-race'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lakeRoot = join(dir, 'lake');
  await ingestDay(1);
  expect((await cli(['--lake', lakeRoot, 'run'], project)).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

describe('a run planned before an apply', () => {
  it('does not write the old SQL into the rebuilt table; the next run runs the applied SQL', async () => {
    let models: readonly Model[];
    ({ engine, lake, models } = await openProjectLake(project, lakeRoot));
    const stale = (await publishedModels(lake, engine, models)).models;
    await writeFile(join(project, 'sql', 'gold', 'daily.sql'), GOLD.replace('count(*) AS sales', 'count(*) * 1000 AS sales'));
    await ingestDay(2);
    const applied = await cli(['--lake', lakeRoot, 'apply', '--yes'], project);
    expect(applied.code, applied.stderr).toBe(0);
    const rebuilt = await publishedVersion(await lake.table('gold.daily'));

    const raced = await runModels(lake, stale, { eventTimeColumns: EVENT_TIME });
    expect(raced.outcomes.map((o) => [o.model, o.status])).toEqual([
      ['silver.sales', 'ok'],
      ['gold.daily', 'error'],
    ]);
    const failure = raced.outcomes[1];
    expect(failure?.status === 'error' && failure.error.code).toBe('COMMIT_CONFLICT');
    expect(await goldSalesOn(lake, engine, 1)).toEqual([13_000, 14_000, 13_000]);
    expect(await goldSalesOn(lake, engine, 2)).toEqual([]);
    expect((await publishedVersion(await lake.table('gold.daily')))?.version).toBe(rebuilt?.version);

    const reopened = await openProjectLake(project, lakeRoot);
    await reopened.engine.close();
    const next = (await publishedModels(lake, engine, reopened.models)).models;
    expect(modelFingerprint(next[1] as Model)).toBe(rebuilt?.record.fingerprint);
    const run = await runModels(lake, next, { eventTimeColumns: EVENT_TIME });
    expect(run.failures).toEqual([]);
    expect(await goldSalesOn(lake, engine, 2)).toEqual([13_000, 14_000, 13_000]);
  }, 120_000);
});
