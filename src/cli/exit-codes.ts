import { ConfigError, LakeloopError, NotImplemented, UsageError, WorkSkipped } from '../core/index.js';

/** The CLI's exit codes (SPEC §3). */
export const ExitCode = Object.freeze({
  /** The command did what it was asked. */
  ok: 0,
  /** It ran and failed: a missing table, a failing SQL statement, an unreachable store, a bug. */
  failure: 1,
  /** It could not start: bad arguments, an invalid config, a verb not built yet. */
  usage: 2,
  /** The work it asked for was refused by a policy before it started and recorded `skipped` (`WorkSkipped`): nothing failed, nothing was done. */
  skipped: 3,
});

/**
 * The exit code for an error that ended a command. An invalid project file (config,
 * contract, job, model header, or a model file found wrong while loading: SQL syntax, an
 * unknown table, a cycle) counts as a usage error: like a wrong flag, nothing was
 * attempted and running again unchanged cannot help. A model that fails while it runs is
 * a failure.
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof WorkSkipped) return ExitCode.skipped;
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof NotImplemented) return ExitCode.usage;
  // By code, not `instanceof ModelError`: importing models/ here would load DuckDB for `--help`.
  if (error instanceof LakeloopError && error.code === 'MODEL_INVALID') return ExitCode.usage;
  if (error instanceof LakeloopError) return ExitCode.failure;
  return ExitCode.failure;
}
