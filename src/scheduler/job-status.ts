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
}

/**
 * The project's jobs with their next fire times and, when a store is given, their last
 * run from the lake's run ledger (one small read per job).
 *
 * @example
 * const jobs = await jobsStatus(await loadJobs(dir), store);
 * jobs[0]; // { name: 'nightly-reconcile', next: '2026-11-03T02:00:00.000Z', last: { status: 'succeeded', ... }, ... }
 */
export async function jobsStatus(jobs: readonly Job[], store: ObjectStore | undefined): Promise<JobStatus[]> {
  const statuses: JobStatus[] = [];
  for (const job of jobs) {
    const [run] = store === undefined ? [] : await listRuns(store, { job: job.name, limit: 1 });
    statuses.push({
      name: job.name,
      kind: job.kind,
      schedule: job.schedule,
      timezone: job.timezone,
      enabled: job.enabled,
      next: job.enabled ? (nextFireTime(job)?.toISOString() ?? null) : null,
      last:
        run === undefined
          ? null
          : {
              status: run.status,
              trigger: run.trigger,
              startedAt: run.startedAt,
              finishedAt: run.finishedAt,
              seconds: run.seconds,
              attempts: run.attempts,
              error: run.error,
              reason: run.reason,
            },
    });
  }
  return statuses;
}
