import { randomUUID } from 'node:crypto';
import type { ModelRunSummary } from '../runner/index.js';
import { evaluateAlerts, type AlertCondition, type AlertInputs, type AlertManager } from './alerts.js';
import type { EventLog } from './event-log.js';
import type { LineageEmitter } from './lineage-emitter.js';
import { Metrics, type LandingObservation, type MetricsOptions } from './metrics.js';
import { evaluateSourceCompleteness, type SourceCompletenessEvaluation } from './source-completeness.js';

/** `Metrics` that also reports each landing (the collector already feeds it every batch). */
export class ObservedMetrics extends Metrics {
  constructor(
    options: MetricsOptions,
    private readonly onLanding: (counts: LandingObservation) => void,
  ) {
    super(options);
  }

  override recordLanding(counts: LandingObservation, options: { readonly receivedCounted?: boolean } = {}): void {
    super.recordLanding(counts, options);
    if (counts.landed > 0 || counts.quarantined > 0) this.onLanding(counts);
  }
}

/** A source (by name) or model (by table name) serve watches: its freshness SLO and who to page, from its contract or header. */
export interface ObservedSubject {
  readonly name: string;
  readonly freshnessMs?: number | undefined;
  readonly owner?: string | undefined;
  readonly runbook?: string | undefined;
  /** A source's landed-vs-received SLO (its contract's `completeness`). */
  readonly completeness?: { readonly minLandedRatio: number; readonly window: string; readonly windowMs: number } | undefined;
}

/** What `ServeObserver` watches and where it reports. */
export interface ServeObserverOptions {
  readonly log: EventLog;
  readonly lineage?: LineageEmitter | undefined;
  readonly alerts?: AlertManager | undefined;
  /** Sources and models with their freshness SLO (ms), owner and runbook, if any; jobs by name. */
  readonly sources: readonly ObservedSubject[];
  readonly models: readonly ObservedSubject[];
  readonly jobs: readonly string[];
  readonly quarantineRate?: number | undefined;
  /** The partition state as last computed: held partitions per model table, completeness SLOs (undefined before the first). */
  readonly partitions?: (() => Pick<AlertInputs, 'held' | 'completeness'> | undefined) | undefined;
  /** The rates drifting apart now (the metrics' backlog); undefined: not watched. */
  readonly divergence?: (() => AlertInputs['divergence']) | undefined;
  /** How often alerts are evaluated; default 30 s. */
  readonly intervalMs?: number;
  readonly nowMs?: () => number;
}

/**
 * serve's one event model, fanned out to its sinks: each landing, model run, model
 * failure and job event goes to the log (JSON lines), to lineage (model runs) and to the
 * alert state, which is evaluated every `intervalMs` (freshness SLOs, failed runs and
 * jobs, quarantine spikes) and sent to the webhooks.
 *
 * @example
 * const observer = new ServeObserver({ log, lineage, alerts, sources, models, jobs: [] });
 * observer.start(); ... observer.modelRuns(summaries, seconds); ... await observer.stop();
 */
export class ServeObserver {
  private readonly startedMs: number;
  private readonly lastLanding = new Map<string, number>();
  private readonly lastCommit = new Map<string, number>();
  private readonly failedModels = new Map<string, string>();
  private readonly failedJobs = new Map<string, string>();
  /** Subject (`streaming`, `job:<name>`) → its last scan-budget check. */
  private readonly budgets = new Map<string, NonNullable<AlertInputs['budgets']>[number]>();
  /** Per source, the landings of the last minute (the quarantine rate) or of its completeness window if longer. */
  private readonly recent = new Map<string, { atMs: number; landed: number; quarantined: number }[]>();
  /** Per source, how long its landings are kept: a minute, or its completeness window. */
  private readonly keepMs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly owners: ReadonlyMap<string, { owner?: string | undefined; runbook?: string | undefined }>;

  constructor(private readonly options: ServeObserverOptions) {
    this.startedMs = this.now();
    this.owners = new Map(
      [...options.sources, ...options.models].filter((s) => s.owner !== undefined || s.runbook !== undefined).map((s) => [s.name, { owner: s.owner, runbook: s.runbook }]),
    );
    for (const s of options.sources) if (s.completeness) this.keepMs.set(s.name, Math.max(60_000, s.completeness.windowMs));
  }

