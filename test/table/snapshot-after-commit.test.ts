import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { DeltaTable, Lake } from '../../src/table/index.js';

/**
 * A writer's own commits extend its cached state in place (no copy of the whole table state
 * per commit); snapshots taken before stay exactly as they were, and the extended state
 * equals what a fresh reader of the log sees.
 */
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-snapshot-after-commit-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('snapshots around a commit of this process', () => {
  it('an earlier snapshot keeps its files and txns; the new one equals a fresh read', async () => {
    const store = await LocalObjectStore.create(dir);
    const lake = await Lake.open({ store, engine });
    const table = await lake.createTable('bronze.t', { columns: [{ name: 'id', type: 'BIGINT' }, { name: 'day', type: 'VARCHAR' }], partitionColumns: ['day'] });
    await table.append(`SELECT 1 AS id, 'a' AS day`, { txn: { appId: 'batch', version: 1 }, extraTxns: [{ appId: 'key:1', version: 1 }] });
    const before = await table.snapshot();
    const files = before.files.map((f) => f.path);
    const txns = Object.fromEntries(before.txns);
    await table.append(`SELECT 2 AS id, 'b' AS day`, { txn: { appId: 'batch', version: 2 }, extraTxns: [{ appId: 'key:2', version: 1 }] });
    await table.overwritePartitions(`SELECT 3 AS id, 'a' AS day`);
    expect(before.files.map((f) => f.path)).toEqual(files);
    expect(Object.fromEntries(before.txns)).toEqual(txns);
    expect(before.tombstones).toEqual([]);

    const after = await table.snapshot();
    expect(after.version).toBe(before.version + 2);
    expect(Object.fromEntries(after.txns)).toEqual({ batch: 2, 'key:1': 1, 'key:2': 1 });
    const fresh = await (await DeltaTable.open(store, 'bronze/t', { engine, checkpointCache: null })).snapshot();
    expect(after.files).toEqual(fresh.files);
    expect(after.tombstones.map((t) => t.path)).toEqual(fresh.tombstones.map((t) => t.path));
    expect(Object.fromEntries(after.txns)).toEqual(Object.fromEntries(fresh.txns));
  });
});
