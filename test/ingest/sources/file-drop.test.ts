import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type Contract } from '../../../src/contracts/index.js';
import { Engine, quoteLiteral } from '../../../src/engine/index.js';
import { FileDropSource, landBatch, loadRawRecords, type FileDropPollSummary } from '../../../src/ingest/index.js';
import { ManualClock } from '../../../src/core/index.js';
import { LocalObjectStore, type ObjectInfo, type ObjectStore } from '../../../src/storage/index.js';
import { Lake } from '../../../src/table/index.js';
import { createTestS3Store } from '../../helpers/s3.js';

/** The file drop, watching a local folder and an S3 prefix; both land in a lake on the same kind of store. */
const schema = z.object({
  id: z.string().min(1),
  amount: z.number().nonnegative(),
  ts: z.iso.datetime({ offset: true }),
});

const contract = (source: string): Contract => defineContract({ source, version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift: 'strict' });
const line = (id: string, amount = 1): string => JSON.stringify({ id, amount, ts: '2026-03-01T10:00:00Z' });
const lines = (...ids: string[]): string => ids.map((id) => `${line(id)}\n`).join('');

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-drop-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

/** A drop location: `drop(name, body)` writes a file the way a producer would. */
interface Drop {
  readonly store: ObjectStore;
  readonly prefix: string;
  drop(name: string, body: string | Buffer): Promise<void>;
  /** Copies a local file in (for Parquet made by DuckDB). */
  dropFile(name: string, path: string): Promise<void>;
}

interface Setup {
  readonly lake: Lake;
  newDrop(label: string): Promise<Drop>;
  cleanup(): Promise<void>;
}

const setups: { name: string; open: () => Promise<Setup> }[] = [
  {
    name: 'a local folder',
    open: async () => {
      const lake = await Lake.open({ store: await LocalObjectStore.create(await mkdtemp(join(dir, 'lake-'))), engine });
      return {
        lake,
        newDrop: async (label) => {
          const folder = join(dir, `drop-${label}`);
          await mkdir(folder, { recursive: true });
          return {
            store: await LocalObjectStore.create(folder),
            prefix: '',
            drop: async (name, body) => {
              await mkdir(dirname(join(folder, name)), { recursive: true });
              await writeFile(join(folder, name), body);
            },
            dropFile: async (name, path) => writeFile(join(folder, name), await readFile(path)),
          };
        },
        cleanup: async () => undefined,
      };
    },
  },
  {
    name: 'an S3 prefix',
    open: async () => {
      const { store, cleanup } = await createTestS3Store();
      const lake = await Lake.open({ store, engine });
      return {
        lake,
        newDrop: async (label) => ({
          store,
          prefix: `incoming/${label}/`,
          drop: (name, body) => store.put(`incoming/${label}/${name}`, body),
          dropFile: (name, path) => store.putFile(`incoming/${label}/${name}`, path),
        }),
        cleanup,
      };
    },
  },
];

