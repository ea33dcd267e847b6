// Where one collector batch's time goes, without HTTP: `node bin/run-ts.js bench/collector-batch-cost.ts [batches] [events] [days|recent]`
// (default 60 batches of 3,200 events, event times over 30 days). Each batch is 32 keyed requests
// of 100 events submitted to one `MicroBatcher` and flushed, as the `collector` bench's batches
// are; the first 5 batches warm up. Prints the mean wall and process CPU per batch (DuckDB's
// threads included) and, per engine statement and store call, the mean wall time per batch.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/index.js';
import { MicroBatcher } from '../src/ingest/index.js';
import { LocalObjectStore, type ObjectStore } from '../src/storage/index.js';
import { Lake } from '../src/table/index.js';
import { benchOrdersContract, orderLine, seededRandom } from './support.js';

const [batchesArg = '60', eventsArg = '3200', spread = 'days'] = process.argv.slice(2);
const batches = Number(batchesArg);
const events = Number(eventsArg);
const WARM_UP = 5;
const PER_REQUEST = 100;
const spent = new Map<string, number>();
const add = (kind: string, ms: number): void => void spent.set(kind, (spent.get(kind) ?? 0) + ms);

function timedProxy<T extends object>(target: T, kindOf: (method: string, args: unknown[]) => string | undefined): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const kind = kindOf(String(property), args);
        const started = performance.now();
        const result = (value as (...a: unknown[]) => unknown).apply(object, args);
        if (kind === undefined || !(result instanceof Promise)) return result;
        return result.finally(() => add(kind, performance.now() - started));
      };
    },
  });
}

function sqlKind(method: string, args: unknown[]): string | undefined {
  if (method === 'copyToParquet') return 'sql: checkpoint write';
  if (!['run', 'all', 'scalar', 'describe', 'table'].includes(method)) return undefined;
  const sql = String(args[0]);
  if (method === 'describe') return sql.includes('read_ndjson') ? 'sql: detect fields (reader describe)' : 'sql: describe (cast plan)';
  if (/__ll_typed/.test(sql) && /^CREATE/.test(sql)) return 'sql: read + contract check (fast path)';
  if (/^COPY/.test(sql) && /_delta_log|checkpoint/.test(sql)) return 'sql: checkpoint write';
  if (/^COPY/.test(sql)) return 'sql: write parquet (partitioned COPY)';
  if (/^DROP/.test(sql)) return 'sql: drop temp tables';
  return 'sql: other';
}

function storeKind(method: string, args: unknown[]): string | undefined {
  const key = String(args[0] ?? '');
  if (method === 'putFile') return key.includes('_delta_log') ? 'store: checkpoint put' : 'store: data files (move + fsync)';
  if (method === 'putFiles') return 'store: data files (move + fsync)';
  if (method === 'putIfAbsent') return 'store: log commit (put-if-absent)';
  if (method === 'put') return key.includes('checkpoint') ? 'store: checkpoint put' : 'store: put';
  if (['get', 'getIfExists', 'getRange'].includes(method)) return 'store: log reads (get)';
  if (['list', 'listAll', 'listPrefixes'].includes(method)) return 'store: log listings';
  if (method === 'head') return 'store: head';
  return undefined;
}

function body(request: number): Buffer {
  const random = seededRandom(request + 1);
  const now = Date.now();
  let text = '';
  for (let i = 0; i < PER_REQUEST; i++) {
    const line = orderLine(request * PER_REQUEST + i, random);
    text += spread === 'recent' ? line.replace(/"order_ts":"[^"]*"/, `"order_ts":"${new Date(now - Math.floor(random() * 600_000)).toISOString()}"`) : line;
  }
  return Buffer.from(text);
}

const dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-batch-'));
try {
  // The collector's circuit as serve opens it (1 thread); LAKELOOP_BENCH_COLLECTOR_THREADS compares another count.
  const engine = timedProxy(await Engine.create({ threads: Number(process.env['LAKELOOP_BENCH_COLLECTOR_THREADS'] ?? 1) }), sqlKind);
  const store: ObjectStore = timedProxy(await LocalObjectStore.create(join(dir, 'lake')), storeKind);
  const lake = await Lake.open({ store, engine });
  const contract = benchOrdersContract({ maxRecords: 1_000_000, maxMs: 3_600_000 });
  const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'cost', spoolDir: dir });
  const requests = Math.ceil(events / PER_REQUEST);
  let next = 0;
  let wall = 0;
  let cpuMs = 0;
  const load = loadavg();
  for (let b = 0; b < batches; b++) {
    const bodies = Array.from({ length: requests }, () => body(next++));
    if (b === WARM_UP) spent.clear();
    const started = performance.now();
    const cpu = process.cpuUsage();
    const acks = bodies.map((one, i) => batcher.submit(one, `k-${next - requests + i}`));
    await batcher.flush();
    await Promise.all(acks);
    const used = process.cpuUsage(cpu);
    if (b >= WARM_UP) {
      wall += performance.now() - started;
      cpuMs += (used.user + used.system) / 1000;
    }
  }
  const measured = batches - WARM_UP;
  console.log(`${measured} batches of ${requests * PER_REQUEST} events (${spread}), load average ${load.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after`);
  console.log(`per batch: ${(wall / measured).toFixed(1)} ms wall, ${(cpuMs / measured).toFixed(1)} ms CPU (${((cpuMs * 1000) / measured / (requests * PER_REQUEST)).toFixed(1)} µs/event)`);
  let accounted = 0;
  for (const [kind, ms] of [...spent.entries()].sort((a, b) => b[1] - a[1])) {
    accounted += ms / measured;
    console.log(`  ${(ms / measured).toFixed(1).padStart(7)} ms  ${kind}`);
  }
  console.log(`  ${(wall / measured - accounted).toFixed(1).padStart(7)} ms  the rest`);
  await batcher.close();
  await engine.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
