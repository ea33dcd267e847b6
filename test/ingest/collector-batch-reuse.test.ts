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
 * What a collector batch reuses from the batch before it — bronze's snapshot read once per
 * batch (its txns find keys landed by others; the batch is planned on it), the fast path's
 * reader schema file kept per field list — must never hide a change: a column added by
 * `evolve`, a commit of another writer between two batches or during one, a removed file.
 */
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-reuse-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const contract: Contract = { ...orders, batch: { maxRecords: 50_000, maxBytes: 16 * 1024 * 1024, maxMs: 20 } };

const order = (n: number, extra: Record<string, unknown> = {}): string =>
  `${JSON.stringify({ order_id: `ord_${n}`, customer_id: `cus_${n % 97}`, status: 'paid', amount: n % 500, currency: 'EUR', country: 'DE', item_count: 1 + (n % 4), order_ts: '2026-09-01T10:00:00Z', ...extra })}\n`;

const body = (request: number, records = 10, extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(Array.from({ length: records }, (_, i) => order(request * records + i, extra)).join(''));

async function batcherIn(name: string, options: { contract?: Contract; store?: ObjectStore } = {}): Promise<{ lake: Lake; batcher: MicroBatcher; spool: string; root: string }> {
  const root = join(dir, `lake-${name}`);
  const lake = await Lake.open({ store: options.store ?? (await LocalObjectStore.create(root)), engine });
  const spool = join(dir, `spool-${name}`);
  await mkdir(spool);
  const batcher = await MicroBatcher.create({ lake, contract: options.contract ?? contract, instanceId: name, spoolDir: spool });
  return { lake, batcher, spool, root };
}

/** Another process's view of the same lake: its own handles and engine, nothing cached from ours. */
async function otherWriter(root: string): Promise<{ lake: Lake; close: () => Promise<void> }> {
  const other = await Engine.create({ threads: 1 });
  const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine: other });
  return { lake, close: () => other.close() };
}

/** Appends one copy of a bronze row from another writer, recording `keys` as its requests' txns. */
async function appendFromOther(root: string, keys: readonly string[]): Promise<number> {
  const other = await otherWriter(root);
  try {
    const bronze = await other.lake.table('bronze.orders');
    const snapshot = await bronze.snapshot();
    const row = `SELECT * FROM (${await snapshot.scanSql(other.lake.store)}) LIMIT 1`;
    const result = await bronze.append(row, { txn: { appId: 'other-writer', version: snapshot.version + 1 }, extraTxns: keys.map((appId) => ({ appId, version: 1 })) });
    return result.version;
  } finally {
    await other.close();
  }
}

async function bronzeRows(lake: Lake, sql: (scan: string) => string): Promise<Record<string, unknown>[]> {
  const snapshot = await (await lake.table('bronze.orders')).snapshot();
  return engine.all(sql(await snapshot.scanSql(lake.store)));
}

