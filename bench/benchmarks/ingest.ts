import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { Engine, quoteLiteral } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { benchOrdersContract, median, orderLine, seededRandom } from '../support.js';

/**
 * `lakeloop ingest` vs DuckDB's own `COPY (SELECT * FROM read_ndjson(f)) TO … (FORMAT parquet)`
 * on the same NDJSON file (1M events of ~250 B), in the same process, alternating. lakeloop
 * does more: the contract check, quarantine split, stats, upload and the Delta commit.
 */
const contract = benchOrdersContract({ maxRecords: 2_000_000, maxBytes: 1024 * 1024 * 1024 });

const benchmark: Benchmark = {
  name: 'ingest',
  description: 'NDJSON → bronze through lakeloop ingest vs DuckDB read_ndjson → Parquet COPY, same file',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const events = context.quick ? 100_000 : 1_000_000;
    const runs = context.quick ? 2 : 3;
    const file = join(context.workDir, 'orders.ndjson');
    const bytes = await writeEvents(file, events);
    context.log(`generated ${events} events, ${(bytes / 1e6).toFixed(0)} MB`);
    const engine = await Engine.create({});
    try {
      const lakeloop: number[] = [];
      const duckdb: number[] = [];
      for (let i = 0; i < runs; i++) {
        const lake = await Lake.open({ store: await LocalObjectStore.create(join(context.workDir, `lake-${i}`)), engine });
        const started = performance.now();
        const summary = await ingestFile({ lake, contract, input: file });
        lakeloop.push((performance.now() - started) / 1000);
        if (summary.landed !== events) throw new Error(`expected ${events} landed, got ${summary.landed} (${summary.quarantined} quarantined)`);
        const t0 = performance.now();
        await engine.run(`COPY (SELECT * FROM read_ndjson(${quoteLiteral(file)})) TO ${quoteLiteral(join(context.workDir, `duck-${i}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`);
        duckdb.push((performance.now() - t0) / 1000);
        context.log(`run ${i + 1}/${runs}: lakeloop ${lakeloop[i]?.toFixed(2)} s, duckdb ${duckdb[i]?.toFixed(2)} s`);
      }
      const value = events / median(lakeloop);
      const baseline = events / median(duckdb);
      return [
        {
          name: 'ingest',
          value: Math.round(value),
          unit: 'events/s',
          baseline: Math.round(baseline),
          ratio: value / baseline,
          target: '>= 0.5',
          details: { events, megabytes: Math.round(bytes / 1e6), lakeloopSeconds: median(lakeloop), duckdbSeconds: median(duckdb) },
        },
      ];
    } finally {
      await engine.close();
    }
  },
};

export default benchmark;

async function writeEvents(path: string, count: number): Promise<number> {
  const out = createWriteStream(path);
  const random = seededRandom(7);
  let bytes = 0;
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += orderLine(i, random);
    if (chunk.length > 1 << 20) {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  bytes += Buffer.byteLength(chunk);
  out.end(chunk);
  await once(out, 'finish');
  return bytes;
}
