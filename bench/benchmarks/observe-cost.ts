// observe-cost: OpenLineage (file sink) and JSON logs on vs off (issue 15: "ingest and
// incremental ratios unchanged within noise"), same run, sides alternating.
// - `observe-ingest`: events posted to `lakeloop serve --no-models` (the default project's
//   orders, 1,000 lines a request, 8 in flight, each answered once its batch committed) until
//   all landed; on = `--log-format json` (stdout drained) + `LAKELOOP_LINEAGE_FILE` (a lineage
//   run per landed batch). A fresh serve and lake per side. Ratio = seconds on ÷ off.
// - `observe-incremental`: `lakeloop run` after one new day of a sales table, in-process,
//   with `LAKELOOP_LINEAGE_FILE` (START/COMPLETE of the run and each model, schema and version
//   facets read from the lake) vs without; `run` has no JSON log (serve and jobs have).
// Both print os.loadavg(): the machine may be shared.
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Engine } from '../../src/engine/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { writeSalesEvents, writeSalesProject } from '../fixtures/sales-project.js';
import { defaultOrderLine, lakeloop, median, seededRandom } from '../support.js';
import { listeningUrl, runToEnd } from './freshness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'lakeloop.js');

const benchmark: Benchmark = {
  name: 'observe-cost',
  description: 'OpenLineage (file) and JSON logs on vs off: serve ingest and lakeloop run incremental (ratio on ÷ off)',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const pairs = Number(process.env['LAKELOOP_BENCH_OBSERVE_PAIRS'] ?? 3);
    const loadBefore = loadavg();
    context.log(`loadavg before: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
    const ingest = await ingestCase(context, pairs);
    const incremental = await incrementalCase(context, pairs);
    const load = loadavg();
    context.log(`loadavg after: ${load.map((l) => l.toFixed(2)).join(' ')}`);
    const loadDetails = { loadavg1Before: round(loadBefore[0] as number), loadavg1: round(load[0] as number), loadavg5: round(load[1] as number) };
    return [
      { ...ingest, details: { ...ingest.details, ...loadDetails } },
      { ...incremental, details: { ...incremental.details, ...loadDetails } },
    ];
  },
};

export default benchmark;

async function ingestCase(context: BenchContext, pairs: number): Promise<BenchResult> {
  const events = context.quick ? 20_000 : Number(process.env['LAKELOOP_BENCH_OBSERVE_EVENTS'] ?? 100_000);
  const random = seededRandom(5);
  const bodies: string[] = [];
  for (let n = 0; n < events; n += 1_000) {
    bodies.push(`${Array.from({ length: Math.min(1_000, events - n) }, (_, i) => defaultOrderLine(n + i, random, 3)).join('\n')}\n`);
  }
  const off: number[] = [];
  const on: number[] = [];
  let lineageBytes = 0;
  // off on | on off | off on ...: each side as often first as second.
  for (let i = 0; i < pairs; i++) {
    for (const side of i % 2 === 0 ? [false, true] : [true, false]) {
      const lineage = join(context.workDir, `ingest-lineage-${i}.ndjson`);
      const seconds = await serveIngest(join(context.workDir, `ingest-lake-${i}-${side ? 'on' : 'off'}`), bodies, side ? lineage : undefined);
      (side ? on : off).push(seconds);
      if (side) lineageBytes = (await stat(lineage)).size;
      context.log(`observe-ingest ${i + 1}/${pairs} ${side ? 'on ' : 'off'}: ${seconds.toFixed(2)} s (${Math.round(events / seconds)} events/s)`);
    }
  }
  const onS = median(on);
  const offS = median(off);
  return {
    name: 'observe-ingest',
    value: Math.round(events / onS),
    unit: 'events/s',
    baseline: Math.round(events / offS),
    ratio: round(onS / offS),
    target: '<= 1.1',
    details: { events, requests: bodies.length, onS: on.map((s) => s.toFixed(2)).join('/'), offS: off.map((s) => s.toFixed(2)).join('/'), lineageBytes },
  };
}

/** Seconds from the first post to the last answer (all landed), in a fresh `serve --no-models`. */
async function serveIngest(lake: string, bodies: readonly string[], lineageFile: string | undefined): Promise<number> {
  const args = [CLI, '--lake', lake, 'serve', '--port', '0', '--no-jobs', '--no-models', ...(lineageFile ? ['--log-format', 'json'] : [])];
  const env = { ...process.env, ...(lineageFile ? { LAKELOOP_LINEAGE_FILE: lineageFile } : {}) };
  const serve: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Drained as a log shipper would read them.
  serve.stderr?.resume();
  try {
    const url = lineageFile ? await jsonListeningUrl(serve) : await listeningUrl(serve);
    const queue = [...bodies];
    const started = performance.now();
    const worker = async (): Promise<void> => {
      for (let body = queue.shift(); body !== undefined; body = queue.shift()) {
        const response = await fetch(`${url}/ingest/orders`, { method: 'POST', body });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return (performance.now() - started) / 1000;
  } finally {
    serve.kill('SIGTERM');
    await runToEnd(serve);
  }
}

function jsonListeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const match = /"msg":"listening on (http:\/\/[^"\s]+)/.exec(text);
      if (match?.[1]) resolve(match[1]);
      if (text.length > 1e6) text = text.slice(-1e5);
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}) before listening`)));
  });
}

