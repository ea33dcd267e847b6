import { createRequire } from 'node:module';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { systemClock, type Clock } from '../core/index.js';
import type { LandingCounts } from '../ingest/index.js';
import { RateWindow } from './rate-window.js';

const require = createRequire(import.meta.url);

/**
 * prom-client, loaded when the first `Metrics` is made (serve), not when this folder is
 * imported: every command that imports `observe` (ingest and run, for lineage) would
 * otherwise pay ~70 ms of CPU loading it. A CommonJS package, so `require` loads it at once.
 */
function promClient(): typeof import('prom-client') {
  return require('prom-client') as typeof import('prom-client');
}

/** How a model run ended. */
export type ModelRunStatus = 'success' | 'failed' | 'skipped';

/** One model run, as the runner (or the streaming loop) reports it. */
export interface ModelRunObservation {
  /** `layer.name`, e.g. `silver.orders`. */
  readonly model: string;
  readonly status: ModelRunStatus;
  /** Rows the run wrote. */
  readonly rows: number;
  /** Rows older than the lateness horizon that the run left for reconciliation (SPEC §7). */
  readonly deferredLate?: number;
  /** How late those rows were at most, in seconds of event time (watermark at landing − event time). */
  readonly maxLatenessSeconds?: number;
  readonly seconds: number;
  /** What the run read, wrote and used (`ModelRunSummary.cost`); counted when given. */
  readonly cost?: { readonly bytesRead: number; readonly bytesWritten: number; readonly cpuSeconds: number };
}

/** Landing counts with what only some paths know: how many batches and input bytes they were. */
export type LandingObservation = LandingCounts & {
  /** Default: 1 when the counts committed anything, else 0. */
  readonly batches?: number;
  /** Input bytes committed (to bronze or quarantine); default 0. */
  readonly bytes?: number;
  /** The bronze table's version the batch committed (lineage of landings), where known. */
  readonly bronzeVersion?: number;
};

export interface MetricsOptions {
  readonly clock?: Clock;
  /** The span of the rates; default 60 s. */
  readonly windowMs?: number;
  /** Node.js process metrics (CPU, memory, event loop, GC) in `text()`; default true. */
  readonly processMetrics?: boolean;
  /** A source whose records wait longer than this on average, or see no commit this long, raises the backlog alert; default 10 s. */
  readonly maxPendingSeconds?: number;
  /** Fewer waiting records never count as a growing backlog (a stall still does); default 100. */
  readonly minBacklogRecords?: number;
}

/** Per-second rates over the window. */
export interface SourceRates {
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
  readonly bytes: number;
}

/** One source's counters since the process started. */
export interface SourceCounters {
  readonly source: string;
  /** Records that arrived (the collector counts them when accepted, before they land). */
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
  /** Re-delivered records skipped because their batch or request key had landed before. */
  readonly duplicates: number;
  /** Accepted records whose batch failed to commit (the producer was told to retry). */
  readonly failed: number;
  /** Received and not yet landed, quarantined, skipped or failed. */
  readonly pending: number;
  readonly batches: number;
  readonly bytes: number;
  readonly lastLandingAt: string | null;
  readonly perSecond: SourceRates;
}

/** One model's counters since the process started. */
export interface ModelCounters {
  readonly model: string;
  readonly runs: Readonly<Record<ModelRunStatus, number>>;
  readonly rowsTransformed: number;
  readonly deferredLate: number;
  /** The largest lateness (seconds of event time) of the rows deferred so far; null before any. */
  readonly maxLatenessSeconds: number | null;
  readonly rowsTransformedPerSecond: number;
  readonly lastRun: { readonly status: ModelRunStatus; readonly rows: number; readonly seconds: number; readonly at: string } | null;
  /** Event accepted → visible in gold, as last observed; null before the first observation. */
  readonly freshnessSeconds: number | null;
}

/** SPEC §8's alert: ingest, landing and transform rates diverge (a growing backlog). */
export interface BacklogAlert {
  readonly active: boolean;
  /** One sentence per cause, naming the source or model. */
  readonly reasons: readonly string[];
}

