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
import { Breakdown, sqlKind, storeKind } from './breakdown.js';
import { benchOrdersContract, orderRequestBody } from './support.js';

const [batchesArg = '60', eventsArg = '3200', spread = 'days'] = process.argv.slice(2);
const batches = Number(batchesArg);
const events = Number(eventsArg);
const WARM_UP = 5;
const PER_REQUEST = 100;
const breakdown = new Breakdown();


const dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-batch-'));
try {
  // The collector's circuit as serve opens it (1 thread); LAKELOOP_BENCH_COLLECTOR_THREADS compares another count.
  const engine = breakdown.proxy(await Engine.create({ threads: Number(process.env['LAKELOOP_BENCH_COLLECTOR_THREADS'] ?? 1) }), sqlKind);
  const store: ObjectStore = breakdown.proxy(await LocalObjectStore.create(join(dir, 'lake')), storeKind);
  const lake = await Lake.open({ store, engine });
  const contract = benchOrdersContract({ maxRecords: 1_000_000, maxMs: 3_600_000 });
  const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'cost', spoolDir: dir });
  const requests = Math.ceil(events / PER_REQUEST);
  let next = 0;
  let wall = 0;
  let cpuMs = 0;
  const load = loadavg();
  for (let b = 0; b < batches; b++) {
    const bodies = Array.from({ length: requests }, () => orderRequestBody(next++, PER_REQUEST, spread === 'recent'));
    if (b === WARM_UP) breakdown.clear();
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
  for (const [kind, ms] of [...breakdown.spent.entries()].sort((a, b) => b[1] - a[1])) {
    accounted += ms / measured;
    console.log(`  ${(ms / measured).toFixed(1).padStart(7)} ms  ${kind}`);
  }
  console.log(`  ${(wall / measured - accounted).toFixed(1).padStart(7)} ms  the rest`);
  await batcher.close();
  await engine.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
