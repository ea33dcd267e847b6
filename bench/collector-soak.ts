// Does a long-running collector level off? `node bin/run-ts.js bench/collector-soak.ts [seconds] [window] [options]`
// (default 300 s, a 60 s idempotency window): one `MicroBatcher` on a local lake lands batches of
// 32 keyed requests × 100 recent events back to back, and every 30 s prints the keys it remembers,
// the keys bronze's snapshot holds, live files, heap and RSS, and the CPU per event of the last
// interval. With a window shorter than the run, keys and heap should stop growing after one window.
// Options (after the two positional arguments):
//   --compact          compact bronze every 30 s as `serve`'s streaming loop compacts its tables
//                      (partitions holding ≥ 10 small files older than 60 s, 32 MiB target), so the
//                      live files stay bounded as in production;
//   --gc               collect garbage before each report (needs `node --expose-gc`): what is retained;
//   --memory           a second line per report: V8's heap reserved/physical/malloced, the process's
//                      anonymous and file-backed resident memory (/proc/self/status) and DuckDB's catalog;
//   --set=<name>=<v>   `SET <name> = <v>` on the engine first (repeatable), e.g. --set=allocator_background_threads=true;
//   --snapshot=<dir>   write a V8 heap snapshot at the first and the last report (compare them with
//                      `node bench/heap-diff.mjs a b`).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { parseDuration } from '../src/core/index.js';
import { Engine } from '../src/engine/index.js';
import { MicroBatcher } from '../src/ingest/index.js';
import { LocalObjectStore } from '../src/storage/index.js';
import { compactTable, Lake } from '../src/table/index.js';
import { benchOrdersContract, orderRequestBody } from './support.js';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]));
const flagValue = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
const [secondsArg = '300', window = '60s'] = positional;
const seconds = Number(secondsArg);
const compact = flags.has('--compact');
const collect = flags.has('--gc') ? (globalThis as { gc?: () => void }).gc : undefined;
if (flags.has('--gc') && !collect) throw new Error('--gc needs node --expose-gc');
const detailed = flags.has('--memory');
const snapshotDir = flagValue('--snapshot');
const settings = process.argv.filter((a) => a.startsWith('--set=')).map((a) => a.slice('--set='.length).split('=') as [string, string]);
const PER_REQUEST = 100;
const REQUESTS = 32;
const REPORT_EVERY_MS = 30_000;
const COMPACT_EVERY_MS = 30_000;

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

/** Resident memory by kind from /proc/self/status (kB → bytes): anonymous (malloc, V8's heap) and file-backed. */
async function residentByKind(): Promise<{ anon: number; file: number }> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

const dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-soak-'));
try {
  const engine = await Engine.create({ threads: 1 });
  for (const [name, value] of settings) await engine.run(`SET ${name} = ${value}`);
  const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  const contract = { ...benchOrdersContract({ maxRecords: 1_000_000, maxMs: 3_600_000 }), idempotencyWindow: window, idempotencyWindowMs: parseDuration(window) };
  const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'soak', spoolDir: dir });
  console.log(
    `soak: ${seconds} s, window ${window}, batches of ${REQUESTS * PER_REQUEST} events${compact ? ', compacting bronze every 30 s' : ''}${collect ? ', gc before each report' : ''}${settings.map(([n, v]) => `, ${n} = ${v}`).join('')}, load average ${loadavg()[0]?.toFixed(2)}`,
  );
  console.log('  elapsed  batches  events/s  µs/event  keys(batcher)  keys(bronze)  files  heap MiB  external MiB  duckdb MiB  rss MiB');
  const started = performance.now();
  let next = 0;
  let batches = 0;
  let reports = 0;
  let intervalStart = performance.now();
  let intervalCpu = process.cpuUsage();
  let intervalEvents = 0;
  let compactedAt = performance.now();
  let compactions = 0;
  const report = async (): Promise<void> => {
    const cpu = process.cpuUsage(intervalCpu);
    const elapsed = (performance.now() - intervalStart) / 1000;
    const snapshot = await (await lake.table('bronze.orders')).snapshot();
    collect?.();
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
    if (detailed) {
      const heap = v8.getHeapStatistics();
      const resident = await residentByKind();
      const catalog = await engine.all(
        'SELECT (SELECT count(*) FROM duckdb_tables()) AS tables, (SELECT count(*) FROM duckdb_views() WHERE NOT internal) AS views, (SELECT count(*) FROM duckdb_temporary_files()) AS temp_files',
      );
      // DuckDB's buffer-manager memory by what holds it (only the tags holding any).
      const tags = (await engine.all('SELECT tag, memory_usage_bytes AS bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 ORDER BY bytes DESC'))
        .map((r) => `${String(r['tag']).toLowerCase()} ${mib(Number(r['bytes']))}`)
        .join(', ');
      console.log(
        `           heap reserved ${mib(heap.total_heap_size)} physical ${mib(heap.total_physical_size)} malloced ${mib(heap.malloced_memory)} (peak ${mib(heap.peak_malloced_memory)}) ` +
          `| rss anon ${mib(resident.anon)} file ${mib(resident.file)} | duckdb ${tags || 'none'}, tables ${catalog[0]?.['tables']} views ${catalog[0]?.['views']} temp files ${catalog[0]?.['temp_files']}` +
          `${compact ? ` | compactions ${compactions}, tombstones ${snapshot.unorderedTombstones.length}` : ''}`,
      );
    }
    if (snapshotDir && (reports === 0 || performance.now() - started >= seconds * 1000)) {
      console.log(`           heap snapshot: ${v8.writeHeapSnapshot(join(snapshotDir, `soak-${reports === 0 ? 'first' : 'last'}.heapsnapshot`))}`);
    }
    reports += 1;
    intervalStart = performance.now();
    intervalCpu = process.cpuUsage();
    intervalEvents = 0;
  };
  while (performance.now() - started < seconds * 1000) {
    const acks = Array.from({ length: REQUESTS }, () => batcher.submit(orderRequestBody(next, PER_REQUEST, true), `k-${next++}`));
    await batcher.flush();
    await Promise.all(acks);
    batches += 1;
    intervalEvents += REQUESTS * PER_REQUEST;
    if (compact && performance.now() - compactedAt >= COMPACT_EVERY_MS) {
      compactedAt = performance.now();
      // As the streaming loop's defaults (DEFAULT_STREAMING_COMPACTION): the newest minute stays small.
      const result = await compactTable(await lake.table('bronze.orders'), { minFiles: 10, targetFileBytes: 32 * 1024 * 1024, modifiedBefore: Date.now() - 60_000, attempts: 1 });
      if (result.committed) compactions += 1;
    }
    if (performance.now() - intervalStart >= REPORT_EVERY_MS) await report();
  }
  if (snapshotDir) await report();
  await batcher.close();
  await engine.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
