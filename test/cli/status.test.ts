import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from './cli-harness.js';
import { buildFixtureLake, HOUR_MS, START_MS } from './lake-fixture.js';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-status'));
  await buildFixtureLake(join(dir, 'lake'));
});
afterAll(async () => remove());

describe('lakeloop status', () => {
  it('--json lists every table with version, files, rows, bytes and last commit, grouped by layer', async () => {
    const run = await cli(['status', '--json'], dir);
    expect(run.code).toBe(0);
    const status = run.json<{ root: string; tables: Record<string, unknown>[]; layers: Record<string, unknown>[] }>();
    expect(status.root).toBe(join(dir, 'lake'));
    expect(status.tables).toEqual([
      expect.objectContaining({ name: 'bronze.orders', layer: 'bronze', version: 3, files: 4, rows: 4, lastCommitMs: START_MS + 3 * HOUR_MS }),
      expect.objectContaining({ name: 'gold.daily_revenue', layer: 'gold', version: 1, files: 1, rows: 2, lastCommit: '2024-05-01T04:00:00.000Z' }),
    ]);
    expect(status.tables.every((t) => typeof t['sizeBytes'] === 'number' && (t['sizeBytes'] as number) > 0)).toBe(true);
    expect(status.layers.map((l) => [l['layer'], l['tables'], l['rows']])).toEqual([
      ['bronze', 1, 4],
      ['gold', 1, 2],
    ]);
  });

  it('prints one section per layer', async () => {
    const run = await cli(['status'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^bronze: 1 table, 4 files, 4 rows, /m);
    expect(run.stdout).toMatch(/^ {2}gold\.daily_revenue +1 +1 +2 +\d+ B +2024-05-01T04:00:00Z$/m);
  });
});
