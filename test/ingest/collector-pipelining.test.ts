import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import orders from '../../contracts/orders.js';
import type { Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { MicroBatcher } from '../../src/ingest/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/**
 * While one batch lands, the next keeps accumulating past its maxMs and lands as ONE batch
 * when the lander is free (at most one commit in flight per source), so batches grow with
 * the load instead of queueing up as many small ones. The first batch's commit is held at a
 * gate (a real local store whose bronze log puts wait for it), so no timing decides the result.
 */
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-pipelining-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const contract: Contract = { ...orders, batch: { maxRecords: 50_000, maxBytes: 16 * 1024 * 1024, maxMs: 20 } };

const order = (n: number): string =>
  `${JSON.stringify({ order_id: `ord_${n}`, customer_id: `cus_${n % 97}`, status: 'paid', amount: n % 500, currency: 'EUR', country: 'DE', item_count: 1 + (n % 4), order_ts: '2026-09-01T10:00:00Z' })}\n`;

const body = (request: number, records = 10): Buffer => Buffer.from(Array.from({ length: records }, (_, i) => order(request * records + i)).join(''));

/** A local store whose bronze commits wait while the gate is closed. */
function gatedStore(store: ObjectStore): { store: ObjectStore; reached: Promise<void>; open: () => void } {
  let open!: () => void;
  let reach!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const gated = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'putIfAbsent' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (key: string, ...rest: unknown[]) => {
        if (key.startsWith('bronze/orders/_delta_log/') && !key.endsWith('00000000000000000000.json')) {
          reach();
          await gate;
        }
        return (value as (...a: unknown[]) => unknown).apply(target, [key, ...rest]);
      };
    },
  });
  return { store: gated, reached, open };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('collector batches while one lands', () => {
  it('requests arriving during a commit, over several maxMs, land together in the next batch', async () => {
    const { store, reached, open } = gatedStore(await LocalObjectStore.create(join(dir, 'lake')));
    const lake = await Lake.open({ store, engine });
    await mkdir(join(dir, 'spool'));
    const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'pipe', spoolDir: join(dir, 'spool') });
    const first = batcher.submit(body(0), 'req-0');
    await reached; // batch 1 closed at maxMs and waits at its bronze commit
    const later: Promise<unknown>[] = [];
    for (let r = 1; r <= 3; r++) {
      later.push(batcher.submit(body(r), `req-${r}`));
      await sleep(60); // several maxMs pass while batch 1 is landing
    }
    open();
    const outcomes = (await Promise.all([first, ...later])) as { landed: number; batchId: string | null; bronzeVersion: number | null }[];
    await batcher.close();
    expect(outcomes.map((o) => o.landed)).toEqual([10, 10, 10, 10]);
    const [one, ...rest] = outcomes;
    expect(new Set(rest.map((o) => o.batchId)).size).toBe(1);
    expect(rest[0]?.batchId).not.toBe(one?.batchId);
    expect(batcher.counters().batches).toBe(2);
    const snapshot = await (await lake.table('bronze.orders')).snapshot();
    expect(snapshot.files).toHaveLength(2);
    // nothing of the landed batches stays in the spool folder (spool files, the reader's schema file)
    expect(await readdir(join(dir, 'spool'))).toEqual([]);
  }, 60_000);

  it('a record with an undeclared field sends its batch to the exact path, which keeps the field in _rescued', async () => {
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake-rescue')), engine });
    await mkdir(join(dir, 'spool-rescue'));
    const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'rescue', spoolDir: join(dir, 'spool-rescue') });
    const extra = Buffer.from(`${JSON.stringify({ ...JSON.parse(order(900)), gift_wrap: true })}\n`);
    const outcomes = await Promise.all([batcher.submit(body(30), 'a'), batcher.submit(extra, 'b')]);
    await batcher.close();
    expect(outcomes.map((o) => o.landed)).toEqual([10, 1]);
    const bronze = await (await lake.table('bronze.orders')).snapshot();
    const rows = await engine.all(`SELECT order_id, CAST(_rescued AS VARCHAR) AS rescued FROM (${await bronze.scanSql(lake.store)}) WHERE _rescued IS NOT NULL`);
    expect(rows).toEqual([{ order_id: 'ord_900', rescued: '{"gift_wrap":true}' }]);
    expect(await readdir(join(dir, 'spool-rescue'))).toEqual([]);
  }, 60_000);

  it('a batch mixing clean and invalid requests lands each request with its own counts and rejects', async () => {
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake-mixed')), engine });
    await mkdir(join(dir, 'spool-mixed'));
    const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'mixed', spoolDir: join(dir, 'spool-mixed') });
    const bad = Buffer.concat([body(10, 2), Buffer.from('{"order_id":"ord_x","status":"lost"}\n'), body(11, 1)]);
    const outcomes = await Promise.all([batcher.submit(body(20), 'a'), batcher.submit(bad, 'b'), batcher.submit(body(21), 'c')]);
    await batcher.close();
    expect(outcomes.map((o) => [o.landed, o.quarantined])).toEqual([
      [10, 0],
      [3, 1],
      [10, 0],
    ]);
    expect(outcomes[1]?.rejects.map((r) => r.line)).toEqual([3]);
    expect(new Set(outcomes.map((o) => o.batchId)).size).toBe(1);
  }, 60_000);
});
