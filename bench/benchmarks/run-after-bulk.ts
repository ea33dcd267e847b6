import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { defaultOrderLine, lakeloop, median, seededRandom, writeLines } from '../support.js';

/**
 * Issue 17: a first `lakeloop run` over a freshly bulk-loaded bronze is within 1.5× of the same
 * run over the same rows compacted. The default project's `orders` contract and models; the
 * bulk file holds `events` over 60 event days and is cut into 8 batches (`--batch-bytes` of an
 * eighth of the file: as the default cut makes of the 10M-event bench file), so bronze gets up
 * to 8 files per date; the other lake lands the same file the same way, then `compact` merges
 * them to one file per date. The two runs alternate (which goes first, too), each `run` in a process
 * of its own as a user runs it (in one process, the first large run paid
 * for memory the next one reused: 2.41 then 1.26, and 1.88 then 1.08 with a small warm-up run first).
 * 1M events by default (`LAKELOOP_BENCH_BULK_RUN_EVENTS` sets another size; `--quick` 200k).
 */
const benchmark: Benchmark = {
  name: 'run-after-bulk',
  description: 'first lakeloop run of the default project over a freshly bulk-loaded bronze (8 files per date) vs over the same rows compacted (1 per date)',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const events = context.quick ? 200_000 : Number(process.env['LAKELOOP_BENCH_BULK_RUN_EVENTS'] ?? 1_000_000);
    const days = 60;
    const batches = 8;
    const pairs = context.quick ? 1 : 2;
    const root = join(import.meta.dirname, '..', '..');
    const file = join(context.workDir, 'bulk.ndjson');
    const random = seededRandom(23);
    const bytes = await writeLines(file, events, (n) => defaultOrderLine(n, random, days));
    context.log(`generated ${events} events over ${days} days, ${(bytes / 1e6).toFixed(0)} MB`);
    const batchBytes = String(Math.ceil(bytes / batches));

    const run = promisify(execFile);
    /** One `lakeloop run` in a process of its own (see bench/fixtures/run-child.ts). */
    const timedRun = async (lake: string): Promise<{ seconds: number; cpuSeconds: number; maxRssKiB: number }> => {
      const { stdout } = await run(process.execPath, [join(root, 'bin', 'run-ts.js'), join(root, 'bench', 'fixtures', 'run-child.ts'), lake], { cwd: root, maxBuffer: 1 << 24 });
      return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { seconds: number; cpuSeconds: number; maxRssKiB: number };
    };
    const bulk: { seconds: number; cpuSeconds: number; maxRssKiB: number }[] = [];
    const compacted: { seconds: number; cpuSeconds: number; maxRssKiB: number }[] = [];
    let bulkFiles = 0;
    let compactedFiles = 0;
    const loadBefore = loadavg()[0] ?? 0;
    for (let i = 0; i < pairs; i++) {
      const lakes = { bulk: join(context.workDir, `bulk-${i}`), compacted: join(context.workDir, `compacted-${i}`) };
      for (const lake of Object.values(lakes)) {
        const landed = (await lakeloop(['--lake', lake, 'ingest', 'orders', '--file', file, '--batch-bytes', batchBytes, '--json'], root)).json<{ files: number; landed: number }>();
        if (landed.landed !== events) throw new Error(`expected ${events} landed, got ${landed.landed}`);
        bulkFiles = landed.files;
      }
      const compaction = (await lakeloop(['--lake', lakes.compacted, 'compact', 'bronze.orders', '--json'], root)).json<{ tables: { filesAfter: number }[] }>();
      compactedFiles = compaction.tables[0]?.filesAfter ?? 0;
      // Alternating which goes first, so neither always runs on the warmer machine.
      const order = i % 2 === 0 ? (['bulk', 'compacted'] as const) : (['compacted', 'bulk'] as const);
      for (const side of order) (side === 'bulk' ? bulk : compacted).push(await timedRun(lakes[side]));
      context.log(
        `pair ${i + 1}/${pairs}: bulk-loaded (${bulkFiles} files) ${bulk[i]?.seconds.toFixed(2)} s / ${bulk[i]?.cpuSeconds.toFixed(2)} s CPU, ` +
          `compacted (${compactedFiles} files) ${compacted[i]?.seconds.toFixed(2)} s / ${compacted[i]?.cpuSeconds.toFixed(2)} s CPU, load ${(loadavg()[0] ?? 0).toFixed(1)}`,
      );
    }
    const bulkSeconds = median(bulk.map((r) => r.seconds));
    const compactedSeconds = median(compacted.map((r) => r.seconds));
    return [
      {
        name: 'run-after-bulk',
        value: bulkSeconds,
        unit: 's',
        baseline: compactedSeconds,
        ratio: bulkSeconds / compactedSeconds,
        target: '<= 1.5',
        details: {
          events,
          days,
          bulkFiles,
          compactedFiles,
          cpuRatio: median(bulk.map((r) => r.cpuSeconds)) / median(compacted.map((r) => r.cpuSeconds)),
          peakRssMiB: Math.round(Math.max(...bulk.map((r) => r.maxRssKiB)) / 1024),
          compactedPeakRssMiB: Math.round(Math.max(...compacted.map((r) => r.maxRssKiB)) / 1024),
          pairRatios: bulk.map((r, i) => (r.seconds / (compacted[i]?.seconds ?? Number.NaN)).toFixed(2)).join('/'),
          load: `${loadBefore.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}`,
        },
      },
    ];
  },
};

export default benchmark;
