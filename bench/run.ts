// The benchmark harness: `npm run bench -- [name...] [--json] [--quick]`.
// Runs each benchmark of bench/benchmarks/ (all by default) in a fresh temp workDir and
// prints name, value, unit, baseline, ratio and target; `--json` adds one JSON array as
// the last line of stdout. Progress goes to stderr. Benchmarks never assert time: the
// `met` column only compares the ratio with the target's text.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Benchmark, BenchContext, BenchResult } from './benchmark.js';

const BENCH_DIR = join(import.meta.dirname, 'benchmarks');

interface Args {
  readonly names: string[];
  readonly json: boolean;
  readonly quick: boolean;
  readonly help: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const names: string[] = [];
  let json = false;
  let quick = false;
  let help = false;
  for (const arg of argv) {
    if (arg === '--json') json = true;
    else if (arg === '--quick') quick = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg} (expected --json, --quick, --help)`);
    else names.push(arg);
  }
  return { names, json, quick, help };
}

async function discover(): Promise<Map<string, Benchmark>> {
  const files = (await readdir(BENCH_DIR)).filter((f) => f.endsWith('.ts')).sort();
  const found = new Map<string, Benchmark>();
  for (const file of files) {
    const module = (await import(pathToFileURL(join(BENCH_DIR, file)).href)) as { default?: Benchmark };
    const bench = module.default;
    if (!bench || typeof bench.run !== 'function' || typeof bench.name !== 'string') {
      throw new Error(`bench/benchmarks/${file} must default-export a Benchmark ({ name, description, run })`);
    }
    found.set(bench.name || basename(file, '.ts'), bench);
  }
  return found;
}

/** Whether `ratio` (or `value` when there is no ratio) meets a target like `<= 1.1` or `>= 0.5`. */
function meets(result: BenchResult): boolean | null {
  const match = /^\s*(<=|>=|<|>)\s*([\d.]+)/.exec(result.target ?? '');
  if (!match) return null;
  const actual = result.ratio ?? result.value;
  const limit = Number(match[2]);
  switch (match[1]) {
    case '<=':
      return actual <= limit;
    case '>=':
      return actual >= limit;
    case '<':
      return actual < limit;
    default:
      return actual > limit;
  }
}

function num(n: number | null): string {
  if (n === null) return '-';
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(3).replace(/\.?0+$/, (m) => (m.startsWith('.') || m === '' ? '' : m));
}

function table(results: readonly BenchResult[]): string {
  const header = ['name', 'value', 'unit', 'baseline', 'ratio', 'target', 'met'];
  const rows = results.map((r) => {
    const met = meets(r);
    return [r.name, num(r.value), r.unit, num(r.baseline), num(r.ratio), r.target ?? '-', met === null ? '-' : met ? 'yes' : 'NO'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = [false, true, false, true, true, false, false];
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (right[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const r of results) {
    if (r.details && Object.keys(r.details).length > 0) {
      out.push(`  ${r.name}: ${Object.entries(r.details).map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : v}`).join(', ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

async function runOne(bench: Benchmark, quick: boolean): Promise<BenchResult[]> {
  const workDir = await mkdtemp(join(tmpdir(), `lakeloop-bench-${bench.name}-`));
  const context: BenchContext = {
    workDir,
    quick,
    log: (message) => process.stderr.write(`[${bench.name}] ${message}\n`),
  };
  const started = performance.now();
  try {
    context.log(`${bench.description}${quick ? ' (quick)' : ''}`);
    const results = await bench.run(context);
    context.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return results;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function runBenchmarks(argv: readonly string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 2;
  }
  const available = await discover();
  if (args.help) {
    process.stdout.write('usage: npm run bench -- [name...] [--json] [--quick]\n\nbenchmarks:\n');
    for (const bench of available.values()) process.stdout.write(`  ${bench.name.padEnd(16)} ${bench.description}\n`);
    return 0;
  }
  const unknown = args.names.filter((n) => !available.has(n));
  if (unknown.length > 0) {
    process.stderr.write(`error: no benchmark named ${unknown.join(', ')}; available: ${[...available.keys()].join(', ')}\n`);
    return 2;
  }
  const selected = args.names.length > 0 ? args.names.map((n) => available.get(n) as Benchmark) : [...available.values()];
  const results: BenchResult[] = [];
  let failed = 0;
  for (const bench of selected) {
    try {
      results.push(...(await runOne(bench, args.quick)));
    } catch (error) {
      failed++;
      process.stderr.write(`[${bench.name}] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
  process.stdout.write(table(results));
  if (args.json) {
    const json = results.map((r) => ({
      name: r.name,
      value: r.value,
      unit: r.unit,
      baseline: r.baseline,
      ratio: r.ratio,
      target: r.target,
      met: meets(r),
      ...(r.details ? { details: r.details } : {}),
    }));
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await runBenchmarks(process.argv.slice(2));
