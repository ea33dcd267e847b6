import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamingLoop } from '../../src/server/index.js';
import type { ModelRunSummary } from '../../src/runner/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';

/**
 * One model failing at run time (a cast that fails on the data) does not stop the run: its
 * independent siblings and their downstream still run and commit, its downstream is skipped
 * with the reason, `--json` prints every outcome, the result is in the run ledger, exit 1.
 */
const BAD = `/*
kind: full
*/
SELECT CAST(store AS INTEGER) AS store_no, amount FROM bronze.sales
`;
const BAD_DOWNSTREAM = `/*
kind: full
*/
SELECT count(*) AS n FROM silver.bad
`;

interface Outcome {
  model: string;
  status: 'ok' | 'error' | 'skipped';
  version?: number;
  reason?: string;
  error?: { message: string; code: string };
  seconds: number;
}

let dir: string;
let remove: () => Promise<void>;
let project: string;
let lake: string;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('model-failure'));
  project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, 'sql/silver/bad.sql': BAD, 'sql/gold/bad_count.sql': BAD_DOWNSTREAM });
  lake = join(dir, 'lake');
  const sales: Sale[] = [
    { id: 1, store: 'north', amount: 10, status: 'placed', ts: '2026-03-01T10:00:00Z' },
    { id: 2, store: 'south', amount: 20, status: 'placed', ts: '2026-03-01T11:00:00Z' },
  ];
  const file = join(dir, 'sales.ndjson');
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
});

afterAll(async () => remove?.());

describe('a model that fails at run time', () => {
  it('--json prints every outcome, the independent models commit, the downstream is skipped, exit 1', async () => {
    const run = await cli(['--lake', lake, 'run', '--json'], project);
    expect(run.code).toBe(1);
    const result = run.json<{ status: string; models: Outcome[]; run: string }>();
    expect(result.status).toBe('failed');
    const byModel = Object.fromEntries(result.models.map((o) => [o.model, o]));
    expect(Object.keys(byModel).sort()).toEqual(['gold.bad_count', 'gold.daily', 'silver.bad', 'silver.sales']);
    expect(byModel['silver.sales']?.status).toBe('ok');
    expect(byModel['gold.daily']?.status).toBe('ok');
    expect(byModel['gold.daily']?.version).toBeGreaterThanOrEqual(0);
    expect(byModel['silver.bad']?.status).toBe('error');
    expect(byModel['silver.bad']?.error?.message).toMatch(/Could not convert|Conversion Error/i);
    expect(byModel['gold.bad_count']).toMatchObject({ status: 'skipped', reason: 'upstream silver.bad failed' });
    expect(run.stderr).toContain('silver.bad');
    // gold.daily was built
    const rows = await cli(['--lake', lake, 'query', 'SELECT sum(sales) AS n FROM gold.daily', '--format', 'json'], project);
    expect(JSON.parse(rows.stdout)).toEqual([{ n: 2 }]);
    // the run's result is in the run ledger
    const ledger = JSON.parse(await readFile(join(lake, result.run), 'utf8')) as { kind: string; status: string; result: { models: Outcome[] } };
    expect(ledger.kind).toBe('run');
    expect(ledger.status).toBe('failed');
    expect(ledger.result.models.map((o) => `${o.model} ${o.status}`)).toEqual(result.models.map((o) => `${o.model} ${o.status}`));
  });

  it('the terminal shows each model as it finishes: OK, ERROR, SKIP', async () => {
    const run = await cli(['--lake', lake, 'run'], project);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^\d of 4 OK +silver\.sales +up to date +[\d.]+ s$/m);
    expect(run.stdout).toMatch(/^\d of 4 ERROR silver\.bad +.*Could not convert.* [\d.]+ s$/m);
    expect(run.stdout).toMatch(/^\d of 4 SKIP +gold\.bad_count +not run: upstream silver\.bad failed$/m);
    expect(await readdir(join(lake, '_lakeloop', 'runs', 'run'))).toHaveLength(2);
  });

  it("serve's streaming loop runs the independent models while the failed one waits for its retry", async () => {
    const root = join(dir, 'loop-lake');
    const file = join(dir, 'loop.ndjson');
    await writeFile(file, `${JSON.stringify({ id: 7, store: 'east', amount: 5, status: 'placed', ts: '2026-03-02T10:00:00Z' })}\n`);
    expect((await cli(['--lake', root, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
    const { engine, lake: opened, models } = await openProjectLake(project, root);
    const runs: ModelRunSummary[][] = [];
    const errors: unknown[] = [];
    const loop = new StreamingLoop({ lake: opened, models, eventTimeColumns: { 'bronze.sales': 'ts' }, compaction: false, onRun: (s) => runs.push([...s]), onError: (e) => errors.push(e) });
    try {
      loop.nudge();
      const deadline = Date.now() + 30_000;
      while (runs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(runs[0]?.map((s) => s.model).sort()).toEqual(['gold.daily', 'silver.sales']);
      expect(errors).toHaveLength(1);
      expect(String((errors[0] as Error).message)).toContain('silver.bad');
      expect(await opened.tables()).toEqual(expect.arrayContaining(['silver.sales', 'gold.daily']));
      // new data while the retry waits: the independent models take it at once
      const more = join(dir, 'loop-2.ndjson');
      await writeFile(more, `${JSON.stringify({ id: 8, store: 'east', amount: 6, status: 'placed', ts: '2026-03-02T11:00:00Z' })}\n`);
      expect((await cli(['--lake', root, 'ingest', 'sales', '--file', more], project)).code).toBe(0);
      loop.nudge();
      while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(runs[1]?.filter((s) => !s.skipped).map((s) => s.model).sort()).toEqual(['gold.daily', 'silver.sales']);
    } finally {
      await loop.stop();
      await engine.close();
    }
  }, 60_000);
});
