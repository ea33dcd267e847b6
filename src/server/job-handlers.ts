import type { ResolvedBudgets } from '../config/index.js';
import { ConfigError, LakeloopError, type ConfigIssue } from '../core/index.js';
import type { EngineOptions } from '../engine/index.js';
import { recomputeSelection, type Model, type ModelDag, type UnknownSelector } from '../models/index.js';
import { publishedModels } from '../planner/index.js';
import { reconcile, reportTotals, type ReconcileReport } from '../reconcile/index.js';
import { checkScanBudget, estimateRecomputeScan, type ScanBudgetCheck } from '../runner/index.js';
import { jobSelectors, jobSkipped, type Job, type JobHandler, type JobKind } from '../scheduler/index.js';
import { compactJob, vacuumJob, type Lake } from '../table/index.js';

/** What the built-in job kinds run against. */
export interface JobHandlerOptions {
  readonly lake: Lake;
  /** The project's models in DAG order. */
  readonly models: readonly Model[];
  readonly eventTimeColumns: Readonly<Record<string, string>>;
  /** The reconcile circuit's DuckDB limits (default 1 thread, 1GB). */
  readonly engine?: EngineOptions;
  /** Told the report of each reconcile or replay job, with the job's name. */
  readonly onReport?: (report: ReconcileReport, job: string) => void;
  /**
   * Where a reconcile or replay job's progress lines go (`silver.orders: recomputing`,
   * `chunk 2 of 5 …`); undefined for a job whose progress nobody follows (then a child
   * recompute runs without `--verbose`, as before).
   */
  readonly progressOf?: (job: string) => ((line: string) => void) | undefined;
  /** Told after a job that may have committed to tables (to refresh the analyst catalog). */
  readonly onTablesChanged?: () => void;
  /**
   * Runs a reconcile or replay somewhere else (serve: a `lakeloop reconcile` child process in
   * the idle scheduling class) and returns its report, or undefined for a request it cannot
   * run; by default (and then) it runs in this process, in its own DuckDB instance.
   */
  readonly recompute?: (request: RecomputeRequest, signal: AbortSignal, onProgress?: (line: string) => void) => Promise<ReconcileReport | undefined> | undefined;
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
  /** Selectors (as the CLI's `--models`): these models and those downstream of them. */
  readonly models?: readonly string[] | undefined;
  /** Selectors of models to leave out, after those downstream are added (the CLI's `--exclude`). */
  readonly exclude?: readonly string[] | undefined;
  /** `idle`, `low` or `normal` (a child process's CPU priority; default idle). */
  readonly priority?: string | undefined;
}

