import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { FileDropSource, ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { Lake } from '../../src/table/index.js';
import { createTestS3Store } from '../helpers/s3.js';

/**
 * File names are names, never patterns (DuckDB globs `* ? [` in paths it reads): `ingest
 * --file 'h[12].ndjson'`, a drop file `g*.ndjson`, a lake root or S3 cache folder named
 * with glob characters — each reads exactly the file it names.
 */
const schema = z.object({ id: z.string().min(1), ts: z.iso.datetime({ offset: true }) });
const contract = (source: string): Contract => defineContract({ source, version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift: 'strict' });
const record = (id: string): string => `${JSON.stringify({ id, ts: '2026-03-01T10:00:00Z' })}\n`;

/** Hostile names, each beside decoys that its glob reading would match too. */
const HOSTILE = ['h[12].ndjson', 'g*.ndjson', 'q?.ndjson', 'b{x,y}.ndjson', '**.ndjson', `it's "q".ndjson`, '[*?]{}.ndjson', 'x]y[.csv'];
const DECOYS = ['h1.ndjson', 'h2.ndjson', 'g1.ndjson', 'qa.ndjson', 'bx.ndjson', 'x]y1.csv'];
const body = (name: string): string => (name.endsWith('.csv') ? `id,ts\n${name},2026-03-01T10:00:00Z\n` : record(name));

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-literal-ingest-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function ids(lake: Lake, table: string): Promise<string[]> {
  const snapshot = await (await lake.table(table)).snapshot();
  const rows = await engine.all(`SELECT id FROM (${await snapshot.scanSql(lake.store)}) ORDER BY id`);
  return rows.map((r) => String(r['id']));
}

describe('file names are read literally', () => {
  it('ingest --file lands the named file only, not the files its name would match as a glob', async () => {
    const inputs = join(dir, 'inputs');
    await mkdir(inputs, { recursive: true });
    const names = [...HOSTILE, 'back\\slash[1].ndjson'];
    for (const name of [...names, ...DECOYS, 'back\\slash1.ndjson']) await writeFile(join(inputs, name), body(name));
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake-ingest')), engine });
    const c = contract('literal_ingest');
    for (const name of names) {
      const summary = await ingestFile({ lake, contract: c, input: join(inputs, name) });
      expect(summary, name).toMatchObject({ received: 1, landed: 1, quarantined: 0 });
    }
    expect(await ids(lake, 'bronze.literal_ingest')).toEqual([...names].sort());
  });

  it('a lake whose root folder is named lake* reads its own files, not those of a copy beside it (data files and checkpoints)', async () => {
    const root = join(dir, 'lakes', 'lake*');
    const inputs = join(dir, 'inputs-2');
    await mkdir(inputs, { recursive: true });
    // A checkpoint every 2 commits: the checkpoint writer and reader read through the root too.
    const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine, checkpointInterval: 2, checkpointCache: null });
    const c = contract('literal_root');
    for (const id of ['r1', 'r2', 'r3']) {
      await writeFile(join(inputs, `${id}.ndjson`), record(id));
      await ingestFile({ lake, contract: c, input: join(inputs, `${id}.ndjson`) });
    }
    await cp(root, join(dir, 'lakes', 'lake-copy'), { recursive: true }); // a backup beside it: what lake* also matches as a glob
    expect(await ids(lake, 'bronze.literal_root')).toEqual(['r1', 'r2', 'r3']);
    const reopened = await Lake.open({ store: await LocalObjectStore.create(root), engine, checkpointCache: null });
    expect(await ids(reopened, 'bronze.literal_root')).toEqual(['r1', 'r2', 'r3']);
  });

  it('a drop file named g*.ndjson lands its own records, not g1 and a half-written g2, and waits for its own stable size', async () => {
    const folder = join(dir, 'drop-g');
    await mkdir(folder, { recursive: true });
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake-drop')), engine });
    const c = contract('literal_drop');
    const watcher = new FileDropSource({ lake, contract: c, store: await LocalObjectStore.create(folder), stablePolls: 1, quietMs: 0 });
    await writeFile(join(folder, 'g*.ndjson'), record('star-1'));
    await writeFile(join(folder, 'g1.ndjson'), record('g1-1'));
    expect([...(await watcher.pollOnce()).deferred].sort()).toEqual(['g*.ndjson', 'g1.ndjson']);
    await writeFile(join(folder, 'g2.ndjson'), record('g2-partial')); // still being written: not read by this poll
    const second = await watcher.pollOnce();
    expect(second.deferred).toEqual(['g2.ndjson']);
    expect(Object.fromEntries(second.ingested.map((f) => [f.key, f.received]))).toEqual({ 'g*.ndjson': 1, 'g1.ndjson': 1 });
    expect(await ids(lake, 'bronze.literal_drop')).toEqual(['g1-1', 'star-1']);

    // the literally named file grows: it is deferred on its own size, not on its neighbours'
    await writeFile(join(folder, 'g*.ndjson'), record('star-1') + record('star-2'));
    const third = await watcher.pollOnce();
    expect([...third.deferred].sort()).toEqual(['g*.ndjson']);
    expect(third.ingested.map((f) => f.key)).toEqual(['g2.ndjson']);
  });

  describe.each([
    { name: 'a local folder', s3: false },
    { name: 'an S3 prefix, downloaded into a cache folder named cache* beside another cache of the bucket', s3: true },
  ])('file drop from $name', ({ s3 }) => {
    let store: ObjectStore;
    let cleanup: () => Promise<void> = async () => undefined;
    let folder = '';

    beforeAll(async () => {
      if (s3) {
        // S3 keys never reach DuckDB (the cache names files by a hash); the cache folder's path does.
        const created = await createTestS3Store({ cacheDir: join(dir, 'caches', 'cache*') });
        store = created.store;
        const other = await S3ObjectStore.create({ ...created.bucket.options, cacheDir: join(dir, 'caches', 'cache-2') });
        cleanup = async () => {
          await other.close();
          await created.cleanup();
        };
        for (const name of [...HOSTILE, ...DECOYS]) await store.put(`incoming/names/${name}`, body(name));
        // another store of the same bucket (another process, an earlier run) has cached the same objects
        for (const name of [...HOSTILE, ...DECOYS]) await other.localPath(`incoming/names/${name}`);
      } else {
        folder = join(dir, 'drop-names');
        await mkdir(folder, { recursive: true });
        store = await LocalObjectStore.create(folder);
        for (const name of [...HOSTILE, ...DECOYS]) await writeFile(join(folder, name), body(name));
      }
    });
    afterAll(async () => cleanup());

    it('lands every hostile name as exactly its own file', async () => {
      const prefix = s3 ? 'incoming/names/' : '';
      const lake = await Lake.open({ store: s3 ? store : await LocalObjectStore.create(join(dir, 'lake-names')), engine });
      const c = contract(s3 ? 'literal_s3' : 'literal_local');
      const summary = await new FileDropSource({ lake, contract: c, store, prefix, stablePolls: 0, quietMs: 0 }).pollOnce();
      expect(summary.failed).toEqual([]);
      expect(Object.fromEntries(summary.ingested.map((f) => [f.key.slice(prefix.length), f.landed]))).toEqual(Object.fromEntries([...HOSTILE, ...DECOYS].map((n) => [n, 1])));
      expect(await ids(lake, `bronze.${c.source}`)).toEqual([...HOSTILE, ...DECOYS].sort());
    });
  });
});
