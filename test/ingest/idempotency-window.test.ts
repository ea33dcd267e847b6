import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import orders from '../../contracts/orders.js';
import type { Contract } from '../../src/contracts/index.js';
import { ManualClock, parseDuration } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { ingestFile, MicroBatcher } from '../../src/ingest/index.js';
import { lakeStatus } from '../../src/query/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { checkpointKey, IDEMPOTENCY_KEY_RETENTION, Lake } from '../../src/table/index.js';

/**
 * The collector remembers an Idempotency-Key for its contract's `idempotencyWindow`: a retry
 * within it is a duplicate, one after it lands again; bronze forgets the key too (snapshot,
 * checkpoint), while the batch sequence and file ingest's txns stay. The lake and the batcher
 * share a ManualClock; real DuckDB, real files.
 */
let engine: Engine;
let dir: string;
const MINUTE = 60_000;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-idempotency-window-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const withWindow = (window: string): Contract => ({ ...orders, idempotencyWindow: window, idempotencyWindowMs: parseDuration(window), batch: { maxRecords: 50_000, maxMs: 10 } });

const order = (n: number): string =>
  `${JSON.stringify({ order_id: `ord_${n}`, customer_id: `cus_${n % 97}`, status: 'paid', amount: n % 500, currency: 'EUR', country: 'DE', item_count: 1 + (n % 4), order_ts: '2026-09-01T10:00:00Z' })}\n`;

const body = (request: number, records = 5): Buffer => Buffer.from(Array.from({ length: records }, (_, i) => order(request * records + i)).join(''));

interface Setup {
  readonly lake: Lake;
  readonly clock: ManualClock;
  readonly spoolDir: string;
  readonly root: string;
}

async function setup(name: string, checkpointInterval = 10): Promise<Setup> {
  const root = join(dir, name);
  const spoolDir = join(root, 'spool');
  await mkdir(spoolDir, { recursive: true });
  const clock = new ManualClock(Date.UTC(2026, 8, 1, 12));
  const lake = await Lake.open({ store: await LocalObjectStore.create(join(root, 'lake')), engine, clock, checkpointInterval, checkpointCache: null });
  return { lake, clock, spoolDir, root };
}

async function bronzeRows(lake: Lake, where = 'true'): Promise<number> {
  const snapshot = await (await lake.table('bronze.orders')).snapshot();
  const [row] = await engine.all(`SELECT count(*) AS n FROM (${await snapshot.scanSql(lake.store)}) WHERE ${where}`);
  return Number(row?.['n']);
}

