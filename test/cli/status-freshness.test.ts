import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsContract, writeProject } from '../helpers/project.js';
import { cli, tempDir } from './cli-harness.js';

/**
 * `lakeloop status` evaluates the freshness SLOs as serve does: a contract's against its
 * bronze table's last commit, a model header's against its table's, breached when older
 * than the objective or when there is no table yet.
 */
let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-status-freshness'));
  await writeProject(dir, {
    // one week: the batch ingested below is seconds old, so met
    'contracts/events.ts': eventsContract().replace("drift: 'strict',", "drift: 'strict', freshness: '7d',"),
    // an objective no table can meet in a test: the run commits, then at least a second passes
    'sql/silver/clicks.sql': "/*\nkind: full\nfreshness: 1s\n*/\nSELECT id, ts FROM bronze.events WHERE kind = 'click'\n",
    // never run: no table yet
    'sql/silver/views.sql': "/*\nkind: full\nfreshness: 1h\n*/\nSELECT id, ts FROM bronze.events WHERE kind = 'view'\n",
  });
  const input = join(dir, 'events.ndjson');
  await writeFile(input, '{"id":1,"kind":"click","ts":"2026-06-01T10:00:00Z"}\n{"id":2,"kind":"view","ts":"2026-06-01T10:00:01Z"}\n');
  expect((await cli(['ingest', 'events', '--file', input], dir)).code).toBe(0);
  expect((await cli(['run', 'silver.clicks'], dir)).code).toBe(0);
}, 120_000);
afterAll(async () => remove());

describe('lakeloop status: freshness SLOs', () => {
  it('met for a fresh source, breached for a model past its objective and for one with no table', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const run = await cli(['status', '--json'], dir);
    expect(run.code).toBe(0);
    const { freshness } = run.json<{ freshness: { kind: string; name: string; table: string; maxAge: string; ageSeconds: number | null; met: boolean }[] }>();
    expect(freshness.map(({ kind, name, table, maxAge, met }) => ({ kind, name, table, maxAge, met }))).toEqual([
      { kind: 'source', name: 'events', table: 'bronze.events', maxAge: '7d', met: true },
      { kind: 'model', name: 'silver.clicks', table: 'silver.clicks', maxAge: '1s', met: false },
      { kind: 'model', name: 'silver.views', table: 'silver.views', maxAge: '1h', met: false },
    ]);
    expect(freshness[1]?.ageSeconds).toBeGreaterThanOrEqual(1);
    expect(freshness[2]?.ageSeconds).toBeNull();
    const text = await cli(['status'], dir);
    expect(text.stdout).toMatch(/^ {2}source events: met — last commit .* ago, objective 7d$/m);
    expect(text.stdout).toMatch(/^ {2}model silver\.clicks: BREACHED — last commit .* ago, objective 1s$/m);
    expect(text.stdout).toMatch(/^ {2}model silver\.views: BREACHED — no table yet, objective 1h$/m);
  }, 60_000);
});