async function incrementalCase(context: BenchContext, pairs: number): Promise<BenchResult> {
  const days = context.quick ? 20 : 60;
  const perDay = context.quick ? 2_000 : Number(process.env['LAKELOOP_BENCH_EVENTS_PER_DAY'] ?? 20_000);
  const project = join(context.workDir, 'project');
  await writeSalesProject(project, { memoryLimit: '2GB' });
  const engine = await Engine.create({});
  const dayFiles: string[] = [];
  try {
    const history = join(context.workDir, 'history.ndjson');
    await writeSalesEvents(engine, history, { fromDay: 0, toDay: days, perDay });
    await lakeloop(['ingest', 'sales', '--file', history], project);
    for (let d = days; d < days + 2 * pairs; d++) {
      const file = join(context.workDir, `day-${d}.ndjson`);
      await writeSalesEvents(engine, file, { fromDay: d, toDay: d + 1, perDay });
      dayFiles.push(file);
    }
  } finally {
    await engine.close();
  }
  await lakeloop(['run'], project);
  const lineage = join(context.workDir, 'run-lineage.ndjson');
  const off: number[] = [];
  const on: number[] = [];
  for (const [i, file] of dayFiles.entries()) {
    const side = Math.floor(i / 2) % 2 === 0 ? i % 2 === 1 : i % 2 === 0;
    await lakeloop(['ingest', 'sales', '--file', file], project);
    const seconds = await timedRun(project, side ? { LAKELOOP_LINEAGE_FILE: lineage } : {});
    (side ? on : off).push(seconds);
    context.log(`observe-incremental day ${i + 1}/${dayFiles.length} ${side ? 'on ' : 'off'}: ${seconds.toFixed(3)} s`);
  }
  const onS = median(on);
  const offS = median(off);
  return {
    name: 'observe-incremental',
    value: round(onS),
    unit: 's',
    baseline: round(offS),
    ratio: round(onS / offS),
    target: '<= 1.1',
    details: { days, eventsPerDay: perDay, onS: on.map((s) => s.toFixed(3)).join('/'), offS: off.map((s) => s.toFixed(3)).join('/'), lineageBytes: (await stat(lineage)).size },
  };
}

/** `lakeloop run` in-process with the given environment, timed. */
async function timedRun(project: string, env: Record<string, string>): Promise<number> {
  const { main } = await import('../../src/cli/main.js');
  const { BufferSink } = await import('../../src/cli/io.js');
  const stderr = new BufferSink();
  const started = performance.now();
  const code = await main(['run'], { stdout: new BufferSink(), stderr, cwd: project, env });
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`lakeloop run exited ${code}: ${stderr.text()}`);
  return seconds;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
