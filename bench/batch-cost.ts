// Where one file-ingest batch's time goes: `node bin/run-ts.js bench/batch-cost.ts [records] [batches] [days]`
// (default 50,000 records, 40 batches, 60 event days), each batch a file of its own through `ingestFile`
// with the default project's `orders` contract, on one local lake (as `lakeloop ingest` of 40 files).
// Engine statements and store calls are timed by kind; per batch, the mean over the batches is
// printed, then the catalog refresh once. Sums of concurrent work (uploads) can exceed wall time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import orders from '../contracts/orders.js';
import { Engine } from '../src/engine/index.js';
import { ingestFile } from '../src/ingest/index.js';
import { CatalogCopy } from '../src/query/index.js';
import { LocalObjectStore, type ObjectStore } from '../src/storage/index.js';
import { Lake } from '../src/table/index.js';
import { Breakdown, sqlKind, storeKind } from './breakdown.js';
import { defaultOrderLine, seededRandom, writeLines } from './support.js';

const [records = 50_000, batches = 40, days = 60] = process.argv.slice(2).map(Number);
const breakdown = new Breakdown();

const dir = await mkdtemp(join(tmpdir(), 'lakeloop-batch-cost-'));
try {
  const engine = breakdown.proxy(await Engine.create({ memoryLimit: '2GB' }), sqlKind);
  const store: ObjectStore = breakdown.proxy(await LocalObjectStore.create(join(dir, 'lake')), storeKind);
  const lake = await Lake.open({ store, engine });
  const random = seededRandom(11);
  const wall: number[] = [];
  let files = 0;
  for (let b = 0; b < batches + 1; b++) {
    const file = join(dir, `batch-${b}.ndjson`);
    await writeLines(file, records, (n) => defaultOrderLine(b * records + n, random, days));
    if (b === 1) breakdown.clear(); // batch 0 creates the table and warms up
    const started = performance.now();
    const summary = await ingestFile({ lake, contract: orders, input: file });
    if (b >= 1) wall.push(performance.now() - started);
    files += summary.files;
    await rm(file);
  }
  const mean = wall.reduce((a, b) => a + b, 0) / wall.length;
  const rows = [...breakdown.spent.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`${batches} batches of ${records} records over ${days} day(s): ${mean.toFixed(0)} ms per batch (wall, mean; min ${Math.min(...wall).toFixed(0)}, max ${Math.max(...wall).toFixed(0)}), ${files} files`);
  let accounted = 0;
  for (const [kind, ms] of rows) {
    accounted += ms / batches;
    console.log(`  ${(ms / batches).toFixed(1).padStart(8)} ms  ${kind}`);
  }
  console.log(`  ${(mean - accounted).toFixed(1).padStart(8)} ms  the rest (Node: cutting, spooling, stats from the COPY's rows, actions, JSON)`);
  breakdown.clear();
  const started = performance.now();
  const copy = await CatalogCopy.open(join(dir, 'catalog.duckdb'));
  await copy.publish(lake);
  console.log(`catalog refresh once after ${files} files: ${(performance.now() - started).toFixed(0)} ms`);
  await engine.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
