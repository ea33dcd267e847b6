import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lakeStatus } from '../../src/query/index.js';
import { DeltaTable, Lake } from '../../src/table/index.js';
import { countingStore, tableFixture, type TableFixture } from './table-fixture.js';

/**
 * A table handle keeps the summaries of its newest commits only (`rememberedCommits`): a
 * long-running writer (a collector commits a batch a second, for weeks) does not grow by a
 * summary per commit. History and time travel read older commits from the log again, and
 * `lakeStatus` sums a source's batches once, then adds the commits since.
 */
let fixture: TableFixture;

beforeAll(async () => {
  fixture = await tableFixture();
});

afterAll(async () => {
  await fixture.close();
});

const columns = [
  { name: 'id', type: 'BIGINT' },
  { name: 'day', type: 'VARCHAR' },
];

/** One bronze-like batch commit: a file of one row, commitInfo with the collector's counters. */
async function batch(table: DeltaTable, n: number): Promise<void> {
  await table.append(`SELECT ${n} AS id, 'd${n % 3}' AS day`, {
    txn: { appId: 'collector:t:test', version: n },
    operation: 'INGEST',
    commitInfo: { lakeloop: { source: 't', batchId: `b${n}`, received: n, landed: n, quarantined: 0, bytes: 10 * n } },
  });
}

/** Source `t`'s line (the lake holds the first test's table too). */
const sourceT = (status: Awaited<ReturnType<typeof lakeStatus>>) => status.sources.find((s) => s.source === 't');

describe('commit summaries a table handle keeps', () => {
  it('stay bounded after many commits, and history and time travel still see every commit', async () => {
    const table = await DeltaTable.create(fixture.store, 'bronze/bounded', { engine: fixture.engine, columns, partitionColumns: ['day'], rememberedCommits: 8, checkpointCache: null });
    for (let n = 1; n <= 30; n++) {
      await batch(table, n);
      expect(table.rememberedCommitCount).toBeLessThanOrEqual(8);
    }
    const history = await table.history();
    expect(history.map((c) => c.version)).toEqual(Array.from({ length: 31 }, (_, i) => 30 - i));
    expect(history.slice(0, 30).map((c) => (c.commitInfo['lakeloop'] as { batchId: string }).batchId)).toEqual(Array.from({ length: 30 }, (_, i) => `b${30 - i}`));
    expect(history[30]?.operation).toBe('CREATE TABLE');
    expect(history.every((c) => c.timestampMs > 0)).toBe(true);
    expect(table.rememberedCommitCount).toBeLessThanOrEqual(8);

    // A fresh handle replays the log (checkpoint every 10 commits) and reads the rest on demand, bounded alike.
    const fresh = await DeltaTable.open(fixture.store, 'bronze/bounded', { engine: fixture.engine, rememberedCommits: 8, checkpointCache: null });
    const atFive = history.find((c) => c.version === 5) as { timestampMs: number };
    expect((await fresh.snapshot({ timestampMs: atFive.timestampMs })).version).toBeGreaterThanOrEqual(5);
    expect((await fresh.history()).map((c) => c.version)).toEqual(history.map((c) => c.version));
    expect(fresh.rememberedCommitCount).toBeLessThanOrEqual(8);
    expect((await fresh.snapshot()).files).toHaveLength(30);
  });

  it('lakeStatus sums a source once, then reads only the commits since', async () => {
    const { store, gets } = countingStore(fixture.store);
    const lake = await Lake.open({ store, engine: fixture.engine, rememberedCommits: 8, checkpointCache: null });
    const table = await lake.createTable('bronze.t', { columns, partitionColumns: ['day'] });
    for (let n = 1; n <= 20; n++) await batch(table, n);
    const sum = (to: number): number => (to * (to + 1)) / 2;
    const first = sourceT(await lakeStatus(lake));
    expect(first).toMatchObject({ source: 't', batches: 20, received: sum(20), landed: sum(20), bytes: 10 * sum(20) });

    for (let n = 21; n <= 25; n++) await batch(table, n);
    gets.length = 0;
    const second = sourceT(await lakeStatus(lake));
    expect(second).toMatchObject({ source: 't', batches: 25, received: sum(25), landed: sum(25), bytes: 10 * sum(25) });
    // The 5 new commits are this handle's own (remembered): no commit older than the cap is read again.
    expect(gets.filter((key) => /_delta_log\/\d{20}\.json$/.test(key))).toEqual([]);
    expect(table.rememberedCommitCount).toBeLessThanOrEqual(8);

    // Another process's view agrees: it sums everything once.
    const other = await Lake.open({ store: fixture.store, engine: fixture.engine, checkpointCache: null });
    expect(sourceT(await lakeStatus(other))).toMatchObject({ batches: 25, received: sum(25), lastBatchMs: second?.lastBatchMs });
  });
});
