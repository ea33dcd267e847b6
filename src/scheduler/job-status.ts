import type { ObjectStore } from '../storage/index.js';
import type { Job, JobKind } from './define-job.js';
import { listRuns, type RunError, type RunStatus } from './run-ledger.js';
import { nextFireTime } from './scheduler.js';

/** A job's last run, as `lakeloop status` shows it. */
export interface LastRunStatus {
  readonly status: RunStatus;
  readonly trigger: 'schedule' | 'manual';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly seconds: number | null;
  readonly attempts: number;
  readonly error: RunError | null;
  /** Why a skipped run did nothing. */
  readonly reason: string | null;
  /** Who asked for a manual run (`console`, `api`), when the ledger says. */
  readonly requestedBy?: string;
}

/** One job's line in `lakeloop status`: its schedule, next fire time and last run. */
export interface JobStatus {
  readonly name: string;
  readonly kind: JobKind;
  readonly schedule: string;
  readonly timezone: string;
  readonly enabled: boolean;
  /** The next fire time (ISO-8601 UTC) by the wall clock; null when disabled. */
  readonly next: string | null;
  /** The newest record in the run ledger; null when the job never ran on this lake. */
  readonly last: LastRunStatus | null;
  /** A job that only runs when asked (`JobsStatusOptions.onDemand`): its schedule means nothing. */
  readonly onDemand?: true;
}

/** What `jobsStatus` lists besides the project's jobs. */
export interface JobsStatusOptions {
  /**
   * Jobs that no schedule fires, run only when asked (serve's `console-reconcile`): listed
   * once they have a run in the ledger, marked `onDemand`, with no next fire time.
   */
  readonly onDemand?: readonly Job[];
}

/**
 * The project's jobs with their next fire times and, when a store is given, their last
 * run from the lake's run ledger (one small read per job).
 *
 * @example
 * const jobs = await jobsStatus(await loadJobs(dir), store);
 * jobs[0]; // { name: 'nightly-reconcile', next: '2026-11-03T02:00:00.000Z', last: { status: 'succeeded', ... }, ... }
 */
export async function jobsStatus(jobs: readonly Job[], store: ObjectStore | undefined, options: JobsStatusOptions = {}): Promise<JobStatus[]> {
  const statuses: JobStatus[] = [];
  for (const job of jobs) {
    const last = await lastRunOf(job, store);
    statuses.push({ ...jobLine(job), next: job.enabled ? (nextFireTime(job)?.toISOString() ?? null) : null, last });
  }
  for (const job of options.onDemand ?? []) {
    const last = await lastRunOf(job, store);
    if (last !== null) statuses.push({ ...jobLine(job), next: null, last, onDemand: true });
  }
  return statuses;
}

function jobLine(job: Job): Pick<JobStatus, 'name' | 'kind' | 'schedule' | 'timezone' | 'enabled'> {
  return { name: job.name, kind: job.kind, schedule: job.schedule, timezone: job.timezone, enabled: job.enabled };
}

/** The job's newest ledger record as `status` shows it; null without a store or a run. */
async function lastRunOf(job: Job, store: ObjectStore | undefined): Promise<LastRunStatus | null> {
  const [run] = store === undefined ? [] : await listRuns(store, { job: job.name, limit: 1 });
  if (run === undefined) return null;
  const { status, trigger, startedAt, finishedAt, seconds, attempts, error, reason, requestedBy } = run;
  return { status, trigger, startedAt, finishedAt, seconds, attempts, error, reason, ...(requestedBy === undefined ? {} : { requestedBy }) };
}
