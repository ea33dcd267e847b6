import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import {
  Binary,
  Bool,
  type Data,
  type DataType,
  DateDay,
  Decimal,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  IntervalMonthDayNano,
  List,
  makeData,
  Map_,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  TimeMicrosecond,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
} from 'apache-arrow';
import { LakeloopError } from '../core/index.js';

/**
 * A DuckDB result as an Arrow IPC stream (schema, one record batch, end marker), with types
 * kept: integers by width and sign, HUGEINT as Decimal(38, 0), DECIMAL(p, s) as
 * Decimal(p, s), DATE as Date(day), TIME as Time(µs), TIMESTAMP as Timestamp in its unit
 * (TIMESTAMPTZ with time zone `UTC`), INTERVAL as Interval(month-day-nano), BLOB as Binary,
 * LIST as List, ARRAY as FixedSizeList, STRUCT as Struct, MAP as Map. Other types (UUID,
 * ENUM, BIT, UNION, TIME WITH TIME ZONE, …) are their DuckDB text, as Utf8.
 *
 * @example
 * const bytes = arrowIpcStream(reader.columnNames(), reader.columnTypes(), reader.getColumns());
 * tableFromIPC(bytes).numRows;
 */
export function arrowIpcStream(names: readonly string[], types: readonly DuckDBType[], columns: readonly (readonly DuckDBValue[])[]): Uint8Array {
  const length = columns[0]?.length ?? 0;
  const fields: Field[] = [];
  const children: Data[] = [];
  names.forEach((name, i) => {
    const type = arrowTypeOf(types[i] as DuckDBType);
    fields.push(new Field(name, type, true));
    children.push(dataOf(type, types[i] as DuckDBType, columns[i] ?? [], name));
  });
  const schema = new Schema(fields);
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
  return tableToIPC(new Table(schema, [batch]), 'stream');
}

/** The Arrow type a DuckDB type is written as (see `arrowIpcStream`). */
export function arrowTypeOf(type: DuckDBType): DataType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new Bool();
    case DuckDBTypeId.TINYINT:
      return new Int8();
    case DuckDBTypeId.SMALLINT:
      return new Int16();
    case DuckDBTypeId.INTEGER:
      return new Int32();
    case DuckDBTypeId.BIGINT:
      return new Int64();
    case DuckDBTypeId.UTINYINT:
      return new Uint8();
    case DuckDBTypeId.USMALLINT:
      return new Uint16();
    case DuckDBTypeId.UINTEGER:
      return new Uint32();
    case DuckDBTypeId.UBIGINT:
      return new Uint64();
    // Arrow has no 128-bit integer: the exact type that holds one.
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return new Decimal(0, 38, 128);
    case DuckDBTypeId.DECIMAL:
      return new Decimal(type.scale, type.width, 128);
    case DuckDBTypeId.FLOAT:
      return new Float32();
    case DuckDBTypeId.DOUBLE:
      return new Float64();
    case DuckDBTypeId.BLOB:
      return new Binary();
    case DuckDBTypeId.DATE:
      return new DateDay();
    case DuckDBTypeId.TIME:
      return new TimeMicrosecond();
    case DuckDBTypeId.TIMESTAMP:
      return new TimestampMicrosecond();
    case DuckDBTypeId.TIMESTAMP_S:
      return new TimestampSecond();
    case DuckDBTypeId.TIMESTAMP_MS:
      return new TimestampMillisecond();
    case DuckDBTypeId.TIMESTAMP_NS:
      return new TimestampNanosecond();
    // The engine runs in UTC: a TIMESTAMPTZ is an instant, shown in UTC.
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new TimestampMicrosecond('UTC');
    case DuckDBTypeId.INTERVAL:
      return new IntervalMonthDayNano();
    case DuckDBTypeId.LIST:
      return new List(new Field('item', arrowTypeOf(type.valueType), true));
    case DuckDBTypeId.ARRAY:
      return new FixedSizeList(type.length, new Field('item', arrowTypeOf(type.valueType), true));
    case DuckDBTypeId.STRUCT:
      return new Struct(type.entryNames.map((name, i) => new Field(name, arrowTypeOf(type.entryTypes[i] as DuckDBType), true)));
    case DuckDBTypeId.MAP:
      return new Map_(new Field('entries', new Struct([new Field('key', arrowTypeOf(type.keyType), false), new Field('value', arrowTypeOf(type.valueType), true)]) as never, false));
    default:
      return new Utf8();
  }
}

