import { LakeloopError } from '../core/index.js';

/** How a model's output is maintained (SPEC §6). */
export const MODEL_KINDS = ['full', 'incremental_by_partition', 'incremental_by_key'] as const;

/** One of `MODEL_KINDS`. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** The layers a model may write. */
export const MODEL_LAYERS = ['silver', 'gold'] as const;

/**
 * A model's completeness SLO (SPEC §8): the share of its table that is exact. Breached when
 * more than `maxPendingLateRows` late rows wait for reconcile, or when a partition more than
 * `exactAfter` older than the table's newest partition is not exact (provisional, pending
 * late, held, missing or stale).
 *
 * @example
 * { maxPendingLateRows: 100, exactAfter: '2d', exactAfterMs: 172_800_000 }
 */
export interface CompletenessObjective {
  readonly maxPendingLateRows: number | undefined;
  readonly exactAfter: string | undefined;
  readonly exactAfterMs: number | undefined;
}

/** A model's header, validated (SPEC §6); keys the runner does not use yet are kept as given. */
export interface ModelHeader {
  readonly kind: ModelKind;
  readonly partitionBy: readonly string[];
  readonly uniqueKey: readonly string[];
  readonly versionBy: string | undefined;
  readonly deleteWhen: string | undefined;
  /** Streaming horizon: partitions older than watermark − lateness wait for reconcile (SPEC §7). */
  readonly lateness: string | undefined;
  /** How far ahead of the wall clock an event time may be before it stops moving the watermark (default 5m). */
  readonly maxFutureSkew: string | undefined;
  /** Who answers for this table (`owner:` key): alerts about it name them, `owner:NAME` selects by it. */
  readonly owner: string | undefined;
  /** What to do when this table alerts (`runbook:` key): an http(s) URL or a line of text, carried by every alert about it. */
  readonly runbook: string | undefined;
  /** The business domain the model belongs to (`domain:` key): `lineage` and `status` group by it, `domain:NAME` selects by it. */
  readonly domain: string | undefined;
  readonly freshness: string | undefined;
  /** The completeness SLO (`completeness:` key): how much of the table may wait for reconcile. */
  readonly completeness: CompletenessObjective | undefined;
  /**
   * The columns whose sums mean something (amounts, counts), which reconcile reports sum
   * deltas of; undefined: the default rule (`measureColumns`); `[]`: none.
   */
  readonly measures: readonly string[] | undefined;
  /** The data tests of the `tests:` key (SPEC §8), validated. */
  readonly tests: readonly DataTest[];
}

/** The kinds of data test a model header may declare (SPEC §8). */
export const DATA_TEST_KINDS = ['not_null', 'unique', 'accepted_values', 'relationships', 'row_count', 'expression', 'freshness'] as const;

/** `error` blocks publishing; `warn` publishes and reports. */
export type DataTestSeverity = 'error' | 'warn';

/** What one data test checks. */
export type DataTestSpec =
  | { readonly kind: 'not_null'; readonly columns: readonly string[] }
  | { readonly kind: 'unique'; readonly columns: readonly string[] }
  | { readonly kind: 'accepted_values'; readonly column: string; readonly values: readonly (string | number | boolean)[] }
  | { readonly kind: 'relationships'; readonly column: string; readonly to: string; readonly field: string }
  | { readonly kind: 'row_count'; readonly min: number | undefined; readonly max: number | undefined }
  | { readonly kind: 'expression'; readonly expression: string }
  /** The newest `column` value is at most `maxAge` (a duration, `maxAgeMs` parsed) older than the clock. */
  | { readonly kind: 'freshness'; readonly column: string; readonly maxAge: string; readonly maxAgeMs: number }
  /** A custom SQL test (`tests/*.sql`): `sql` returns the failing rows. */
  | CustomSqlTestSpec;

/**
 * A custom SQL data test: a `tests/<name>.sql` file whose SELECT returns the failing rows of
 * the model named by its header. `inputs` are the lake tables the SELECT reads (filled in by
 * `resolveModels`; empty before).
 *
 * @example
 * { kind: 'sql', file: '/repo/tests/paid_orders_have_payments.sql', sql: 'SELECT ...', sqlOffset: 60, text: '...', description: undefined, inputs: ['silver.orders', 'silver.payments'] }
 */
export interface CustomSqlTestSpec {
  readonly kind: 'sql';
  readonly file: string;
  readonly sql: string;
  /** Character offset of `sql` in `text`, the file's whole text. */
  readonly sqlOffset: number;
  readonly text: string;
  readonly description: string | undefined;
  readonly inputs: readonly string[];
}

/**
 * One data test of a model header, with its severity and a readable name.
 *
 * @example
 * { kind: 'unique', columns: ['order_id'], severity: 'error', name: 'unique(order_id)' }
 */
export type DataTest = DataTestSpec & { readonly severity: DataTestSeverity; readonly name: string };

/**
 * One model file: its table name (`gold.daily_revenue` from `sql/gold/daily_revenue.sql`),
 * header and SELECT, and where the SELECT starts in the file (to map SQL offsets to lines).
 *
 * @example
 * { name: 'gold.daily_revenue', file: '/repo/sql/gold/daily_revenue.sql', header: { kind: 'full', ... }, sql: 'SELECT ...', sqlOffset: 42 }
 */
export interface ModelDefinition {
  readonly name: string;
  readonly file: string;
  readonly header: ModelHeader;
  readonly sql: string;
  /** Character offset of `sql` in the file's text. */
  readonly sqlOffset: number;
  /** The file's whole text. */
  readonly text: string;
}

/** A model with the lake tables its SELECT reads. */
export interface Model extends ModelDefinition {
  /** `layer.name` of every lake table the SQL references, sorted. */
  readonly upstream: readonly string[];
}

/** A model's file is wrong (its SQL, a reference, a cycle) or its SQL failed: the user's code is to blame. */
export class ModelError extends LakeloopError {
  readonly model: string;
  readonly file: string;
  readonly line: number | undefined;
  /**
   * The model file itself is wrong (a SQL syntax error, an unknown table, a cycle), found
   * while loading the project before anything ran: the CLI exits 2, like an invalid config.
   * False for a model that failed while it ran (exit 1).
   */
  readonly invalidFile: boolean;

  constructor(model: string, file: string, line: number | undefined, reason: string, options: { cause?: unknown; hint?: string; invalidFile?: boolean } = {}) {
    const where = line === undefined ? file : `${file}:${line}`;
    super(options.invalidFile ? 'MODEL_INVALID' : 'MODEL', `Model ${model} (${where}): ${reason}`, { cause: options.cause, hint: options.hint ?? `Fix ${where} and run again.` });
    this.model = model;
    this.file = file;
    this.line = line;
    this.invalidFile = options.invalidFile ?? false;
  }
}

/** The 1-based line of a character offset into `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
