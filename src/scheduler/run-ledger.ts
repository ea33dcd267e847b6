import { z } from 'zod';
import { LakeloopError } from '../core/index.js';
import type { ObjectStore } from '../storage/index.js';
import { JOB_KINDS, JOB_NAME, type JobKind, type RunTrigger } from './define-job.js';

/** Where the run ledger lives in the lake. */
export const RUNS_PREFIX = '_lakeloop/runs/';

/** What a ledger record is a run of: a job's kind, or `run` (a `lakeloop run` of the models, job `run`). */
export type RunKind = JobKind | 'run';

const RUN_KINDS: readonly RunKind[] = Object.freeze([...JOB_KINDS, 'run']);

/**
 * A run's state: `running` until it ends; `skipped` is a run its handler refused before doing
 * any work (a reconcile over the scan budget in refuse mode; see `jobSkipped`), with its
 * `reason`; `skipped_overlap` is a fire that found the previous run of the same job still
 * going and did nothing.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'timed_out' | 'skipped' | 'skipped_overlap';

export const RUN_STATUSES: readonly RunStatus[] = Object.freeze(['running', 'succeeded', 'failed', 'timed_out', 'skipped', 'skipped_overlap']);

/** Why a run (or one attempt of it) failed. */
export interface RunError {
  readonly message: string;
  /** `LakeloopError.code`, a Node error code, or `ERROR`. */
  readonly code: string;
}

/** One failed attempt that was retried. */
export interface RunAttemptFailure {
  readonly attempt: number;
  readonly at: string;
  readonly error: RunError;
  /** How long the scheduler waited before the next attempt. */
  readonly delayMs: number;
}

/**
 * One run of a job as the ledger keeps it (`_lakeloop/runs/<job>/<start>-<id>.json`): written
 * when the run starts (`running`) and replaced when it ends.
 *
 * @example
 * { id: '9f2c1a7e', job: 'nightly-reconcile', kind: 'reconcile', trigger: 'schedule', status: 'succeeded',
 *   scheduledFor: '2026-11-02T02:00:00.000Z', startedAt: '2026-11-02T02:00:00.004Z', finishedAt: '2026-11-02T02:03:10.500Z',
 *   seconds: 190.496, attempts: 1, result: { partitions: 7, corrected: 1 }, error: null, failedAttempts: [] }
 */
export interface RunRecord {
  readonly id: string;
  readonly job: string;
  readonly kind: RunKind;
  readonly trigger: RunTrigger;
  readonly status: RunStatus;
  /** ISO-8601 UTC; the cron fire time, or when a manual run was asked for. */
  readonly scheduledFor: string;
  readonly startedAt: string;
  /** Null while running. */
  readonly finishedAt: string | null;
  /** Wall time from start to end; null while running. */
  readonly seconds: number | null;
  /** Attempts made (0 for a skipped fire). */
  readonly attempts: number;
  /** What the handler returned (JSON), on success. */
  readonly result: Readonly<Record<string, unknown>> | null;
  /** Why the run failed or timed out; null otherwise. */
  readonly error: RunError | null;
  /** Why a `skipped` or `skipped_overlap` run did nothing; null otherwise (and in records written before it existed). */
  readonly reason: string | null;
  /**
   * Who asked for a `manual` run from outside the process (the console's reconcile: `console`
   * for the page's button, `api` for `lakeloop control reconcile` and other clients); absent
   * otherwise. A field of its own, not a new trigger, so that older readers still parse the record.
   */
  readonly requestedBy?: string;
  readonly failedAttempts: readonly RunAttemptFailure[];
}

const runErrorSchema = z.object({ message: z.string(), code: z.string() });

const runRecordSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+$/),
  job: z.string().regex(JOB_NAME),
  kind: z.enum(RUN_KINDS as [RunKind, ...RunKind[]]),
  trigger: z.enum(['schedule', 'manual']),
  status: z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]),
  scheduledFor: z.iso.datetime(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().nullable(),
  seconds: z.number().nonnegative().nullable(),
  attempts: z.int().nonnegative(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: runErrorSchema.nullable(),
  reason: z.string().nullable().default(null),
  requestedBy: z.string().optional(),
  failedAttempts: z.array(z.object({ attempt: z.int().positive(), at: z.iso.datetime(), error: runErrorSchema, delayMs: z.number().nonnegative() })).default([]),
});

/**
 * The ledger key of a run: sortable by start time within a job and across jobs by the
 * file name (`20261102T020000.004Z-9f2c1a7e.json`), so a listing needs no reads to order.
 */
export function runKey(record: Pick<RunRecord, 'job' | 'startedAt' | 'id'>): string {
  const stamp = record.startedAt.replace(/[-:]/g, '');
  return `${RUNS_PREFIX}${record.job}/${stamp}-${record.id}.json`;
}

/** Writes (or replaces) a run's record; atomic on every store, so a reader sees the old or the new state. */
export async function writeRun(store: ObjectStore, record: RunRecord): Promise<void> {
  await store.put(runKey(record), `${JSON.stringify(record, null, 2)}\n`);
}

export interface ListRunsOptions {
  /** Only this job's runs; default: every job's. */
  readonly job?: string;
  /** At most this many (the newest); default 20. */
  readonly limit?: number;
}

/**
 * The newest runs in the ledger, newest first (by start time). Reads only the records
 * it returns. A record that is not a run (edited by hand) is a `LakeloopError` naming its key.
 *
 * @example
 * const [last] = await listRuns(store, { job: 'nightly-reconcile', limit: 1 });
 * last?.status; // 'succeeded'
 */
export async function listRuns(store: ObjectStore, options: ListRunsOptions = {}): Promise<RunRecord[]> {
  const limit = options.limit ?? 20;
  if (limit <= 0) return [];
  if (options.job !== undefined && !JOB_NAME.test(options.job)) return [];
  const prefix = options.job === undefined ? RUNS_PREFIX : `${RUNS_PREFIX}${options.job}/`;
  const keys = (await store.listAll(prefix)).map((o) => o.key).filter((key) => key.endsWith('.json'));
  const fileName = (key: string): string => key.slice(key.lastIndexOf('/') + 1);
  keys.sort((a, b) => (fileName(a) < fileName(b) ? 1 : fileName(a) > fileName(b) ? -1 : 0));
  const records: RunRecord[] = [];
  for (const key of keys.slice(0, limit)) {
    const body = await store.getIfExists(key);
    if (body !== undefined) records.push(parseRun(key, body));
  }
  return records;
}

function parseRun(key: string, body: Buffer): RunRecord {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw corrupt(key, 'not JSON', error);
  }
  const parsed = runRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupt(key, `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data as RunRecord;
}

function corrupt(key: string, reason: string, cause?: unknown): LakeloopError {
  return new LakeloopError('RUN_LEDGER_CORRUPT', `Failed to read run record ${key}: ${reason}`, {
    cause,
    hint: 'The run ledger is written by lakeloop only; delete or restore that file.',
  });
}