  /** Evaluates the alerts every `intervalMs` (when there are webhooks). */
  start(): void {
    if (!this.options.alerts || this.timer) return;
    this.timer = setInterval(() => this.evaluate(), this.options.intervalMs ?? 30_000);
    this.timer.unref();
  }

  /** One batch landed (or was quarantined). */
  landing(counts: LandingObservation): void {
    const now = this.now();
    if (counts.landed > 0) this.lastLanding.set(counts.source, now);
    const keepMs = this.keepMs.get(counts.source) ?? 60_000;
    const window = this.recent.get(counts.source) ?? [];
    // Landings are appended in time order: only a prefix expires, so a long window costs no scan per batch.
    const live = window.findIndex((r) => now - r.atMs < keepMs);
    window.splice(0, live < 0 ? window.length : live);
    window.push({ atMs: now, landed: counts.landed, quarantined: counts.quarantined });
    this.recent.set(counts.source, window);
    // A sampled share of landings gets lineage: one run per batch, its bronze version as the output.
    const lineage = this.options.lineage;
    if (lineage && counts.landed > 0 && lineage.sampleIngest()) {
      const run = lineage.start(`ingest.${counts.source}`, 'INGEST', { processingType: 'STREAMING' });
      run.complete({ outputs: [{ name: `bronze.${counts.source}`, version: counts.bronzeVersion, statistics: { rowCount: counts.landed } }] });
    }
    this.options.log.event('info', 'batch_landed', {
      source: counts.source,
      table: `bronze.${counts.source}`,
      ...(counts.bronzeVersion !== undefined ? { version: counts.bronzeVersion } : {}),
      landed: counts.landed,
      quarantined: counts.quarantined,
      ...(counts.batches !== undefined ? { batches: counts.batches } : {}),
      ...(counts.bytes !== undefined ? { bytes: counts.bytes } : {}),
    });
  }

  /** A streaming run's models (those that ran or were up to date). */
  modelRuns(summaries: readonly ModelRunSummary[], seconds: number): void {
    const runId = randomUUID();
    const now = this.now();
    for (const s of summaries) {
      this.failedModels.delete(s.model);
      if (s.skipped) continue;
      this.lastCommit.set(s.model, now);
      this.options.lineage?.modelSummary(s);
      this.options.log.event('info', 'model_run', {
        runId,
        model: s.model,
        table: s.model,
        version: s.version,
        mode: s.mode,
        rowsIn: s.rowsIn,
        rowsOut: s.rowsOut,
        rows: s.rows,
        seconds: round(s.seconds),
        upstream: s.upstream,
      });
    }
    if (summaries.some((s) => !s.skipped)) this.options.log.event('info', 'message', { runId, models: summaries.length, seconds: round(seconds) }, 'streaming run done');
  }

  /** A streaming run's error: a model's (`error.model`), or one outside any model. */
  modelFailed(error: unknown): void {
    const model = (error as { model?: unknown }).model;
    const message = error instanceof Error ? error.message : String(error);
    if (typeof model === 'string') {
      this.failedModels.set(model, message.split('\n')[0] ?? message);
      this.options.lineage?.modelOutcome({ model, kind: 'unknown', status: 'error', error: { message, code: 'ERROR' }, seconds: 0 }, undefined, { processingType: 'STREAMING' });
    }
    this.options.log.event('error', 'model_failed', { ...(typeof model === 'string' ? { model, table: model } : {}), error: message }, 'streaming run failed (retrying with backoff)');
  }

  /** A scheduler event: a job that fails raises an alert until it succeeds. */
  job(event: { readonly level: 'info' | 'warn' | 'error'; readonly message: string; readonly job?: string }): void {
    if (event.job !== undefined) {
      if (event.level === 'error') this.failedJobs.set(event.job, event.message);
      else if (/ succeeded after /.test(event.message)) this.failedJobs.delete(event.job);
    }
    this.options.log.event(event.level, 'job', { ...(event.job !== undefined ? { job: event.job } : {}) }, event.message);
  }

