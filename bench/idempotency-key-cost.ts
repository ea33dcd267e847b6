// What idempotency keys cost a collector's bronze as their number grows:
// `node --expose-gc bin/run-ts.js bench/idempotency-key-cost.ts [keys...]` (default 30000 100000 300000).
// For each count: a bronze-like table gets that many `key:` txns (36-character keys, as UUIDs are)
// in commits of 100 (a collector batch's requests), then reports the JS heap the reader's state
// holds, the checkpoint's write time and size, and a cold reader's time to its snapshot
// (checkpoint read), so the default `idempotencyWindow` can be chosen from numbers; and what one
// collector-like commit (snapshot, then a commit of 100 keys) costs at that count, CPU included:
// before the keys were kept apart, every snapshot copied all of them. Uses only what older
// releases also have, so the same file measures them (the property is then inert).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/index.js';
import { LocalObjectStore } from '../src/storage/index.js';
import { writeCheckpoint } from '../src/table/checkpoint-writer.js';
import { Lake } from '../src/table/index.js';

const counts = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [30_000, 100_000, 300_000];
const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed / 1e6;
};
const dir = await mkdtemp(join(tmpdir(), 'lakeloop-key-cost-'));
const engine = await Engine.create({ memoryLimit: '2GB' });
if (!gc) console.log('(run with node --expose-gc for heap numbers)');
try {
  for (const count of counts) {
    const store = await LocalObjectStore.create(join(dir, `lake-${count}`));
    const lake = await Lake.open({ store, engine, checkpointInterval: 0, checkpointCache: null });
    const table = await lake.createTable('bronze.orders', {
      columns: [{ name: 'order_id', type: 'VARCHAR' }],
      configuration: { 'lakeloop.idempotencyKeyRetentionDuration': 'interval 1 day' },
    });
    const before = heapMb();
    const lastCommits = Math.min(100, count / 100);
    let commitMs = 0;
    let commitCpuMs = 0;
    for (let from = 0, batch = 1; from < count; from += 100, batch++) {
      const timed = from >= count - lastCommits * 100;
      const started = performance.now();
      const cpu = process.cpuUsage();
      const snapshot = await table.snapshot();
      const keys = Array.from({ length: Math.min(100, count - from) }, () => ({ appId: `key:orders:${randomUUID()}`, version: 1 }));
      await table.commit({ readVersion: snapshot.version, operation: 'WRITE', txn: { appId: 'collector:orders:bench', version: batch }, extraTxns: keys });
      await table.snapshot();
      if (timed) {
        const used = process.cpuUsage(cpu);
        commitMs += performance.now() - started;
        commitCpuMs += (used.user + used.system) / 1000;
      }
    }
    const snapshot = await table.snapshot();
    const held = heapMb() - before;
    let started = performance.now();
    const last = await writeCheckpoint({ store, engine, tablePath: 'bronze/orders' }, snapshot);
    const writeMs = performance.now() - started;
    const cold = await Lake.open({ store, engine, checkpointCache: null });
    started = performance.now();
    const read = await (await cold.table('bronze.orders')).snapshot();
    const readMs = performance.now() - started;
    console.log(
      `${count} keys: a commit of 100 more ${(commitMs / lastCommits).toFixed(2)} ms (CPU ${(commitCpuMs / lastCommits).toFixed(2)} ms; mean of the last ${lastCommits}), heap ${gc ? `${held.toFixed(1)} MB (${((held * 1e6) / count).toFixed(0)} B/key)` : 'n/a'}, ` +
        `checkpoint ${((last.sizeInBytes ?? 0) / 1e6).toFixed(1)} MB written in ${writeMs.toFixed(0)} ms, ` +
        `cold snapshot from it ${readMs.toFixed(0)} ms (${read.txns.size} txns)`,
    );
  }
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