/** The Arrow data of one column's values (nulls as validity bits). */
function dataOf(arrow: DataType, type: DuckDBType, values: readonly DuckDBValue[], column: string): Data {
  const length = values.length;
  const { nullBitmap, nullCount } = validity(values);
  const base = { type: arrow, length, nullCount, nullBitmap };
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN: {
      const data = new Uint8Array(Math.ceil(length / 8));
      values.forEach((v, i) => {
        if (v === true) data[i >> 3] = (data[i >> 3] as number) | (1 << (i & 7));
      });
      return makeData({ ...base, type: arrow as Bool, data });
    }
    case DuckDBTypeId.TINYINT:
      return makeData({ ...base, type: arrow as Int8, data: Int8Array.from(values, numberOf) });
    case DuckDBTypeId.SMALLINT:
      return makeData({ ...base, type: arrow as Int16, data: Int16Array.from(values, numberOf) });
    case DuckDBTypeId.INTEGER:
      return makeData({ ...base, type: arrow as Int32, data: Int32Array.from(values, numberOf) });
    case DuckDBTypeId.UTINYINT:
      return makeData({ ...base, type: arrow as Uint8, data: Uint8Array.from(values, numberOf) });
    case DuckDBTypeId.USMALLINT:
      return makeData({ ...base, type: arrow as Uint16, data: Uint16Array.from(values, numberOf) });
    case DuckDBTypeId.UINTEGER:
      return makeData({ ...base, type: arrow as Uint32, data: Uint32Array.from(values, numberOf) });
    case DuckDBTypeId.FLOAT:
      return makeData({ ...base, type: arrow as Float32, data: Float32Array.from(values, numberOf) });
    case DuckDBTypeId.DOUBLE:
      return makeData({ ...base, type: arrow as Float64, data: Float64Array.from(values, numberOf) });
    case DuckDBTypeId.BIGINT:
      return makeData({ ...base, type: arrow as Int64, data: BigInt64Array.from(values, bigintOf) });
    case DuckDBTypeId.UBIGINT:
      return makeData({ ...base, type: arrow as Uint64, data: BigUint64Array.from(values, bigintOf) });
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.DECIMAL:
      return makeData({ ...base, type: arrow as Decimal, data: decimalWords(values, column) });
    case DuckDBTypeId.DATE:
      return makeData({ ...base, type: arrow as DateDay, data: Int32Array.from(values, (v) => (v instanceof DuckDBDateValue ? v.days : 0)) });
    case DuckDBTypeId.TIME:
      return makeData({ ...base, type: arrow as TimeMicrosecond, data: BigInt64Array.from(values, (v) => (v instanceof DuckDBTimeValue ? v.micros : 0n)) });
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return makeData({ ...base, type: arrow as TimestampMicrosecond, data: BigInt64Array.from(values, timestampTicks) });
    case DuckDBTypeId.INTERVAL: {
      // Per value: months and days (int32), then nanoseconds (int64, little-endian).
      const data = new Int32Array(length * 4);
      const view = new DataView(data.buffer);
      values.forEach((v, i) => {
        if (!(v instanceof DuckDBIntervalValue)) return;
        data[i * 4] = v.months;
        data[i * 4 + 1] = v.days;
        view.setBigInt64(i * 16 + 8, v.micros * 1000n, true);
      });
      return makeData({ ...base, type: arrow as IntervalMonthDayNano, data });
    }
    case DuckDBTypeId.BLOB:
      return variableWidth(base, values.map((v) => (v instanceof DuckDBBlobValue ? v.bytes : null)));
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const items = values.map((v) => (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue ? v.items : []));
      const child = dataOf((arrow as List | FixedSizeList).children[0]?.type as DataType, type.valueType, items.flat(), column);
      if (type.typeId === DuckDBTypeId.ARRAY) return makeData({ ...base, type: arrow as FixedSizeList, child });
      return makeData({ ...base, type: arrow as List, valueOffsets: offsets(items.map((i) => i.length)), child });
    }
    case DuckDBTypeId.STRUCT: {
      const struct = arrow as Struct;
      const children = type.entryNames.map((name, i) =>
        dataOf(struct.children[i]?.type as DataType, type.entryTypes[i] as DuckDBType, values.map((v) => (v instanceof DuckDBStructValue ? (v.entries[name] ?? null) : null)), `${column}.${name}`),
      );
      return makeData({ ...base, type: struct, children });
    }
    case DuckDBTypeId.MAP: {
      const map = arrow as Map_;
      const entries = values.map((v) => (v instanceof DuckDBMapValue ? v.entries : []));
      const flat = entries.flat();
      const entryType = map.children[0]?.type as Struct;
      const keys = dataOf(entryType.children[0]?.type as DataType, type.keyType, flat.map((e) => e.key), column);
      const vals = dataOf(entryType.children[1]?.type as DataType, type.valueType, flat.map((e) => e.value), column);
      const child = makeData({ type: entryType, length: flat.length, nullCount: 0, children: [keys, vals] });
      return makeData({ ...base, type: map, valueOffsets: offsets(entries.map((e) => e.length)), child });
    }
    default:
      return variableWidth(base, values.map((v) => (v === null ? null : TEXT.encode(String(v)))));
  }
}

