import { LakeloopError, parseDuration, systemClock, unknownNamesHint, UsageError, type Clock } from '../core/index.js';
import { compactTable, type CompactionResult, type CompactOptions } from './compaction.js';
import type { Lake } from './lake.js';
import { checkRetention, DEFAULT_RETENTION_HOURS, vacuumTable, type VacuumOptions, type VacuumResult } from './vacuum.js';

/** A table whose maintenance failed (the others still ran). */
export interface TableFailure {
  readonly table: string;
  readonly error: LakeloopError;
}

/** What maintenance of several tables did: one result per table that succeeded, one failure per table that did not. */
export interface MaintenanceOutcome<R> {
  readonly results: readonly R[];
  readonly failures: readonly TableFailure[];
}

/** Called before each table, e.g. to show progress. */
export type OnTable = (table: string, index: number, count: number) => void;

/**
 * Compacts the named tables (default: every table of the lake), one after another. A
 * table that fails with a `LakeloopError` (e.g. `CommitConflict`) is reported and the
 * others still run; an unknown name is a `UsageError` before anything runs.
 *
 * @example
 * const { results, failures } = await compactTables(lake, undefined, { minFiles: 5 });
 */
export async function compactTables(
  lake: Lake,
  names: readonly string[] | undefined,
  options: CompactOptions & { onTable?: OnTable } = {},
): Promise<MaintenanceOutcome<CompactionResult>> {
  return eachTable(lake, names, 'compact', options, async (name) => compactTable(await lake.table(name), options));
}

/**
 * Vacuums the named tables (default: every table of the lake), one after another; "now"
 * is the lake's clock unless `options.clock` says otherwise. Failures as in `compactTables`.
 *
 * @example
 * const { results } = await vacuumTables(lake, ['bronze.orders'], { retentionHours: 168, dryRun: true });
 */
export async function vacuumTables(
  lake: Lake,
  names: readonly string[] | undefined,
  options: VacuumOptions & { onTable?: OnTable } = {},
): Promise<MaintenanceOutcome<VacuumResult>> {
  checkRetention(names && names.length > 0 ? names.join(', ') : `the tables of ${lake.store.description}`, options.retentionHours ?? DEFAULT_RETENTION_HOURS, options.force ?? false);
  const clock: Clock = options.clock ?? { nowMs: () => lake.nowMs(), sleep: (ms, signal) => systemClock.sleep(ms, signal) };
  return eachTable(lake, names, 'vacuum', options, async (name) => vacuumTable(await lake.table(name), { ...options, clock }));
}

/** The part of a scheduler job attempt a maintenance handler reads (structurally the scheduler's `JobRunContext`). */
export interface MaintenanceJobContext {
  readonly signal: AbortSignal;
  readonly params: Readonly<Record<string, unknown>>;
}

/**
 * The scheduler handler of `compact` jobs: `params` `{ tables?: string[], minFiles?: number,
 * targetFileBytes?: number }`. Returns counts for the run ledger; throws when a table failed
 * (after the others ran), so the scheduler retries.
 *
 * @example
 * new Scheduler({ jobs, store, handlers: { compact: compactJob(lake), vacuum: vacuumJob(lake) } });
 */
export function compactJob(lake: Lake): (job: { readonly name: string }, context: MaintenanceJobContext) => Promise<Record<string, unknown>> {
  return async (job, { signal, params }) => {
    const minFiles = optionalNumber(job.name, params, 'minFiles');
    const targetFileBytes = optionalNumber(job.name, params, 'targetFileBytes');
    const outcome = await compactTables(lake, tablesParam(job.name, params), {
      signal,
      ...(minFiles !== undefined ? { minFiles } : {}),
      ...(targetFileBytes !== undefined ? { targetFileBytes } : {}),
    });
    failIfAny(job.name, 'compact', outcome);
    const done = outcome.results.filter((r) => r.committed);
    return {
      tables: outcome.results.length,
      compacted: done.length,
      filesRewritten: done.reduce((n, r) => n + r.filesRewritten, 0),
      filesWritten: done.reduce((n, r) => n + r.filesWritten, 0),
    };
  };
}

