import { LakeloopError } from '../core/index.js';
import { quoteIdent } from '../engine/index.js';

/**
 * A Delta (Spark) data type as it appears in `schemaString`: a primitive name
 * (`long`, `decimal(10,2)`, `timestamp`) or a nested array/map/struct object.
 */
export type DeltaType = string | DeltaArrayType | DeltaMapType | DeltaStructType;

/** A Delta `array` type. */
export interface DeltaArrayType {
  readonly type: 'array';
  readonly elementType: DeltaType;
  readonly containsNull: boolean;
}

/** A Delta `map` type. */
export interface DeltaMapType {
  readonly type: 'map';
  readonly keyType: DeltaType;
  readonly valueType: DeltaType;
  readonly valueContainsNull: boolean;
}

/** A Delta `struct` type (also the shape of a whole table schema). */
export interface DeltaStructType {
  readonly type: 'struct';
  readonly fields: readonly SchemaField[];
}

/** One column (or struct field) of a Delta schema. */
export interface SchemaField {
  readonly name: string;
  readonly type: DeltaType;
  readonly nullable: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/**
 * A table schema: Spark's StructType JSON, stored as the metaData `schemaString`.
 *
 * @example
 * const schema: TableSchema = { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] };
 */
export type TableSchema = DeltaStructType;

/** A column as DuckDB describes it (`DESCRIBE`): name and DuckDB type text. */
export interface DuckdbColumn {
  readonly name: string;
  readonly type: string;
}

const PRIMITIVES_TO_DUCKDB: Readonly<Record<string, string>> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  short: 'SMALLINT',
  byte: 'TINYINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  binary: 'BLOB',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
  timestamp_ntz: 'TIMESTAMP',
};

const DUCKDB_TO_PRIMITIVE: Readonly<Record<string, string>> = {
  BOOLEAN: 'boolean',
  TINYINT: 'byte',
  SMALLINT: 'short',
  INTEGER: 'integer',
  BIGINT: 'long',
  // Unsigned and 128-bit integers go to the smallest signed type that holds every value.
  UTINYINT: 'short',
  USMALLINT: 'integer',
  UINTEGER: 'long',
  UBIGINT: 'decimal(20,0)',
  // DuckDB's integer sum() is HUGEINT: stored as BIGINT, the integer every reader opens without
  // a cast (nodejs-polars refuses a decimal(38,0)). A value beyond BIGINT fails the write, naming
  // the column (data-file-writer.ts); DECIMAL(38,0) in the query keeps such values exactly.
  HUGEINT: 'long',
  UHUGEINT: 'long',
  FLOAT: 'float',
  DOUBLE: 'double',
  VARCHAR: 'string',
  UUID: 'string',
  JSON: 'string',
  BLOB: 'binary',
  DATE: 'date',
  // Naive timestamps are stored as UTC instants: Delta `timestamp_ntz` needs writer v7.
  TIMESTAMP: 'timestamp',
  TIMESTAMP_S: 'timestamp',
  TIMESTAMP_MS: 'timestamp',
  // Delta timestamps hold microseconds: nanoseconds are truncated on write.
  TIMESTAMP_NS: 'timestamp',
  'TIMESTAMP WITH TIME ZONE': 'timestamp',
  // Aliases people write by hand in column lists.
  TIMESTAMPTZ: 'timestamp',
  DATETIME: 'timestamp',
  BOOL: 'boolean',
  LOGICAL: 'boolean',
  INT1: 'byte',
  INT2: 'short',
  SHORT: 'short',
  INT: 'integer',
  INT4: 'integer',
  SIGNED: 'integer',
  INT8: 'long',
  LONG: 'long',
  REAL: 'float',
  FLOAT4: 'float',
  FLOAT8: 'double',
  TEXT: 'string',
  STRING: 'string',
  CHAR: 'string',
  BPCHAR: 'string',
  BYTEA: 'binary',
  BINARY: 'binary',
  VARBINARY: 'binary',
};

