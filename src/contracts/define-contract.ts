import { z } from 'zod';
import { configIssueOf } from '../config/index.js';
import { ConfigError, didYouMean, isDuration, parseDuration, runbookIssue, type ConfigIssue } from '../core/index.js';
import { contractColumns, ContractSchemaIssues, type ContractColumn } from './contract-columns.js';

/**
 * What happens to a top-level field the contract does not declare: `evolve` adds it to
 * bronze as a new nullable column, `rescue` keeps it in the `_rescued` JSON column,
 * `strict` rejects the record to quarantine.
 */
export type DriftPolicy = 'evolve' | 'rescue' | 'strict';

/** The drift policy of a contract that does not choose one: nothing is lost and no column appears unreviewed. */
export const DEFAULT_DRIFT: DriftPolicy = 'rescue';

/** When a micro-batch of a source closes: at N records, B bytes or T ms, whichever first. */
export interface BatchSettings {
  readonly maxRecords?: number;
  readonly maxBytes?: number;
  readonly maxMs?: number;
}

/**
 * How `lakeloop ingest` and the file drop cut a file into batches: at N records or B bytes,
 * whichever first (the `batch` limits are the collector's latency knobs; a file is cut for throughput).
 */
export interface FileBatchSettings {
  readonly maxRecords?: number;
  readonly maxBytes?: number;
}

/**
 * A source's completeness SLO: over the last `window`, the share of the records received
 * (landed + quarantined) that landed in bronze must stay at or above `minLandedRatio`.
 *
 * @example
 * { minLandedRatio: 0.99, window: '15m', windowMs: 900_000 }
 */
export interface SourceCompletenessObjective {
  readonly minLandedRatio: number;
  readonly window: string;
  readonly windowMs: number;
}

/** The window of a source completeness SLO that does not give one. */
export const DEFAULT_COMPLETENESS_WINDOW = '15m';

/**
 * How long the collector remembers a request's `Idempotency-Key` when the contract does not
 * say: long enough for a producer's retries with backoff and for a restart of `serve`, short
 * enough that the keys of the window cost little (docs/operations.md gives the numbers).
 */
export const DEFAULT_IDEMPOTENCY_WINDOW = '10m';

type FieldOf<S extends z.ZodObject> = Extract<keyof S['shape'], string>;

/**
 * A source's data contract as the user writes it in `contracts/<source>.ts`.
 *
 * @example
 * export default defineContract({
 *   source: 'orders', version: 1, owner: 'checkout-team',
 *   schema: z.object({ order_id: z.string(), amount: z.number().nonnegative(), order_ts: z.iso.datetime({ offset: true }) }),
 *   key: ['order_id'], eventTime: 'order_ts', drift: 'rescue',
 * });
 */
export interface ContractDefinition<S extends z.ZodObject = z.ZodObject> {
  /** snake_case; names the bronze and quarantine tables. */
  readonly source: string;
  /** Bumped by the owner on every change of the schema. */
  readonly version: number;
  /** Who to ask about this data (a team or a person); alerts about the source name them. */
  readonly owner: string;
  /**
   * What to do when this source alerts: an http(s) URL or a line of text
   * (`'https://wiki.example/runbooks/orders'`). Every alert about the source carries it.
   */
  readonly runbook?: string;
  /** The business domain the source belongs to (e.g. `sales`): `lineage` and `status` group by it. */
  readonly domain?: string;
  readonly description?: string;
  /** The record's fields; each top-level field is a bronze column. */
  readonly schema: S;
  /** The fields that identify a record (CDC upserts and deletes key on them); required fields. */
  readonly key: readonly FieldOf<S>[];
  /** A required `z.iso.datetime()` field; bronze partitions by its UTC date (`event_date`). */
  readonly eventTime: FieldOf<S>;
  /** Default `'rescue'` (see `DriftPolicy`). */
  readonly drift?: DriftPolicy;
  /** Records are Debezium envelopes (`op`, `before`, `after`, `ts_ms`, `source`) whose images follow `schema`. */
  readonly cdc?: boolean;
  readonly batch?: BatchSettings;
  /**
   * How long the collector remembers an `Idempotency-Key` (a duration such as `15m`, `1h`;
   * default 10m): a retry within it is answered `duplicate` and writes nothing; after it the
   * request lands again in bronze (silver's dedup by `key` keeps gold unchanged).
   */
  readonly idempotencyWindow?: string;
  /** The freshness SLO: `serve` alerts when no batch lands for this long (a duration such as `5m`). */
  readonly freshness?: string;
  /**
   * The completeness SLO: `serve` alerts when, over the last `window` (default 15m), fewer
   * than `minLandedRatio` of the records received landed in bronze (the rest quarantined).
   */
  readonly completeness?: { readonly minLandedRatio: number; readonly window?: string };
  /** How a file is cut into batches (default: 256 MiB or 4M records); see `FileBatchSettings`. */
  readonly fileBatch?: FileBatchSettings;
}

