import { randomBytes } from 'node:crypto';
import { createTask, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { backoffDelayMs, LakeloopError, systemClock, type Clock } from '../core/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { Job, JobKind, JobRunContext, RunTrigger } from './define-job.js';
import { writeRun, type RunAttemptFailure, type RunError, type RunRecord } from './run-ledger.js';

/**
 * The work behind one job kind, injected by the caller (the CLI wires `reconcile` to the
 * runner): it gets the job and one attempt's context, and returns counts for the ledger.
 */
export type JobHandler = (job: Job, context: JobRunContext) => Promise<Readonly<Record<string, unknown>> | void>;

/** One line the scheduler wants logged. */
export interface SchedulerLogEvent {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly job?: string;
}

export interface SchedulerOptions {
  readonly jobs: readonly Job[];
  /** The lake's store: the run ledger goes under `_lakeloop/runs/`. */
  readonly store: ObjectStore;
  /** Per kind; `custom` jobs run their own `run` and need none. */
  readonly handlers: Partial<Record<JobKind, JobHandler>>;
  /** Timestamps and backoff waits (timeouts run on real timers); default: the system clock. */
  readonly clock?: Clock;
  readonly log?: (event: SchedulerLogEvent) => void;
  /** The jitter source of the backoff; default `Math.random`. */
  readonly random?: () => number;
}

/** The abort reason of a run that ran out of time. */
export class JobTimedOut extends LakeloopError {
  constructor(job: string, timeoutMs: number) {
    super('JOB_TIMED_OUT', `Job ${job} timed out after ${timeoutMs} ms`, {
      hint: `Raise timeoutMs in the job's file if the work legitimately takes longer.`,
    });
  }
}

/** The abort reason of runs still going when `stop()` gave up waiting. */
export class SchedulerStopped extends LakeloopError {
  constructor(job: string) {
    super('SCHEDULER_STOPPED', `Job ${job} was cancelled: the scheduler stopped before it finished`);
  }
}

/** A run in progress: its record so far, and what settles when its work has really ended. */
interface ActiveRun {
  readonly controller: AbortController;
  /** Settles when the handler's last attempt has returned (set once the attempts start). */
  work: Promise<void>;
  workEnded: boolean;
  /** Settles when the final record is written. */
  done: Promise<RunRecord>;
  /** Resolves when both the record is final and the work has returned: the job is no longer running. */
  ended: Promise<void>;
}

/**
 * Runs a project's jobs on their cron schedules (node-cron), one run per job at a time,
 * with a timeout per run, retries with exponential backoff and full jitter, and every
 * run recorded in the lake's run ledger.
 *
 * @example
 * const scheduler = new Scheduler({ jobs: await loadJobs(dir), store, handlers: { reconcile: (job, { signal, params }) => reconcile(params, signal) } });
 * scheduler.start();
 * const record = await scheduler.runNow('nightly-reconcile'); // record.status: 'succeeded'
 * await scheduler.stop();
 */
export class Scheduler {
  private readonly jobs: ReadonlyMap<string, Job>;
  private readonly store: ObjectStore;
  private readonly handlers: Partial<Record<JobKind, JobHandler>>;
  private readonly clock: Clock;
  private readonly log: (event: SchedulerLogEvent) => void;
  private readonly random: () => number;
  private readonly active = new Map<string, ActiveRun>();
  private readonly tasks = new Map<string, ScheduledTask>();
  private stopping = false;

  constructor(options: SchedulerOptions) {
    const jobs = new Map<string, Job>();
    for (const job of options.jobs) {
      if (jobs.has(job.name)) throw new LakeloopError('JOB_DUPLICATE', `Two jobs are named ${job.name}`, { hint: 'Give each job its own name.' });
      jobs.set(job.name, job);
    }
    this.jobs = jobs;
    this.store = options.store;
    this.handlers = options.handlers;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? (() => {});
    this.random = options.random ?? Math.random;
  }

  /** Schedules every enabled job with node-cron in its time zone; a second call does nothing. */
  start(): void {
    if (this.tasks.size > 0 || this.stopping) return;
    const logger = this.cronLogger();
    for (const job of this.jobs.values()) {
      if (!job.enabled) continue;
      if (job.kind !== 'custom' && this.handlers[job.kind] === undefined) {
        this.log({ level: 'warn', job: job.name, message: `no handler for "${job.kind}" jobs in this process: ${job.name}'s runs will fail` });
      }
      const task = createTask(job.schedule, (context) => this.fireQuietly(job.name, context.date), {
        name: `lakeloop:${job.name}`,
        timezone: job.timezone,
        logger,
      });
      this.tasks.set(job.name, task);
      void task.start();
    }
  }

  /**
   * What a cron tick does: runs the job for `scheduledFor`, or, while its previous run is
   * still going, records the fire as `skipped_overlap`. Resolves with the final record.
   */
  async fire(name: string, scheduledFor: Date = new Date(this.clock.nowMs())): Promise<RunRecord> {
    return this.begin(this.job(name), 'schedule', scheduledFor);
  }

  /**
   * Runs a job once now (manual trigger, also for a disabled job) and resolves with its
   * ledger entry; `params`, when given, replace the job's for this run (the console's
   * reconcile asks for its own window); `requestedBy` goes to the ledger record (who asked).
   */
  async runNow(name: string, params?: Readonly<Record<string, unknown>>, options: { requestedBy?: string } = {}): Promise<RunRecord> {
    const job = this.job(name);
    return this.begin(params === undefined ? job : { ...job, params }, 'manual', new Date(this.clock.nowMs()), options.requestedBy);
  }

  /** Whether a run of the job is in progress (its work has not returned yet). */
  isRunning(name: string): boolean {
    return this.active.has(name);
  }

  /** Each job's next fire time (ISO-8601 UTC) by the wall clock; null for a disabled job. */
  nextRuns(): Record<string, string | null> {
    const next: Record<string, string | null> = {};
    for (const job of this.jobs.values()) {
      const task = this.tasks.get(job.name);
      const at = task?.getNextRun() ?? (job.enabled ? nextFireTime(job) : null);
      next[job.name] = at === null ? null : at.toISOString();
    }
    return next;
  }

  /**
   * Stops the cron tasks and waits up to `graceMs` (default 30 s) for running jobs; then
   * aborts the rest (recorded `failed`, code `SCHEDULER_STOPPED`) and waits up to
   * `graceMs` more for them to record it.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    this.stopping = true;
    const graceMs = options.graceMs ?? 30_000;
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    if (!(await settlesWithin([...this.active.values()].map((r) => r.ended), graceMs))) {
      for (const [name, run] of this.active) run.controller.abort(new SchedulerStopped(name));
      await settlesWithin([...this.active.values()].map((r) => r.done), graceMs);
    }
  }

  private job(name: string): Job {
    const job = this.jobs.get(name);
    if (job === undefined) {
      const names = [...this.jobs.keys()];
      throw new LakeloopError('JOB_NOT_FOUND', `No job named ${name}`, {
        hint: names.length === 0 ? 'Add a job file under jobs/ (export default defineJob({ ... })).' : `Jobs: ${names.join(', ')}.`,
      });
    }
    return job;
  }

  private fireQuietly(name: string, scheduledFor: Date): void {
    if (this.stopping) return;
    this.fire(name, scheduledFor).catch((error: unknown) => {
      this.log({ level: 'error', job: name, message: `job ${name}: ${errorOf(error).message}` });
    });
  }

  private async begin(job: Job, trigger: RunTrigger, scheduledFor: Date, requestedBy?: string): Promise<RunRecord> {
    const base = {
      id: randomBytes(4).toString('hex'),
      job: job.name,
      kind: job.kind,
      trigger,
      ...(requestedBy === undefined ? {} : { requestedBy }),
      scheduledFor: scheduledFor.toISOString(),
      startedAt: new Date(this.clock.nowMs()).toISOString(),
    };
    if (this.active.has(job.name)) {
      const skipped: RunRecord = { ...base, status: 'skipped_overlap', finishedAt: base.startedAt, seconds: 0, attempts: 0, result: null, error: null, reason: 'the previous run is still going', failedAttempts: [] };
      this.log({ level: 'warn', job: job.name, message: `job ${job.name}: skipped the ${trigger} run for ${base.scheduledFor}, the previous run is still going` });
      await writeRun(this.store, skipped);
      return skipped;
    }
    let markEnded = (): void => {};
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const run: ActiveRun = { controller: new AbortController(), work: Promise.resolve(), workEnded: true, done: Promise.resolve(undefined as never), ended };
    this.active.set(job.name, run);
    run.done = this.execute(job, run, { ...base, status: 'running', finishedAt: null, seconds: null, attempts: 0, result: null, error: null, reason: null, failedAttempts: [] }).finally(() => {
      // The job counts as running until its work has returned, even when its timeout was recorded before.
      const release = (): void => {
        if (this.active.get(job.name) === run) this.active.delete(job.name);
        markEnded();
      };
      if (run.workEnded) release();
      else void run.work.then(release);
    });
    return run.done;
  }

  private async execute(job: Job, run: ActiveRun, running: RunRecord): Promise<RunRecord> {
    const startMs = this.clock.nowMs();
    await writeRun(this.store, running);
    this.log({ level: 'info', job: job.name, message: `job ${job.name} (${job.kind}) started (${running.trigger}, for ${running.scheduledFor})` });
    const { signal } = run.controller;
    const timer = setTimeout(() => run.controller.abort(new JobTimedOut(job.name, job.timeoutMs)), job.timeoutMs);
    const progress = { attempts: 0, failedAttempts: [] as RunAttemptFailure[] };
    let outcome: Pick<RunRecord, 'status' | 'result' | 'error' | 'reason'>;
    try {
      run.workEnded = false;
      const work = this.attempts(job, running, signal, progress).finally(() => {
        run.workEnded = true;
      });
      run.work = work.then(
        () => {},
        () => {},
      );
      const result = jsonResult(await untilAborted(signal, work));
      const skip = skipReasonOf(result);
      outcome = skip === undefined ? { status: 'succeeded', result, error: null, reason: null } : { status: 'skipped', result, error: null, reason: skip };
    } catch (error) {
      const reason = signal.aborted ? signal.reason : error;
      outcome = { status: reason instanceof JobTimedOut ? 'timed_out' : 'failed', result: null, error: runError(reason), reason: null };
    } finally {
      clearTimeout(timer);
    }
    const endMs = this.clock.nowMs();
    const record: RunRecord = {
      ...running,
      ...outcome,
      finishedAt: new Date(endMs).toISOString(),
      seconds: Math.max(0, endMs - startMs) / 1000,
      attempts: progress.attempts,
      failedAttempts: [...progress.failedAttempts],
    };
    await writeRun(this.store, record);
    if (record.status === 'skipped') {
      // A refusal is not a failure (nothing ran, nothing to retry) and not a success either.
      this.log({ level: 'warn', job: job.name, message: `job ${job.name} skipped: ${record.reason ?? 'no reason given'}` });
      return record;
    }
    const level = record.status === 'succeeded' ? 'info' : 'error';
    this.log({ level, job: job.name, message: `job ${job.name} ${record.status} after ${plural(record.attempts, 'attempt')}${record.error ? `: ${record.error.message}` : ''}` });
    return record;
  }

  /** The attempt loop: a failure is retried after a backoff wait until the retries run out or the run is aborted. */
  private async attempts(
    job: Job,
    running: RunRecord,
    signal: AbortSignal,
    progress: { attempts: number; failedAttempts: RunAttemptFailure[] },
  ): Promise<Readonly<Record<string, unknown>> | void> {
    const policy = { attempts: job.retries + 1, ...job.backoff };
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      progress.attempts = attempt;
      try {
        const handler = this.handlerOf(job);
        return await handler(job, { signal, params: job.params, attempt, trigger: running.trigger, scheduledFor: running.scheduledFor });
      } catch (error) {
        if (signal.aborted || attempt > job.retries || error instanceof NoHandler) throw error;
        const delayMs = backoffDelayMs(policy, attempt, this.random);
        progress.failedAttempts.push({ attempt, at: new Date(this.clock.nowMs()).toISOString(), error: runError(error), delayMs });
        this.log({ level: 'warn', job: job.name, message: `job ${job.name} attempt ${attempt} failed (${errorOf(error).message}); retrying in ${delayMs} ms` });
        await this.clock.sleep(delayMs, signal);
      }
    }
  }

  private handlerOf(job: Job): JobHandler {
    if (job.kind === 'custom') {
      const run = job.run;
      if (run === undefined) throw new NoHandler(job);
      return (_job, context) => run(context);
    }
    const handler = this.handlers[job.kind];
    if (handler === undefined) throw new NoHandler(job);
    return handler;
  }

  private cronLogger(): CronLogger {
    const text = (m: string | Error): string => (m instanceof Error ? m.message : m);
    return {
      info: (m) => this.log({ level: 'info', message: `node-cron: ${m}` }),
      warn: (m) => this.log({ level: 'warn', message: `node-cron: ${m}` }),
      error: (m) => this.log({ level: 'error', message: `node-cron: ${text(m)}` }),
      debug: () => {},
    };
  }
}

