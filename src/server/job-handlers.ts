import type { ResolvedBudgets } from '../config/index.js';
import { LakeloopError } from '../core/index.js';
import type { EngineOptions } from '../engine/index.js';
import { withDownstream, type Model } from '../models/index.js';
import { publishedModels } from '../planner/index.js';
import { reconcile, reportTotals, type ReconcileReport } from '../reconcile/index.js';
import { checkScanBudget, estimateRecomputeScan, type ScanBudgetCheck } from '../runner/index.js';
import type { JobHandler, JobKind } from '../scheduler/index.js';
import { compactJob, vacuumJob, type Lake } from '../table/index.js';

/** What the built-in job kinds run against. */
export interface JobHandlerOptions {
  readonly lake: Lake;
  /** The project's models in DAG order. */
  readonly models: readonly Model[];
  readonly eventTimeColumns: Readonly<Record<string, string>>;
  /** The reconcile circuit's DuckDB limits (default 1 thread, 1GB). */
  readonly engine?: EngineOptions;
  /** Told the report of each reconcile or replay job. */
  readonly onReport?: (report: ReconcileReport) => void;
  /** Told after a job that may have committed to tables (to refresh the analyst catalog). */
  readonly onTablesChanged?: () => void;
  /**
   * Runs a reconcile or replay somewhere else (serve: a `lakeloop reconcile` child process in
   * the idle scheduling class) and returns its report, or undefined for a request it cannot
   * run; by default (and then) it runs in this process, in its own DuckDB instance.
   */
  readonly recompute?: (request: RecomputeRequest, signal: AbortSignal) => Promise<ReconcileReport> | undefined;
  /**
   * `budgets.maxBytesScannedPerRun`, checked before each reconcile or replay job from the
   * logs (`estimateRecomputeScan`): over it in `refuse` mode the job reads nothing and ends
   * `skipped` (not retried: the same data would be refused again); in `warn` mode it runs.
   */
  readonly budgets?: ResolvedBudgets | undefined;
  /** Told each job's budget check (within the budget too, so a breach's recovery is seen). */
  readonly onBudget?: ((job: string, check: ScanBudgetCheck) => void) | undefined;
}

/** A reconcile or replay as a job asks for it. */
export interface RecomputeRequest {
  readonly kind: 'reconcile' | 'replay';
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly window?: string | undefined;
  readonly dryRun: boolean;
  /** Only these models and those downstream of them. */
  readonly models?: readonly string[] | undefined;
  /** `idle`, `low` or `normal` (a child process's CPU priority; default idle). */
  readonly priority?: string | undefined;
}

/**
 * The handlers of the built-in job kinds for the scheduler: `reconcile` (params `window`,
 * or `from`/`to`; `dryRun`), `replay` (params `from`, `to`, `models`), `compact` (params
 * `tables`, `minFiles`, `targetFileBytes`) and `vacuum` (params `tables`, `retention`, `dryRun`). A run that holds
 * partitions fails (and is retried by the job's policy) with the report id in its error;
 * its ledger entry carries the partition counts.
 *
 * @example
 * new Scheduler({ jobs, store: lake.store, handlers: jobHandlers({ lake, models: dag.models, eventTimeColumns }) });
 */
export function jobHandlers(options: JobHandlerOptions): Partial<Record<JobKind, JobHandler>> {
  const recompute =
    (kind: 'reconcile' | 'replay'): JobHandler =>
    async (job, { params, signal }) => {
      const text = (key: string): string | undefined => (typeof params[key] === 'string' ? (params[key] as string) : undefined);
      const wanted = Array.isArray(params['models']) ? (params['models'] as unknown[]).map(String) : undefined;
      if (signal.aborted) throw new LakeloopError('ABORTED', `${kind} was cancelled before it started`);
      const request: RecomputeRequest = { kind, from: text('from'), to: text('to'), window: text('window'), dryRun: params['dryRun'] === true, models: wanted, priority: text('priority') };
      const budget = await checkBudget(job.name, request);
      if (budget?.over && budget.mode === 'refuse') return { status: 'skipped', reason: budget.message as string, hint: budget.hint as string, budget };
      const report = (await options.recompute?.(request, signal)) ?? (await recomputeHere(request));
      options.onReport?.(report);
      options.onTablesChanged?.();
      const totals = reportTotals(report);
      if (totals.held > 0) throw new LakeloopError('RECONCILE_HELD', `${totals.held} partition(s) held by failing blocking tests (report ${report.id})`);
      return { report: report.id, ...totals, seconds: Math.round(report.seconds * 100) / 100, ...(budget ? { budget } : {}), ...(budget?.over ? { warnings: [budget.message] } : {}) };
    };
  const checkBudget = async (job: string, request: RecomputeRequest): Promise<ScanBudgetCheck | undefined> => {
    if (options.budgets?.maxBytesScannedPerRun === undefined) return undefined;
    const selected = request.models ? withDownstream(options.models, request.models) : options.models;
    const estimate = await estimateRecomputeScan(options.lake, selected, request);
    const check = checkScanBudget(estimate, options.budgets, { what: `Job ${job} (${request.kind})`, instead: "narrow the job's window or models (params window, from/to, models)" });
    if (check) options.onBudget?.(job, check);
    return check;
  };
  const recomputeHere = async (request: RecomputeRequest): Promise<ReconcileReport> => {
    const selected = request.models ? withDownstream(options.models, request.models) : options.models;
    // An edited model is recomputed as its table's published version until `lakeloop apply`.
    const { models } = await publishedModels(options.lake, options.lake.engine, selected);
    return reconcile(options.lake, models, {
      kind: request.kind,
      from: request.from,
      to: request.to,
      window: request.window,
      dryRun: request.dryRun,
      eventTimeColumns: options.eventTimeColumns,
      ...(options.engine ? { engine: options.engine } : {}),
    });
  };
  const compact = compactJob(options.lake);
  return {
    reconcile: recompute('reconcile'),
    replay: recompute('replay'),
    compact: async (job, context) => {
      const result = await compact(job, context);
      options.onTablesChanged?.();
      return result;
    },
    vacuum: vacuumJob(options.lake),
  };
}
