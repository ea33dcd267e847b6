import { checkWindowOptions, reportTotals, type ReconcileReport } from '../../reconcile/index.js';
import { defineJob, type Job, type RunRecord } from '../../scheduler/index.js';

/** What an operator asks for from the console or `lakeloop control reconcile` (all optional: a plain reconcile). */
export interface ReconcileRequest {
  /** First day of the window (`YYYY-MM-DD`), with `to`. */
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  /** Only these models and those downstream of them. */
  readonly models?: readonly string[] | undefined;
  /** Write the report, publish nothing. */
  readonly dryRun?: boolean | undefined;
}

/**
 * Who started a console reconcile: `console`, the page's button (it says so with the
 * `X-Lakeloop-Client: console` header); `api`, any other client of `POST /api/control/reconcile`
 * (`lakeloop control reconcile`, curl).
 */
export type ReconcileRequester = 'console' | 'api';

/** One reconcile started from the console, as the page shows it. */
export interface ConsoleReconcileRun {
  /** 1, 2, … in this serve. */
  readonly id: number;
  readonly request: ReconcileRequest;
  readonly requestedAt: string;
  readonly requestedBy: ReconcileRequester;
  status: RunRecord['status'];
  /** The newest progress lines of the recompute (at most `PROGRESS_LINES`), oldest first. */
  progress: string[];
  /** The run ledger's id of the job run, once it ended. */
  ledgerId: string | null;
  finishedAt: string | null;
  /** The report's id (`_lakeloop/reports/<id>.json`), once written; a held run has one too. */
  report: string | null;
  /** The report's partitions per status, once written. */
  totals: { readonly match: number; readonly corrected: number; readonly held: number; readonly failed: number } | null;
  /** Why it failed, or why it was skipped (a refusal by the scan budget). */
  error: string | null;
  /** What to do about a skip or failure, when the job said (the scan budget's hint). */
  hint: string | null;
}

/** The reconcile state `GET /api/console` carries. */
export interface ConsoleReconcileState {
  readonly running: ConsoleReconcileRun | null;
  readonly last: ConsoleReconcileRun | null;
  /** Bumped on every report a job of this serve wrote (the page re-reads the list then). */
  readonly reports: number;
}

/** Options of `ConsoleReconcile`. */
export interface ConsoleReconcileOptions {
  /**
   * Runs the reconcile job once with these params and resolves with its ledger entry (serve:
   * `Scheduler.runNow` of its console job, whose handler is the nightly job's: a child
   * process in the idle scheduling class, its own DuckDB), recording who asked in the ledger.
   */
  readonly run: (params: Readonly<Record<string, unknown>>, requestedBy: ReconcileRequester) => Promise<RunRecord>;
  /** The model names a request may select. */
  readonly models: readonly string[];
  /** Told when a run starts, makes progress or ends. */
  readonly onChange?: () => void;
  /** Told each run when it has ended (serve records it in the decision log). */
  readonly onEnd?: (run: ConsoleReconcileRun) => void;
  /** Applied to progress lines and errors before the page sees them (serve: removes the environment's secrets). */
  readonly redact?: (text: string) => string;
}

/**
 * The job a console reconcile runs as (`Scheduler.runNow` with the request's params): the
 * nightly reconcile's kind and handler, never fired by a schedule, not retried (the operator
 * sees the failure and decides), recorded in the run ledger as `console-reconcile`.
 */
export const CONSOLE_RECONCILE_JOB: Job = defineJob({
  name: 'console-reconcile',
  kind: 'reconcile',
  schedule: '0 0 1 1 *',
  enabled: false,
  retries: 0,
  description: 'a reconcile started from the console or lakeloop control reconcile',
});

/** How many progress lines a run keeps. */
const PROGRESS_LINES = 20;

/** A request's problem, for a 400 answer. */
export class ReconcileRequestError extends Error {}

/**
 * The console's reconcile: one run at a time through the scheduler's job machinery (ledger,
 * timeout, the separate circuit), its progress lines and its report id as they come.
 *
 * @example
 * const reconciles = new ConsoleReconcile({ run: (params, requestedBy) => scheduler.runNow('console-reconcile', params, { requestedBy }), models: ['silver.sales', 'gold.daily'] });
 * reconciles.start({ dryRun: true }, 'console'); // { id: 1, status: 'running', requestedBy: 'console', progress: [], ... }; undefined while one runs
 */