/** A job kind this process has no handler for: not worth retrying. */
class NoHandler extends LakeloopError {
  constructor(job: Job) {
    super('NO_HANDLER', `Job ${job.name}: this process has no handler for "${job.kind}" jobs`, {
      hint: 'Run the job where lakeloop wires that kind (lakeloop serve), or make it a custom job with run.',
    });
  }
}

/** The next time `job`'s schedule fires after now, by the wall clock (node-cron's matcher). */
export function nextFireTime(job: Pick<Job, 'schedule' | 'timezone'>): Date | null {
  const task = createTask(job.schedule, () => {}, { timezone: job.timezone });
  try {
    return task.getNextRuns(1)[0] ?? null;
  } finally {
    void task.destroy();
  }
}

/**
 * `work`'s outcome, or a rejection with the signal's reason as soon as it aborts, without
 * waiting for `work`: a handler that ignores its signal cannot hold the run's record hostage.
 */
async function untilAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function settlesWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function runError(error: unknown): RunError {
  const e = errorOf(error);
  const nodeCode: unknown = (e as Error & { code?: unknown }).code;
  const code = error instanceof LakeloopError ? error.code : typeof nodeCode === 'string' ? nodeCode : 'ERROR';
  return { message: e.message || e.name, code };
}

/** The handler's result as plain JSON (bigints as numbers when exact, else strings). */
function jsonResult(result: Readonly<Record<string, unknown>> | void): Record<string, unknown> {
  if (result === undefined || result === null) return {};
  const text = JSON.stringify(result, (_key, value: unknown) =>
    typeof value === 'bigint' ? (Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()) : value,
  );
  const parsed: unknown = text === undefined ? {} : JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
}

/**
 * What a job handler returns to end its run `skipped` (refused before doing any work) rather
 * than `succeeded`: the ledger, `jobsStatus`, the log and the console show the reason. Not
 * retried: the same refusal would follow.
 *
 * @example
 * if (over) return jobSkipped('would scan 12 GiB, budget 10 GiB', { hint: 'raise budgets.maxBytesScannedPerRun' });
 */
export function jobSkipped(reason: string, details: Readonly<Record<string, unknown>> = {}): Readonly<Record<string, unknown>> {
  return { ...details, status: 'skipped', reason };
}

/** The reason of a handler result made by `jobSkipped`, else undefined. */
function skipReasonOf(result: Readonly<Record<string, unknown>> | null): string | undefined {
  return result?.['status'] === 'skipped' && typeof result['reason'] === 'string' ? result['reason'] : undefined;
}