/** Whether a Delta type is a primitive (not array/map/struct). */
export function isPrimitiveType(type: DeltaType): type is string {
  return typeof type === 'string';
}

/**
 * The Delta schema for columns DuckDB described; every column nullable.
 *
 * @example
 * schemaFromDuckdbColumns(await engine.describe('SELECT 1::BIGINT AS id')); // { type: 'struct', fields: [{ name: 'id', type: 'long', ... }] }
 */
export function schemaFromDuckdbColumns(columns: readonly DuckdbColumn[]): TableSchema {
  const seen = new Set<string>();
  const fields = columns.map((column) => {
    const lower = column.name.toLowerCase();
    if (seen.has(lower)) throw new LakeloopError('SCHEMA', `Column ${column.name} appears twice (Delta column names are case-insensitive)`);
    seen.add(lower);
    return { name: column.name, type: deltaTypeOfDuckdb(column.type, column.name), nullable: true, metadata: {} };
  });
  return { type: 'struct', fields };
}

/** The Delta type for a DuckDB type text; throws naming `column` when Delta cannot hold it. */
export function deltaTypeOfDuckdb(duckdbType: string, column: string): DeltaType {
  const parsed = parseDuckdbType(duckdbType, column);
  return toDelta(parsed, column);
}

/**
 * The DuckDB type for a Delta type, for casting partition values and typing empty scans.
 *
 * @example
 * duckdbTypeOf('decimal(10,2)'); // 'DECIMAL(10,2)'
 */
export function duckdbTypeOf(type: DeltaType): string {
  if (typeof type === 'string') {
    const direct = PRIMITIVES_TO_DUCKDB[type];
    if (direct) return direct;
    const decimal = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
    if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
    if (type === 'decimal') return 'DECIMAL(10,0)';
    throw new LakeloopError('SCHEMA', `Delta type ${type} is not supported by lakeloop`);
  }
  switch (type.type) {
    case 'array':
      return `${duckdbTypeOf(type.elementType)}[]`;
    case 'map':
      return `MAP(${duckdbTypeOf(type.keyType)}, ${duckdbTypeOf(type.valueType)})`;
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${duckdbTypeOf(f.type)}`).join(', ')})`;
  }
}

/** Parses and checks a metaData `schemaString`; throws a plain `Error` saying what is wrong (callers name the table). */
export function parseSchemaString(schemaString: string): TableSchema {
  const parsed: unknown = JSON.parse(schemaString);
  checkStruct(parsed, 'schema');
  return parsed as TableSchema;
}

/** The schema as the compact JSON text Spark writes in `schemaString`. */
export function schemaToString(schema: TableSchema): string {
  return JSON.stringify(schema);
}

/** Structural equality of two Delta types (field names compared exactly, metadata ignored). */
export function sameDeltaType(a: DeltaType, b: DeltaType): boolean {
  if (typeof a === 'string' || typeof b === 'string') return normalizePrimitive(a) === normalizePrimitive(b);
  if (a.type === 'array' && b.type === 'array') return sameDeltaType(a.elementType, b.elementType);
  if (a.type === 'map' && b.type === 'map') return sameDeltaType(a.keyType, b.keyType) && sameDeltaType(a.valueType, b.valueType);
  if (a.type === 'struct' && b.type === 'struct') {
    return a.fields.length === b.fields.length && a.fields.every((f, i) => f.name === b.fields[i]?.name && sameDeltaType(f.type, b.fields[i].type));
  }
  return false;
}

/** Same schema: same field names, types and nullability, in order. */
export function sameSchema(a: TableSchema, b: TableSchema): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => {
    const other = b.fields[i];
    return other !== undefined && other.name === f.name && other.nullable === f.nullable && sameDeltaType(f.type, other.type);
  });
}

