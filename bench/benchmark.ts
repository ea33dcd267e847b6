/** One measured number, printed with its plain-DuckDB baseline from the same run. */
export interface BenchResult {
  /** e.g. `query`, `snapshot-read`, `ingest`. */
  readonly name: string;
  /** lakeloop's measurement. */
  readonly value: number;
  /** e.g. `s`, `ms`, `events/s`. */
  readonly unit: string;
  /** the same measurement done by plain DuckDB (or the reference path) in the same run; null where none applies. */
  readonly baseline: number | null;
  /** how the two compare, as the benchmark defines it (usually value ÷ baseline); null where none applies. */
  readonly ratio: number | null;
  /** the target for `ratio` (or `value`), as text, e.g. `<= 1.1`. */
  readonly target: string | null;
  /** anything else worth printing (sizes, counts, percentiles). */
  readonly details?: Readonly<Record<string, number | string>>;
}

/** What a benchmark gets from the harness. */
export interface BenchContext {
  /** a fresh temp directory, removed afterwards. */
  readonly workDir: string;
  /** smaller data for a quick check (`--quick`). */
  readonly quick: boolean;
  /** progress lines go here (stderr), never to stdout. */
  log(message: string): void;
}

/** A benchmark: a module in bench/benchmarks/ whose default export is one of these. */
export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(context: BenchContext): Promise<BenchResult[]>;
}
