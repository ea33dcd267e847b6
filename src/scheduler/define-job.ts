import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { configIssueOf } from '../config/index.js';
import { ConfigError, type ConfigIssue } from '../core/index.js';
import { parseSelector } from '../models/index.js';

/** What a job does: the built-in maintenance verbs, or `custom` (the job's own `run`). */
export type JobKind = 'reconcile' | 'compact' | 'vacuum' | 'replay' | 'custom';

export const JOB_KINDS: readonly JobKind[] = Object.freeze(['reconcile', 'compact', 'vacuum', 'replay', 'custom']);

/** What a job's handler (or a `custom` job's `run`) is given for one attempt. */
export interface JobRunContext {
  /** Aborted when the run times out or the scheduler stops; long work must check it. */
  readonly signal: AbortSignal;
  readonly params: Readonly<Record<string, unknown>>;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  readonly trigger: RunTrigger;
  /** The fire time the run is for (a manual run: when it was asked for), ISO-8601 UTC. */
  readonly scheduledFor: string;
}

/** How a run started: a cron tick or `runNow`. */
export type RunTrigger = 'schedule' | 'manual';

/** The work of a `custom` job; what it returns (JSON) is recorded in the run ledger. */
export type JobRunFunction = (context: JobRunContext) => Promise<Record<string, unknown> | void>;

/** How a failed attempt's retry waits: full jitter in [0, min(maxDelayMs, baseDelayMs·2^(n-1))]. */
export interface JobBackoff {
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * A scheduled job as the user writes it in `jobs/<name>.ts`.
 *
 * @example
 * export default defineJob({ kind: 'reconcile', schedule: '0 2 * * *', params: { window: '7d' } });
 */
export interface JobDefinition {
  /** Names the job in the ledger and `status`; default: the file name without extension. */
  readonly name?: string;
  /** A cron expression of 5 fields, or 6 with seconds first (node-cron's syntax). */
  readonly schedule: string;
  readonly kind: JobKind;
  readonly description?: string;
  /** Handed to the handler as is (reconcile: e.g. `{ window: '7d' }`); must be JSON. */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Required for `kind: 'custom'`, refused for the others. */
  readonly run?: JobRunFunction;
  /** The bound on one run, every attempt and backoff wait included; default 1 hour. */
  readonly timeoutMs?: number;
  /** Retries after a failed attempt; default 2. */
  readonly retries?: number;
  /** Default `{ baseDelayMs: 30_000, maxDelayMs: 600_000 }`. */
  readonly backoff?: JobBackoff;
  /** An IANA time zone the schedule is read in; default `UTC`. */
  readonly timezone?: string;
  /** A disabled job is never fired by the schedule (`runNow` still runs it); default true. */
  readonly enabled?: boolean;
}

/** A validated job: the definition with its defaults applied. */
export interface Job {
  /** `''` only between an unnamed `defineJob` and loading (`loadJobs` names it after its file). */
  readonly name: string;
  readonly schedule: string;
  readonly kind: JobKind;
  readonly description: string | undefined;
  readonly params: Readonly<Record<string, unknown>>;
  readonly run: JobRunFunction | undefined;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoff: Required<JobBackoff>;
  readonly timezone: string;
  readonly enabled: boolean;
  /** The file the job was loaded from (`loadJobs`), else undefined. */
  readonly file: string | undefined;
}

export const DEFAULT_JOB_TIMEOUT_MS = 60 * 60 * 1000;
export const DEFAULT_JOB_RETRIES = 2;
export const DEFAULT_JOB_BACKOFF: Required<JobBackoff> = Object.freeze({ baseDelayMs: 30_000, maxDelayMs: 600_000 });

/** A job name: it is a folder of the run ledger, so a plain identifier. */
export const JOB_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const NAME_ERROR = 'expected lowercase letters, digits, "-" and "_" (e.g. "nightly-reconcile")';

const JOB = Symbol.for('lakeloop.job');

const POSITIVE_INT = 'expected a positive integer (milliseconds)';
const positiveMs = z.int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT });

const definitionSchema = z
  .strictObject({
    name: z.string({ error: NAME_ERROR }).regex(JOB_NAME, { error: NAME_ERROR }).optional(),
    schedule: z.string({ error: 'expected a cron expression such as "0 2 * * *"' }).superRefine((value, ctx) => {
      const problem = cronProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
    kind: z.enum(JOB_KINDS as [JobKind, ...JobKind[]], { error: `expected one of ${JOB_KINDS.map((k) => `"${k}"`).join(', ')}` }),
    description: z.string().optional(),
    params: z
      .record(z.string(), z.unknown(), { error: 'expected an object, e.g. { window: "7d" }' })
      .refine(isJson, { error: 'expected plain JSON values (they are recorded in the run ledger)' })
      .default({}),
    run: z.custom<JobRunFunction>((value) => typeof value === 'function', { error: 'expected a function: async ({ signal, params, attempt }) => ({ ... })' }).optional(),
    timeoutMs: positiveMs.default(DEFAULT_JOB_TIMEOUT_MS),
    retries: z.int({ error: 'expected a whole number of retries (0 or more)' }).min(0, { error: 'expected 0 or more retries' }).default(DEFAULT_JOB_RETRIES),
    backoff: z
      .strictObject({ baseDelayMs: positiveMs.default(DEFAULT_JOB_BACKOFF.baseDelayMs), maxDelayMs: positiveMs.default(DEFAULT_JOB_BACKOFF.maxDelayMs) })
      .default({ ...DEFAULT_JOB_BACKOFF }),
    timezone: z
      .string({ error: 'expected an IANA time zone such as "UTC" or "Europe/Paris"' })
      .refine(isTimeZone, { error: 'expected an IANA time zone such as "UTC" or "Europe/Paris"' })
      .default('UTC'),
    enabled: z.boolean().default(true),
  })
  .superRefine((job, ctx) => {
    if (job.kind === 'custom' && job.run === undefined) {
      ctx.addIssue({ code: 'custom', path: ['run'], message: 'a "custom" job needs run: async ({ signal, params }) => ({ ... })' });
    }
    if (job.kind !== 'custom' && job.run !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['run'], message: `only "custom" jobs have run; a "${job.kind}" job is run by lakeloop` });
    }
    if (job.kind === 'reconcile' || job.kind === 'replay') {
      for (const key of ['models', 'exclude'] as const) {
        const problem = selectorsProblem(job.params[key]);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['params', key], message: problem });
      }
    }
  });

