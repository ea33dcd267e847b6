import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../../src/engine/index.js';
import type { ReconcileReport } from '../../src/reconcile/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { dayOf, writeSalesEvents, writeSalesProject } from '../fixtures/sales-project.js';
import { lakeloop, median, timedCpu } from '../support.js';

/**
 * Chunking's cost: `lakeloop reconcile --from D1 --to D365` in 60-day chunks (the default:
 * 7 chunks, each published per table) against the same window in one shot
 * (`--chunk-days 0`), on copies of the same lake, taken in turns so the machine's noise
 * falls on both. The sales project (bronze.sales → silver.sales by key → gold.daily by
 * partition) is streamed a year in 30-day steps, 2% of the events 1–3 days late, so each
 * chunk has corrections to publish. Other chunk sizes (14, 90 days) are timed once each, for choosing the
 * default. Both ways must end with the same gold.
 */
const THREADS = 1;
const MEMORY_LIMIT = '1GB';
const STEP_DAYS = 30;
const DAYS = 365;
const CHUNK_DAYS = 60;
const OTHER_SIZES = [14, 90];

const benchmark: Benchmark = {
  name: 'reconcile-chunked',
  description: 'lakeloop reconcile of 365 days in 60-day chunks vs in one shot, on copies of the same lake',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const perDay = context.quick ? 300 : 3_000;
    const rounds = context.quick ? 1 : 3;
    const from = dayOf(0);
    const to = dayOf(DAYS - 1);
    const project = join(context.workDir, 'project');
    await writeSalesProject(project, { memoryLimit: '2GB' });

    const generator = await Engine.create({});
    let events = 0;
    try {
      for (let day = 0; day < DAYS; day += STEP_DAYS) {
        const file = join(context.workDir, `step-${day}.ndjson`);
        events += (await writeSalesEvents(generator, file, { fromDay: day, toDay: Math.min(DAYS, day + STEP_DAYS), perDay, late: 0.02 })).rows;
        await lakeloop(['ingest', 'sales', '--file', file], project);
        await lakeloop(['run'], project);
        await rm(file);
      }
    } finally {
      await generator.close();
    }
    context.log(`streamed ${events.toLocaleString('en-US')} events over ${DAYS} days`);

    const pristine = join(project, 'lake');
    let copies = 0;
    const reconcileCopy = async (chunkDays: number): Promise<{ seconds: number; cpuSeconds: number; report: ReconcileReport; lake: string }> => {
      const lake = join(context.workDir, `lake-${++copies}`);
      await cp(pristine, lake, { recursive: true });
      const args = ['--lake', lake, 'reconcile', '--from', from, '--to', to, '--chunk-days', String(chunkDays), '--threads', String(THREADS), '--memory-limit', MEMORY_LIMIT, '--json'];
      const timed = await timedCpu(() => lakeloop(args, project));
      const report = timed.result.json<ReconcileReport>();
      const corrected = report.models.reduce((n, m) => n + m.partitions.filter((p) => p.status === 'corrected').length, 0);
      context.log(`${chunkDays ? `${chunkDays}-day chunks` : 'one shot'}: ${timed.seconds.toFixed(2)} s (cpu ${timed.cpuSeconds.toFixed(1)} s), ${corrected} partitions corrected${report.chunks ? `, ${report.chunks.count} chunks` : ''}`);
      return { seconds: timed.seconds, cpuSeconds: timed.cpuSeconds, report, lake };
    };

    const oneShot: number[] = [];
    const chunked: number[] = [];
    const oneShotCpu: number[] = [];
    const chunkedCpu: number[] = [];
    let lakes: [string, string] | undefined;
    let chunks = 0;
    for (let i = 0; i < rounds; i++) {
      const a = await reconcileCopy(0);
      const b = await reconcileCopy(CHUNK_DAYS);
      oneShot.push(a.seconds);
      oneShotCpu.push(a.cpuSeconds);
      chunked.push(b.seconds);
      chunkedCpu.push(b.cpuSeconds);
      chunks = b.report.chunks?.count ?? 1;
      if (lakes) await Promise.all([rm(a.lake, { recursive: true }), rm(b.lake, { recursive: true })]);
      else lakes = [a.lake, b.lake];
    }
    const others: Record<string, number> = {};
    for (const size of OTHER_SIZES) {
      const c = await reconcileCopy(size);
      others[`chunks${size}dS`] = round(c.seconds);
      await rm(c.lake, { recursive: true });
    }

    // The same answer both ways, or the timing means nothing.
    const [oneShotLake, chunkedLake] = lakes as [string, string];
    const differing = await compareGold(oneShotLake, chunkedLake);
    if (differing > 0) throw new Error(`gold.daily after the chunked reconcile differs from the one-shot one in ${differing} rows`);

    const value = median(chunked);
    const baseline = median(oneShot);
    return [
      {
        name: 'reconcile-chunked',
        value,
        unit: 's',
        baseline,
        ratio: value / baseline,
        target: '<= 1.3',
        details: {
          days: DAYS,
          eventsPerDay: perDay,
          bronzeRows: events,
          chunkDays: CHUNK_DAYS,
          chunks,
          oneShotRunsS: oneShot.map((s) => s.toFixed(2)).join('/'),
          chunkedRunsS: chunked.map((s) => s.toFixed(2)).join('/'),
          oneShotCpuS: round(median(oneShotCpu)),
          chunkedCpuS: round(median(chunkedCpu)),
          cpuRatio: round(median(chunkedCpu) / median(oneShotCpu)),
          ...others,
        },
      },
    ];
  },
};

export default benchmark;

/** Rows of gold.daily in one lake and not the other (either way). */
async function compareGold(a: string, b: string): Promise<number> {
  const engine = await Engine.create({ threads: THREADS });
  const stores = [await LocalObjectStore.create(a), await LocalObjectStore.create(b)];
  try {
    const [left, right] = await Promise.all(
      stores.map(async (store) => {
        const snapshot = await (await (await Lake.open({ store, engine })).table('gold.daily')).snapshot();
        return `SELECT sale_date, store, revenue, sales FROM (${await snapshot.scanSql(store)})`;
      }),
    );
    return Number(await engine.scalar(`SELECT count(*) FROM ((${left} EXCEPT ALL ${right}) UNION ALL (${right} EXCEPT ALL ${left}))`));
  } finally {
    await engine.close();
    for (const store of stores) await store.close();
  }
}

function round(n: number, digits = 3): number {
  return Number(n.toFixed(digits));
}