describe.each(setups)('file drop from $name', ({ open }) => {
  let setup: Setup;
  let lake: Lake;

  beforeAll(async () => {
    setup = await open();
    lake = setup.lake;
  });
  afterAll(async () => setup.cleanup());

  async function count(source: string): Promise<number> {
    const snapshot = await (await lake.table(`bronze.${source}`)).snapshot();
    return Number(await engine.scalar(`SELECT count(*) FROM (${await snapshot.scanSql(lake.store)})`));
  }

  function source(c: Contract, drop: Drop, stablePolls?: number): FileDropSource {
    // quietMs 0: these tests are about stablePolls and identities; the quiet period has its own tests
    return new FileDropSource({ lake, contract: c, store: drop.store, prefix: drop.prefix, quietMs: 0, ...(stablePolls === undefined ? {} : { stablePolls }) });
  }

  it('lands a dropped file once: a second poll and a new instance (a restart) land nothing', async () => {
    const c = contract('drop_once');
    const drop = await setup.newDrop('once');
    await drop.drop('a.ndjson', lines('a1', 'a2', 'a3'));
    const watcher = source(c, drop);

    const first = await watcher.pollOnce();
    expect(first).toMatchObject({ listed: 1, ingested: [], deferred: [`${drop.prefix}a.ndjson`] });
    const second = await watcher.pollOnce();
    expect(second.ingested).toEqual([expect.objectContaining({ key: `${drop.prefix}a.ndjson`, received: 3, landed: 3, quarantined: 0, batches: 1 })]);
    expect(second).toMatchObject({ landed: 3, quarantined: 0, deferred: [], failed: [] });

    expect(await watcher.pollOnce()).toMatchObject({ ingested: [], alreadyIngested: 1, deferred: [] });
    const restarted = source(c, drop);
    expect(await restarted.pollOnce()).toMatchObject({ ingested: [], alreadyIngested: 1, deferred: [] });
    expect(await count(c.source)).toBe(3);

    // the identity is in bronze's txns: the batch under ingest:<source>:<identity>, then the done mark
    const txns = (await (await lake.table(`bronze.${c.source}`)).snapshot()).txns;
    const identity = second.ingested[0]?.identity ?? '';
    expect(identity).toMatch(new RegExp(`^${drop.prefix}a\\.ndjson:${Buffer.byteLength(lines('a1', 'a2', 'a3'))}:`));
    expect(txns.get(`ingest:${c.source}:${identity}`)).toBe(1);
    expect(txns.get(`filedrop:${c.source}:${identity}`)).toBe(1);
  });

  it('a changed file (new size and mtime/etag) is a new file; a file still growing is deferred until it is stable', async () => {
    const c = contract('drop_change');
    const drop = await setup.newDrop('change');
    const watcher = source(c, drop);
    await drop.drop('b.ndjson', lines('b1'));
    await watcher.pollOnce();
    expect((await watcher.pollOnce()).landed).toBe(1);

    await drop.drop('b.ndjson', lines('b1', 'b2'));
    expect(await watcher.pollOnce()).toMatchObject({ deferred: [`${drop.prefix}b.ndjson`], alreadyIngested: 0 });
    await drop.drop('b.ndjson', lines('b1', 'b2', 'b3')); // still being written
    expect(await watcher.pollOnce()).toMatchObject({ deferred: [`${drop.prefix}b.ndjson`], ingested: [] });
    const landed = await watcher.pollOnce();
    expect(landed.ingested).toEqual([expect.objectContaining({ received: 3, landed: 3 })]);
    expect(await count(c.source)).toBe(4);
  });

  it('an empty file is recorded as ingested with 0 records; CSV and .json land; hidden and unknown files are ignored', async () => {
    const c = contract('drop_formats');
    const drop = await setup.newDrop('formats');
    await drop.drop('empty.ndjson', '');
    await drop.drop('c.csv', 'id,amount,ts\nc1,2,2026-03-01T10:00:00Z\nc2,3,2026-03-01T11:00:00Z\n');
    await drop.drop('d.json', `${line('d1')}\n${line('d2', -1)}\n`); // .json holding NDJSON: sniffed by its first byte
    await drop.drop('.partial.ndjson', lines('x'));
    await drop.drop('_SUCCESS', '');
    await drop.drop('_tmp/x.ndjson', lines('y'));
    await drop.drop('notes.txt', 'hello');
    const watcher = source(c, drop, 0);
    const summary = await watcher.pollOnce();
    const byKey = new Map(summary.ingested.map((f) => [f.key.slice(drop.prefix.length), f]));
    expect(byKey.get('empty.ndjson')).toMatchObject({ received: 0, landed: 0, batches: 0 });
    expect(byKey.get('c.csv')).toMatchObject({ received: 2, landed: 2 });
    expect(byKey.get('d.json')).toMatchObject({ received: 2, landed: 1, quarantined: 1 });
    expect(summary.ignored.map((k) => k.slice(drop.prefix.length)).sort()).toEqual(['.partial.ndjson', '_SUCCESS', '_tmp/x.ndjson', 'notes.txt']);
    expect(summary).toMatchObject({ landed: 3, quarantined: 1, failed: [] });
    expect(await watcher.pollOnce()).toMatchObject({ ingested: [], alreadyIngested: 3 });
  });

  it('a .json file holding a JSON array lands its elements', async () => {
    const c = contract('drop_json_array');
    const drop = await setup.newDrop('json-array');
    await drop.drop('e.json', JSON.stringify([JSON.parse(line('e1')), JSON.parse(line('e2'))]));
    expect(await source(c, drop, 0).pollOnce()).toMatchObject({ landed: 2, quarantined: 0 });
  });

  it('a Parquet file with an incompatible schema is reported once with its reason, recorded in the ledger and not retried', async () => {
    const c = contract('drop_parquet');
    const drop = await setup.newDrop('parquet');
    const good = join(dir, `good-${Math.random().toString(16).slice(2)}.parquet`);
    const bad = join(dir, `bad-${Math.random().toString(16).slice(2)}.parquet`);
    await engine.run(`COPY (SELECT 'p1' AS id, 5.0::DOUBLE AS amount, '2026-03-01T10:00:00Z' AS ts) TO ${quoteLiteral(good)} (FORMAT parquet)`);
    await engine.run(`COPY (SELECT 'p2' AS id, 7 AS price) TO ${quoteLiteral(bad)} (FORMAT parquet)`);
    await drop.dropFile('good.parquet', good);
    await drop.dropFile('bad.parquet', bad);

    const watcher = source(c, drop, 0);
    const first = await watcher.pollOnce();
    expect(first.ingested).toEqual([expect.objectContaining({ key: `${drop.prefix}good.parquet`, landed: 1 })]);
    expect(first.failed).toEqual([
      expect.objectContaining({ key: `${drop.prefix}bad.parquet`, code: 'INCOMPATIBLE_SCHEMA', willRetry: false, reason: expect.stringMatching(/missing required column\(s\) amount, ts/) }),
    ]);
    expect(await watcher.pollOnce()).toMatchObject({ failed: [], ingested: [], previouslyFailed: 1, alreadyIngested: 1 });
    const restarted = source(c, drop, 0);
    expect(await restarted.pollOnce()).toMatchObject({ failed: [], previouslyFailed: 1 });
    expect(await restarted.failures()).toEqual([expect.objectContaining({ key: `${drop.prefix}bad.parquet`, code: 'INCOMPATIBLE_SCHEMA' })]);
    expect(await lake.store.head(`_lakeloop/sources/${c.source}/failed.json`)).toBeDefined();
  });

  it('a file changed after it was ingested lands again, whole, and is reported as re-ingested (also after a restart)', async () => {
    const c = contract('drop_reingest');
    const drop = await setup.newDrop('reingest');
    const watcher = source(c, drop, 0);
    await drop.drop('r.ndjson', lines('r1', 'r2'));
    const first = await watcher.pollOnce();
    expect(first).toMatchObject({ reingested: 0, landed: 2 });
    expect(first.ingested).toEqual([expect.objectContaining({ key: `${drop.prefix}r.ndjson`, reingested: false })]);

    await drop.drop('r.ndjson', lines('r1', 'r2', 'r3'));
    const second = await watcher.pollOnce();
    expect(second).toMatchObject({ reingested: 1, landed: 3 });
    expect(second.ingested).toEqual([expect.objectContaining({ key: `${drop.prefix}r.ndjson`, reingested: true, landed: 3 })]);

    await drop.drop('r.ndjson', lines('r1', 'r2', 'r3', 'r4'));
    const restarted = await source(c, drop, 0).pollOnce(); // known from bronze's log, not from memory
    expect(restarted.ingested).toEqual([expect.objectContaining({ reingested: true, landed: 4 })]);
    await drop.drop('other.ndjson', lines('o1'));
    expect((await watcher.pollOnce()).ingested).toEqual([expect.objectContaining({ key: `${drop.prefix}other.ndjson`, reingested: false })]);
    expect(await count(c.source)).toBe(10);
  });
});