/** The selector grammar of `params.models` and `params.exclude`, as the CLI's `--models` takes it. */
const SELECTORS = 'name, layer.*, name+, +name, owner:NAME, domain:NAME';

/** Why a reconcile or replay job's `params.models` / `params.exclude` is not a list of selectors, or undefined when it is (or absent). */
function selectorsProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) {
    return `expected a selector or a non-empty array of selectors (${SELECTORS}), e.g. ['silver.orders+', 'domain:sales']`;
  }
  const invalid = list.filter((text) => parseSelector(text) === undefined);
  return invalid.length ? `${invalid.map((t) => JSON.stringify(t)).join(', ')} is not a selector (${SELECTORS})` : undefined;
}

/**
 * The selectors a reconcile or replay job's `params[key]` holds: a string is one selector, an
 * array several; absent or anything else (refused by `defineJob`) is none.
 *
 * @example
 * jobSelectors({ models: 'silver.*', exclude: ['gold.order_funnel'] }, 'exclude') // ['gold.order_funnel']
 */
export function jobSelectors(params: Readonly<Record<string, unknown>>, key: 'models' | 'exclude'): string[] {
  const value = params[key];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.map(String) : [];
}

/**
 * Validates a job and returns it frozen, defaults applied. Throws `ConfigError` listing
 * every problem by field (`schedule: "61 2 * * *" is not a cron expression: ...`);
 * `loadJobs` re-labels it with the job's file and names the job after the file.
 *
 * @example
 * // jobs/nightly-reconcile.ts
 * export default defineJob({ kind: 'reconcile', schedule: '0 2 * * *', params: { window: '7d' } });
 */
export function defineJob(definition: JobDefinition): Job {
  return validateJob(definition, undefined);
}

/** Whether a value is a job made by `defineJob` (from any copy of lakeloop). */
export function isJob(value: unknown): value is Job {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB] === true;
}

/**
 * Validates a job definition (or re-labels a validated job) with the file it came from;
 * a job without a name is named after the file. Errors name `file`, else the job.
 */
export function validateJob(value: unknown, file: string | undefined): Job {
  const fileName = file === undefined ? undefined : jobNameOfFile(file);
  if (isJob(value)) {
    if (file === undefined) return value;
    const name = value.name === '' ? fileName : value.name;
    if (name === undefined || !JOB_NAME.test(name)) {
      throw new ConfigError(file, [{ path: 'name', message: `the file name gives no valid job name; set name (${NAME_ERROR})` }]);
    }
    return brand({ ...value, name, file });
  }
  const parsed = definitionSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const name = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['name'] : undefined;
    throw new ConfigError(file ?? (typeof name === 'string' ? `job "${name}"` : 'job'), parsed.error.issues.map(configIssueOf));
  }
  const job = parsed.data;
  const name = job.name ?? fileName ?? '';
  if (file !== undefined && !JOB_NAME.test(name)) {
    throw new ConfigError(file, [{ path: 'name', message: `the file name gives no valid job name; set name (${NAME_ERROR})` }]);
  }
  return brand({
    name,
    schedule: job.schedule,
    kind: job.kind,
    description: job.description,
    params: deepFreeze(structuredClone(job.params)),
    run: job.run,
    timeoutMs: job.timeoutMs,
    retries: job.retries,
    backoff: Object.freeze({ ...job.backoff }),
    timezone: job.timezone,
    enabled: job.enabled,
    file,
  });
}

/** Why `expression` is not a cron expression node-cron accepts, or undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  const result = validateDetailed(expression);
  if (result.valid) return undefined;
  const reasons = result.errors.map((e) =>
    e.field === 'expression' ? e.message : `the ${FIELD_NAMES[e.field] ?? e.field} field ${JSON.stringify(e.value ?? '')} is out of range or malformed`,
  );
  return `${JSON.stringify(expression)} is not a cron expression: ${reasons.join('; ')} (fields: [second] minute hour day-of-month month day-of-week, e.g. "0 2 * * *")`;
}

const FIELD_NAMES: Readonly<Record<string, string>> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day-of-month',
  month: 'month',
  dayOfWeek: 'day-of-week',
};

function jobNameOfFile(file: string): string {
  return (file.split(/[\\/]/).at(-1) ?? '').replace(/\.(ts|mts|js|mjs)$/, '');
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJson);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(isJson);
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function brand(job: Job): Job {
  Object.defineProperty(job, JOB, { value: true, enumerable: false });
  return Object.freeze(job);
}