/** The partition state `/metrics` exposes: completeness SLOs per model, held partitions per table. */
export interface SloState {
  readonly completeness: readonly { readonly model: string; readonly met: boolean; readonly pendingLateRows: number; readonly notExact: readonly string[]; readonly exactShare: number }[];
  readonly held: readonly { readonly table: string; readonly partitions: readonly string[] }[];
  /** The last scan-budget check per subject (`streaming`, `job:<name>`). */
  readonly budgets?: readonly { readonly subject: string; readonly over: boolean; readonly estimatedBytes: number; readonly budgetBytes: number }[];
  /** Each source's landed-vs-received completeness SLO over its window. */
  readonly sources?: readonly { readonly source: string; readonly met: boolean; readonly landedRatio: number; readonly received: number }[];
}

/** Everything `GET /status` reports about the pipeline's counters. */
export interface MetricsSnapshot {
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly windowSeconds: number;
  readonly sources: readonly SourceCounters[];
  readonly models: readonly ModelCounters[];
  readonly served: { readonly rows: number; readonly perSecond: number };
  readonly backlog: BacklogAlert;
}

interface SourceState {
  received: number;
  landed: number;
  quarantined: number;
  duplicates: number;
  failed: number;
  batches: number;
  bytes: number;
  lastLandingMs: number | null;
  /** When records last stopped waiting (landed, quarantined, skipped or failed). */
  lastProgressMs: number | null;
  /** When `pending` last rose from 0. */
  pendingSinceMs: number | null;
  readonly rates: { readonly received: RateWindow; readonly landed: RateWindow; readonly quarantined: RateWindow; readonly bytes: RateWindow };
}

interface ModelState {
  runs: Record<ModelRunStatus, number>;
  rowsTransformed: number;
  deferredLate: number;
  maxLatenessSeconds: number | null;
  readonly rate: RateWindow;
  lastRun: { status: ModelRunStatus; rows: number; seconds: number; atMs: number } | null;
  lastCompletedMs: number | null;
  freshnessSeconds: number | null;
}

const RUN_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The pipeline's counters (SPEC §8) on a private prom-client `Registry`: per source
 * received, landed, quarantined, duplicates skipped, batches, bytes; per model runs,
 * rows transformed, deferred-late rows, run seconds and freshness; rows served; plus the
 * Node.js process metrics. `text()` is the `/metrics` exposition; `snapshot()` the JSON
 * of `/status`, with rates over the last minute and the backlog alert.
 *
 * @example
 * const metrics = new Metrics();
 * metrics.recordReceived('orders', 100);
 * metrics.recordLanding({ source: 'orders', received: 100, landed: 98, quarantined: 2, duplicates: 0, files: 1, addedColumns: [] }, { receivedCounted: true });
 * metrics.recordModelRun({ model: 'silver.orders', status: 'success', rows: 98, seconds: 0.4 });
 * await metrics.text(); // 'lakeloop_records_landed_total{source="orders"} 98\n...'
 */
export class Metrics {
  readonly registry: Registry = new (promClient().Registry)();
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly startMs: number;
  private readonly maxPendingSeconds: number;
  private readonly minBacklogRecords: number;
  private readonly sources = new Map<string, SourceState>();
  private readonly models = new Map<string, ModelState>();
  private rowsServed = 0;
  private readonly servedRate: RateWindow;
  /** Model → how often it is meant to run at most (a full model on the streaming path). */
  private readonly runsEvery = new Map<string, number>();

