import { z } from 'zod';
import type { ConfigIssue } from '../core/index.js';
import { parseDecimalType, SQL_TYPE_KEY } from './decimal.js';

/** An exact number with `p` digits, `s` of them after the point (a field declared with `decimal(p, s)`). */
export type DecimalColumnType = `DECIMAL(${number},${number})`;

/** The DuckDB types a contract field maps to (objects and arrays are kept as JSON). */
export type ContractColumnType = 'VARCHAR' | 'TIMESTAMP WITH TIME ZONE' | 'DATE' | 'BIGINT' | 'DOUBLE' | DecimalColumnType | 'BOOLEAN' | 'JSON';

/** Whether a column type is a `DECIMAL(p,s)`. */
export function isDecimalType(type: ContractColumnType): type is DecimalColumnType {
  return type.startsWith('DECIMAL(');
}

/** A literal a field may be restricted to (`enum`, `const`). */
export type ContractLiteral = string | number | boolean;

/**
 * One constraint of a field that the validation SQL enforces, taken from a JSON Schema
 * keyword of the field. `minItems`/`maxItems` apply to JSON arrays; `pattern` runs with
 * DuckDB's RE2 (`regexp_matches`: unanchored, as in JSON Schema and zod's `.regex()`).
 */
export type ColumnCheck =
  | { readonly kind: 'enum'; readonly values: readonly ContractLiteral[] }
  | {
      readonly kind: 'minimum' | 'maximum' | 'exclusiveMinimum' | 'exclusiveMaximum' | 'multipleOf';
      readonly value: number;
    }
  | { readonly kind: 'minLength' | 'maxLength' | 'minItems' | 'maxItems'; readonly value: number }
  | { readonly kind: 'pattern'; readonly pattern: string; readonly format: string | undefined };

/**
 * How one top-level field of a contract lands in bronze: its column name and DuckDB type,
 * whether every record must carry a non-null value, and the checks its value must pass.
 *
 * @example
 * // amount: z.number().nonnegative()
 * { name: 'amount', duckdbType: 'DOUBLE', required: true, checks: [{ kind: 'minimum', value: 0 }], ... }
 */
export interface ContractColumn {
  readonly name: string;
  readonly duckdbType: ContractColumnType;
  /** Present and non-null in every valid record (not `.optional()`, `.nullable()` or `.default()`). */
  readonly required: boolean;
  readonly checks: readonly ColumnCheck[];
  /** For JSON columns, which JSON values are accepted; `undefined` for the other types. */
  readonly jsonKind: 'object' | 'array' | 'any' | undefined;
  /** The value used when the field is absent (zod `.default()`), if any. */
  readonly default: ContractLiteral | undefined;
  /** The field's `.describe()` / `.meta({ description })`, if any. */
  readonly description: string | undefined;
  /** Constraints of the schema that the SQL does not check (e.g. `format duration`): said, not hidden. */
  readonly unchecked: readonly string[];
}

/** Thrown by `contractColumns` when a field cannot be mapped; `issues` name the fields. */
export class ContractSchemaIssues extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  }
}

type JsonSchema = Record<string, unknown>;

/** zod's own format patterns that the SQL does not re-check: DuckDB's casts are the check. */
const CAST_FORMATS = new Set(['date-time', 'date']);

/** Formats whose pattern failure reads better as "not a valid <format>". */
const NAMED_FORMATS = new Set([
  'email', 'uuid', 'guid', 'uri', 'url', 'ipv4', 'ipv6', 'cidrv4', 'cidrv6', 'e164', 'cuid', 'cuid2', 'ulid',
  'nanoid', 'xid', 'ksuid', 'base64', 'base64url', 'emoji', 'jwt', 'hostname', 'mac', 'hex', 'duration',
]);

/** Checks for formats zod exports without a pattern (RE2 syntax). */
const FORMAT_PATTERNS: Readonly<Record<string, string>> = { uri: '^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$' };

