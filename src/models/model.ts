import { LakeloopError } from '../core/index.js';

/** How a model's output is maintained (SPEC §6). */
export const MODEL_KINDS = ['full', 'incremental_by_partition', 'incremental_by_key'] as const;

/** One of `MODEL_KINDS`. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** The layers a model may write. */
export const MODEL_LAYERS = ['silver', 'gold'] as const;

/** A model's header, validated (SPEC §6); keys the runner does not use yet are kept as given. */
export interface ModelHeader {
  readonly kind: ModelKind;
  readonly partitionBy: readonly string[];
  readonly uniqueKey: readonly string[];
  readonly versionBy: string | undefined;
  readonly deleteWhen: string | undefined;
  readonly lateness: string | undefined;
  readonly owner: string | undefined;
  readonly freshness: string | undefined;
  readonly tests: readonly unknown[];
}

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

  constructor(model: string, file: string, line: number | undefined, reason: string, options: { cause?: unknown; hint?: string } = {}) {
    const where = line === undefined ? file : `${file}:${line}`;
    super('MODEL', `Model ${model} (${where}): ${reason}`, { cause: options.cause, hint: options.hint ?? `Fix ${where} and run again.` });
    this.model = model;
    this.file = file;
    this.line = line;
  }
}

/** The 1-based line of a character offset into `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
