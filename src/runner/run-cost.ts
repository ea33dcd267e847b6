import type { AddAction } from '../table/index.js';

/**
 * What one model's run cost: the data files it opened and wrote (their `add.size`, the
 * bytes as stored), the CPU time of the process while it ran (DuckDB's threads included)
 * and the largest resident memory sampled meanwhile.
 *
 * @example
 * { filesRead: 4, bytesRead: 18_220, filesWritten: 2, bytesWritten: 3_104, cpuSeconds: 0.31, peakRssBytes: 201_326_592 }
 */
export interface ModelCost {
  /** Distinct data files the run bound or scanned (a file probed for a few columns counts whole). */
  readonly filesRead: number;
  readonly bytesRead: number;
  /** Data files the run's commit added. */
  readonly filesWritten: number;
  readonly bytesWritten: number;
  /** User + system CPU of the process during the run. */
  readonly cpuSeconds: number;
  /** The process's largest resident set size sampled during the run. */
  readonly peakRssBytes: number;
}

/** How often the resident set size is sampled while a model runs. */
const RSS_SAMPLE_MS = 50;

/**
 * Measures one model's run: files read and written are added as the runner binds and
 * commits them (a file read twice counts once); CPU and memory are taken from the process.
 *
 * @example
 * const meter = CostMeter.start();
 * meter.read('bronze.sales', snapshot.files);
 * meter.wrote(commit.adds);
 * const cost = meter.finish();
 */
export class CostMeter {
  private readonly readFiles = new Map<string, number>();
  private filesWritten = 0;
  private bytesWritten = 0;
  private peakRss: number;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly cpuAtStart: NodeJS.CpuUsage) {
    this.peakRss = process.memoryUsage.rss();
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
    // A sampler must never keep the process alive.
    this.timer.unref();
  }

  static start(): CostMeter {
    return new CostMeter(process.cpuUsage());
  }

  /** Files of `table` the run reads. */
  read(table: string, files: readonly AddAction[]): void {
    for (const file of files) this.readFiles.set(`${table}/${file.path}`, file.size);
  }

  /** Files the run's commit added. */
  wrote(files: readonly AddAction[]): void {
    this.filesWritten += files.length;
    for (const file of files) this.bytesWritten += file.size;
  }

  /** Stops sampling and returns the cost so far. */
  finish(): ModelCost {
    clearInterval(this.timer);
    this.sample();
    const cpu = process.cpuUsage(this.cpuAtStart);
    let bytesRead = 0;
    for (const size of this.readFiles.values()) bytesRead += size;
    return Object.freeze({
      filesRead: this.readFiles.size,
      bytesRead,
      filesWritten: this.filesWritten,
      bytesWritten: this.bytesWritten,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssBytes: this.peakRss,
    });
  }

  private sample(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }
}