describe('a collector batch reuses what did not change', () => {
  it('a column added by evolve in one batch is written by the batches after it', async () => {
    const { lake, batcher, spool } = await batcherIn('evolve', { contract: { ...contract, drift: 'evolve' } });
    expect((await batcher.submit(body(1), 'a')).landed).toBe(10);
    expect((await batcher.submit(body(2, 10, { gift_wrap: true }), 'b')).landed).toBe(10);
    expect((await batcher.submit(body(3, 10, { gift_wrap: false }), 'c')).landed).toBe(10);
    expect((await batcher.submit(body(4), 'd')).landed).toBe(10);
    await batcher.close();
    const rows = await bronzeRows(lake, (scan) => `SELECT _source_offset AS batch, gift_wrap, count(*) AS n FROM (${scan}) GROUP BY ALL ORDER BY batch`);
    expect(rows).toEqual([
      { batch: 'evolve#1', gift_wrap: null, n: '10' },
      { batch: 'evolve#2', gift_wrap: true, n: '10' },
      { batch: 'evolve#3', gift_wrap: false, n: '10' },
      { batch: 'evolve#4', gift_wrap: null, n: '10' },
    ]);
    // the kept schema files go with the batcher
    expect(await readdir(spool)).toEqual([]);
  }, 60_000);

  it('a kept reader schema file removed between batches costs the fast path once, never a batch', async () => {
    const { lake, batcher, spool } = await batcherIn('swept');
    expect((await batcher.submit(body(1), 'a')).landed).toBe(10);
    const kept = await readdir(spool);
    expect(kept).toHaveLength(1);
    await rm(join(spool, kept[0] as string));
    expect((await batcher.submit(body(2), 'b')).landed).toBe(10);
    expect((await batcher.submit(body(3), 'c')).landed).toBe(10);
    await batcher.close();
    const rows = await bronzeRows(lake, (scan) => `SELECT count(*) AS n, count(DISTINCT order_id) AS ids FROM (${scan})`);
    expect(rows).toEqual([{ n: '30', ids: '30' }]);
    expect(await readdir(spool)).toEqual([]);
  }, 60_000);

  it('a key another writer landed between two batches is a duplicate; the rest lands after its commit', async () => {
    const { lake, batcher, root } = await batcherIn('between');
    const first = await batcher.submit(body(1), 'a');
    const otherVersion = await appendFromOther(root, ['key:orders:b']);
    expect(otherVersion).toBe((first.bronzeVersion ?? 0) + 1);
    const [dup, fresh] = await Promise.all([batcher.submit(body(2), 'b'), batcher.submit(body(3), 'c')]);
    await batcher.close();
    expect(dup).toMatchObject({ duplicate: true, landed: 0 });
    expect(fresh).toMatchObject({ duplicate: false, landed: 10, bronzeVersion: otherVersion + 1 });
    const rows = await bronzeRows(lake, (scan) => `SELECT count(*) AS n FROM (${scan}) WHERE order_id BETWEEN 'ord_20' AND 'ord_29'`);
    expect(rows).toEqual([{ n: '0' }]);
  }, 60_000);

  it('a commit of another writer while a batch lands: a blind append lands after it, a batch holding a key it took fails', async () => {
    // Our bronze log puts wait at a gate (armed per test step), so the other writer commits while our batch is planned on the older snapshot.
    let gate: { reached: () => void; opened: Promise<void> } | undefined;
    const root = join(dir, 'lake-during');
    const local = await LocalObjectStore.create(root);
    const store = new Proxy(local, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== 'putIfAbsent') return value.bind(target);
        return async (key: string, ...rest: unknown[]) => {
          const waiting = gate;
          if (waiting && key.startsWith('bronze/orders/_delta_log/')) {
            gate = undefined;
            waiting.reached();
            await waiting.opened;
          }
          return (value as (...a: unknown[]) => unknown).apply(target, [key, ...rest]);
        };
      },
    });
    const arm = (): { reached: Promise<void>; open: () => void } => {
      let open!: () => void;
      let reached!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      const reach = new Promise<void>((resolve) => (reached = resolve));
      gate = { reached, opened };
      return { reached: reach, open };
    };
    const { lake, batcher } = await batcherIn('during', { store });
    const first = await batcher.submit(body(1), 'a');

    // 1. another writer's commit without our keys: our batch loses the version race and lands at the next one
    let step = arm();
    const second = batcher.submit(body(2), 'b');
    await step.reached;
    const otherVersion = await appendFromOther(root, []);
    step.open();
    const landed = await second;
    expect(otherVersion).toBe((first.bronzeVersion ?? 0) + 1);
    expect(landed).toMatchObject({ landed: 10, bronzeVersion: otherVersion + 1 });

    // 2. another writer's commit holding one of the batch's keys: a conflict, nothing of the batch is committed or acknowledged
    step = arm();
    const third = batcher.submit(body(3), 'c').catch((error: unknown) => error);
    await step.reached;
    await appendFromOther(root, ['key:orders:c']);
    step.open();
    expect(await third).toMatchObject({ code: 'BATCH_FAILED' });
    const rows = await bronzeRows(lake, (scan) => `SELECT count(*) AS n FROM (${scan}) WHERE order_id BETWEEN 'ord_30' AND 'ord_39'`);
    expect(rows).toEqual([{ n: '0' }]);
    // re-sent, the key is known as landed (by the other writer): a duplicate, nothing written
    expect(await batcher.submit(body(3), 'c')).toMatchObject({ duplicate: true, landed: 0 });
    expect((await batcher.submit(body(4), 'd')).landed).toBe(10);
    await batcher.close();
  }, 60_000);
});
