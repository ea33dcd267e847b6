/**
 * Every error lakeloop raises on purpose. A `LakeloopError` is something a user can act
 * on: the CLI prints its message (and `hint`) without a stack trace. Anything else
 * that escapes is a bug and is printed in full.
 */
export class LakeloopError extends Error {
  /** A stable machine-readable code, e.g. `COMMIT_CONFLICT`. */
  readonly code: string;
  /** Whether repeating the same operation may succeed. */
  readonly retryable: boolean;
  /** What the user should do about it, when there is something to say. */
  readonly hint: string | undefined;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; retryable?: boolean; hint?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }
}

/** The CLI was called wrongly (exit code 2). */
export class UsageError extends LakeloopError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, { hint });
  }
}

/** One problem found in a config file. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** `lakeloop.config.ts` (or another config file) is missing, unloadable or invalid. */
export class ConfigError extends LakeloopError {
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    const lines = issues.map((i) => `  - ${i.path ? `${i.path}: ` : ''}${i.message}`);
    super('CONFIG', `Invalid config ${file}:\n${lines.join('\n')}`, {
      cause: options.cause,
      hint: `Fix ${file} and run the command again.`,
    });
    this.file = file;
    this.issues = issues;
  }
}

/** An object-store operation failed (after retries, where retrying made sense). */
export class StorageError extends LakeloopError {
  readonly key: string;

  constructor(message: string, key: string, options: { cause?: unknown; retryable?: boolean; hint?: string } = {}) {
    super('STORAGE', message, options);
    this.key = key;
  }
}

/** An object the caller asked for is not in the store. */
export class ObjectNotFound extends StorageError {
  constructor(key: string, where: string) {
    super(`Failed to read ${key}: no such object in ${where}`, key);
  }
}

/** A table does not exist where it was looked for. */
export class TableNotFound extends LakeloopError {
  readonly table: string;

  constructor(table: string, hint?: string) {
    super('TABLE_NOT_FOUND', `Table ${table} not found: it has no _delta_log`, {
      hint: hint ?? 'Check the name (layer.table) or the path, and the lake root in lakeloop.config.ts.',
    });
    this.table = table;
  }
}

/** A Delta table's log or data is unreadable, unsupported or inconsistent. */
export class TableCorrupt extends LakeloopError {
  readonly table: string;
  readonly version: number | undefined;

  constructor(table: string, version: number | undefined, reason: string, options: { cause?: unknown; hint?: string } = {}) {
    const at = version === undefined ? '' : ` at version ${version}`;
    super('TABLE_CORRUPT', `Failed to read table ${table}${at}: ${reason}`, options);
    this.table = table;
    this.version = version;
  }
}

/** A commit lost the race to another writer and could not be retried safely. */
export class CommitConflict extends LakeloopError {
  readonly table: string;
  readonly expected: number;
  readonly actual: number;

  constructor(table: string, expected: number, actual: number, reason: string) {
    super(
      'COMMIT_CONFLICT',
      `Failed to commit to ${table}: version ${expected} was taken by another writer (table now at ${actual}); ${reason}`,
      { retryable: true, hint: 'Run the command again; it will re-read the table and retry.' },
    );
    this.table = table;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A SQL statement failed inside DuckDB. */
export class SqlError extends LakeloopError {
  readonly sql: string;

  constructor(reason: string, sql: string, options: { cause?: unknown } = {}) {
    super('SQL', `Failed to run SQL: ${reason}`, options);
    this.sql = sql;
  }
}

/** A verb or option that exists in the CLI but is not built yet. */
export class NotImplemented extends LakeloopError {
  constructor(what: string) {
    super('NOT_IMPLEMENTED', `${what} is not built yet in this version of lakeloop`, {
      hint: 'See README.md for the verbs that work today.',
    });
  }
}

/** A run whose estimated scan is over `budgets.maxBytesScannedPerRun` (mode `refuse`): it read nothing. */
export class BudgetExceeded extends LakeloopError {
  readonly estimatedBytes: number;
  readonly budgetBytes: number;

  constructor(message: string, estimatedBytes: number, budgetBytes: number, hint: string) {
    super('BUDGET_EXCEEDED', message, { hint });
    this.estimatedBytes = estimatedBytes;
    this.budgetBytes = budgetBytes;
  }
}

/**
 * Work refused before it started by a policy and recorded `skipped` (a reconcile over the scan
 * budget): not a failure — nothing broke, nothing was changed — but not done either. The CLI
 * prints `skipped: <reason>` and exits 3, so that a script can tell it from success and failure.
 */
export class WorkSkipped extends LakeloopError {
  constructor(reason: string, hint?: string) {
    super('SKIPPED', reason, hint === undefined ? {} : { hint });
  }
}

/** Throws when `condition` is false: a broken invariant is a bug, not a user error. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`lakeloop internal error: ${message}`);
}

/** The message of anything thrown: an Error's message, else its text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
