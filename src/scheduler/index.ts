/**
 * The scheduler (SPEC §8): jobs in `jobs/*.ts` (`defineJob`, `loadJobs`) fired on cron
 * schedules by node-cron (`Scheduler`), one run per job at a time, with a timeout,
 * retries with exponential backoff and full jitter, and every run recorded in the lake's
 * run ledger under `_lakeloop/runs/` (`listRuns`). What a job kind does is injected by
 * the caller as a handler; `custom` jobs carry their own `run`.
 */
export {
  DEFAULT_JOB_BACKOFF,
  DEFAULT_JOB_RETRIES,
  DEFAULT_JOB_TIMEOUT_MS,
  JOB_KINDS,
  cronProblem,
  defineJob,
  isJob,
  jobSelectors,
  validateJob,
  type Job,
  type JobBackoff,
  type JobDefinition,
  type JobKind,
  type JobRunContext,
  type JobRunFunction,
  type RunTrigger,
} from './define-job.js';
export { JOBS_DIR, loadJobs } from './load-jobs.js';
export {
  RUNS_PREFIX,
  RUN_STATUSES,
  listRuns,
  runKey,
  writeRun,
  type ListRunsOptions,
  type RunAttemptFailure,
  type RunError,
  type RunKind,
  type RunRecord,
  type RunStatus,
} from './run-ledger.js';
export {
  JobTimedOut,
  Scheduler,
  SchedulerStopped,
  jobSkipped,
  nextFireTime,
  type JobHandler,
  type SchedulerLogEvent,
  type SchedulerOptions,
} from './scheduler.js';
export { jobsStatus, type JobStatus, type JobsStatusOptions, type LastRunStatus } from './job-status.js';
