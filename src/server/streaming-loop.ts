import { performance } from 'node:perf_hooks';
import { TableNotFound } from '../core/index.js';
import type { Model } from '../models/index.js';
import type { Metrics } from '../observe/index.js';
import type { ResolvedBudgets } from '../config/index.js';
import { checkScanBudget, estimateScan, NULL_PARTITION, runModels, type ModelRunSummary, type ScanBudgetCheck } from '../runner/index.js';
import { compactTable, type CompactionResult, type Lake, type PartitionSpec } from '../table/index.js';

/** Options of the streaming loop. */
export interface StreamingLoopOptions {
  /** The lake, on the loop's own DuckDB instance (`lake.withEngine(...)`), so runs never share a connection with landing. */
  readonly lake: Lake;
  /** The project's models in DAG order. */
  readonly models: readonly Model[];
  /** Bronze table → event-time column (the watermark's source). */
  readonly eventTimeColumns: Readonly<Record<string, string>>;
  /** How often bronze's logs are checked for new commits (default 250 ms); `nudge()` checks at once. */
  readonly pollMs?: number;
  /**
   * `full` models run on the streaming path at most this often (default 30 s; 0: every run).
   * A full model recomputes its whole table, so its cost grows with the table, not with
   * the change: run on every micro-batch, it would slow every incremental model behind it
   * more as the day goes on. The other models run on every new bronze commit.
   */
  readonly fullModelEveryMs?: number;
  /** The time `fullModelEveryMs` is measured in (default `performance.now()`; tests step it). */
  readonly nowMs?: () => number;
  readonly metrics?: Metrics | undefined;
  /** Told after each run (one summary per model) and on failures. */
  readonly onRun?: ((summaries: readonly ModelRunSummary[], seconds: number) => void) | undefined;
  readonly onError?: ((error: unknown) => void) | undefined;
  /**
   * Merging the small files streaming runs leave in the models' tables, and those landing
   * leaves in the bronze tables the models read; `false` turns it off.
   */
  readonly compaction?: StreamingCompaction | false;
  /** Told after each compaction commit (model and bronze tables), and of a compaction that failed (tried again next round). */
  readonly onCompact?: ((result: CompactionResult) => void) | undefined;
  readonly onCompactError?: ((table: string, error: unknown) => void) | undefined;
  /** Maps the models due to what a run executes (`publishedModels`: an edited model runs as published until `lakeloop apply`). */
  readonly modelsForRun?: ((models: readonly Model[]) => Promise<readonly Model[]>) | undefined;
  /**
   * `budgets.maxBytesScannedPerRun`, checked before each cycle as `lakeloop run` checks it:
   * over it in `refuse` mode the cycle reads nothing and is skipped (it is tried again on the
   * next bronze commit); in `warn` mode it runs. Either way `onBudget` hears each check.
   */
  readonly budgets?: ResolvedBudgets | undefined;
  /** Told every budget check (within the budget too, so a breach's recovery is seen). */
  readonly onBudget?: ((check: ScanBudgetCheck) => void) | undefined;
}

/**
 * Every streaming run adds a file or two to today's partition of each model it writes, and
 * every collector batch one to each event date's partition of bronze. So that reads stay
 * fast all day, the loop merges them between runs: every `everyMs`, each model table
 * written since and each bronze table the models read that got commits since is compacted,
 * one table per cycle (`compactTable`, one `OPTIMIZE` commit without data change), where a
 * partition holds `minFiles` small files older than `minAgeMs`; the newest files stay
 * small, so a re-sent key rewrites a small file. A model table is compacted in the
 * partitions the runs rewrote (never a cold one, which is reconcile's); a bronze table in
 * any partition (late data lands in cold ones; nothing but compaction removes bronze
 * files, and landing's blind appends never conflict with it).
 */
export interface StreamingCompaction {
  readonly everyMs: number;
  readonly minFiles: number;
  readonly minAgeMs: number;
  readonly targetFileBytes: number;
}