/** A validated contract: the definition with its defaults applied and its bronze columns. */
export interface Contract<S extends z.ZodObject = z.ZodObject> {
  readonly source: string;
  readonly version: number;
  readonly owner: string;
  /** What to do when this source alerts (a URL or a line of text), if given. */
  readonly runbook: string | undefined;
  readonly domain: string | undefined;
  readonly description: string | undefined;
  readonly schema: S;
  readonly key: readonly string[];
  readonly eventTime: string;
  readonly drift: DriftPolicy;
  readonly cdc: boolean;
  readonly batch: BatchSettings;
  /** How long the collector remembers an idempotency key (a duration; the default applied). */
  readonly idempotencyWindow: string;
  readonly idempotencyWindowMs: number;
  /** The freshness SLO (a duration), if any. */
  readonly freshness: string | undefined;
  /** The landed-vs-received SLO, if any. */
  readonly completeness: SourceCompletenessObjective | undefined;
  readonly fileBatch: FileBatchSettings;
  /** The schema's top-level fields as bronze columns, in schema order. */
  readonly columns: readonly ContractColumn[];
  /** The file the contract was loaded from (`loadContracts`), else undefined. */
  readonly file: string | undefined;
}

/**
 * Column names the engine adds to bronze, quarantine or the validation SQL; a contract
 * field may not use one (compared case-insensitively, as DuckDB does).
 */
export const RESERVED_COLUMNS: readonly string[] = Object.freeze([
  'event_date', '_line', '_raw', '_json', '_reject_reason', '_reject_field', '_rescued', '_op', '_cdc_ts_ms',
  '_source_position', '_ingest_id', '_batch_id', '_ingested_at', '_source_offset',
]);

/** Names the validation SQL uses internally; a field may not start with it. */
export const INTERNAL_PREFIX = '__ll_';

const CONTRACT = Symbol.for('lakeloop.contract');

const POSITIVE_INT = 'expected a positive integer';
const positiveInt = z.int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT });

