import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { writeSalesEvents, writeSalesProject } from '../fixtures/sales-project.js';
import { lakeloop, median, timedCpu } from '../support.js';

/**
 * Issue 14: `lakeloop apply` of a changed silver model (and the gold model its breaking change
 * forces) vs `lakeloop run silver.sales gold.daily --full-refresh` of the same two models, on
 * the `incremental` bench lake (365 days × 40k events; `--quick`: 60 × 2k), in the same run,
 * alternating, several repetitions (each apply gets a fresh edit of silver's SQL, so there is
 * always a breaking change to apply). Commands run in-process through the CLI. Both ratios are
 * printed: wall time and CPU time (this process, DuckDB's threads included; steadier on a
 * shared machine), with the load average before and after.
 */
const benchmark: Benchmark = {
  name: 'apply',
  description: 'lakeloop apply of a changed silver model (+ its gold downstream) vs run --full-refresh of the same models',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const days = context.quick ? 60 : 365;
    const perDay = context.quick ? 2_000 : Number(process.env['LAKELOOP_BENCH_EVENTS_PER_DAY'] ?? 40_000);
    const repetitions = context.quick ? 3 : 5;
    const project = join(context.workDir, 'project');
    await writeSalesProject(project, { memoryLimit: '4GB' });
    const history = join(context.workDir, 'history.ndjson');
    const engine = await Engine.create({});
    try {
      const generated = await writeSalesEvents(engine, history, { fromDay: 0, toDay: days, perDay });
      context.log(`generated ${generated.rows.toLocaleString('en-US')} events over ${days} days`);
    } finally {
      await engine.close();
    }
    await lakeloop(['ingest', 'sales', '--file', history], project);
    await lakeloop(['run'], project);
    const silverFile = join(project, 'sql', 'silver', 'sales.sql');
    const original = await readFile(silverFile, 'utf8');
    const loadBefore = loadavg();

    const apply: { seconds: number; cpuSeconds: number }[] = [];
    const full: { seconds: number; cpuSeconds: number }[] = [];
    for (let i = 1; i <= repetitions; i++) {
      // A breaking edit that keeps the values (a new constant each time, so each apply has work).
      await writeFile(silverFile, original.replace('SELECT id, store, amount,', `SELECT id, store, amount + ${i} - ${i} AS amount,`));
      const applied = await timedCpu(() => lakeloop(['apply', '--yes', '--json'], project));
      const rebuilt = applied.result.json<{ rebuilt: { model: string }[] }>().rebuilt.map((r) => r.model);
      if (rebuilt.join(',') !== 'silver.sales,gold.daily') throw new Error(`apply rebuilt ${rebuilt.join(', ')}, expected silver.sales and gold.daily`);
      apply.push(applied);
      const refreshed = await timedCpu(() => lakeloop(['run', 'silver.sales', 'gold.daily', '--full-refresh', '--json'], project));
      full.push(refreshed);
      context.log(`#${i}: apply ${applied.seconds.toFixed(2)} s (cpu ${applied.cpuSeconds.toFixed(1)} s), run --full-refresh ${refreshed.seconds.toFixed(2)} s (cpu ${refreshed.cpuSeconds.toFixed(1)} s)`);
    }
    const loadAfter = loadavg();
    const wall = { apply: median(apply.map((r) => r.seconds)), full: median(full.map((r) => r.seconds)) };
    const cpu = { apply: median(apply.map((r) => r.cpuSeconds)), full: median(full.map((r) => r.cpuSeconds)) };
    const details: Record<string, number | string> = {
      days,
      eventsPerDay: perDay,
      repetitions,
      applyRunsS: apply.map((r) => r.seconds.toFixed(2)).join('/'),
      fullRefreshRunsS: full.map((r) => r.seconds.toFixed(2)).join('/'),
      applyCpuS: round(cpu.apply),
      fullRefreshCpuS: round(cpu.full),
      cpuRatio: round(cpu.apply / cpu.full),
      loadavgBefore: loadBefore.map((n) => n.toFixed(2)).join(' '),
      loadavgAfter: loadAfter.map((n) => n.toFixed(2)).join(' '),
    };
    return [
      { name: 'apply', value: wall.apply, unit: 's', baseline: wall.full, ratio: wall.apply / wall.full, target: '<= 1.2', details },
      { name: 'apply-cpu', value: cpu.apply, unit: 'cpu s', baseline: cpu.full, ratio: cpu.apply / cpu.full, target: '<= 1.2', details: { loadavgAfter: details['loadavgAfter'] as string } },
    ];
  },
};

export default benchmark;

function round(n: number, digits = 3): number {
  return Number(n.toFixed(digits));
}