/** What one cycle of the loop did (`step()` returns it). */
export interface StreamingCycle {
  /** false when nothing was due; `reason` says why. */
  readonly ran: boolean;
  readonly reason?: string;
  /** One per model that ran or was up to date (empty when nothing ran). */
  readonly summaries: readonly ModelRunSummary[];
  /** The run's failures (each also told to `onError`). */
  readonly errors: readonly unknown[];
  readonly seconds: number;
  /** The scan-budget check of the cycle, when a budget is set and the cycle had work. */
  readonly budget?: ScanBudgetCheck;
}

/** The cycle running now: the models it runs, in order, and those done. */
export interface StreamingActivity {
  readonly startedAt: string;
  readonly models: readonly string[];
  readonly done: readonly string[];
  /** The model running now (the first not done); null between models. */
  readonly running: string | null;
}

/** How often `full` models run on the streaming path by default. */
export const DEFAULT_FULL_MODEL_EVERY_MS = 30_000;

export const DEFAULT_STREAMING_COMPACTION: StreamingCompaction = Object.freeze({
  everyMs: 30_000,
  minFiles: 10,
  minAgeMs: 60_000,
  targetFileBytes: 32 * 1024 * 1024,
});

/**
 * The streaming path of `serve` (SPEC §7): after bronze commits, the DAG runs
 * incrementally. Commits that pile up while a run is going are coalesced into the next
 * run (it reads everything new since the versions its models consumed), so the loop never
 * queues more than one run. Bronze is watched through its logs, whichever path landed the
 * data (collector, file drop, API pull, or `lakeloop ingest` in another process).
 * `pause()` holds it (landing goes on; the next cycle reads all of it), `step()` runs one
 * cycle at a time, `resume()` lets it follow bronze again (the console's controls).
 *
 * @example
 * const loop = new StreamingLoop({ lake: lake.withEngine(loopEngine), models: dag.models, eventTimeColumns });
 * loop.start();
 * collectorOptions.onBatch = () => loop.nudge();
 * await loop.stop();
 */
