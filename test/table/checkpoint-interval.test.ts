import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { LARGE_CHECKPOINT_ACTIONS, Lake, readLastCheckpoint, type AddAction } from '../../src/table/index.js';

/**
 * A checkpoint rewrites every live file's action, so a large table checkpoints as it grows
 * (a tenth more actions) or every 5 intervals, not every interval: its per-commit cost does not
 * grow with the table. Small tables keep one every interval.
 */
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-checkpoint-interval-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const add = (i: number): AddAction => ({ path: `d=1/part-${i}.parquet`, partitionValues: { d: '1' }, size: 100, modificationTime: 0, dataChange: true, stats: '{"numRecords":1}' });

describe('checkpoint interval', () => {
  it('every 10 commits while small; past LARGE_CHECKPOINT_ACTIONS, at a tenth of growth or every 50 commits', async () => {
    const store = await LocalObjectStore.create(join(dir, 'lake'));
    const lake = await Lake.open({ store, engine });
    const table = await lake.createTable('bronze.t', { columns: [{ name: 'x', type: 'BIGINT' }, { name: 'd', type: 'VARCHAR' }], partitionColumns: ['d'] });
    let next = 0;
    const commit = async (files: number): Promise<number> => {
      const snapshot = await table.snapshot();
      const result = await table.commit({ readVersion: snapshot.version, add: Array.from({ length: files }, () => add(next++)), operation: 'WRITE' });
      return result.version;
    };
    const last = async (): Promise<number | undefined> => (await readLastCheckpoint(store, 'bronze/t'))?.version;
    while ((await commit(1)) < 10);
    expect(await last()).toBe(10);
    // grow past the threshold: the first large checkpoint is still written at its interval
    await commit(LARGE_CHECKPOINT_ACTIONS);
    while ((await commit(1)) < 20);
    expect(await last()).toBe(20);
    // small commits: no checkpoint at 30 or 40 (growth under a tenth), one at 70 (5 intervals)
    while ((await commit(1)) < 69);
    expect(await last()).toBe(20);
    await commit(1);
    expect(await last()).toBe(70);
    // a tenth of growth checkpoints at the next interval
    await commit(Math.ceil(LARGE_CHECKPOINT_ACTIONS / 10) + 10);
    while ((await commit(1)) < 80);
    expect(await last()).toBe(80);
  }, 60_000);
});
