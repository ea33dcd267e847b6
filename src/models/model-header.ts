import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError, didYouMean, isDuration, parseDuration, runbookIssue, type ConfigIssue } from '../core/index.js';
import { DATA_TEST_KINDS, lineAt, MODEL_KINDS, type DataTest, type DataTestSpec, type ModelHeader } from './model.js';

const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const duration = z.string().refine(isDuration, { message: 'expected a duration such as 90s, 5m, 2h, 7d' });

const HeaderSchema = z.strictObject({
  kind: z.enum(MODEL_KINDS),
  name: z.string().regex(/^([a-z]+\.)?[A-Za-z0-9_][A-Za-z0-9_-]*$/).optional(),
  partition_by: names.optional(),
  unique_key: names.optional(),
  version_by: z.string().min(1).optional(),
  delete_when: z.string().min(1).optional(),
  lateness: duration.optional(),
  max_future_skew: duration.optional(),
  owner: z.string().trim().min(1, { error: 'expected the owning team or person, e.g. owner: payments-team' }).optional(),
  runbook: z
    .string({ error: 'expected a URL (https://…) or a line of text saying what to do when this model alerts' })
    .check((ctx) => {
      const problem = runbookIssue(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .transform((s) => s.trim())
    .optional(),
  domain: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]*$/, 'expected a domain name such as sales (letters, digits, _ and -)').optional(),
  freshness: duration.optional(),
  completeness: z
    .strictObject(
      { max_pending_late_rows: z.number().int().nonnegative({ message: 'expected a number of rows (0 or more)' }).optional(), exact_after: duration.optional() },
      { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown completeness key(s) ${issue.keys.join(', ')}; expected max_pending_late_rows, exact_after` : 'expected max_pending_late_rows and/or exact_after') },
    )
    .refine((c) => c.max_pending_late_rows !== undefined || c.exact_after !== undefined, { message: 'completeness needs max_pending_late_rows and/or exact_after' })
    .optional(),
  measures: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  tests: z.array(z.unknown()).optional(),
});

const HEADER_KEYS = Object.keys(HeaderSchema.shape);

/** A model file split into its validated header and its SELECT. */
export interface ParsedModelFile {
  readonly header: ModelHeader;
  /** The `name:` override, when given. */
  readonly name: string | undefined;
  readonly sql: string;
  readonly sqlOffset: number;
}

const LEADING_COMMENT = /^\s*\/\*([\s\S]*?)\*\//;

/**
 * Splits a model file into its YAML header (a leading `/* ... *\/` comment) and its
 * SELECT, and validates the header. A file without a header is a `full` model.
 * Any header problem is a `ConfigError` naming the file, the key and the line.
 */
export function parseModelFile(file: string, text: string): ParsedModelFile {
  const match = LEADING_COMMENT.exec(text);
  let raw: unknown = {};
  let sqlOffset = 0;
  if (match) {
    const yamlText = match[1] ?? '';
    const yamlOffset = match.index + match[0].indexOf('/*') + 2;
    sqlOffset = match.index + match[0].length;
    try {
      raw = parseYaml(yamlText) ?? {};
    } catch (error) {
      throw new ConfigError(file, [yamlHeaderIssue(text, yamlOffset, error)], { cause: error });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(file, [{ path: 'header', message: 'the header must be YAML key: value pairs' }]);
    }
  } else raw = { kind: 'full' };
  const result = HeaderSchema.safeParse(raw);
  if (!result.success) {
    const issues: ConfigIssue[] = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
        const hints = issue.keys.map((key) => didYouMean(key, HEADER_KEYS)).filter((hint) => hint !== undefined);
        const near = hints.length ? ` (${hints.join('; ')})` : '';
        return { path: issue.keys.join(', '), message: `unknown header key${near} (known: ${HEADER_KEYS.join(', ')})` };
      }
      return { path: issue.path.map(String).join('.'), message: issue.message };
    });
    throw new ConfigError(file, issues);
  }
  const h = result.data;
  const tests = parseDataTests(file, h.tests ?? []);
  const list = (value: string | string[] | undefined): readonly string[] => Object.freeze(value === undefined ? [] : typeof value === 'string' ? [value] : [...value]);
  const kindIssues: ConfigIssue[] = [];
  if (h.kind !== 'full' && list(h.partition_by).length !== 1) {
    kindIssues.push({ path: 'partition_by', message: `kind ${h.kind} needs exactly one partition_by column (the date its partitions are recomputed by)` });
  }
  if (h.kind === 'incremental_by_key' && list(h.unique_key).length === 0) {
    kindIssues.push({ path: 'unique_key', message: 'kind incremental_by_key needs unique_key: the columns a new row replaces an old one by' });
  }
  if (kindIssues.length) throw new ConfigError(file, kindIssues);
  const header: ModelHeader = Object.freeze({
    kind: h.kind,
    partitionBy: list(h.partition_by),
    uniqueKey: list(h.unique_key),
    versionBy: h.version_by,
    deleteWhen: h.delete_when,
    lateness: h.lateness,
    maxFutureSkew: h.max_future_skew,
    owner: h.owner,
    runbook: h.runbook,
    domain: h.domain,
    freshness: h.freshness,
    completeness:
      h.completeness === undefined
        ? undefined
        : Object.freeze({
            maxPendingLateRows: h.completeness.max_pending_late_rows,
            exactAfter: h.completeness.exact_after,
            exactAfterMs: h.completeness.exact_after === undefined ? undefined : parseDuration(h.completeness.exact_after),
          }),
    measures: h.measures === undefined ? undefined : Object.freeze(typeof h.measures === 'string' ? [h.measures] : [...h.measures]),
    tests,
  });
  let sql = text.slice(sqlOffset);
  const leading = sql.length - sql.trimStart().length;
  sqlOffset += leading;
  sql = sql.trim().replace(/;\s*$/, '').trimEnd();
  return { header, name: h.name, sql, sqlOffset };
}

/**
 * The issue for a header the YAML parser rejects: its whole reason, at the line of the
 * model file where the mistake is. The parser counts lines from the start of the comment
 * and, for an unclosed `[`, `{` or quote, reports where it gave up (the next line): the
 * line given is the opener's.
 */
export function yamlHeaderIssue(text: string, yamlOffset: number, error: unknown): ConfigIssue {
  if (!(error instanceof YAMLParseError)) return { path: 'header', message: `the header is not valid YAML: ${String(error)}` };
  // The first line of the parser's message is its reason, ending "at line L, column C:" (lines of the comment, not of the file).
  const reason = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?\s*$/, '');
  let offset = yamlOffset + error.pos[0];
  const opener = /end with a ([\]}])/.exec(reason)?.[1] === ']' ? '[' : /end with a \}/.test(reason) ? '{' : /Missing closing "quote/.test(reason) ? '"' : /Missing closing 'quote/.test(reason) ? "'" : undefined;
  if (opener !== undefined) {
    const at = text.lastIndexOf(opener, Math.max(yamlOffset, offset - 1));
    if (at >= yamlOffset) offset = at;
  }
  return { path: `line ${lineAt(text, offset)}`, message: `the header is not valid YAML: ${reason}` };
}