/**
 * The scheduler handler of `vacuum` jobs: `params` `{ tables?: string[], retention?: '168h'
 * (a duration), dryRun?: boolean }`. Returns counts for the run ledger; throws when a table
 * failed (after the others ran).
 *
 * @example
 * defineJob({ kind: 'vacuum', schedule: '0 3 * * 0', params: { retention: '168h' } });
 */
export function vacuumJob(lake: Lake): (job: { readonly name: string }, context: MaintenanceJobContext) => Promise<Record<string, unknown>> {
  return async (job, { signal, params }) => {
    const retention = params['retention'];
    if (retention !== undefined && typeof retention !== 'string') {
      throw new UsageError(`Job ${job.name}: params.retention must be a duration such as "168h", got ${JSON.stringify(retention)}`);
    }
    const dryRun = params['dryRun'];
    if (dryRun !== undefined && typeof dryRun !== 'boolean') throw new UsageError(`Job ${job.name}: params.dryRun must be true or false`);
    const outcome = await vacuumTables(lake, tablesParam(job.name, params), {
      signal,
      ...(retention !== undefined ? { retentionHours: parseDuration(retention, `Job ${job.name}: params.retention`) / 3_600_000 } : {}),
      ...(dryRun !== undefined ? { dryRun } : {}),
    });
    failIfAny(job.name, 'vacuum', outcome);
    return {
      tables: outcome.results.length,
      deletedFiles: outcome.results.reduce((n, r) => n + r.deletedFiles, 0),
      deletedBytes: outcome.results.reduce((n, r) => n + r.deletedBytes, 0),
      ...(dryRun ? { dryRun: true } : {}),
    };
  };
}

async function eachTable<R>(
  lake: Lake,
  names: readonly string[] | undefined,
  verb: string,
  options: { onTable?: OnTable; signal?: AbortSignal },
  work: (name: string) => Promise<R>,
): Promise<MaintenanceOutcome<R>> {
  const existing = await lake.tables();
  const selected = names && names.length > 0 ? [...new Set(names)] : existing;
  const unknown = selected.filter((name) => !existing.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `Cannot ${verb} ${unknown.join(', ')}: no such table in ${lake.store.description}`,
      unknownNamesHint(unknown, existing, 'Tables', 'The lake has no tables yet.'),
    );
  }
  const results: R[] = [];
  const failures: TableFailure[] = [];
  for (const [index, name] of selected.entries()) {
    options.signal?.throwIfAborted();
    options.onTable?.(name, index, selected.length);
    try {
      results.push(await work(name));
    } catch (error) {
      // A usage error is the same for every table; an abort stops them all.
      if (!(error instanceof LakeloopError) || error instanceof UsageError || options.signal?.aborted) throw error;
      failures.push({ table: name, error });
    }
  }
  return { results, failures };
}

function failIfAny(job: string, verb: string, outcome: MaintenanceOutcome<unknown>): void {
  if (outcome.failures.length === 0) return;
  const first = outcome.failures[0] as TableFailure;
  throw new LakeloopError(
    outcome.failures.length === 1 ? first.error.code : 'MAINTENANCE',
    `Job ${job}: failed to ${verb} ${outcome.failures.map((f) => f.table).join(', ')}: ${first.error.message}`,
    { cause: first.error, retryable: outcome.failures.every((f) => f.error.retryable), ...(first.error.hint ? { hint: first.error.hint } : {}) },
  );
}

function tablesParam(job: string, params: Readonly<Record<string, unknown>>): string[] | undefined {
  const tables = params['tables'];
  if (tables === undefined) return undefined;
  if (!Array.isArray(tables) || !tables.every((t) => typeof t === 'string')) {
    throw new UsageError(`Job ${job}: params.tables must be a list of layer.table names, got ${JSON.stringify(tables)}`);
  }
  return tables as string[];
}

function optionalNumber(job: string, params: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new UsageError(`Job ${job}: params.${name} must be a number, got ${JSON.stringify(value)}`);
  return value;
}