export class StreamingLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private seen = new Map<string, number>();
  /** When the loop first saw bronze data that no run has processed yet (epoch ms). */
  private pendingSinceMs: number | undefined;
  private runs = 0;
  private failures = 0;
  private retryAtMs = 0;
  /** Each model's latest summary, updated as each model's run ends (so `/status` shows a commit at once). */
  private lastByModel = new Map<string, ModelRunSummary>();
  /** Model tables written since the last compaction, and when that was. */
  /** Model table → the partitions streaming runs rewrote since it was last queued for compaction. */
  private written = new Map<string, Map<string, PartitionSpec>>();
  /** Bronze tables the models read that got commits since they were last queued for compaction. */
  private bronzeLanded = new Set<string>();
  /** Tables to compact, one per cycle, with their partitions (undefined: every partition, bronze). */
  private compactQueue: [string, Map<string, PartitionSpec> | undefined][] = [];
  private compactedAtMs = Date.now();
  /** Full model → when its last streaming run started (`nowMs`). */
  private fullRunAt = new Map<string, number>();
  /** Full model left out of runs → since when its data has waited (epoch ms): its freshness counts from there. */
  private fullWaitingSince = new Map<string, number>();
  /** After a failed run, the retry runs every model (a stale full model may be the cause). */
  private runAllNext = false;
  /** Models that failed in the last run, and those downstream of them: left out until the retry is due. */
  private held = new Set<string>();
  /** Paused: the poll and `nudge()` start no cycle; `step()` runs one. Landing is not the loop's, so it goes on. */
  private pausedFlag = false;
  private current: { startedMs: number; models: string[]; done: string[] } | undefined;

  constructor(private readonly options: StreamingLoopOptions) {}

  /** Starts polling. */
  start(): void {
    const poll = (): void => {
      if (this.stopped) return;
      this.nudge();
      this.timer = setTimeout(poll, this.options.pollMs ?? 250);
      this.timer.unref();
    };
    poll();
  }

  /** Checks for new bronze commits now (a batch just landed); coalesces with a run in flight. */
  nudge(): void {
    if (this.stopped || this.pausedFlag) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.launch();
  }

  /** Whether `pause()` holds the loop (until `resume()`). */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /** The cycle running now, or null. */
  get activity(): StreamingActivity | null {
    const c = this.current;
    if (!c) return null;
    return { startedAt: new Date(c.startedMs).toISOString(), models: [...c.models], done: [...c.done], running: c.models.find((m) => !c.done.includes(m)) ?? null };
  }

  /**
   * Holds the streaming path: no new cycle starts (bronze keeps landing; the next cycle
   * reads all of it). Resolves once the cycle in flight, if any, has ended, so no model
   * commits after it.
   */
  async pause(): Promise<void> {
    this.pausedFlag = true;
    this.again = false;
    while (this.running) await this.running;
  }

  /** Lets the poll start cycles again, and checks bronze at once. */
  resume(): void {
    this.pausedFlag = false;
    this.nudge();
  }

  /** Pauses (see `pause()`), then runs exactly one cycle and says what it did. */
  async step(): Promise<StreamingCycle> {
    await this.pause();
    if (this.stopped) return { ran: false, reason: 'the loop is stopping', summaries: [], errors: [], seconds: 0 };
    return this.launch();
  }

  private launch(): Promise<StreamingCycle> {
    const cycle = this.cycle();
    this.running = cycle.then(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.nudge();
      }
    });
    return cycle;
  }

  /**
   * Stops polling and waits for the run in flight (its commit lands or it does not: never
   * half); with `drain`, then runs once more over what landed meanwhile (graceful shutdown).
   */
  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (options.drain) {
      this.retryAtMs = 0;
      await this.cycle({ allModels: true });
    }
  }

  /** Runs completed so far, and each model's latest summary (updated as soon as that model's run ends, mid-cycle included). */
  get state(): { runs: number; last: readonly ModelRunSummary[] } {
    return { runs: this.runs, last: this.options.models.flatMap((m) => this.lastByModel.get(m.name) ?? []) };
  }

  private async cycle(options: { allModels?: boolean } = {}): Promise<StreamingCycle> {
    const startedMs = performance.now();
    try {
      // Until the retry is due, the models that failed (and those reading them) are left out,
      // the others go on; a failure outside any model (the store) holds everything back.
      const waiting = Date.now() < this.retryAtMs;
      if (waiting && this.held.size === 0) return idle(`waiting to retry after a failed run (at ${new Date(this.retryAtMs).toISOString()})`);
      const retryDue = !waiting && this.held.size > 0;
      const started = performance.now();
      const clock = this.options.nowMs?.() ?? started;
      const due = incrementalFirst(options.allModels || (this.runAllNext && !waiting) ? this.options.models : this.modelsDue(clock));
      const models = waiting ? due.filter((m) => !this.held.has(m.name)) : due;
      // Full models left out of earlier runs catch up once due, even when bronze is quiet.
      const fullDue = models.some((m) => this.fullWaitingSince.has(m.name));
      if (!(await this.bronzeChanged()) && !fullDue && !retryDue) return idle('no new bronze commit since the last run');
      this.pendingSinceMs ??= Date.now();
      const since = this.pendingSinceMs;
      const runnable = this.options.modelsForRun ? await this.options.modelsForRun(models) : models;
      const budget = await this.checkBudget(runnable);
      // Refused: nothing is read; the next bronze commit (or a raised budget after a restart) tries again.
      if (budget?.over && budget.mode === 'refuse') return { ...idle(`skipped: ${budget.message as string}`), budget };
      const current = { startedMs: Date.now(), models: runnable.map((m) => m.name), done: [] as string[] };
      this.current = current;
      const { outcomes, summaries, failures } = await runModels(this.options.lake, runnable, {
        eventTimeColumns: this.options.eventTimeColumns,
        onModelDone: (summary) => {
          this.lastByModel.set(summary.model, summary);
          current.done.push(summary.model);
        },
      }).finally(() => {
        this.current = undefined;
      });
      const seconds = (performance.now() - started) / 1000;
      this.runs += 1;
      const ran = new Set(summaries.map((s) => s.model));
      for (const model of this.options.models) {
        if (model.header.kind !== 'full') continue;
        if (ran.has(model.name)) this.fullRunAt.set(model.name, clock);
        else if (!this.fullWaitingSince.has(model.name)) this.fullWaitingSince.set(model.name, since);
      }
      for (const s of summaries) {
        this.options.metrics?.recordModelRun({
          model: s.model,
          status: s.skipped ? 'skipped' : 'success',
          rows: s.rowsOut,
          deferredLate: Object.values(s.deferred).reduce((a, b) => a + b, 0),
          ...(s.lateness && Object.keys(s.lateness).length ? { maxLatenessSeconds: Math.max(...Object.values(s.lateness)) } : {}),
          seconds: s.seconds,
          cost: s.cost,
        });
        // A full model's data waited since the first run that left it out.
        const waitedSince = Math.min(since, this.fullWaitingSince.get(s.model) ?? since);
        if (!s.skipped) this.options.metrics?.observeFreshness(s.model, (Date.now() - waitedSince) / 1000);
        this.fullWaitingSince.delete(s.model);
      }
      this.options.onRun?.(summaries, seconds);
      for (const s of summaries) this.noteWritten(s);
      // The models that failed (and those reading them) did not hold the others back; the run is tried again.
      if (failures.length) {
        const held = outcomes.filter((o) => o.status !== 'ok').map((o) => o.model);
        this.retryLater(failures.map((f) => f.error), waiting ? [...this.held, ...held] : held);
      } else if (!waiting) {
        this.pendingSinceMs = undefined;
        this.failures = 0;
        this.runAllNext = false;
        this.held.clear();
      }
      await this.compactWritten();
      return { ran: true, summaries, errors: failures.map((f) => f.error), seconds, ...(budget ? { budget } : {}) };
    } catch (error) {
      this.retryLater([error], []);
      return { ran: true, summaries: [], errors: [error], seconds: (performance.now() - startedMs) / 1000 };
    }
  }

  /** The cycle's scan estimate against `budgets.maxBytesScannedPerRun` (undefined without one), told to `onBudget`. */
  private async checkBudget(models: readonly Model[]): Promise<ScanBudgetCheck | undefined> {
    const budgets = this.options.budgets;
    if (budgets?.maxBytesScannedPerRun === undefined) return undefined;
    const estimate = await estimateScan(this.options.lake, models, { eventTimeColumns: this.options.eventTimeColumns });
    const check = checkScanBudget(estimate, budgets, { what: 'The streaming cycle', instead: 'run the full models less often (serve --full-every)' });
    if (check) this.options.onBudget?.(check);
    return check;
  }

  /**
   * Try again on the same data after a pause that doubles with each failed run in a row (1 s … 60 s);
   * `held`: the models left out until then (none: everything waits).
   */
  private retryLater(errors: readonly unknown[], held: readonly string[]): void {
    this.held = new Set(held);
    this.seen.clear();
    this.failures += 1;
    this.runAllNext = true;
    this.retryAtMs = Date.now() + Math.min(60_000, 1_000 * 2 ** (this.failures - 1));
    for (const error of errors) {
      const model = (error as { model?: unknown }).model;
      if (typeof model === 'string') this.options.metrics?.recordModelRun({ model, status: 'failed', rows: 0, seconds: 0 });
      this.options.onError?.(error);
    }
  }

  /** The models this run includes: all but the `full` ones that ran less than `fullModelEveryMs` ago. */
  private modelsDue(nowMs: number): readonly Model[] {
    const everyMs = this.options.fullModelEveryMs ?? DEFAULT_FULL_MODEL_EVERY_MS;
    return this.options.models.filter((model) => {
      if (model.header.kind !== 'full') return true;
      const last = this.fullRunAt.get(model.name);
      return last === undefined || nowMs - last >= everyMs;
    });
  }

  /**
   * The partitions a streaming run rewrote: partitions at or ahead of its horizon, the only
   * ones compaction touches, so it never races a reconcile over cold partitions. A run that
   * replaced a whole table (`full`) leaves no small files behind.
   */
  private noteWritten(summary: ModelRunSummary): void {
    if (summary.skipped || summary.partitions === 'all' || summary.partitions.length === 0) return;
    const column = this.options.models.find((m) => m.name === summary.model)?.header.partitionBy[0];
    if (column === undefined) return;
    const specs = this.written.get(summary.model) ?? new Map<string, PartitionSpec>();
    for (const value of summary.partitions) specs.set(value, { [column]: value === NULL_PARTITION ? null : value });
    this.written.set(summary.model, specs);
  }

  /**
   * Once `everyMs` has passed, the tables written since (and the bronze tables landed in
   * since) are queued for compaction, and each
   * cycle compacts one of them: the work is spread over cycles, so no single cycle waits
   * for every table. A failure is reported and the table is queued again next round.
   */
  private async compactWritten(): Promise<void> {
    const settings = this.options.compaction === undefined ? DEFAULT_STREAMING_COMPACTION : this.options.compaction;
    if (settings === false) return;
    if (this.compactQueue.length === 0) {
      if ((this.written.size === 0 && this.bronzeLanded.size === 0) || Date.now() - this.compactedAtMs < settings.everyMs) return;
      this.compactedAtMs = Date.now();
      // The models' tables first: their files are what the runs read back (key merges).
      this.compactQueue.push(...this.written, ...[...this.bronzeLanded].map((name) => [name, undefined] as [string, undefined]));
      this.written.clear();
      this.bronzeLanded.clear();
    }
    const [name, specs] = this.compactQueue.shift() as [string, Map<string, PartitionSpec> | undefined];
    try {
      const table = await this.options.lake.table(name);
      const result = await compactTable(table, {
        minFiles: settings.minFiles,
        targetFileBytes: settings.targetFileBytes,
        modifiedBefore: this.options.lake.nowMs() - settings.minAgeMs,
        ...(specs ? { partitions: [...specs.values()] } : {}),
        attempts: 1,
      });
      if (result.committed) {
        // Bronze's new version is only the compaction: no cycle needs to run for it (a run
        // would find no data change anyway). Versions landed meanwhile are still unseen.
        if (!specs && this.seen.get(name) === result.version - 1) this.seen.set(name, result.version);
        this.options.onCompact?.(result);
      }
    } catch (error) {
      // A writer that removed one of the merged files meanwhile wins; the next round tries again.
      if (specs) {
        const again = this.written.get(name) ?? new Map<string, PartitionSpec>();
        for (const [value, spec] of specs) again.set(value, spec);
        this.written.set(name, again);
      } else this.bronzeLanded.add(name);
      this.options.onCompactError?.(name, error);
    }
  }

  /** Whether any bronze table the models read has a version the loop has not run on. */
  private async bronzeChanged(): Promise<boolean> {
    const sources = new Set(this.options.models.flatMap((m) => m.upstream.filter((u) => u.startsWith('bronze.'))));
    let changed = false;
    for (const name of sources) {
      let version: number;
      try {
        version = (await (await this.options.lake.table(name)).snapshot()).version;
      } catch (error) {
        if (error instanceof TableNotFound) continue;
        throw error;
      }
      if (this.seen.get(name) !== version) {
        changed = true;
        this.bronzeLanded.add(name);
      }
      this.seen.set(name, version);
    }
    return changed;
  }
}

function idle(reason: string): StreamingCycle {
  return { ran: false, reason, summaries: [], errors: [], seconds: 0 };
}

/**
 * The models in a dependency order that runs the incremental ones as early as their inputs
 * allow and the `full` ones as late: a full model recomputes its whole table, and an
 * incremental model that does not read it should not wait for it.
 */
export function incrementalFirst(models: readonly Model[]): Model[] {
  const names = new Set(models.map((m) => m.name));
  const placed = new Set<string>();
  const order: Model[] = [];
  const ready = (m: Model): boolean => m.upstream.every((u) => !names.has(u) || placed.has(u));
  while (order.length < models.length) {
    const left = models.filter((m) => !placed.has(m.name));
    const next = left.find((m) => m.header.kind !== 'full' && ready(m)) ?? left.find(ready) ?? (left[0] as Model);
    order.push(next);
    placed.add(next.name);
  }
  return order;
}
