import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import orders from '../../contracts/orders.js';
import { Engine } from '../../src/engine/index.js';
import { MicroBatcher } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/**
 * Files are cut by `fileBatch` limits, but the collector still batches by the contract's
 * `batch`: the default project's `orders` (50,000 records, 16 MiB, 2,000 ms) closes a batch at
 * 50,000 records without waiting, and the rest at 2 s.
 */
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-limits-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const order = (n: number): string =>
  `${JSON.stringify({ order_id: `ord_${n}`, customer_id: `cus_${n % 97}`, status: 'paid', amount: n % 500, currency: 'EUR', country: 'DE', item_count: 1 + (n % 4), order_ts: '2026-09-01T10:00:00Z' })}\n`;

describe("the default orders contract's batch limits govern the collector", () => {
  it('closes a batch at maxRecords (50,000) at once and the remainder at maxMs (2 s)', async () => {
    expect(orders.batch).toEqual({ maxRecords: 50_000, maxBytes: 16 * 1024 * 1024, maxMs: 2_000 });
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
    await mkdir(join(dir, 'spool'));
    const batcher = await MicroBatcher.create({ lake, contract: orders, instanceId: 'limits', spoolDir: join(dir, 'spool') });
    const perRequest = 1_000;
    const bodies = Array.from({ length: 51 }, (_, r) => Buffer.from(Array.from({ length: perRequest }, (_, i) => order(r * perRequest + i)).join('')));
    const started = performance.now();
    const settledAt: number[] = [];
    const outcomes = await Promise.all(
      bodies.map((body, r) =>
        batcher.submit(body, `req-${r}`).then((outcome) => {
          settledAt[r] = performance.now() - started;
          return outcome;
        }),
      ),
    );
    await batcher.close();
    expect(outcomes.every((o) => o.landed === perRequest)).toBe(true);
    const batches = new Map<string, number>();
    for (const o of outcomes) batches.set(o.batchId ?? '', (batches.get(o.batchId ?? '') ?? 0) + o.landed);
    expect([...batches.values()]).toEqual([50_000, 1_000]);
    // 50,000 closed the first batch (all 51 requests were in before maxMs: one batch of 51,000 otherwise); the remainder waited for maxMs
    expect(settledAt[50]).toBeGreaterThanOrEqual(1_900);
    const snapshot = await (await lake.table('bronze.orders')).snapshot();
    expect(snapshot.files).toHaveLength(2);
  }, 60_000);
});