describe('the collector idempotency window', () => {
  it('answers a retry within the window as a duplicate; after it bronze has forgotten the key (snapshot and checkpoint) and the retry lands again', async () => {
    const { lake, clock, spoolDir } = await setup('window', 1);
    const contract = withWindow('10m');
    const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'test', spoolDir, clock });
    expect(await batcher.submit(body(1), 'k1')).toMatchObject({ landed: 5, duplicate: false });
    expect(await batcher.submit(body(2), 'k2')).toMatchObject({ landed: 5, duplicate: false });
    const bronze = await lake.table('bronze.orders');
    expect((await bronze.snapshot()).metadata.configuration[IDEMPOTENCY_KEY_RETENTION]).toBe('interval 10 minutes');

    clock.advance(9 * MINUTE);
    expect(await batcher.submit(body(1), 'k1')).toMatchObject({ duplicate: true, landed: 0 });
    expect(await bronzeRows(lake)).toBe(10);

    clock.advance(2 * MINUTE); // 11 minutes after the keys landed
    const after = await bronze.snapshot();
    expect(after.txns.has('key:orders:k1')).toBe(false);
    expect(after.txns.has('key:orders:k2')).toBe(false);
    expect(after.txns.get('collector:orders:test')).toBe(2);

    const again = await batcher.submit(body(1), 'k1');
    expect(again).toMatchObject({ landed: 5, duplicate: false });
    expect(await bronzeRows(lake, "order_id = 'ord_5'")).toBe(2);
    // the commit of the re-sent request wrote a checkpoint (interval 1): k1 is in it again, k2 is not
    const version = again.bronzeVersion as number;
    const path = await lake.store.localPath(checkpointKey('bronze/orders', version));
    const rows = await engine.all(`SELECT txn.appId AS app FROM read_parquet('${path}') WHERE txn IS NOT NULL`);
    const apps = rows.map((r) => String(r['app'])).sort();
    expect(apps).toEqual(['collector:orders:test', 'key:orders:k1']);
    await batcher.close();
  });

  it('keeps the batch sequence and file ingest txns past the window: a restarted collector continues its sequence and a re-ingested file is a no-op', async () => {
    const { lake, clock, spoolDir, root } = await setup('forever');
    const contract = withWindow('10m');
    const file = join(root, 'orders.ndjson');
    await writeFile(file, body(7, 20));
    expect(await ingestFile({ lake, contract, input: file, clock })).toMatchObject({ landed: 20 });
    const first = await MicroBatcher.create({ lake, contract, instanceId: 'test', spoolDir, clock });
    await first.submit(body(1), 'k1');
    await first.close();

    clock.advance(24 * 60 * MINUTE);
    expect(await ingestFile({ lake, contract, input: file, clock })).toMatchObject({ landed: 0, duplicates: 20 });
    expect(await ingestFile({ lake: await Lake.open({ store: lake.store, engine, clock }), contract, input: file, clock })).toMatchObject({ landed: 0, duplicates: 20 });
    const restarted = await MicroBatcher.create({ lake: await Lake.open({ store: lake.store, engine, clock }), contract, instanceId: 'test', spoolDir, clock });
    expect(await restarted.submit(body(1), 'k1')).toMatchObject({ landed: 5, duplicate: false });
    await restarted.close();
    const txns = (await (await lake.table('bronze.orders')).snapshot()).txns;
    expect(txns.get('collector:orders:test')).toBe(2);
    expect([...txns.keys()].filter((appId) => appId.startsWith('ingest:orders:'))).toHaveLength(1);
    expect(await bronzeRows(lake)).toBe(30);
  });

  it('a restarted collector knows the keys of the window from bronze, and only those', async () => {
    const { lake, clock, spoolDir } = await setup('restart');
    const contract = withWindow('10m');
    const first = await MicroBatcher.create({ lake, contract, instanceId: 'test', spoolDir, clock });
    await first.submit(body(1), 'old');
    clock.advance(6 * MINUTE);
    await first.submit(body(2), 'young');
    await first.close();

    clock.advance(5 * MINUTE); // old: 11 minutes, young: 5
    const restarted = await MicroBatcher.create({ lake: await Lake.open({ store: lake.store, engine, clock }), contract, instanceId: 'test', spoolDir, clock });
    expect(restarted.counters().idempotencyKeys).toBe(1);
    expect((await lakeStatus(lake)).sources).toEqual([expect.objectContaining({ source: 'orders', idempotencyKeys: 1 })]);
    expect(await restarted.submit(body(2), 'young')).toMatchObject({ duplicate: true });
    expect(await restarted.submit(body(1), 'old')).toMatchObject({ duplicate: false, landed: 5 });
    await restarted.close();
  });

  it('remembers only the keys of the window, however many requests came before', async () => {
    const { lake, clock, spoolDir } = await setup('bounded');
    const batcher = await MicroBatcher.create({ lake, contract: withWindow('10m'), instanceId: 'test', spoolDir, clock });
    let most = 0;
    for (let i = 0; i < 45; i++) {
      await Promise.all([batcher.submit(body(2 * i, 1), `r${2 * i}`), batcher.submit(body(2 * i + 1, 1), `r${2 * i + 1}`)]);
      most = Math.max(most, batcher.counters().idempotencyKeys);
      clock.advance(MINUTE);
    }
    // 2 keys a minute over 45 minutes, a 10-minute window: at most 20 (+2 at the edge) at any time
    expect(most).toBeLessThanOrEqual(22);
    expect(batcher.counters().idempotencyKeys).toBeLessThanOrEqual(20);
    expect((await (await lake.table('bronze.orders')).snapshot()).txns.keysHeld).toBeLessThanOrEqual(22);
    await batcher.close();
  });

  it('expires the keys quarantine recorded with a batch that had rejects', async () => {
    const { lake, clock, spoolDir } = await setup('quarantine');
    const batcher = await MicroBatcher.create({ lake, contract: withWindow('10m'), instanceId: 'test', spoolDir, clock });
    const bad = Buffer.concat([body(1, 2), Buffer.from('{"order_id":"ord_x","amount":"not a number"}\n')]);
    expect(await batcher.submit(bad, 'k1')).toMatchObject({ landed: 2, quarantined: 1 });
    const quarantine = await lake.table('quarantine.orders');
    expect((await quarantine.snapshot()).metadata.configuration[IDEMPOTENCY_KEY_RETENTION]).toBe('interval 10 minutes');
    expect((await quarantine.snapshot()).txns.has('key:orders:k1')).toBe(true);
    clock.advance(11 * MINUTE);
    const after = await quarantine.snapshot();
    expect(after.txns.has('key:orders:k1')).toBe(false);
    expect(after.txns.get('collector:orders:test')).toBe(1);
    await batcher.close();
  });

  it('records a changed window on an existing bronze when the collector starts', async () => {
    const { lake, clock, spoolDir } = await setup('changed');
    const first = await MicroBatcher.create({ lake, contract: withWindow('10m'), instanceId: 'test', spoolDir, clock });
    await first.submit(body(1), 'k1');
    await first.close();
    const longer = await MicroBatcher.create({ lake, contract: withWindow('2h'), instanceId: 'test', spoolDir, clock });
    const bronze = await lake.table('bronze.orders');
    expect((await bronze.snapshot()).metadata.configuration[IDEMPOTENCY_KEY_RETENTION]).toBe('interval 2 hours');
    clock.advance(30 * MINUTE);
    expect(await longer.submit(body(1), 'k1')).toMatchObject({ duplicate: true });
    await longer.close();
  });
});