/**
 * The handlers of the built-in job kinds for the scheduler: `reconcile` (params `window`,
 * or `from`/`to`; `dryRun`), `replay` (params `from`, `to`), both with `models` and `exclude`
 * (selectors, as the CLI's `--models` and `--exclude`: a string or an array), `compact` (params
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
      const models = jobSelectors(params, 'models');
      const exclude = jobSelectors(params, 'exclude');
      if (signal.aborted) throw new LakeloopError('ABORTED', `${kind} was cancelled before it started`);
      const request: RecomputeRequest = {
        kind,
        from: text('from'),
        to: text('to'),
        window: text('window'),
        dryRun: params['dryRun'] === true,
        models: models.length ? models : undefined,
        exclude: exclude.length ? exclude : undefined,
        priority: text('priority'),
      };
      const budget = await checkBudget(job.name, request);
      if (budget?.over && budget.mode === 'refuse') return jobSkipped(budget.message as string, { hint: budget.hint as string, budget });
      const onProgress = options.progressOf?.(job.name);
      const report = (await options.recompute?.(request, signal, onProgress)) ?? (await recomputeHere(request, onProgress));
      options.onReport?.(report, job.name);
      options.onTablesChanged?.();
      const totals = reportTotals(report);
      if (totals.held > 0) throw new LakeloopError('RECONCILE_HELD', `${totals.held} partition(s) held by failing blocking tests (report ${report.id})`);
      return { report: report.id, ...totals, seconds: Math.round(report.seconds * 100) / 100, ...(budget ? { budget } : {}), ...(budget?.over ? { warnings: [budget.message] } : {}) };
    };
  /** The models a job's selectors recompute (and their downstream, less what it excludes). */
  const selectedModels = (request: RecomputeRequest): readonly Model[] => {
    const dag: ModelDag = { models: options.models, byName: new Map(options.models.map((m) => [m.name, m])) };
    const { models: selected, unknown } = recomputeSelection(dag, request.models ?? [], request.exclude ?? []);
    if (unknown.length) throw new LakeloopError('JOB_SELECTORS', `${request.kind}: ${unknown.map(describeUnknown).join('; ')}`);
    if (selected.length === 0) throw new LakeloopError('JOB_SELECTORS', `${request.kind}: the job's models and exclude select no model`);
    return selected;
  };
  const checkBudget = async (job: string, request: RecomputeRequest): Promise<ScanBudgetCheck | undefined> => {
    if (options.budgets?.maxBytesScannedPerRun === undefined) return undefined;
    const estimate = await estimateRecomputeScan(options.lake, selectedModels(request), request);
    const check = checkScanBudget(estimate, options.budgets, { what: `Job ${job} (${request.kind})`, instead: "narrow the job's window or models (params window, from/to, models)" });
    if (check) options.onBudget?.(job, check);
    return check;
  };
  const recomputeHere = async (request: RecomputeRequest, onProgress: ((line: string) => void) | undefined): Promise<ReconcileReport> => {
    const selected = selectedModels(request);
    // An edited model is recomputed as its table's published version until `lakeloop apply`.
    const { models } = await publishedModels(options.lake, options.lake.engine, selected);
    return reconcile(options.lake, models, {
      kind: request.kind,
      from: request.from,
      to: request.to,
      window: request.window,
      dryRun: request.dryRun,
      eventTimeColumns: options.eventTimeColumns,
      ...(onProgress ? { onProgress } : {}),
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

/**
 * What is wrong with the selectors of each reconcile and replay job against the project's
 * models (`serve` checks before it starts, so a misspelled model in a job is an invalid
 * project file, exit 2, not a failure at 02:00). Throws a `ConfigError` naming the job's file.
 *
 * @example
 * checkJobSelectors(jobs, dag); // ConfigError: Invalid config jobs/nightly.ts: params.models: Unknown model silver.orderz: did you mean silver.orders?
 */
export function checkJobSelectors(jobs: readonly Job[], dag: ModelDag): void {
  for (const job of jobs) {
    if (job.kind !== 'reconcile' && job.kind !== 'replay') continue;
    const select = jobSelectors(job.params, 'models');
    const exclude = jobSelectors(job.params, 'exclude');
    if (!select.length && !exclude.length) continue;
    const issues: ConfigIssue[] = [];
    const selectUnknown = recomputeSelection(dag, select).unknown;
    const excludeUnknown = recomputeSelection(dag, [], exclude).unknown;
    if (selectUnknown.length) issues.push({ path: 'params.models', message: selectUnknown.map(describeUnknown).join('; ') });
    if (excludeUnknown.length) issues.push({ path: 'params.exclude', message: excludeUnknown.map(describeUnknown).join('; ') });
    if (!issues.length && recomputeSelection(dag, select, exclude).models.length === 0) {
      issues.push({ path: 'params.exclude', message: 'models and exclude together select no model' });
    }
    if (issues.length) throw new ConfigError(job.file ?? `job "${job.name}"`, issues);
  }
}

function describeUnknown(u: UnknownSelector): string {
  return u.suggestions.length ? `no model matches ${u.selector}: did you mean ${u.suggestions.join(' or ')}?` : `no model matches ${u.selector}`;
}
