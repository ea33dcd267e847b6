import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitConflict } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/** A commit may record several txns (a collector batch and the idempotency keys of its requests). */
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-txns-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('extra txns', () => {
  it('are recorded with the commit, and a racing commit that applied one of them conflicts', async () => {
    const store = await LocalObjectStore.create(dir);
    const lake = await Lake.open({ store, engine });
    const table = await lake.createTable('bronze.t', { columns: [{ name: 'id', type: 'BIGINT' }] });
    await table.append('SELECT 1 AS id', { txn: { appId: 'batch', version: 1 }, extraTxns: [{ appId: 'key:a', version: 1 }, { appId: 'key:b', version: 1 }] });
    const snapshot = await table.snapshot();
    expect(Object.fromEntries(snapshot.txns)).toEqual({ batch: 1, 'key:a': 1, 'key:b': 1 });

    // a second writer planned from version 1 while someone else applied key:c at version 2
    const readVersion = snapshot.version;
    await table.append('SELECT 2 AS id', { extraTxns: [{ appId: 'key:c', version: 1 }] });
    await expect(
      table.commit({ readVersion, add: [], operation: 'WRITE', txn: { appId: 'batch', version: 2 }, extraTxns: [{ appId: 'key:c', version: 1 }] }),
    ).rejects.toBeInstanceOf(CommitConflict);
  });
});
