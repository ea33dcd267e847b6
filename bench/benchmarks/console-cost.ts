// console-cost: what open consoles cost the stream (issue 15): freshness p95 (event accepted →
// visible in gold) at 5,000 events/s in `lakeloop serve` with 5 consoles open vs none, in the
// same run, phases N C C N so the tables' growth weighs on both sides alike. Target ≤ 1.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { listeningUrl, measure, percentiles, runToEnd, sleep } from './freshness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'lakeloop.js');
const RUN_TS = join(ROOT, 'bin', 'run-ts.js');

const benchmark: Benchmark = {
  name: 'console-cost',
  description: 'freshness p95 in `serve` at 5,000 events/s with 5 consoles open (SSE + polling) vs none, same run',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const rate = context.quick ? 1_000 : Number(process.env['LAKELOOP_BENCH_FRESHNESS_RATE'] ?? 5_000);
    const consoles = Number(process.env['LAKELOOP_BENCH_CONSOLES'] ?? 5);
    const phaseMs = context.quick ? 8_000 : Number(process.env['LAKELOOP_BENCH_FRESHNESS_PHASE_S'] ?? 15) * 1000;
    const lake = join(context.workDir, 'lake');
    const serve = spawn(process.execPath, [CLI, '--lake', lake, 'serve', '--port', '0', '--no-jobs', '--poll-ms', '100'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let feeder: ChildProcess | undefined;
    const loadBefore = loadavg();
    try {
      const url = await listeningUrl(serve);
      feeder = spawn(process.execPath, [RUN_TS, join(ROOT, 'bench', 'fixtures', 'feeder.ts'), url, String(rate)], { cwd: ROOT, stdio: 'ignore' });
      context.log(`serve at ${url}, sample feed ${rate} events/s from a producer process; warming up (load ${loadBefore.map((l) => l.toFixed(2)).join(' ')})`);
      await sleep(context.quick ? 4_000 : 8_000);
      const none: number[] = [];
      const open: number[] = [];
      const clientCounts: Record<string, number>[] = [];
      // serve's own CPU per wall second in each kind of phase: steadier than a p95 on a loaded machine.
      const cpu = { none: { cpu: 0, wall: 0 }, open: { cpu: 0, wall: 0 } };
      const phase = async (withConsoles: boolean, label: string): Promise<void> => {
        let clients: ChildProcess | undefined;
        let out = '';
        if (withConsoles) {
          clients = spawn(process.execPath, [RUN_TS, join(ROOT, 'bench', 'fixtures', 'consoles.ts'), url, String(consoles)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
          clients.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
          // Let them load the page and connect before measuring.
          await sleep(2_000);
        }
        const before = await serveCpuSeconds(url);
        const wallStart = performance.now();
        const m = await measure(url, phaseMs, context);
        const side = withConsoles ? cpu.open : cpu.none;
        side.cpu += (await serveCpuSeconds(url)) - before;
        side.wall += (performance.now() - wallStart) / 1000;
        (withConsoles ? open : none).push(...m.latencies);
        if (clients) {
          clients.kill('SIGTERM');
          await runToEnd(clients);
          if (out.trim()) clientCounts.push(JSON.parse(out.trim().split('\n').at(-1) as string) as Record<string, number>);
        }
        context.log(`${label}: p50 ${m.p50.toFixed(2)} s, p95 ${m.p95.toFixed(2)} s over ${m.count} markers${clients ? ` (consoles: ${JSON.stringify(clientCounts.at(-1))})` : ''}`);
      };
      await phase(false, 'no console');
      await phase(true, `${consoles} consoles`);
      await phase(true, `${consoles} consoles`);
      await phase(false, 'no console');
      const base = percentiles(none);
      const withOpen = percentiles(open);
      const load = loadavg();
      context.log(`no console: p95 ${base.p95.toFixed(2)} s, serve CPU ${(cpu.none.cpu / cpu.none.wall).toFixed(2)}/s; ${consoles} consoles: p95 ${withOpen.p95.toFixed(2)} s, serve CPU ${(cpu.open.cpu / cpu.open.wall).toFixed(2)}/s; loadavg ${load.map((l) => l.toFixed(2)).join(' ')}`);
      const events = clientCounts.reduce((n, c) => n + (c['events'] ?? 0), 0);
      const errors = clientCounts.reduce((n, c) => n + (c['errors'] ?? 0), 0);
      return [
        {
          name: 'console-cost',
          value: round(withOpen.p95),
          unit: 's (p95)',
          baseline: round(base.p95),
          ratio: round(withOpen.p95 / base.p95),
          target: '<= 1.1',
          details: {
            consoles,
            polling: process.env['LAKELOOP_BENCH_CONSOLE_POLL'] === '1' ? 'always' : 'as the page (on stream failure)',
            eventsPerSecond: rate,
            p50: round(withOpen.p50),
            baselineP50: round(base.p50),
            markers: open.length,
            serveCpuPerS: round(cpu.open.cpu / cpu.open.wall),
            baselineServeCpuPerS: round(cpu.none.cpu / cpu.none.wall),
            baselineMarkers: none.length,
            sseEventsRead: events,
            clientErrors: errors,
            loadavg1Before: round(loadBefore[0] as number),
            loadavg1: round(load[0] as number),
            loadavg5: round(load[1] as number),
          },
        },
      ];
    } finally {
      feeder?.kill('SIGTERM');
      if (feeder) await runToEnd(feeder);
      serve.kill('SIGTERM');
      await runToEnd(serve);
    }
  },
};

export default benchmark;

/** serve's process CPU seconds so far (user + system; DuckDB's threads included), from `/metrics`. */
async function serveCpuSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