  /**
   * A scan-budget check of the streaming loop (`streaming`) or a job (`job:<name>`): logged
   * when over (refused or warned), and alerted until a check of the same subject fits again.
   */
  budget(subject: string, check: { readonly over: boolean; readonly mode: 'warn' | 'refuse'; readonly message?: string; readonly hint?: string; readonly estimatedBytes: number; readonly budgetBytes: number }): void {
    const before = this.budgets.get(subject);
    this.budgets.set(subject, { subject, over: check.over, mode: check.mode, message: check.message ?? '', estimatedBytes: check.estimatedBytes, budgetBytes: check.budgetBytes });
    // Logged when it starts and each time a refused subject is refused again is too much at every cycle: once per breach.
    if (check.over && !before?.over) {
      this.options.log.event('warn', 'budget_exceeded', { subject, mode: check.mode, estimatedBytes: check.estimatedBytes, budgetBytes: check.budgetBytes }, `${check.message ?? ''}${check.hint ? ` (${check.hint})` : ''}`);
    } else if (!check.over && before?.over) this.options.log.event('info', 'budget_ok', { subject, estimatedBytes: check.estimatedBytes, budgetBytes: check.budgetBytes }, `${subject}: within budgets.maxBytesScannedPerRun again`);
  }

  /** The last scan-budget check of each subject, for `/status` and `/metrics`. */
  budgetChecks(): NonNullable<AlertInputs['budgets']> {
    return [...this.budgets.values()];
  }

  /** Each source with a completeness SLO against it now: landed vs received over its window. */
  sourceCompleteness(): SourceCompletenessEvaluation[] {
    const now = this.now();
    return this.options.sources.flatMap((s) => {
      if (!s.completeness) return [];
      const windowMs = s.completeness.windowMs;
      const inWindow = (this.recent.get(s.name) ?? []).filter((r) => now - r.atMs < windowMs);
      return [evaluateSourceCompleteness(s.name, s.completeness, { landed: inWindow.reduce((n, r) => n + r.landed, 0), quarantined: inWindow.reduce((n, r) => n + r.quarantined, 0) })];
    });
  }

  /** Evaluates the alert conditions now and sends what changed. */
  evaluate(): void {
    this.options.alerts?.update(this.conditions());
  }

  /**
   * Every alert condition as evaluated now, firing or not (whether or not webhooks are
   * configured): the console shows each table's SLOs from them.
   */
  conditions(): AlertCondition[] {
    const now = this.now();
    const freshness = [
      ...this.options.sources.filter((s) => s.freshnessMs !== undefined).map((s) => ({ kind: 'source' as const, name: s.name, maxAgeMs: s.freshnessMs as number, lastMs: this.lastLanding.get(s.name) })),
      ...this.options.models.filter((m) => m.freshnessMs !== undefined).map((m) => ({ kind: 'model' as const, name: m.name, maxAgeMs: m.freshnessMs as number, lastMs: this.lastCommit.get(m.name) })),
    ];
    const quarantine = this.options.sources.map((s) => {
      const window = (this.recent.get(s.name) ?? []).filter((r) => now - r.atMs < 60_000);
      return { source: s.name, landed: window.reduce((n, r) => n + r.landed, 0), quarantined: window.reduce((n, r) => n + r.quarantined, 0) };
    });
    return evaluateAlerts(
      {
        nowMs: now,
        sinceMs: this.startedMs,
        freshness,
        failedModels: this.failedModels,
        failedJobs: this.failedJobs,
        quarantine,
        ...(this.options.quarantineRate !== undefined ? { quarantineRate: this.options.quarantineRate } : {}),
        budgets: [...this.budgets.values()],
        ...(this.options.partitions?.() ?? {}),
        ...(this.options.divergence ? { divergence: this.options.divergence() } : {}),
        sourceCompleteness: this.sourceCompleteness(),
        owners: this.owners,
      },
      { models: this.options.models.map((m) => m.name), jobs: this.options.jobs },
    );
  }

  /** Stops evaluating and waits for the alerts in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.options.alerts?.close();
  }

  private now(): number {
    return this.options.nowMs?.() ?? Date.now();
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
