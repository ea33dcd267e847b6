import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
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
    expect(run.stdout).toMatch(/^ {2}gold\.daily_revenue +1 +1 +0 +2 +\d+ B +2024-05-01T04:00:00Z$/m);
    expect(run.stdout).not.toContain('small files');
  });

  it('shows the small files compact would merge, per table, until compact merges them', async () => {
    const { dir: other, remove: removeOther } = await tempDir('cli-status-small');
    try {
      const engine = await Engine.create({ threads: 2 });
      try {
        const lake = await Lake.open({ store: await LocalObjectStore.create(join(other, 'lake')), engine });
        const table = await lake.createTable('bronze.events', { columns: [{ name: 'id', type: 'BIGINT' }, { name: 'day', type: 'DATE' }], partitionColumns: ['day'] });
        // 6 batches over 2 days: 6 small files in each partition; plus one file alone in a third
        for (let b = 0; b < 6; b++) await table.append(`SELECT ${b}::BIGINT AS id, DATE '2026-05-01' + d::INTEGER AS day FROM range(2) t(d)`);
        await table.append(`SELECT 99::BIGINT AS id, DATE '2026-05-09' AS day`);
      } finally {
        await engine.close();
      }
      const before = (await cli(['status', '--json'], other)).json<{ tables: Record<string, unknown>[] }>();
      expect(before.tables).toEqual([expect.objectContaining({ name: 'bronze.events', files: 13, smallFiles: 12, smallFilePartitions: 2 })]);
      const text = await cli(['status'], other);
      expect(text.stdout).toContain('bronze.events: 12 in 2 partitions → lakeloop compact bronze.events');
      expect((await cli(['compact', 'bronze.events'], other)).code).toBe(0);
      const after = (await cli(['status', '--json'], other)).json<{ tables: Record<string, unknown>[] }>();
      expect(after.tables).toEqual([expect.objectContaining({ name: 'bronze.events', files: 3, smallFiles: 0, smallFilePartitions: 0 })]);
    } finally {
      await removeOther();
    }
  });
});