export class ConsoleReconcile {
  private active: ConsoleReconcileRun | null = null;
  private previous: ConsoleReconcileRun | null = null;
  private count = 0;
  private reportCount = 0;
  private ended: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConsoleReconcileOptions) {}

  /** Checks a request as the JSON body of `POST /api/control/reconcile`; throws `ReconcileRequestError`. */
  parse(body: unknown): ReconcileRequest {
    if (body === undefined || body === null) return {};
    if (typeof body !== 'object' || Array.isArray(body)) throw new ReconcileRequestError('expected a JSON object such as {"from":"2026-03-01","to":"2026-03-07","models":["gold.daily"],"dryRun":true}');
    const input = body as Record<string, unknown>;
    const unknown = Object.keys(input).filter((k) => !['from', 'to', 'models', 'dryRun'].includes(k));
    if (unknown.length) throw new ReconcileRequestError(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}; expected from, to, models, dryRun`);
    const day = (key: string): string | undefined => {
      const value = input[key];
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value !== 'string') throw new ReconcileRequestError(`${key} expects a day such as "2026-03-01"`);
      return value;
    };
    const from = day('from');
    const to = day('to');
    try {
      checkWindowOptions({ ...(from ? { from } : {}), ...(to ? { to } : {}) });
    } catch (error) {
      throw new ReconcileRequestError(error instanceof Error ? error.message : String(error));
    }
    let models: string[] | undefined;
    if (input['models'] !== undefined && input['models'] !== null) {
      if (!Array.isArray(input['models']) || !input['models'].every((m) => typeof m === 'string')) throw new ReconcileRequestError('models expects a list of model names such as ["gold.daily"]');
      models = (input['models'] as string[]).map((m) => m.trim()).filter(Boolean);
      const known = new Set(this.options.models);
      const wrong = models.filter((m) => !known.has(m));
      if (wrong.length) throw new ReconcileRequestError(`no model named ${wrong.join(', ')}; models: ${this.options.models.join(', ') || 'none'}`);
      if (models.length === 0) models = undefined;
    }
    if (input['dryRun'] !== undefined && typeof input['dryRun'] !== 'boolean') throw new ReconcileRequestError('dryRun expects true or false');
    return { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(models ? { models } : {}), ...(input['dryRun'] === true ? { dryRun: true } : {}) };
  }

  /** Starts a run of `request`; undefined while one is running (the caller answers 409). */
  start(request: ReconcileRequest, requestedBy: ReconcileRequester = 'api'): ConsoleReconcileRun | undefined {
    if (this.active) return undefined;
    const run: ConsoleReconcileRun = {
      id: ++this.count,
      request,
      requestedAt: new Date().toISOString(),
      requestedBy,
      status: 'running',
      progress: [],
      ledgerId: null,
      finishedAt: null,
      report: null,
      totals: null,
      error: null,
      hint: null,
    };
    this.active = run;
    const params = { ...(request.from ? { from: request.from } : {}), ...(request.to ? { to: request.to } : {}), ...(request.models ? { models: [...request.models] } : {}), dryRun: request.dryRun === true };
    this.ended = this.options
      .run(params, requestedBy)
      .then(
        (record) => {
          run.status = record.status;
          run.ledgerId = record.id;
          run.error = record.error ? this.redact(record.error.message) : record.reason !== null ? this.redact(record.reason) : null;
          const { report, hint } = record.result ?? {};
          if (typeof report === 'string') run.report = report;
          if (typeof hint === 'string') run.hint = this.redact(hint);
        },
        (error: unknown) => {
          run.status = 'failed';
          run.error = this.redact(error instanceof Error ? error.message : String(error));
        },
      )
      .finally(() => {
        run.finishedAt = new Date().toISOString();
        this.active = null;
        this.previous = run;
        this.options.onEnd?.(run);
        this.options.onChange?.();
      });
    this.options.onChange?.();
    return run;
  }

  /** A progress line of the running job (lines of other jobs are the caller's to filter). */
  progress(line: string): void {
    if (!this.active) return;
    const text = this.redact(line);
    this.active.progress.push(text.length > 300 ? `${text.slice(0, 299)}…` : text);
    if (this.active.progress.length > PROGRESS_LINES) this.active.progress.splice(0, this.active.progress.length - PROGRESS_LINES);
    this.options.onChange?.();
  }

  /** A report a job of this serve wrote; `ours` when the console's run wrote it. */
  reported(report: ReconcileReport, ours: boolean): void {
    this.reportCount += 1;
    if (ours && this.active) {
      this.active.report = report.id;
      const totals = reportTotals(report);
      this.active.totals = totals;
      this.active.progress.push(`report ${report.id}: ${totals.match} match, ${totals.corrected} corrected, ${totals.held} held, ${totals.failed} failed`);
    }
    this.options.onChange?.();
  }

  private redact(text: string): string {
    return this.options.redact ? this.options.redact(text) : text;
  }

  get state(): ConsoleReconcileState {
    return { running: this.active, last: this.previous, reports: this.reportCount };
  }

  /** Resolves when the run under way (if any) has ended. */
  settled(): Promise<void> {
    return this.ended;
  }
}