const TEXT = new TextEncoder();

function validity(values: readonly DuckDBValue[]): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v === null || v === undefined) nullCount++;
    else nullBitmap[i >> 3] = (nullBitmap[i >> 3] as number) | (1 << (i & 7));
  });
  return { nullBitmap, nullCount };
}

function numberOf(value: DuckDBValue): number {
  return typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : 0;
}

function bigintOf(value: DuckDBValue): bigint {
  return typeof value === 'bigint' ? value : typeof value === 'number' ? BigInt(value) : 0n;
}

function timestampTicks(value: DuckDBValue): bigint {
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) return value.micros;
  if (value instanceof DuckDBTimestampSecondsValue) return value.seconds;
  if (value instanceof DuckDBTimestampMillisecondsValue) return value.millis;
  if (value instanceof DuckDBTimestampNanosecondsValue) return value.nanos;
  return 0n;
}

const DECIMAL_38_MAX = 10n ** 38n - 1n;

/** 128-bit two's complement, four little-endian 32-bit words per value (Arrow's Decimal128 layout). */
function decimalWords(values: readonly DuckDBValue[], column: string): Uint32Array {
  const words = new Uint32Array(values.length * 4);
  values.forEach((v, i) => {
    if (v === null) return;
    const unscaled = v instanceof DuckDBDecimalValue ? v.value : bigintOf(v);
    if (unscaled > DECIMAL_38_MAX || unscaled < -DECIMAL_38_MAX) {
      throw new LakeloopError('ARROW', `Failed to write Arrow: column ${column} holds ${String(v)}, more than the 38 digits of an Arrow Decimal128`, {
        hint: `Cast ${column} in the query (e.g. to DOUBLE or VARCHAR).`,
      });
    }
    let bits = BigInt.asUintN(128, unscaled);
    for (let k = 0; k < 4; k++) {
      words[i * 4 + k] = Number(bits & 0xffffffffn);
      bits >>= 32n;
    }
  });
  return words;
}

function offsets(lengths: readonly number[]): Int32Array {
  const out = new Int32Array(lengths.length + 1);
  lengths.forEach((n, i) => {
    out[i + 1] = (out[i] as number) + n;
  });
  return out;
}

function variableWidth(base: { type: DataType; length: number; nullCount: number; nullBitmap: Uint8Array }, chunks: readonly (Uint8Array | null)[]): Data {
  const valueOffsets = offsets(chunks.map((c) => c?.length ?? 0));
  const data = new Uint8Array(valueOffsets[chunks.length] ?? 0);
  chunks.forEach((c, i) => {
    if (c) data.set(c, valueOffsets[i] as number);
  });
  return makeData({ ...base, type: base.type as Utf8, valueOffsets, data });
}
