import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { GOLD, SALES_PROJECT } from '../fixtures/sales-project.js';

/**
 * `lakeloop apply` emits lineage (issue 15): the apply is a run, each rebuilt model a run
 * under it (parent facet) with START then COMPLETE, its output at the version the rebuild
 * committed.
 */
interface Event {
  eventType: string;
  run: { runId: string; facets: Record<string, { run?: { runId: string }; job?: { name: string } }> };
  job: { name: string };
  outputs: { name: string; facets?: { version?: { datasetVersion: string } } }[];
}

let dir: string;
let remove: () => Promise<void>;
let project: string;
let lake: string;
let lineageFile: string;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('lineage-apply'));
  project = await writeProject(join(dir, 'project'), SALES_PROJECT);
  lake = join(dir, 'lake');
  lineageFile = join(dir, 'lineage.ndjson');
  const file = join(dir, 'sales.ndjson');
  await writeFile(file, `${JSON.stringify({ id: 1, store: 'north', amount: 10, status: 'placed', ts: '2026-03-01T10:00:00Z' })}\n`);
  expect((await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
  expect((await cli(['--lake', lake, 'run'], project)).code).toBe(0);
  // A breaking change: gold.daily gains a column, so apply rebuilds it.
  await writeFile(join(project, 'sql/gold/daily.sql'), GOLD.replace('count(*) AS sales', 'count(*) AS sales, max(amount) AS top_sale'));
  const applied = await cli(['--lake', lake, 'apply', '--yes'], project, { LAKELOOP_LINEAGE_FILE: lineageFile });
  expect(applied.code, applied.stderr).toBe(0);
}, 120_000);

afterAll(async () => remove?.());

describe('lineage of lakeloop apply', () => {
  it('the rebuilt model runs START → COMPLETE under the apply run, at the version committed', async () => {
    const events = (await readFile(lineageFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Event);
    const find = (job: string, type: string): Event => {
      const e = events.find((x) => x.job.name === job && x.eventType === type);
      if (!e) throw new Error(`no ${type} for ${job}: ${events.map((x) => `${x.job.name} ${x.eventType}`).join(', ')}`);
      return e;
    };
    const apply = find('lakeloop.apply', 'START');
    expect(find('lakeloop.apply', 'COMPLETE').run.runId).toBe(apply.run.runId);
    const start = find('gold.daily', 'START');
    const complete = find('gold.daily', 'COMPLETE');
    expect(complete.run.runId).toBe(start.run.runId);
    expect(start.run.facets['parent']).toMatchObject({ run: { runId: apply.run.runId }, job: { name: 'lakeloop.apply' } });
    const { engine, lake: opened } = await openProjectLake(project, lake);
    try {
      expect(complete.outputs[0]?.facets?.version?.datasetVersion).toBe(String((await (await opened.table('gold.daily')).snapshot()).version));
    } finally {
      await engine.close();
    }
  });
});
