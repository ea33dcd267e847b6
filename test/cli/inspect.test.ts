import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { cli, tempDir } from './cli-harness.js';
import { buildFixtureLake, HOUR_MS, START_MS } from './lake-fixture.js';

interface InspectJson {
  name: string | null;
  version: number;
  timestampMs: number;
  partitionColumns: string[];
  files: string[];
  liveFiles: number;
  tombstones: number;
  rows: number | null;
  statsRows: number | null;
  bytes: number;
  schema: { type: string; fields: { name: string; type: string; nullable: boolean }[] };
  history: { version: number; timestampMs: number; operation: string; numAddedFiles: number; numRemovedFiles: number }[];
}

const CONFORMANCE = process.env['LAKELOOP_DELTA_CONFORMANCE'] ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'delta-conformance');

let dir: string;
let lakeRoot: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-inspect'));
  lakeRoot = join(dir, 'lake');
  await buildFixtureLake(lakeRoot);
});
afterAll(async () => remove());

describe('lakeloop inspect', () => {
  it('--json prints, as its last line, exactly what the table API reads', async () => {
    const run = await cli(['inspect', 'bronze.orders', '--json'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = run.json<InspectJson>();

    const store = await LocalObjectStore.create(lakeRoot);
    const engine = await Engine.create({ threads: 1 });
    try {
      const table = await (await Lake.open({ store, engine })).table('bronze.orders');
      const snapshot = await table.snapshot();
      expect(report.name).toBe('bronze.orders');
      expect(report.version).toBe(snapshot.version);
      expect(report.version).toBe(3);
      expect(report.timestampMs).toBe(START_MS + 3 * HOUR_MS);
      expect(report.partitionColumns).toEqual(['order_date']);
      expect(report.files).toEqual(snapshot.files.map((f) => f.path));
      expect(report.liveFiles).toBe(4);
      expect(report.tombstones).toBe(snapshot.tombstones.length);
      expect(report.rows).toBe(4);
      expect(report.rows).toBe(snapshot.numRecords());
      expect(report.bytes).toBe(snapshot.sizeBytes());
      expect(report.schema).toEqual(snapshot.schema);
      expect(report.history.map((h) => h.version)).toEqual([3, 2, 1, 0]);
      expect(report.history[0]).toMatchObject({ operation: 'WRITE', numAddedFiles: 1, numRemovedFiles: 1 });
      expect(report.history[3]?.operation).toBe('CREATE TABLE');
    } finally {
      await engine.close();
      await store.close();
    }
  });

  it('--as-of takes a version or an ISO timestamp', async () => {
    const v1 = (await cli(['inspect', 'bronze.orders', '--as-of', '1', '--json'], dir)).json<InspectJson>();
    expect(v1.version).toBe(1);
    expect(v1.rows).toBe(3);
    expect(v1.history.map((h) => h.version)).toEqual([1, 0]);

    const at = new Date(START_MS + 2.5 * HOUR_MS).toISOString();
    const v2 = (await cli(['inspect', 'bronze.orders', '--as-of', at, '--json'], dir)).json<InspectJson>();
    expect(v2.version).toBe(2);
    expect(v2.rows).toBe(5);

    const before = await cli(['inspect', 'bronze.orders', '--as-of', '2024-04-30'], dir);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('before its first commit');
  });

  it('prints a readable report', async () => {
    const run = await cli(['inspect', 'bronze.orders'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^version {4}3 \(committed 2024-05-01T03:00:00Z\)$/m);
    expect(run.stdout).toMatch(/^partitions order_date$/m);
    expect(run.stdout).toMatch(/^rows {7}4$/m);
    expect(run.stdout).toMatch(/^ {2}order_id +long +yes$/m);
    expect(run.stdout).toMatch(/^ {2}order_date=2024-05-03\/\S+ +order_date=2024-05-03 +1 +\d+$/m);
    expect(run.stdout).toMatch(/^ +3 +2024-05-01T03:00:00Z +WRITE +\+1 file, -1 file, 1 row, mode Overwrite$/m);
  });

  it('opens a table by path, with the store rooted at that folder', async () => {
    const run = await cli(['inspect', 'lake/gold/daily_revenue', '--json'], dir);
    expect(run.code).toBe(0);
    const report = run.json<InspectJson>();
    expect(report.name).toBeNull();
    expect(report.version).toBe(1);
    expect(report.rows).toBe(2);
    expect(report.partitionColumns).toEqual([]);
  });

  it('names a missing table or folder and exits 1', async () => {
    const missing = await cli(['inspect', 'gold.nope'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: Table gold.nope not found');
    const noDir = await cli(['inspect', './no/such/table'], dir);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain('no such directory');
    const notATable = await cli(['inspect', 'lake'], dir);
    expect(notATable.code).toBe(1);
    expect(notATable.stderr).toContain('not found');
  });

  it.runIf(existsSync(CONFORMANCE))('reads Spark/delta-rs tables: rows are null where the data files are absent', async () => {
    const simple = (await cli(['inspect', join(CONFORMANCE, 'simple_table'), '--json'], dir)).json<InspectJson>();
    expect(simple).toMatchObject({ version: 4, liveFiles: 5, tombstones: 31, rows: 3 });
    const at3 = (await cli(['inspect', join(CONFORMANCE, 'simple_table'), '--as-of', '3', '--json'], dir)).json<InspectJson>();
    expect(at3).toMatchObject({ version: 3, liveFiles: 6, tombstones: 29, rows: 5 });
    const logOnly = (await cli(['inspect', join(CONFORMANCE, 'checkpoints'), '--json'], dir)).json<InspectJson>();
    expect(logOnly).toMatchObject({ version: 12, liveFiles: 12, rows: null, statsRows: 12 });
  });
});