const definitionSchema = z.strictObject({
  source: z
    .string({ error: 'expected a snake_case name such as "orders"' })
    .regex(/^[a-z][a-z0-9_]*$/, { error: 'expected a snake_case name such as "orders" (lowercase letters, digits, underscores)' }),
  version: positiveInt,
  owner: z.string({ error: 'expected the owning team or person' }).trim().min(1, { error: 'expected the owning team or person' }),
  runbook: z
    .string({ error: 'expected a URL (https://…) or a line of text saying what to do when this source alerts' })
    .check((ctx) => {
      const problem = runbookIssue(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .transform((s) => s.trim())
    .optional(),
  domain: z
    .string({ error: 'expected a domain name such as "sales"' })
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_-]*$/, { error: 'expected a domain name such as "sales" (letters, digits, _ and -)' })
    .optional(),
  description: z.string().optional(),
  schema: z.custom<z.ZodObject>((value) => value instanceof z.ZodObject, { error: 'expected a zod object schema, e.g. z.object({ ... })' }),
  key: z.array(z.string(), { error: 'expected a list of field names' }).min(1, { error: 'expected at least one key field' }),
  eventTime: z.string({ error: 'expected the name of a z.iso.datetime() field' }),
  drift: z.enum(['evolve', 'rescue', 'strict'], { error: 'expected "evolve", "rescue" or "strict"' }).default(DEFAULT_DRIFT),
  cdc: z.boolean().default(false),
  batch: z
    .strictObject({ maxRecords: positiveInt.optional(), maxBytes: positiveInt.optional(), maxMs: positiveInt.optional() })
    .default({}),
  idempotencyWindow: z
    .string({ error: 'expected a duration such as 15m, 1h, 1d' })
    .refine((text) => isDuration(text) && parseDuration(text) >= 1_000, { error: 'expected a duration of at least 1s, such as 15m, 1h, 1d' })
    .default(DEFAULT_IDEMPOTENCY_WINDOW),
  freshness: z.string().refine(isDuration, { error: 'expected a duration such as 90s, 5m, 2h' }).optional(),
  completeness: z
    .strictObject(
      {
        minLandedRatio: z
          .number({ error: 'expected the share of received records that must land, such as 0.99' })
          .gt(0, { error: 'expected the share of received records that must land, such as 0.99 (above 0, at most 1)' })
          .lte(1, { error: 'expected the share of received records that must land, such as 0.99 (above 0, at most 1)' }),
        window: z.string().refine(isDuration, { error: 'expected a duration such as 5m, 15m, 1h' }).optional(),
      },
      { error: 'expected { minLandedRatio: 0.99, window?: "15m" }' },
    )
    .optional(),
  fileBatch: z.strictObject({ maxRecords: positiveInt.optional(), maxBytes: positiveInt.optional() }).default({}),
});

/**
 * Validates a source's contract and returns it frozen, with its bronze columns. Throws
 * `ConfigError` listing every problem by field (`eventTime: "created" is not a field of
 * the schema`); `loadContracts` re-labels it with the contract's file.
 *
 * @example
 * const orders = defineContract({ source: 'orders', version: 1, owner: 'checkout', schema, key: ['order_id'], eventTime: 'order_ts' });
 * orders.drift; // 'rescue'
 */
export function defineContract<S extends z.ZodObject>(definition: ContractDefinition<S>): Contract<S> {
  return validateContract(definition, undefined) as Contract<S>;
}

/** Whether a value is a contract made by `defineContract` (from any copy of lakeloop). */
export function isContract(value: unknown): value is Contract {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CONTRACT] === true;
}

/**
 * Validates a contract definition (or re-labels an already validated contract) with the
 * file it came from. The error names `file`, else the contract's source.
 */
export function validateContract(value: unknown, file: string | undefined): Contract {
  const label = (source: unknown): string => file ?? (typeof source === 'string' ? `contract "${source}"` : 'contract');
  if (isContract(value)) return file === undefined ? value : brand({ ...value, file });
  const parsed = definitionSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const source = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['source'] : undefined;
    throw new ConfigError(label(source), parsed.error.issues.map(contractIssueOf));
  }
  const definition = parsed.data;
  let columns: ContractColumn[];
  try {
    columns = contractColumns(definition.schema);
  } catch (error) {
    if (error instanceof ContractSchemaIssues) throw new ConfigError(label(definition.source), error.issues, { cause: error });
    throw error;
  }
  const issues = semanticIssues(definition.key, definition.eventTime, columns);
  if (issues.length > 0) throw new ConfigError(label(definition.source), issues);
  return brand({
    source: definition.source,
    version: definition.version,
    owner: definition.owner,
    runbook: definition.runbook,
    domain: definition.domain,
    description: definition.description,
    schema: definition.schema,
    key: Object.freeze([...definition.key]),
    eventTime: definition.eventTime,
    drift: definition.drift,
    cdc: definition.cdc,
    batch: Object.freeze({ ...definition.batch }),
    idempotencyWindow: definition.idempotencyWindow,
    idempotencyWindowMs: parseDuration(definition.idempotencyWindow),
    freshness: definition.freshness,
    completeness:
      definition.completeness === undefined
        ? undefined
        : Object.freeze({
            minLandedRatio: definition.completeness.minLandedRatio,
            window: definition.completeness.window ?? DEFAULT_COMPLETENESS_WINDOW,
            windowMs: parseDuration(definition.completeness.window ?? DEFAULT_COMPLETENESS_WINDOW),
          }),
    fileBatch: Object.freeze({ ...definition.fileBatch }),
    columns: Object.freeze(columns),
    file,
  });
}

