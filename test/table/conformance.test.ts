import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { CheckpointCache, DeltaTable } from '../../src/table/index.js';

/**
 * Real Delta tables written by Spark and delta-rs, read in place (never written): our
 * reader must agree with EXPECTED.json on version, partitioning, live files, partition
 * values, tombstones and rows.
 */
const ROOT = process.env['LAKELOOP_DELTA_CONFORMANCE'] ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'delta-conformance');
const present = existsSync(resolve(ROOT, 'EXPECTED.json'));
if (!present) console.warn(`conformance tests skipped: no Delta conformance tables at ${ROOT} (set LAKELOOP_DELTA_CONFORMANCE)`);

interface Expected {
  version: number;
  partitionColumns: string[];
  liveFiles: number;
  tombstones: number;
  rows: number | null;
  files: string[];
  partitionValues: unknown[];
  txns: Record<string, number>;
}

/** EXPECTED.json writes some maps as `[{key, value}]` lists: compare plain objects. */
function normalizeMap(value: unknown): Record<string, string | null> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((e: { key: string; value: string | null }) => [e.key, e.value]));
  return { ...(value as Record<string, string | null>) };
}

describe.skipIf(!present)('Delta conformance tables', () => {
  const expected: Record<string, Expected> = present ? JSON.parse(readFileSync(resolve(ROOT, 'EXPECTED.json'), 'utf8')) : {};
  let engine: Engine;
  let store: LocalObjectStore;

  beforeAll(async () => {
    engine = await Engine.create({ threads: 2 });
    store = await LocalObjectStore.create(ROOT);
  });
  afterAll(async () => {
    await engine.close();
  });

  for (const [key, want] of Object.entries(expected)) {
    const [name, at] = key.split('@') as [string, string | undefined];
    it(`${key}: version, files, partition values, tombstones, rows`, async () => {
      const table = await DeltaTable.open(store, name, { engine, name });
      const snapshot = await table.snapshot(at === undefined ? {} : { version: Number(at) });
      expect(snapshot.version).toBe(want.version);
      expect(snapshot.protocol.minReaderVersion).toBe(1);
      expect(snapshot.partitionColumns).toEqual(want.partitionColumns);
      expect(snapshot.files.length).toBe(want.liveFiles);
      expect(snapshot.files.map((f) => f.path).sort()).toEqual([...want.files].sort());
      const wantValues = new Map(want.files.map((path, i) => [path, normalizeMap(want.partitionValues[i])]));
      for (const file of snapshot.files) expect(normalizeMap(file.partitionValues), file.path).toEqual(wantValues.get(file.path));
      expect(snapshot.tombstones.length).toBe(want.tombstones);
      expect(Object.fromEntries(snapshot.txns)).toEqual(want.txns);
      if (want.rows !== null) {
        const sql = await snapshot.scanSql(store);
        expect(Number(await engine.scalar(`SELECT count(*) FROM (${sql})`))).toBe(want.rows);
      }
    });
  }

  it('reads partition columns from partitionValues when the files lack them, typed by the schema', async () => {
    const table = await DeltaTable.open(store, 'delta-0.8.0-special-partition', { engine });
    const sql = await (await table.snapshot()).scanSql(store);
    const rows = await engine.all(`SELECT x, typeof(y) AS t FROM (${sql}) ORDER BY x`);
    expect(rows).toEqual([
      { x: 'A/A', t: 'BIGINT' },
      { x: 'B B', t: 'BIGINT' },
    ]);
    const numeric = await DeltaTable.open(store, 'delta-0.8.0-numeric-partition', { engine });
    const typed = await engine.all(`SELECT x, y, typeof(x) AS tx, typeof(y) AS ty FROM (${await (await numeric.snapshot()).scanSql(store)}) ORDER BY x`);
    expect(typed).toEqual([
      { x: '9', y: 9.9, tx: 'BIGINT', ty: 'DOUBLE' },
      { x: '10', y: 10, tx: 'BIGINT', ty: 'DOUBLE' },
    ]);
    const nulls = await DeltaTable.open(store, 'delta-0.8.0-null-partition', { engine });
    const k = await engine.all(`SELECT k FROM (${await (await nulls.snapshot()).scanSql(store)}) ORDER BY k NULLS LAST`);
    expect(k).toEqual([{ k: 'A' }, { k: null }]);
  });

  it('time travel on simple_table matches delta-rs (v3: 6 live files, 29 tombstones)', async () => {
    const table = await DeltaTable.open(store, 'simple_table', { engine });
    const v3 = await table.snapshot({ version: 3 });
    expect([v3.version, v3.files.length, v3.tombstones.length]).toEqual([3, 6, 29]);
    const latest = await table.snapshot();
    expect([latest.version, latest.files.length, latest.tombstones.length]).toEqual([4, 5, 31]);
  });

  it('reads the same snapshot through a checkpoint and from the JSON commits alone', async () => {
    for (const name of ['simple_table_with_checkpoint', 'latest_not_checkpointed']) {
      const withCheckpoint = await (await DeltaTable.open(store, name, { engine })).snapshot();
      const jsonOnly = await (await DeltaTable.open(store, name, { engine, useCheckpoints: false })).snapshot();
      expect(withCheckpoint.version).toBe(jsonOnly.version);
      expect(withCheckpoint.files.map((f) => [f.path, f.size, f.partitionValues])).toEqual(jsonOnly.files.map((f) => [f.path, f.size, f.partitionValues]));
      expect(withCheckpoint.tombstones.map((t) => t.path)).toEqual(jsonOnly.tombstones.map((t) => t.path));
      expect(withCheckpoint.schema).toEqual(jsonOnly.schema);
    }
  });

  it('reads Spark and delta-rs checkpoints the same through the checkpoint cache, cold and warm', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakeloop-conformance-cache-'));
    try {
      const cache = CheckpointCache.at(dir);
      for (const name of ['simple_table_with_checkpoint', 'checkpoint_with_partitions', 'checkpoints', 'with_checkpoint_no_last_checkpoint']) {
        if (!existsSync(resolve(ROOT, name))) continue;
        const plain = await (await DeltaTable.open(store, name, { engine, checkpointCache: null })).snapshot();
        for (const round of ['cold', 'warm']) {
          const cached = await (await DeltaTable.open(store, name, { engine, checkpointCache: cache })).snapshot();
          expect([name, round, cached.version]).toEqual([name, round, plain.version]);
          expect(cached.files).toEqual(plain.files);
          expect(cached.tombstones).toEqual(plain.tombstones);
          expect([...cached.txns]).toEqual([...plain.txns]);
          expect(cached.metadata).toEqual(plain.metadata);
        }
      }
      // Each checkpointed table left one entry.
      expect((await readdir(dir)).length).toBeGreaterThanOrEqual(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports history from commitInfo', async () => {
    const table = await DeltaTable.open(store, 'simple_table', { engine });
    const history = await table.history({ limit: 2 });
    expect(history.map((h) => h.version)).toEqual([4, 3]);
    expect(history[0]?.operation).toBe('DELETE');
    expect(history[0]?.readVersion).toBe(3);
    expect(history[0]?.numRemovedFiles).toBeGreaterThan(0);
  });
});
