import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Engine, quoteLiteral } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { buildCompiled, userProject } from '../fixtures/compiled-build.js';
import { benchOrdersContract, defaultOrderLine, median, orderLine, seededRandom, timedCpu, writeLines } from '../support.js';

/**
 * `lakeloop ingest` vs DuckDB's own `COPY (SELECT * FROM read_ndjson(f)) TO … (FORMAT parquet)`
 * on the same NDJSON file, alternating. lakeloop does more: the contract check, quarantine
 * split, stats, upload and the Delta commit. Three cases:
 * - `ingest`: 1M events as ONE batch (a contract allowing 2M records / 1 GiB), in this process;
 * - `ingest-bulk`: the default project's `orders` contract and config through `lakeloop ingest
 *   orders --file` on 10M events over 60 event days (`LAKELOOP_BENCH_INGEST_EVENTS` scales it;
 *   `--quick`: 1M), each side in its own process, so peak RSS is the side's own. lakeloop's side
 *   is the path users run: the CLI compiled to JavaScript (built from this checkout's sources
 *   at the start of the case, never a `dist/` that may be stale) in plain Node, the project a
 *   copy of the default one importing `'lakeloop'`. The same through tsx in the checkout (as
 *   tests run it) is printed alongside as `tsx*`;
 * - `ingest-one-day`: the same on 1M events of one day (`--quick`: 200k).
 *
 * `ratio` is DuckDB's seconds ÷ lakeloop's (higher is better), from wall time. On the shared
 * 2-core machine wall time swings with other people's load, so each case also reports
 * `cpuRatio`: DuckDB's CPU seconds ÷ lakeloop's (user + system of the process doing the
 * work, DuckDB's threads included), which moves much less with load; and the 1-minute load
 * average at the start and end of the case.
 */
const contract = benchOrdersContract({ maxRecords: 2_000_000, maxBytes: 1024 * 1024 * 1024 });

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

interface ChildResult {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** lakeloop's side: the part of `seconds` / `cpuSeconds` spent loading the CLI's modules (through tsx in a checkout). */
  readonly moduleSeconds?: number;
  readonly moduleCpuSeconds?: number;
  readonly files: number;
  readonly batches: number;
  readonly maxRssKiB: number;
}

async function child(mode: 'lakeloop' | 'duckdb', file: string, target: string): Promise<ChildResult> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'bin', 'run-ts.js'), join(ROOT, 'bench', 'fixtures', 'ingest-child.ts'), mode, file, target], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChildResult;
}

/** The compiled CLI and a user's copy of the default project, built once per bench run (see `buildCompiled`). */
interface UserPath {
  readonly build: string;
  readonly project: string;
}

let userPath: Promise<UserPath> | undefined;

function userPathIn(workDir: string): Promise<UserPath> {
  userPath ??= (async () => {
    const build = await buildCompiled(join(workDir, 'compiled'));
    return { build, project: await userProject(join(workDir, 'project'), build) };
  })();
  return userPath;
}

/** lakeloop's side as a user runs it: the compiled CLI in plain Node (bench/fixtures/ingest-child-compiled.mjs). */
async function compiledChild(path: UserPath, file: string, target: string): Promise<ChildResult> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'bench', 'fixtures', 'ingest-child-compiled.mjs'), path.build, path.project, file, target], {
    cwd: path.project,
    maxBuffer: 1 << 24,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChildResult;
}