/** Text for messages: `long`, `array<string>`, `struct<a:int>`. */
export function deltaTypeText(type: DeltaType): string {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'array':
      return `array<${deltaTypeText(type.elementType)}>`;
    case 'map':
      return `map<${deltaTypeText(type.keyType)},${deltaTypeText(type.valueType)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${deltaTypeText(f.type)}`).join(',')}>`;
  }
}

const WIDENINGS: Readonly<Record<string, readonly string[]>> = {
  byte: ['short', 'integer', 'long', 'float', 'double'],
  short: ['integer', 'long', 'float', 'double'],
  integer: ['long', 'double'],
  // Approximate targets accept any number, as SQL store assignment does.
  long: ['double'],
  float: ['double'],
};

/** Whether values of `from` fit `to` without loss (so a write may cast them). */
export function widensTo(from: DeltaType, to: DeltaType): boolean {
  if (sameDeltaType(from, to)) return true;
  if (typeof from !== 'string' || typeof to !== 'string') return false;
  if (WIDENINGS[from]?.includes(to)) return true;
  if ((to === 'double' || to === 'float') && /^decimal\(/.test(normalizePrimitive(from))) return true;
  const target = /^decimal\((\d+),(\d+)\)$/.exec(normalizePrimitive(to));
  if (!target) return false;
  const [precision, scale] = [Number(target[1]), Number(target[2])];
  const integerDigits: Record<string, number> = { byte: 3, short: 5, integer: 10, long: 19 };
  const digits = integerDigits[from];
  if (digits !== undefined) return precision - scale >= digits;
  const source = /^decimal\((\d+),(\d+)\)$/.exec(normalizePrimitive(from));
  if (!source) return false;
  const [p, s] = [Number(source[1]), Number(source[2])];
  return scale >= s && precision - scale >= p - s;
}

function normalizePrimitive(type: DeltaType): string {
  return typeof type === 'string' ? type.replace(/\s+/g, '') : '';
}

function checkStruct(value: unknown, where: string): void {
  const record = value as { type?: unknown; fields?: unknown } | null;
  if (!record || typeof record !== 'object' || record.type !== 'struct' || !Array.isArray(record.fields)) {
    throw new Error(`${where} is not a struct type`);
  }
  for (const field of record.fields as unknown[]) {
    const f = field as { name?: unknown; type?: unknown; nullable?: unknown; metadata?: unknown } | null;
    if (!f || typeof f.name !== 'string' || typeof f.nullable !== 'boolean' || f.type === undefined) {
      throw new Error(`${where} has a field without name, type or nullable`);
    }
    if (f.metadata === undefined) (f as { metadata: unknown }).metadata = {};
    checkType(f.type, `${where}.${f.name}`);
  }
}

function checkType(type: unknown, where: string): void {
  if (typeof type === 'string') return;
  const record = type as { type?: unknown } | null;
  if (!record || typeof record !== 'object') throw new Error(`${where} has no type`);
  if (record.type === 'struct') return checkStruct(record, where);
  if (record.type === 'array') return checkType((record as { elementType?: unknown }).elementType, `${where}[]`);
  if (record.type === 'map') {
    checkType((record as { keyType?: unknown }).keyType, `${where}.key`);
    return checkType((record as { valueType?: unknown }).valueType, `${where}.value`);
  }
  throw new Error(`${where} has unknown type ${JSON.stringify(record.type)}`);
}

/** A DuckDB type text, parsed just enough to map it. */
type DuckType =
  | { readonly kind: 'name'; readonly name: string; readonly args: string }
  | { readonly kind: 'list'; readonly element: DuckType }
  | { readonly kind: 'struct'; readonly fields: readonly { name: string; type: DuckType }[] }
  | { readonly kind: 'map'; readonly key: DuckType; readonly value: DuckType };

function toDelta(type: DuckType, column: string): DeltaType {
  switch (type.kind) {
    case 'list':
      return { type: 'array', elementType: toDelta(type.element, column), containsNull: true };
    case 'map':
      return { type: 'map', keyType: toDelta(type.key, column), valueType: toDelta(type.value, column), valueContainsNull: true };
    case 'struct':
      return {
        type: 'struct',
        fields: type.fields.map((f) => ({ name: f.name, type: toDelta(f.type, `${column}.${f.name}`), nullable: true, metadata: {} })),
      };
    case 'name': {
      if (type.name === 'DECIMAL' || type.name === 'NUMERIC') {
        const match = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(type.args);
        if (!match) return 'decimal(18,3)';
        return `decimal(${match[1]},${match[2] ?? '0'})`;
      }
      if (type.name === 'ENUM') return 'string';
      const mapped = DUCKDB_TO_PRIMITIVE[type.name];
      if (mapped) return mapped;
      throw new LakeloopError(
        'SCHEMA',
        `Column ${column} has DuckDB type ${type.name}${type.args ? `(${type.args})` : ''}, which a Delta table cannot store`,
        { hint: `Cast ${column} in the query (e.g. to VARCHAR, BIGINT or a STRUCT) before writing it.` },
      );
    }
  }
}

function parseDuckdbType(text: string, column: string): DuckType {
  const parser = new TypeParser(text, column);
  const type = parser.type();
  parser.end();
  return type;
}

class TypeParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly column: string,
  ) {}

  type(): DuckType {
    this.space();
    const name = this.words();
    let type: DuckType;
    if (this.peek() === '(') {
      this.pos++;
      if (name === 'STRUCT' || name === 'ROW') type = { kind: 'struct', fields: this.structFields() };
      else if (name === 'MAP') {
        const key = this.type();
        this.expect(',');
        const value = this.type();
        type = { kind: 'map', key, value };
      } else type = { kind: 'name', name, args: this.balanced() };
      this.expect(')');
    } else {
      type = { kind: 'name', name, args: '' };
    }
    this.space();
    while (this.peek() === '[') {
      const close = this.text.indexOf(']', this.pos);
      if (close < 0) this.fail();
      this.pos = close + 1;
      type = { kind: 'list', element: type };
      this.space();
    }
    return type;
  }

  end(): void {
    this.space();
    if (this.pos !== this.text.length) this.fail();
  }

  private structFields(): { name: string; type: DuckType }[] {
    const fields: { name: string; type: DuckType }[] = [];
    for (;;) {
      this.space();
      if (this.peek() === ')') return fields;
      const name = this.identifier();
      fields.push({ name, type: this.type() });
      this.space();
      if (this.peek() === ',') this.pos++;
      else return fields;
    }
  }

  private identifier(): string {
    if (this.peek() === '"') {
      let name = '';
      this.pos++;
      for (;;) {
        const ch = this.text[this.pos++];
        if (ch === undefined) this.fail();
        if (ch === '"') {
          if (this.text[this.pos] === '"') {
            name += '"';
            this.pos++;
          } else return name;
        } else name += ch;
      }
    }
    const match = /^[^\s(),[\]]+/.exec(this.text.slice(this.pos));
    if (!match) this.fail();
    this.pos += match[0].length;
    return match[0];
  }

  /** Upper-cased words up to the next bracket or comma: `TIMESTAMP WITH TIME ZONE`. */
  private words(): string {
    const match = /^[^(),[\]]+/.exec(this.text.slice(this.pos));
    if (!match) this.fail();
    this.pos += match[0].length;
    return match[0].trim().replace(/\s+/g, ' ').toUpperCase();
  }

  /** The raw text inside balanced parentheses (ENUM values, DECIMAL arguments, UNION members). */
  private balanced(): string {
    const start = this.pos;
    let depth = 0;
    let quote: string | undefined;
    for (; this.pos < this.text.length; this.pos++) {
      const ch = this.text[this.pos];
      if (quote) {
        if (ch === quote) quote = undefined;
      } else if (ch === "'" || ch === '"') quote = ch;
      else if (ch === '(') depth++;
      else if (ch === ')') {
        if (depth === 0) return this.text.slice(start, this.pos);
        depth--;
      }
    }
    return this.fail();
  }

  private expect(ch: string): void {
    this.space();
    if (this.text[this.pos] !== ch) this.fail();
    this.pos++;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private space(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }

  private fail(): never {
    throw new LakeloopError('SCHEMA', `Column ${this.column} has a DuckDB type lakeloop cannot parse: ${this.text}`);
  }
}