const DEFINITION_KEYS = Object.keys(definitionSchema.shape);

/** A zod issue of a definition; an unknown top-level key says which known one it is probably meant to be (`runBook` → `runbook`). */
function contractIssueOf(issue: z.core.$ZodIssue): ConfigIssue {
  const base = configIssueOf(issue);
  if (issue.code !== 'unrecognized_keys' || issue.path.length !== 0) return base;
  // Keys are camelCase: `runBook` for `runbook` differs only in case, which `didYouMean` leaves out.
  const hint = (key: string): string | undefined => {
    const sameLetters = DEFINITION_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
    return sameLetters === undefined ? didYouMean(key, DEFINITION_KEYS) : `did you mean ${sameLetters}?`;
  };
  const hints = issue.keys.map(hint).filter((h) => h !== undefined);
  return { path: base.path, message: `${base.message}${hints.length ? ` (${hints.join('; ')})` : ''} (known: ${DEFINITION_KEYS.join(', ')})` };
}

function semanticIssues(key: readonly string[], eventTime: string, columns: readonly ContractColumn[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const byName = new Map(columns.map((c) => [c.name, c]));
  const fields = columns.map((c) => c.name).join(', ');
  const seenKeys = new Set<string>();
  key.forEach((name, i) => {
    const column = byName.get(name);
    if (column === undefined) issues.push({ path: `key[${i}]`, message: `"${name}" is not a field of the schema (fields: ${fields})` });
    else if (!column.required) issues.push({ path: `key[${i}]`, message: `"${name}" must be required (not optional, nullable or defaulted): it identifies the record` });
    else if (column.duckdbType === 'JSON') issues.push({ path: `key[${i}]`, message: `"${name}" is an object or array; a key field must be a scalar` });
    if (seenKeys.has(name)) issues.push({ path: `key[${i}]`, message: `"${name}" is listed twice` });
    seenKeys.add(name);
  });
  const time = byName.get(eventTime);
  if (time === undefined) issues.push({ path: 'eventTime', message: `"${eventTime}" is not a field of the schema (fields: ${fields})` });
  else if (time.duckdbType !== 'TIMESTAMP WITH TIME ZONE') {
    issues.push({ path: 'eventTime', message: `"${eventTime}" must be a date-time field (z.iso.datetime()), not ${time.duckdbType}` });
  } else if (!time.required) {
    issues.push({ path: 'eventTime', message: `"${eventTime}" must be required (not optional, nullable or defaulted): bronze partitions by its date` });
  }
  const reserved = new Set(RESERVED_COLUMNS);
  const lower = new Map<string, string>();
  for (const { name } of columns) {
    if (reserved.has(name.toLowerCase())) issues.push({ path: `schema.${name}`, message: `"${name}" is a column lakeloop adds itself; rename the field` });
    else if (name.toLowerCase().startsWith(INTERNAL_PREFIX)) issues.push({ path: `schema.${name}`, message: `names starting with "${INTERNAL_PREFIX}" are reserved; rename the field` });
    else if (name === '') issues.push({ path: 'schema', message: 'a field has an empty name' });
    const other = lower.get(name.toLowerCase());
    if (other !== undefined) issues.push({ path: `schema.${name}`, message: `"${name}" and "${other}" differ only in case, and DuckDB column names ignore case` });
    lower.set(name.toLowerCase(), name);
  }
  return issues;
}

function brand(contract: Omit<Contract, never>): Contract {
  Object.defineProperty(contract, CONTRACT, { value: true, enumerable: false });
  return Object.freeze(contract);
}