const column = z.string().min(1);
const columnList = z.union([column, z.array(column).min(1)]).transform((v) => (typeof v === 'string' ? [v] : v));
const tableName = z.string().regex(/^[a-z]+\.[A-Za-z0-9_][A-Za-z0-9_-]*$/, 'expected layer.table, e.g. silver.customers');
const count = z.number().int().nonnegative();

/** The value each test kind takes (SPEC §8). */
const TEST_SCHEMAS = {
  not_null: columnList,
  unique: columnList,
  accepted_values: z.strictObject({ column, values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1) }),
  relationships: z.strictObject({ column, to: tableName, field: column }),
  row_count: z
    .strictObject({ min: count.optional(), max: count.optional() })
    .refine((v) => v.min !== undefined || v.max !== undefined, 'give min, max or both')
    .refine((v) => v.min === undefined || v.max === undefined || v.min <= v.max, 'min must not exceed max'),
  expression: z.string().min(1),
  freshness: z.strictObject({ column, max_age: z.string().refine(isDuration, 'expected a duration such as 30m, 2h, 1d') }),
} satisfies Record<(typeof DATA_TEST_KINDS)[number], z.ZodType>;

const SEVERITY = z.enum(['error', 'warn']);

/**
 * Validates the `tests:` entries: each is a map with exactly one test key (`not_null`,
 * `unique`, `accepted_values`, `relationships`, `row_count`, `expression`, `freshness`) and an optional
 * `severity: error | warn` (default error), e.g. `- { unique: [order_id], severity: warn }`.
 */
