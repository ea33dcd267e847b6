// Checkpoint cost as a table grows: `node bin/run-ts.js bench/checkpoint-cost.ts [files...]` (default 1000 20000).
// For each size: a bronze-like table (partitioned by date) gets that many files' add actions (with
// realistic stats) in commits of 1,000, the next commit is timed with and without a checkpoint,
// and the checkpoint alone (`writeCheckpoint` of the snapshot) is timed three times.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/index.js';
import { LocalObjectStore } from '../src/storage/index.js';
import { writeCheckpoint } from '../src/table/checkpoint-writer.js';
import { Lake, type AddAction } from '../src/table/index.js';
import { median } from './support.js';

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [1_000, 20_000];
const dir = await mkdtemp(join(tmpdir(), 'lakeloop-checkpoint-cost-'));
const engine = await Engine.create({ memoryLimit: '2GB' });
const stats = (i: number): string =>
  JSON.stringify({
    numRecords: 833,
    minValues: { order_id: `ord_${i}`, customer_id: 'cus_0', amount: 0.1, order_ts: '2026-09-01T00:00:01.000Z', _ingest_id: i, _ingested_at: '2026-09-01T00:00:00.000Z' },
    maxValues: { order_id: `ord_${i + 832}`, customer_id: 'cus_zz', amount: 499.9, order_ts: '2026-09-01T23:59:59.000Z', _ingest_id: i + 832, _ingested_at: '2026-09-01T00:00:00.000Z' },
    nullCount: { order_id: 0, customer_id: 0, amount: 0, order_ts: 0, coupon_code: 700, _rescued: 833 },
  });
try {
  for (const size of sizes) {
    const store = await LocalObjectStore.create(join(dir, `lake-${size}`));
    const lake = await Lake.open({ store, engine });
    const table = await lake.createTable('bronze.orders', {
      columns: [
        { name: 'order_id', type: 'VARCHAR' },
        { name: 'amount', type: 'DOUBLE' },
        { name: 'event_date', type: 'DATE' },
      ],
      partitionColumns: ['event_date'],
    });
    const add = (i: number): AddAction => ({
      path: `event_date=2026-09-${String(1 + (i % 30)).padStart(2, '0')}/part-${i}-orders-0123456789abcdef-x.c000.zstd.parquet`,
      partitionValues: { event_date: `2026-09-${String(1 + (i % 30)).padStart(2, '0')}` },
      size: 40_000,
      modificationTime: Date.now(),
      dataChange: true,
      stats: stats(i),
    });
    for (let from = 0; from < size; from += 1000) {
      const snapshot = await table.snapshot();
      await table.commit({ readVersion: snapshot.version, add: Array.from({ length: Math.min(1000, size - from) }, (_, k) => add(from + k)), operation: 'WRITE', txn: { appId: `ingest:orders:f${from}`, version: 1 } });
    }
    const snapshot = await table.snapshot();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await writeCheckpoint({ store, engine, tablePath: 'bronze/orders' }, snapshot);
      times.push(performance.now() - started);
    }
    console.log(`${size} files (${snapshot.txns.size} txns): checkpoint write ${median(times).toFixed(0)} ms (median of 3: ${times.map((t) => t.toFixed(0)).join(', ')})`);
    // then 50 commits of 60 files each (a bulk load's batches over 60 dates), checkpoints as the table decides
    const before = (await store.listAll('bronze/orders/_delta_log/')).filter((o) => o.key.endsWith('.checkpoint.parquet')).length;
    const started = performance.now();
    for (let c = 0; c < 50; c++) {
      const at = await table.snapshot();
      await table.commit({ readVersion: at.version, add: Array.from({ length: 60 }, (_, k) => add(size + c * 60 + k)), operation: 'WRITE', txn: { appId: `ingest:orders:g${c}`, version: 1 } });
    }
    const perCommit = (performance.now() - started) / 50;
    const written = (await store.listAll('bronze/orders/_delta_log/')).filter((o) => o.key.endsWith('.checkpoint.parquet')).length - before;
    console.log(`  then 50 commits of 60 files: ${perCommit.toFixed(0)} ms per commit, ${written} checkpoint(s) written`);
  }
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