/** Keywords that constrain a value in ways the SQL cannot check: a field using one is refused. */
const UNSUPPORTED = ['allOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas', 'contentSchema'];

/**
 * Maps a contract's zod object schema to bronze columns, through zod's own JSON Schema
 * export (`z.toJSONSchema(schema, { io: 'input' })`, the shape producers send) rather than
 * zod internals. Types: string → VARCHAR (format `date-time` → TIMESTAMP WITH TIME ZONE,
 * `date` → DATE), integer → BIGINT, number → DOUBLE (a number or integer whose metadata
 * says `sqlType: 'DECIMAL(p,s)'`, as `decimal(p, s)` does → that DECIMAL), boolean → BOOLEAN, enum/const →
 * the literal's type with an `enum` check, object/array/any → JSON. Nullable, optional
 * and defaulted fields are not required. Throws `ContractSchemaIssues` naming every
 * field that cannot be mapped (unions of different types, `z.date()`, `z.bigint()`, ...).
 *
 * @example
 * contractColumns(z.object({ id: z.string(), ts: z.iso.datetime() }));
 * // [{ name: 'id', duckdbType: 'VARCHAR', required: true, ... }, { name: 'ts', duckdbType: 'TIMESTAMP WITH TIME ZONE', ... }]
 */
export function contractColumns(schema: z.ZodObject): ContractColumn[] {
  const root = inputJsonSchema(schema);
  const properties = (root['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((root['required'] ?? []) as string[]);
  const defs = (root['$defs'] ?? {}) as Record<string, JsonSchema>;
  const issues: ConfigIssue[] = [];
  const columns: ContractColumn[] = [];
  for (const [name, property] of Object.entries(properties)) {
    try {
      columns.push(mapField(name, property, required.has(name), defs));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      issues.push({ path: `schema.${name}`, message: error.message });
    }
  }
  if (issues.length > 0) throw new ContractSchemaIssues(issues);
  return columns;
}

/** zod's JSON Schema of what producers send; a field zod cannot represent is named. */
export function inputJsonSchema(schema: z.ZodObject): JsonSchema {
  try {
    return z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  } catch (error) {
    const issues: ConfigIssue[] = [];
    for (const [name, field] of Object.entries(schema.shape)) {
      try {
        z.toJSONSchema(field as z.ZodType, { io: 'input' });
      } catch (fieldError) {
        issues.push({ path: `schema.${name}`, message: `${reasonOf(fieldError)}; use a JSON type (e.g. z.iso.datetime() for dates, z.int() for integers)` });
      }
    }
    if (issues.length === 0) issues.push({ path: 'schema', message: `cannot be exported as JSON Schema: ${reasonOf(error)}` });
    throw new ContractSchemaIssues(issues);
  }
}

class FieldError extends Error {}

interface Shape {
  readonly schema: JsonSchema;
  readonly nullable: boolean;
}

function mapField(name: string, property: JsonSchema, inRequired: boolean, defs: Record<string, JsonSchema>): ContractColumn {
  const { schema, nullable } = unwrap(property, defs);
  for (const keyword of UNSUPPORTED) {
    if (keyword in schema) throw new FieldError(`uses "${keyword}", which lakeloop cannot check in SQL; give the field one plain type`);
  }
  const description = typeof property['description'] === 'string' ? property['description'] : typeof schema['description'] === 'string' ? schema['description'] : undefined;
  const base = { name, required: inRequired && !nullable && !('default' in property) && !('default' in schema), description };
  const literals = literalsOf(schema);
  const type = typeOf(schema, literals);
  const checks: ColumnCheck[] = [];
  const unchecked: string[] = [];
  if (literals !== undefined) checks.push({ kind: 'enum', values: literals });
  const fallback = defaultOf(property) ?? defaultOf(schema);
  const sqlType = property[SQL_TYPE_KEY] ?? schema[SQL_TYPE_KEY];
  if (sqlType !== undefined && ((type !== 'number' && type !== 'integer') || typeof sqlType !== 'string' || parseDecimalType(sqlType) === undefined)) {
    throw new FieldError(`has ${SQL_TYPE_KEY} ${JSON.stringify(sqlType)}; lakeloop takes only DECIMAL(p,s) (p up to 38, s up to p) on a number field, e.g. decimal(18, 2)`);
  }

  switch (type) {
    case 'string': {
      const format = typeof schema['format'] === 'string' ? schema['format'] : undefined;
      const duckdbType: ContractColumnType = format === 'date-time' ? 'TIMESTAMP WITH TIME ZONE' : format === 'date' ? 'DATE' : 'VARCHAR';
      numberCheck(schema, 'minLength', checks);
      numberCheck(schema, 'maxLength', checks);
      const pattern = schema['pattern'] ?? (format === undefined ? undefined : FORMAT_PATTERNS[format]);
      if (typeof pattern === 'string' && !(format !== undefined && CAST_FORMATS.has(format))) {
        const re2 = toRe2(pattern);
        if (re2 !== undefined) checks.push({ kind: 'pattern', pattern: re2, format: format !== undefined && NAMED_FORMATS.has(format) ? format : undefined });
        else if (format !== undefined) unchecked.push(`format ${format} (its pattern needs a regex feature DuckDB's RE2 lacks)`);
        else throw new FieldError(`pattern ${JSON.stringify(pattern)} uses lookaround or backreferences, which DuckDB's RE2 regex engine cannot run`);
      } else if (format !== undefined && !CAST_FORMATS.has(format)) {
        unchecked.push(`format ${format}`);
      }
      return freeze({ ...base, duckdbType, checks, jsonKind: undefined, default: fallback, unchecked });
    }
    case 'integer':
    case 'number': {
      for (const keyword of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'] as const) numberCheck(schema, keyword, checks);
      const decimal = typeof sqlType === 'string' ? parseDecimalType(sqlType) : undefined;
      const duckdbType: ContractColumnType = decimal ? `DECIMAL(${decimal.precision},${decimal.scale})` : type === 'integer' ? 'BIGINT' : 'DOUBLE';
      return freeze({ ...base, duckdbType, checks, jsonKind: undefined, default: fallback, unchecked });
    }
    case 'boolean':
      return freeze({ ...base, duckdbType: 'BOOLEAN', checks, jsonKind: undefined, default: fallback, unchecked });
    case 'object':
    case 'array':
    case 'any': {
      if (type === 'array') {
        numberCheck(schema, 'minItems', checks);
        numberCheck(schema, 'maxItems', checks);
      }
      if (type !== 'any') unchecked.push(`the ${type}'s content (stored as JSON, not checked in SQL)`);
      return freeze({ ...base, duckdbType: 'JSON', checks, jsonKind: type, default: undefined, unchecked });
    }
  }
}

/** Resolves `$ref`s and peels `null` off `anyOf` / `type: [..., "null"]`. */
function unwrap(property: JsonSchema, defs: Record<string, JsonSchema>): Shape {
  let schema = resolveRef(property, defs);
  let nullable = false;
  const anyOf = schema['anyOf'];
  if (Array.isArray(anyOf)) {
    const branches = (anyOf as JsonSchema[]).map((b) => resolveRef(b, defs));
    const nonNull = branches.filter((b) => b['type'] !== 'null');
    nullable = nonNull.length < branches.length;
    const { anyOf: _dropped, ...rest } = schema;
    if (nonNull.length === 1) schema = { ...rest, ...(nonNull[0] as JsonSchema) };
    else schema = { ...rest, ...mergeBranches(nonNull) };
  }
  const type = schema['type'];
  if (Array.isArray(type)) {
    const types = (type as string[]).filter((t) => t !== 'null');
    nullable ||= types.length < type.length;
    if (types.length === 1) schema = { ...schema, type: types[0] };
    else if (types.length === 0) throw new FieldError('is always null; give it a type');
    else schema = { ...schema, type: mergeTypes(types) };
  }
  if (schema['type'] === 'null') throw new FieldError('is always null; give it a type');
  return { schema, nullable };
}

function resolveRef(schema: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema {
  let current = schema;
  for (let depth = 0; typeof current['$ref'] === 'string'; depth++) {
    const ref = current['$ref'];
    const match = /^#\/\$defs\/(.+)$/.exec(ref);
    const target = match?.[1] === undefined ? undefined : defs[match[1]];
    if (target === undefined || depth > 20) throw new FieldError(`refers to ${ref}, which lakeloop cannot resolve`);
    const { $ref: _ref, ...rest } = current;
    current = { ...rest, ...target };
  }
  return current;
}

/** A union: literals of one type become an enum; anything holding objects/arrays is JSON; else refused. */
function mergeBranches(branches: JsonSchema[]): JsonSchema {
  const literals = branches.map(literalsOf);
  if (literals.every((l) => l !== undefined)) {
    const values = literals.flatMap((l) => l ?? []);
    return { enum: values };
  }
  const types = branches.map((b) => (typeof b['type'] === 'string' ? b['type'] : Array.isArray(b['type']) ? 'mixed' : 'any'));
  return { type: mergeTypes(types) };
}

function mergeTypes(types: string[]): string {
  if (types.some((t) => t === 'object' || t === 'array' || t === 'any')) return 'any';
  if (types.every((t) => t === 'integer' || t === 'number')) return 'number';
  throw new FieldError(`is a union of ${[...new Set(types)].join(' and ')}; give it one type, or z.json() to keep any JSON value`);
}

function literalsOf(schema: JsonSchema): ContractLiteral[] | undefined {
  const values = 'const' in schema ? [schema['const']] : Array.isArray(schema['enum']) ? (schema['enum'] as unknown[]) : undefined;
  if (values === undefined) return undefined;
  const bad = values.find((v) => !['string', 'number', 'boolean'].includes(typeof v));
  if (bad !== undefined || values.length === 0) throw new FieldError(`has an enum/literal value ${JSON.stringify(bad)} that is not a string, number or boolean`);
  return values as ContractLiteral[];
}

type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'any';

function typeOf(schema: JsonSchema, literals: ContractLiteral[] | undefined): FieldKind {
  const type = schema['type'];
  if (typeof type === 'string') {
    if (['string', 'integer', 'number', 'boolean', 'object', 'array', 'any'].includes(type)) return type as FieldKind;
    throw new FieldError(`has JSON Schema type "${type}", which lakeloop cannot map to a column`);
  }
  if (literals !== undefined) {
    const kinds = new Set(literals.map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v)));
    if (kinds.size === 2 && kinds.has('integer') && kinds.has('number')) return 'number';
    if (kinds.size === 1) return [...kinds][0] as FieldKind;
    throw new FieldError(`mixes literals of different types (${[...kinds].join(', ')}); use literals of one type`);
  }
  return 'any';
}

function numberCheck(schema: JsonSchema, keyword: ColumnCheck['kind'] & string, checks: ColumnCheck[]): void {
  const value = schema[keyword];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new FieldError(`has ${keyword} ${JSON.stringify(value)}; expected a finite number`);
  checks.push({ kind: keyword, value } as ColumnCheck);
}

function defaultOf(schema: JsonSchema): ContractLiteral | undefined {
  const value = schema['default'];
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}

/**
 * A JavaScript regex source as RE2 accepts it: `(?<name>` becomes `(?P<name>`; lookaround
 * and backreferences have no RE2 form (`undefined`).
 */
function toRe2(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern) || /\\[1-9]|\\k</.test(pattern)) return undefined;
  return pattern.replace(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?P<$1>');
}

function freeze(column: ContractColumn): ContractColumn {
  Object.freeze(column.checks);
  Object.freeze(column.unchecked);
  for (const check of column.checks) {
    Object.freeze(check);
    if (check.kind === 'enum') Object.freeze(check.values);
  }
  return Object.freeze(column);
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