/** The default project's bulk load of `events` over `days` event days: lakeloop and DuckDB alternating, `pairs` times. */
async function bulkCase(context: BenchContext, name: string, events: number, days: number, pairs: number): Promise<BenchResult> {
  const file = join(context.workDir, `${name}.ndjson`);
  const random = seededRandom(11);
  const bytes = await writeLines(file, events, (n) => defaultOrderLine(n, random, days));
  context.log(`${name}: generated ${events} events over ${days} day(s), ${(bytes / 1e6).toFixed(0)} MB`);
  const path = await userPathIn(context.workDir);
  const ours: ChildResult[] = [];
  const duck: ChildResult[] = [];
  const tsx: ChildResult[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  // Each round: the compiled CLI, DuckDB, then the checkout's tsx CLI, so both lakeloop sides sit next to a DuckDB run.
  for (let i = 0; i < pairs; i++) {
    ours.push(await compiledChild(path, file, join(context.workDir, `${name}-lake-${i}`)));
    duck.push(await child('duckdb', file, join(context.workDir, `${name}-duck-${i}.parquet`)));
    tsx.push(await child('lakeloop', file, join(context.workDir, `${name}-tsx-lake-${i}`)));
    const seconds = (r: ChildResult | undefined): string => `${r?.seconds.toFixed(2)} s / ${r?.cpuSeconds.toFixed(2)} s CPU`;
    context.log(
      `${name} run ${i + 1}/${pairs}: lakeloop compiled ${seconds(ours[i])} (${ours[i]?.batches} batches, ${ours[i]?.files} files; modules ${ours[i]?.moduleCpuSeconds?.toFixed(2)} s CPU), ` +
        `duckdb ${seconds(duck[i])}, lakeloop tsx ${seconds(tsx[i])} (modules ${tsx[i]?.moduleCpuSeconds?.toFixed(2)} s CPU), load ${(loadavg()[0] ?? 0).toFixed(1)}`,
    );
  }
  const lakeloopSeconds = median(ours.map((r) => r.seconds));
  const duckdbSeconds = median(duck.map((r) => r.seconds));
  const lakeloopCpuSeconds = median(ours.map((r) => r.cpuSeconds));
  const duckdbCpuSeconds = median(duck.map((r) => r.cpuSeconds));
  return {
    name,
    value: Math.round(events / lakeloopSeconds),
    unit: 'events/s',
    baseline: Math.round(events / duckdbSeconds),
    ratio: duckdbSeconds / lakeloopSeconds,
    target: '>= 0.5',
    details: {
      events,
      days,
      megabytes: Math.round(bytes / 1e6),
      lakeloopSeconds,
      duckdbSeconds,
      cpuRatio: duckdbCpuSeconds / lakeloopCpuSeconds,
      lakeloopCpuSeconds,
      duckdbCpuSeconds,
      pairRatios: ours.map((r, i) => ((duck[i]?.seconds ?? 0) / r.seconds).toFixed(2)).join('/'),
      // The same without loading the CLI's modules (as DuckDB's side, which loads its module before its clock).
      moduleSeconds: median(ours.map((r) => r.moduleSeconds ?? 0)),
      moduleCpuSeconds: median(ours.map((r) => r.moduleCpuSeconds ?? 0)),
      ratioWithoutModuleLoad: duckdbSeconds / median(ours.map((r) => r.seconds - (r.moduleSeconds ?? 0))),
      cpuRatioWithoutModuleLoad: duckdbCpuSeconds / median(ours.map((r) => r.cpuSeconds - (r.moduleCpuSeconds ?? 0))),
      // The checkout's CLI through tsx (engine and contracts modules loaded before its clock).
      tsxRatio: duckdbSeconds / median(tsx.map((r) => r.seconds)),
      tsxCpuRatio: duckdbCpuSeconds / median(tsx.map((r) => r.cpuSeconds)),
      tsxCpuSeconds: median(tsx.map((r) => r.cpuSeconds)),
      tsxModuleCpuSeconds: median(tsx.map((r) => r.moduleCpuSeconds ?? 0)),
      load: `${loadBefore.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}`,
      batches: ours[0]?.batches ?? 0,
      filesWritten: ours[0]?.files ?? 0,
      peakRssMiB: Math.round(Math.max(...ours.map((r) => r.maxRssKiB)) / 1024),
      duckdbPeakRssMiB: Math.round(Math.max(...duck.map((r) => r.maxRssKiB)) / 1024),
    },
  };
}

const benchmark: Benchmark = {
  name: 'ingest',
  description: 'NDJSON → bronze through lakeloop ingest vs DuckDB read_ndjson → Parquet COPY, same file: one big batch, and the default project on a bulk file',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const events = context.quick ? 100_000 : 1_000_000;
    const runs = context.quick ? 2 : 3;
    const file = join(context.workDir, 'orders.ndjson');
    const random = seededRandom(7);
    const bytes = await writeLines(file, events, (n) => orderLine(n, random));
    context.log(`generated ${events} events, ${(bytes / 1e6).toFixed(0)} MB`);
    const engine = await Engine.create({});
    const results: BenchResult[] = [];
    try {
      const lakeloop: number[] = [];
      const duckdb: number[] = [];
      const lakeloopCpu: number[] = [];
      const duckdbCpu: number[] = [];
      const loadBefore = loadavg()[0] ?? 0;
      let files = 0;
      for (let i = 0; i < runs; i++) {
        const lake = await Lake.open({ store: await LocalObjectStore.create(join(context.workDir, `lake-${i}`)), engine });
        const ours = await timedCpu(() => ingestFile({ lake, contract, input: file }));
        const summary = ours.result;
        lakeloop.push(ours.seconds);
        lakeloopCpu.push(ours.cpuSeconds);
        files = summary.files;
        if (summary.landed !== events) throw new Error(`expected ${events} landed, got ${summary.landed} (${summary.quarantined} quarantined)`);
        const duck = await timedCpu(() =>
          engine.run(`COPY (SELECT * FROM read_ndjson(${quoteLiteral(file)})) TO ${quoteLiteral(join(context.workDir, `duck-${i}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`),
        );
        duckdb.push(duck.seconds);
        duckdbCpu.push(duck.cpuSeconds);
        context.log(
          `run ${i + 1}/${runs}: lakeloop ${ours.seconds.toFixed(2)} s / ${ours.cpuSeconds.toFixed(2)} s CPU, duckdb ${duck.seconds.toFixed(2)} s / ${duck.cpuSeconds.toFixed(2)} s CPU, load ${(loadavg()[0] ?? 0).toFixed(1)}`,
        );
      }
      const value = events / median(lakeloop);
      const baseline = events / median(duckdb);
      results.push({
        name: 'ingest',
        value: Math.round(value),
        unit: 'events/s',
        baseline: Math.round(baseline),
        ratio: value / baseline,
        target: '>= 0.5',
        details: {
          events,
          megabytes: Math.round(bytes / 1e6),
          lakeloopSeconds: median(lakeloop),
          duckdbSeconds: median(duckdb),
          cpuRatio: median(duckdbCpu) / median(lakeloopCpu),
          lakeloopCpuSeconds: median(lakeloopCpu),
          duckdbCpuSeconds: median(duckdbCpu),
          load: `${loadBefore.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}`,
          filesWritten: files,
          // this process's peak so far: both sides of this case, in-process
          peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        },
      });
    } finally {
      await engine.close();
    }
    const bulkEvents = Number(process.env['LAKELOOP_BENCH_INGEST_EVENTS'] ?? (context.quick ? 1_000_000 : 10_000_000));
    const pairs = context.quick ? 1 : 2;
    results.push(await bulkCase(context, 'ingest-bulk', bulkEvents, 60, pairs));
    results.push(await bulkCase(context, 'ingest-one-day', context.quick ? 200_000 : 1_000_000, 1, context.quick ? 1 : 3));
    return results;
  },
};

export default benchmark;
