// Does a long-running collector level off? `node bin/run-ts.js bench/collector-soak.ts [seconds] [window]`
// (default 300 s, a 60 s idempotency window): one `MicroBatcher` on a local lake lands batches of
// 32 keyed requests × 100 recent events back to back, and every 30 s prints the keys it remembers,
// the keys bronze's snapshot holds, live files, heap and RSS, and the CPU per event of the last
// interval. With a window shorter than the run, keys and heap should stop growing after one window;
// what still grows is the live files (serve compacts bronze as it streams; this does not).
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../src/core/index.js';
import { Engine } from '../src/engine/index.js';
import { MicroBatcher } from '../src/ingest/index.js';
import { LocalObjectStore } from '../src/storage/index.js';
import { Lake } from '../src/table/index.js';
import { benchOrdersContract, orderRequestBody } from './support.js';

const [secondsArg = '300', window = '60s'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const PER_REQUEST = 100;
const REQUESTS = 32;
const REPORT_EVERY_MS = 30_000;


const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

const dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-soak-'));
try {
  const engine = await Engine.create({ threads: 1 });
  const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  const contract = { ...benchOrdersContract({ maxRecords: 1_000_000, maxMs: 3_600_000 }), idempotencyWindow: window, idempotencyWindowMs: parseDuration(window) };
  const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'soak', spoolDir: dir });
  console.log(`soak: ${seconds} s, window ${window}, batches of ${REQUESTS * PER_REQUEST} events, load average ${loadavg()[0]?.toFixed(2)}`);
  console.log('  elapsed  batches  events/s  µs/event  keys(batcher)  keys(bronze)  files  heap MiB  external MiB  duckdb MiB  rss MiB');
  const started = performance.now();
  let next = 0;
  let batches = 0;
  let intervalStart = performance.now();
  let intervalCpu = process.cpuUsage();
  let intervalEvents = 0;
  while (performance.now() - started < seconds * 1000) {
    const acks = Array.from({ length: REQUESTS }, () => batcher.submit(orderRequestBody(next, PER_REQUEST, true), `k-${next++}`));
    await batcher.flush();
    await Promise.all(acks);
    batches += 1;
    intervalEvents += REQUESTS * PER_REQUEST;
    if (performance.now() - intervalStart >= REPORT_EVERY_MS) {
      const cpu = process.cpuUsage(intervalCpu);
      const elapsed = (performance.now() - intervalStart) / 1000;
      const snapshot = await (await lake.table('bronze.orders')).snapshot();
      const memory = process.memoryUsage();
      // DuckDB's own accounting (buffer manager), outside Node's heap.
      const duckdb = Number(await engine.scalar('SELECT sum(memory_usage_bytes) FROM duckdb_memory()'));
      const row = [
        `${((performance.now() - started) / 1000).toFixed(0)} s`.padStart(9),
        String(batches).padStart(8),
        String(Math.round(intervalEvents / elapsed)).padStart(9),
        ((cpu.user + cpu.system) / intervalEvents).toFixed(1).padStart(9),
        String(batcher.counters().idempotencyKeys).padStart(14),
        String(snapshot.txns.size).padStart(13),
        String(snapshot.unorderedFiles.length).padStart(6),
        mib(memory.heapUsed).padStart(9),
        mib(memory.external).padStart(13),
        mib(duckdb).padStart(11),
        mib(memory.rss).padStart(8),
      ];
      console.log(row.join(' '));
      intervalStart = performance.now();
      intervalCpu = process.cpuUsage();
      intervalEvents = 0;
    }
  }
  await batcher.close();
  await engine.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