describe('file drop safety on a local folder', () => {
  let lake: Lake;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(dir, 'safety-'));
    lake = await Lake.open({ store: await LocalObjectStore.create(join(root, 'lake')), engine });
  });

  it('never follows a symlink out of the drop folder (nor into a linked folder)', async () => {
    const folder = join(root, 'drop');
    const outside = join(root, 'outside');
    await mkdir(folder, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret.ndjson'), lines('secret'));
    await symlink(join(outside, 'secret.ndjson'), join(folder, 'link.ndjson'));
    await symlink(outside, join(folder, 'linked-dir'));
    await writeFile(join(folder, 'real.ndjson'), lines('r1'));
    const c = contract('drop_symlink');
    const watcher = new FileDropSource({ lake, contract: c, store: await LocalObjectStore.create(folder), stablePolls: 0, quietMs: 0 });
    const summary = await watcher.pollOnce();
    expect(summary).toMatchObject({ listed: 1, ingested: [expect.objectContaining({ key: 'real.ndjson', landed: 1 })] });
    const snapshot = await (await lake.table(`bronze.${c.source}`)).snapshot();
    expect(await engine.all(`SELECT id FROM (${await snapshot.scanSql(lake.store)})`)).toEqual([{ id: 'r1' }]);
  });

  it('refuses and reports hostile names from a listing (.., absolute, NUL, outside the prefix) without reading them', async () => {
    const folder = join(root, 'hostile');
    await mkdir(join(folder, 'in'), { recursive: true });
    await writeFile(join(folder, 'in', 'ok.ndjson'), lines('h1'));
    await writeFile(join(root, 'x.ndjson'), lines('escaped'));
    const inner = await LocalObjectStore.create(folder);
    const fake = (key: string): ObjectInfo => ({ key, sizeBytes: 10, lastModifiedMs: 0, etag: '10-0' });
    const reads: string[] = [];
    // A store whose listing returns what a hostile bucket or a buggy lister could: every read is recorded.
    const hostile = Object.assign(Object.create(inner) as ObjectStore, {
      listAll: async (prefix: string) => [...(await inner.listAll(prefix)), fake('in/../../x.ndjson'), fake('/etc/passwd.ndjson'), fake('in/a\0b.ndjson'), fake('other/y.ndjson')],
      localPath: async (key: string) => {
        reads.push(key);
        return inner.localPath(key);
      },
    });
    const watcher = new FileDropSource({ lake, contract: contract('drop_hostile'), store: hostile, prefix: 'in/', stablePolls: 0, quietMs: 0 });
    const summary: FileDropPollSummary = await watcher.pollOnce();
    expect(summary.refused.map((r) => r.key)).toEqual(['in/../../x.ndjson', '/etc/passwd.ndjson', 'in/a\0b.ndjson', 'other/y.ndjson']);
    expect(summary.refused[0]?.reason).toMatch(/Refused object key/);
    expect(summary.refused[3]?.reason).toMatch(/outside the watched prefix/);
    expect(summary.ingested.map((f) => f.key)).toEqual(['in/ok.ndjson']);
    expect(reads).toEqual(['in/ok.ndjson']);
  });

  it('finishes a file whose ingest died after its first batch, without duplicates', async () => {
    const folder = join(root, 'crash');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'big.ndjson'), lines('k1', 'k2', 'k3', 'k4', 'k5'));
    const store = await LocalObjectStore.create(folder);
    const c = defineContract({ source: 'drop_crash', version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift: 'strict', batch: { maxRecords: 2 } });
    // what a process killed after the first of three batches leaves behind: batch 1 committed, no done mark
    const info = await store.head('big.ndjson');
    const identity = `big.ndjson:${info?.sizeBytes}:${info?.etag}`;
    const first = join(root, 'first-batch.ndjson');
    await writeFile(first, lines('k1', 'k2'));
    const raw = await loadRawRecords(engine, first, 'ndjson', '__crash_raw', root);
    await landBatch({ lake, contract: c, raw, batch: { appId: `ingest:drop_crash:${identity}`, version: 1, sourceOffset: `${identity}#1` }, clock: new ManualClock(Date.now()) });
    await engine.run('DROP TABLE __crash_raw');

    const summary = await new FileDropSource({ lake, contract: c, store, stablePolls: 0, quietMs: 0 }).pollOnce();
    expect(summary.ingested).toEqual([expect.objectContaining({ identity, received: 5, landed: 3, batches: 3 })]);
    const snapshot = await (await lake.table('bronze.drop_crash')).snapshot();
    expect(await engine.all(`SELECT id FROM (${await snapshot.scanSql(lake.store)}) ORDER BY id`)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5'].map((id) => ({ id })));
    expect(snapshot.txns.get(`ingest:drop_crash:${identity}`)).toBe(3);
  });

  it('start/stop polls on a timer, one poll at a time, and reports each summary', async () => {
    const folder = join(root, 'timer');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 't.ndjson'), lines('t1', 't2'));
    const summaries: FileDropPollSummary[] = [];
    const c = contract('drop_timer');
    const watcher = new FileDropSource({ lake, contract: c, store: await LocalObjectStore.create(folder), onPoll: (s) => summaries.push(s) });
    watcher.start(10);
    const deadline = Date.now() + 10_000;
    while (!summaries.some((s) => s.landed > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await watcher.stop();
    const polls = summaries.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(summaries.length).toBe(polls);
    expect(summaries.reduce((sum, s) => sum + s.landed, 0)).toBe(2);
  });

  it('reports a refused name on the first poll that lists it only; a new process reports it once again', async () => {
    const folder = join(root, 'refused-once');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'ok.ndjson'), lines('o1'));
    const inner = await LocalObjectStore.create(folder);
    const fake = (key: string): ObjectInfo => ({ key, sizeBytes: 10, lastModifiedMs: 0, etag: '10-0' });
    let extra = ['../x.ndjson', '/etc/passwd.ndjson'];
    const hostile = Object.assign(Object.create(inner) as ObjectStore, { listAll: async (prefix: string) => [...(await inner.listAll(prefix)), ...extra.map(fake)] });
    const options = { lake, contract: contract('drop_refused_once'), store: hostile, stablePolls: 0, quietMs: 0 };
    const watcher = new FileDropSource(options);
    const refusedKeys = (summary: FileDropPollSummary): string[] => summary.refused.map((r) => r.key);
    const first = await watcher.pollOnce();
    expect(refusedKeys(first)).toEqual(['../x.ndjson', '/etc/passwd.ndjson']);
    const second = await watcher.pollOnce();
    expect(refusedKeys(second)).toEqual([]);
    expect(second).toMatchObject({ refusedBefore: 2, ingested: [], alreadyIngested: 1 });
    extra = ['/etc/passwd.ndjson', 'a/../../y.ndjson'];
    const third = await watcher.pollOnce();
    expect(refusedKeys(third)).toEqual(['a/../../y.ndjson']);
    expect(third.refusedBefore).toBe(1);
    expect(refusedKeys(await new FileDropSource(options).pollOnce())).toEqual(['/etc/passwd.ndjson', 'a/../../y.ndjson']);
  });

  it('a writer that pauses longer than the poll interval is read once, whole, when the file has been quiet for quietMs', async () => {
    const folder = join(root, 'slow-writer');
    await mkdir(folder, { recursive: true });
    const file = join(folder, 'slow.ndjson');
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const clock = new ManualClock(t0);
    const writeAt = async (text: string, atMs: number): Promise<void> => {
      await writeFile(file, text);
      await utimes(file, atMs / 1000, atMs / 1000);
    };
    const c = contract('drop_slow');
    // polled every second (stablePolls 1, the default), quiet for 5 s before a read
    const watcher = new FileDropSource({ lake, contract: c, store: await LocalObjectStore.create(folder), clock, quietMs: 5_000 });
    await writeAt(lines('s1', 's2'), t0);
    expect(await watcher.pollOnce()).toMatchObject({ deferred: ['slow.ndjson'], ingested: [] });
    clock.advance(2_000); // unchanged for two polls: the writer is only pausing
    expect(await watcher.pollOnce()).toMatchObject({ deferred: ['slow.ndjson'], ingested: [] });
    await writeAt(lines('s1', 's2', 's3'), t0 + 2_500);
    clock.advance(1_000);
    expect(await watcher.pollOnce()).toMatchObject({ deferred: ['slow.ndjson'], ingested: [] });
    clock.advance(3_000); // stable, but written 3.5 s ago
    expect(await watcher.pollOnce()).toMatchObject({ deferred: ['slow.ndjson'], ingested: [] });
    clock.advance(2_000);
    const read = await watcher.pollOnce();
    expect(read.ingested).toEqual([expect.objectContaining({ key: 'slow.ndjson', received: 3, landed: 3, reingested: false })]);
    clock.advance(1_000);
    expect(await watcher.pollOnce()).toMatchObject({ alreadyIngested: 1, ingested: [], deferred: [] });
    const snapshot = await (await lake.table('bronze.drop_slow')).snapshot();
    expect(await engine.all(`SELECT id FROM (${await snapshot.scanSql(lake.store)}) ORDER BY id`)).toEqual(['s1', 's2', 's3'].map((id) => ({ id })));
  });

  it('the quiet period defaults to two poll intervals; a file whose mtime is older than it is read at the first stable poll', async () => {
    const folder = join(root, 'quiet-default');
    await mkdir(folder, { recursive: true });
    const store = await LocalObjectStore.create(folder);
    const watcher = new FileDropSource({ lake, contract: contract('drop_quiet_default'), store, stablePolls: 0 });
    expect(watcher.quietMs).toBe(4_000);
    watcher.start(60_000);
    await watcher.stop();
    expect(watcher.quietMs).toBe(120_000);
    await writeFile(join(folder, 'old.ndjson'), lines('q1'));
    const old = (Date.now() - 10 * 60_000) / 1000;
    await utimes(join(folder, 'old.ndjson'), old, old);
    await writeFile(join(folder, 'new.ndjson'), lines('q2'));
    const summary = await watcher.pollOnce();
    expect(summary.ingested.map((f) => f.key)).toEqual(['old.ndjson']);
    expect(summary.deferred).toEqual(['new.ndjson']);
  });
});