function parseDataTests(file: string, entries: readonly unknown[]): readonly DataTest[] {
  const issues: ConfigIssue[] = [];
  const tests: DataTest[] = [];
  const known = DATA_TEST_KINDS.join(', ');
  entries.forEach((entry, i) => {
    const at = `tests[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      issues.push({ path: at, message: `a test must be a map like \`not_null: [col]\` (known tests: ${known})` });
      return;
    }
    const record = entry as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => k !== 'severity');
    const unknownKeys = keys.filter((k) => !(DATA_TEST_KINDS as readonly string[]).includes(k));
    if (unknownKeys.length) {
      issues.push({ path: `${at}.${unknownKeys.join(', ')}`, message: `unknown test (known tests: ${known})` });
      return;
    }
    if (keys.length !== 1) {
      issues.push({ path: at, message: keys.length ? `one test per entry, got ${keys.join(', ')}` : `no test given (known tests: ${known})` });
      return;
    }
    const kind = keys[0] as (typeof DATA_TEST_KINDS)[number];
    const severity = SEVERITY.safeParse(record['severity'] ?? 'error');
    if (!severity.success) issues.push({ path: `${at}.severity`, message: `${kind}: severity must be error or warn` });
    const value = TEST_SCHEMAS[kind].safeParse(record[kind]);
    if (!value.success) {
      for (const issue of value.error.issues) {
        const path = [`${at}.${kind}`, ...issue.path.map(String)].join('.');
        issues.push({ path, message: `${kind}: ${issue.message}` });
      }
      return;
    }
    if (!severity.success) return;
    const spec = specOf(kind, value.data);
    tests.push(Object.freeze({ ...spec, severity: severity.data, name: testName(spec) }) as DataTest);
  });
  if (issues.length) throw new ConfigError(file, issues);
  return Object.freeze(tests);
}

function specOf(kind: (typeof DATA_TEST_KINDS)[number], value: unknown): DataTestSpec {
  switch (kind) {
    case 'not_null':
    case 'unique':
      return { kind, columns: Object.freeze([...(value as string[])]) };
    case 'accepted_values': {
      const v = value as { column: string; values: (string | number | boolean)[] };
      return { kind, column: v.column, values: Object.freeze([...v.values]) };
    }
    case 'relationships': {
      const v = value as { column: string; to: string; field: string };
      return { kind, column: v.column, to: v.to, field: v.field };
    }
    case 'row_count': {
      const v = value as { min?: number; max?: number };
      return { kind, min: v.min, max: v.max };
    }
    case 'expression':
      return { kind, expression: value as string };
    case 'freshness': {
      const v = value as { column: string; max_age: string };
      return { kind, column: v.column, maxAge: v.max_age, maxAgeMs: parseDuration(v.max_age, 'max_age') };
    }
  }
}

/** A data test's readable name, e.g. `not_null(order_id, order_date)`. */
function testName(spec: DataTestSpec): string {
  switch (spec.kind) {
    case 'not_null':
    case 'unique':
      return `${spec.kind}(${spec.columns.join(', ')})`;
    case 'accepted_values':
      return `accepted_values(${spec.column})`;
    case 'relationships':
      return `relationships(${spec.column} -> ${spec.to}.${spec.field})`;
    case 'row_count':
      return `row_count(${[spec.min === undefined ? '' : `min ${spec.min}`, spec.max === undefined ? '' : `max ${spec.max}`].filter(Boolean).join(', ')})`;
    case 'expression':
      return `expression(${spec.expression})`;
    case 'freshness':
      return `freshness(${spec.column}, max_age ${spec.maxAge})`;
    case 'sql':
      return `sql(${spec.file})`;
  }
}
