import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { z } from 'zod';
import { defineContract } from '../../src/contracts/index.js';
import { Engine, quoteLiteral } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';

/**
 * `lakeloop ingest` vs DuckDB's own `COPY (SELECT * FROM read_ndjson(f)) TO … (FORMAT parquet)`
 * on the same NDJSON file (1M events of ~250 B), in the same process, alternating. lakeloop
 * does more: the contract check, quarantine split, stats, upload and the Delta commit.
 */
const contract = defineContract({
  source: 'orders',
  version: 1,
  owner: 'bench',
  key: ['order_id'],
  eventTime: 'order_ts',
  drift: 'rescue',
  batch: { maxRecords: 2_000_000, maxBytes: 1024 * 1024 * 1024 },
  schema: z.object({
    order_id: z.string(),
    customer_id: z.string(),
    status: z.enum(['placed', 'paid', 'shipped', 'cancelled']),
    amount: z.number().nonnegative(),
    currency: z.enum(['EUR', 'USD', 'GBP', 'SEK', 'JPY']),
    country: z.string().regex(/^[A-Z]{2}$/),
    order_ts: z.iso.datetime({ offset: true }),
    items: z.int().positive(),
    channel: z.enum(['web', 'ios', 'android']),
    coupon: z.string().nullish(),
    note: z.string().optional(),
  }),
});

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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function writeEvents(path: string, count: number): Promise<number> {
  const out = createWriteStream(path);
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const start = Date.UTC(2026, 9, 1);
  let bytes = 0;
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += `${JSON.stringify({
      order_id: `ORD-${String(i).padStart(9, '0')}`,
      customer_id: `C-${Math.floor(random() * 200_000)}`,
      status: pick(['placed', 'paid', 'shipped', 'cancelled']),
      amount: Math.round(random() * 50_000) / 100,
      currency: pick(['EUR', 'USD', 'GBP', 'SEK', 'JPY']),
      country: pick(['DE', 'US', 'GB', 'SE', 'JP', 'FR', 'NL', 'ES', 'IT', 'PL']),
      order_ts: new Date(start + Math.floor(random() * 30 * 86_400_000)).toISOString(),
      items: 1 + Math.floor(random() * 5),
      channel: pick(['web', 'ios', 'android']),
      coupon: random() < 0.3 ? 'SAVE10' : null,
      note: 'x'.repeat(Math.floor(random() * 40)),
    })}\n`;
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