  private readonly received: Counter<'source'>;
  private readonly landed: Counter<'source'>;
  private readonly quarantined: Counter<'source'>;
  private readonly duplicates: Counter<'source'>;
  private readonly failed: Counter<'source'>;
  private readonly batches: Counter<'source'>;
  private readonly bytes: Counter<'source'>;
  private readonly modelRuns: Counter<'model' | 'status'>;
  private readonly rowsTransformed: Counter<'model'>;
  private readonly deferredLate: Counter<'model'>;
  private readonly maxLateness: Gauge<'model'>;
  private readonly runSeconds: Histogram<'model'>;
  private readonly bytesRead: Counter<'model'>;
  private readonly bytesWritten: Counter<'model'>;
  private readonly cpuSeconds: Counter<'model'>;
  private readonly freshness: Gauge<'model'>;
  private readonly served: Counter;
  /** Where the completeness SLOs are read from at each scrape (`watchSlos`). */
  private slos: (() => SloState | undefined) | undefined;

  constructor(options: MetricsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.windowMs = options.windowMs ?? 60_000;
    this.startMs = this.clock.nowMs();
    this.maxPendingSeconds = options.maxPendingSeconds ?? 10;
    this.minBacklogRecords = options.minBacklogRecords ?? 100;
    this.servedRate = new RateWindow(this.windowMs, this.startMs);
    const { Counter, Gauge, Histogram } = promClient();
    const registers = [this.registry];
    const perSource = (name: string, help: string): Counter<'source'> => new Counter({ name, help, labelNames: ['source'], registers });
    const perModel = (name: string, help: string): Counter<'model'> => new Counter({ name, help, labelNames: ['model'], registers });
    this.received = perSource('lakeloop_records_received_total', 'Records that arrived at a source (counted when accepted, before landing).');
    this.landed = perSource('lakeloop_records_landed_total', 'Records committed to bronze.');
    this.quarantined = perSource('lakeloop_records_quarantined_total', 'Records committed to quarantine with their reasons.');
    this.duplicates = perSource('lakeloop_duplicates_skipped_total', 'Re-delivered records skipped because their batch or idempotency key had landed before.');
    this.failed = perSource('lakeloop_records_failed_total', 'Accepted records whose batch failed to commit; the producer was told to retry.');
    this.batches = perSource('lakeloop_batches_total', 'Batches committed.');
    this.bytes = perSource('lakeloop_bytes_landed_total', 'Input bytes committed to bronze or quarantine.');
    this.modelRuns = new Counter({ name: 'lakeloop_model_runs_total', help: 'Model runs by outcome.', labelNames: ['model', 'status'], registers });
    this.rowsTransformed = perModel('lakeloop_rows_transformed_total', 'Rows written by model runs.');
    this.deferredLate = perModel('lakeloop_deferred_late_rows_total', 'Rows older than the lateness horizon, left in bronze for reconciliation.');
    this.maxLateness = new Gauge({
      name: 'lakeloop_deferred_late_max_lateness_seconds',
      help: 'The largest lateness of the rows deferred for reconciliation, in event time (watermark at landing minus event time).',
      labelNames: ['model'],
      registers,
    });
    this.runSeconds = new Histogram({ name: 'lakeloop_model_run_seconds', help: 'Duration of model runs.', labelNames: ['model'], buckets: RUN_SECONDS_BUCKETS, registers });
    this.bytesRead = perModel('lakeloop_model_bytes_read_total', 'Data-file bytes model runs read (the files they bound or scanned).');
    this.bytesWritten = perModel('lakeloop_model_bytes_written_total', 'Data-file bytes model runs committed.');
    this.cpuSeconds = perModel('lakeloop_model_cpu_seconds_total', 'Process CPU seconds (DuckDB threads included) spent in model runs.');
    this.freshness = new Gauge({ name: 'lakeloop_freshness_seconds', help: 'Event accepted to visible in the model, as last observed.', labelNames: ['model'], registers });
    this.served = new Counter({ name: 'lakeloop_rows_served_total', help: 'Rows returned by queries.', registers });
    // Read at each scrape from the partition state (`watchSlos`), never stale by more than its last refresh.
    const slos = (): SloState | undefined => this.slos?.();
    const completenessGauge = (name: string, help: string, value: (c: SloState['completeness'][number]) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['model'],
        registers,
        collect() {
          this.reset();
          for (const c of slos()?.completeness ?? []) this.set({ model: c.model }, value(c));
        },
      });
    };
    completenessGauge('lakeloop_completeness_slo_met', 'Whether the model meets its completeness SLO (1) or breaches it (0).', (c) => (c.met ? 1 : 0));
    completenessGauge('lakeloop_completeness_pending_late_rows', 'Late rows of the model deferred behind the horizon that no reconcile has applied yet.', (c) => c.pendingLateRows);
    completenessGauge('lakeloop_completeness_partitions_not_exact', "Partitions older than the SLO's exact_after that are not exact.", (c) => c.notExact.length);
    completenessGauge('lakeloop_completeness_exact_share', "The share of the model table's partitions that are exact.", (c) => c.exactShare);
    const sourceGauge = (name: string, help: string, value: (c: NonNullable<SloState['sources']>[number]) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['source'],
        registers,
        collect() {
          this.reset();
          for (const c of slos()?.sources ?? []) this.set({ source: c.source }, value(c));
        },
      });
    };
    sourceGauge('lakeloop_source_completeness_slo_met', 'Whether the source meets its completeness SLO (landed vs received over its window): 1, or 0.', (c) => (c.met ? 1 : 0));
    sourceGauge('lakeloop_source_landed_ratio', "Records landed in bronze over records received (landed + quarantined) in the source's completeness window; 1 when none.", (c) => c.landedRatio);
    new Gauge({
      name: 'lakeloop_scan_estimate_bytes',
      help: 'The bytes the last streaming cycle or job was estimated to scan, checked against budgets.maxBytesScannedPerRun.',
      labelNames: ['subject'],
      registers,
      collect() {
        this.reset();
        for (const b of slos()?.budgets ?? []) this.set({ subject: b.subject }, b.estimatedBytes);
      },
    });
    new Gauge({
      name: 'lakeloop_scan_budget_over',
      help: 'Whether the last check of the subject was over budgets.maxBytesScannedPerRun (1: refused or warned).',
      labelNames: ['subject'],
      registers,
      collect() {
        this.reset();
        for (const b of slos()?.budgets ?? []) this.set({ subject: b.subject }, b.over ? 1 : 0);
      },
    });
    new Gauge({
      name: 'lakeloop_held_partitions',
      help: 'Partitions held by failing blocking tests in the last reconcile, per model table.',
      labelNames: ['table'],
      registers,
      collect() {
        this.reset();
        for (const h of slos()?.held ?? []) this.set({ table: h.table }, h.partitions.length);
      },
    });
    if (options.processMetrics ?? true) promClient().collectDefaultMetrics({ register: this.registry });
  }

  /** The `Content-Type` of `text()`: `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Records that arrived at a source, counted before they land so that a backlog shows. */
  recordReceived(source: string, records: number): void {
    if (records <= 0) return;
    const state = this.sourceState(source);
    if (this.pendingOf(state) === 0) state.pendingSinceMs = this.clock.nowMs();
    state.received += records;
    this.received.inc({ source }, records);
    state.rates.received.add(records, this.clock.nowMs());
  }

  /**
   * Counts a landing: records landed, quarantined and skipped as duplicates, batches and
   * bytes. Its `received` is counted too unless the caller already counted the arrival
   * with `recordReceived` (`receivedCounted`, as the collector does).
   */
  recordLanding(counts: LandingObservation, options: { readonly receivedCounted?: boolean } = {}): void {
    const { source } = counts;
    if (!options.receivedCounted) this.recordReceived(source, counts.received);
    const state = this.sourceState(source);
    const now = this.clock.nowMs();
    const batches = counts.batches ?? (counts.landed + counts.quarantined > 0 ? 1 : 0);
    const bytes = counts.bytes ?? 0;
    state.landed += counts.landed;
    state.quarantined += counts.quarantined;
    state.duplicates += counts.duplicates;
    state.batches += batches;
    state.bytes += bytes;
    if (batches > 0) state.lastLandingMs = now;
    if (counts.landed + counts.quarantined + counts.duplicates > 0) state.lastProgressMs = now;
    this.landed.inc({ source }, counts.landed);
    this.quarantined.inc({ source }, counts.quarantined);
    this.duplicates.inc({ source }, counts.duplicates);
    this.batches.inc({ source }, batches);
    this.bytes.inc({ source }, bytes);
    state.rates.landed.add(counts.landed, now);
    state.rates.quarantined.add(counts.quarantined, now);
    state.rates.bytes.add(bytes, now);
  }

  /** Accepted records whose batch failed to commit (they will arrive again when the producer retries). */
  recordFailed(source: string, records: number): void {
    if (records <= 0) return;
    const state = this.sourceState(source);
    state.failed += records;
    state.lastProgressMs = this.clock.nowMs();
    this.failed.inc({ source }, records);
  }

  /**
   * Says that `model` runs only every `everyMs` by design (a `full` model on the streaming
   * path): the backlog alert then allows it that long on top of the window.
   */
  expectRunsEvery(model: string, everyMs: number): void {
    this.runsEvery.set(model, everyMs);
  }

  /** One model run: its outcome, rows written, rows deferred as late and duration. */
  recordModelRun(run: ModelRunObservation): void {
    const { model } = run;
    const state = this.modelState(model);
    const now = this.clock.nowMs();
    state.runs[run.status] += 1;
    state.lastRun = { status: run.status, rows: run.rows, seconds: run.seconds, atMs: now };
    if (run.status !== 'failed') state.lastCompletedMs = now;
    this.modelRuns.inc({ model, status: run.status });
    this.runSeconds.observe({ model }, run.seconds);
    if (run.status === 'success') {
      state.rowsTransformed += run.rows;
      state.rate.add(run.rows, now);
      this.rowsTransformed.inc({ model }, run.rows);
    }
    if (run.cost) {
      this.bytesRead.inc({ model }, run.cost.bytesRead);
      this.bytesWritten.inc({ model }, run.cost.bytesWritten);
      this.cpuSeconds.inc({ model }, run.cost.cpuSeconds);
    }
    const late = run.deferredLate ?? 0;
    state.deferredLate += late;
    this.deferredLate.inc({ model }, late);
    if (run.maxLatenessSeconds !== undefined && run.maxLatenessSeconds > (state.maxLatenessSeconds ?? -1)) {
      state.maxLatenessSeconds = run.maxLatenessSeconds;
      this.maxLateness.set({ model }, run.maxLatenessSeconds);
    }
  }

  /** How long the newest accepted events took to become visible in `model`. */
  observeFreshness(model: string, seconds: number): void {
    this.modelState(model).freshnessSeconds = seconds;
    this.freshness.set({ model }, seconds);
  }

  /** Where `/metrics` reads the completeness SLOs and held partitions from at each scrape (serve: the partition-status tracker). */
  watchSlos(read: () => SloState | undefined): void {
    this.slos = read;
  }

  /** Rows a query returned. */
  recordServed(rows: number): void {
    if (rows <= 0) return;
    this.rowsServed += rows;
    this.served.inc(rows);
    this.servedRate.add(rows, this.clock.nowMs());
  }

  /** The Prometheus text exposition of every metric (`contentType`). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The counters with their rates over the window and the backlog alert, as plain JSON. */
  snapshot(): MetricsSnapshot {
    const now = this.clock.nowMs();
    const sources = [...this.sources.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([source, s]): SourceCounters => ({
        source,
        received: s.received,
        landed: s.landed,
        quarantined: s.quarantined,
        duplicates: s.duplicates,
        failed: s.failed,
        pending: this.pendingOf(s),
        batches: s.batches,
        bytes: s.bytes,
        lastLandingAt: s.lastLandingMs === null ? null : new Date(s.lastLandingMs).toISOString(),
        perSecond: {
          received: round(s.rates.received.perSecond(now)),
          landed: round(s.rates.landed.perSecond(now)),
          quarantined: round(s.rates.quarantined.perSecond(now)),
          bytes: round(s.rates.bytes.perSecond(now)),
        },
      }));
    const models = [...this.models.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([model, m]): ModelCounters => ({
        model,
        runs: { ...m.runs },
        rowsTransformed: m.rowsTransformed,
        deferredLate: m.deferredLate,
        maxLatenessSeconds: m.maxLatenessSeconds,
        rowsTransformedPerSecond: round(m.rate.perSecond(now)),
        lastRun: m.lastRun === null ? null : { status: m.lastRun.status, rows: m.lastRun.rows, seconds: m.lastRun.seconds, at: new Date(m.lastRun.atMs).toISOString() },
        freshnessSeconds: m.freshnessSeconds,
      }));
    return {
      startedAt: new Date(this.startMs).toISOString(),
      uptimeSeconds: round((now - this.startMs) / 1000),
      windowSeconds: this.windowMs / 1000,
      sources,
      models,
      served: { rows: this.rowsServed, perSecond: round(this.servedRate.perSecond(now)) },
      backlog: this.backlog(now),
    };
  }

  /**
   * Landing behind ingest: a source whose waiting records would take more than
   * `maxPendingSeconds` at its ingest rate (Little's law), or that has had records waiting
   * with no commit for that long. Transform behind landing: records landed in the window
   * while a model that has run before completed no run in it.
   */
  private backlog(now: number): BacklogAlert {
    const reasons: string[] = [];
    let landedInWindow = 0;
    for (const [source, s] of [...this.sources.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      landedInWindow += s.rates.landed.countIn(now) + s.rates.quarantined.countIn(now);
      const pending = this.pendingOf(s);
      if (pending === 0) continue;
      const rate = s.rates.received.perSecond(now);
      const waitingSince = Math.max(s.lastProgressMs ?? 0, s.pendingSinceMs ?? 0);
      const stalledSeconds = (now - waitingSince) / 1000;
      if (stalledSeconds > this.maxPendingSeconds) {
        reasons.push(`${source}: ${pending} records waiting and nothing landed for ${Math.round(stalledSeconds)} s`);
      } else if (pending >= this.minBacklogRecords && pending > rate * this.maxPendingSeconds) {
        reasons.push(`${source}: ${pending} records waiting to land, more than ${this.maxPendingSeconds} s of ingest at ${round(rate)}/s`);
      }
    }
    if (landedInWindow > 0) {
      for (const [model, m] of [...this.models.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        if (m.lastRun === null) continue;
        if (m.lastCompletedMs === null || now - m.lastCompletedMs > this.windowMs + (this.runsEvery.get(model) ?? 0)) {
          const since = m.lastCompletedMs === null ? 'has not completed a run' : `last completed a run ${Math.round((now - m.lastCompletedMs) / 1000)} s ago`;
          reasons.push(`${model}: ${since} while ${landedInWindow} records landed in the last ${this.windowMs / 1000} s`);
        }
      }
    }
    return { active: reasons.length > 0, reasons };
  }

  private pendingOf(s: SourceState): number {
    return Math.max(0, s.received - s.landed - s.quarantined - s.duplicates - s.failed);
  }

  private sourceState(source: string): SourceState {
    let state = this.sources.get(source);
    if (!state) {
      const window = (): RateWindow => new RateWindow(this.windowMs, this.startMs);
      state = {
        received: 0,
        landed: 0,
        quarantined: 0,
        duplicates: 0,
        failed: 0,
        batches: 0,
        bytes: 0,
        lastLandingMs: null,
        lastProgressMs: null,
        pendingSinceMs: null,
        rates: { received: window(), landed: window(), quarantined: window(), bytes: window() },
      };
      this.sources.set(source, state);
    }
    return state;
  }

  private modelState(model: string): ModelState {
    let state = this.models.get(model);
    if (!state) {
      state = {
        runs: { success: 0, failed: 0, skipped: 0 },
        rowsTransformed: 0,
        deferredLate: 0,
        maxLatenessSeconds: null,
        rate: new RateWindow(this.windowMs, this.startMs),
        lastRun: null,
        lastCompletedMs: null,
        freshnessSeconds: null,
      };
      this.models.set(model, state);
    }
    return state;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
