import { tableFromIPC, type Table } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeloopError } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';

/**
 * `Engine.arrowIpc`: a DuckDB result as an Arrow IPC stream, read back with apache-arrow's
 * own `tableFromIPC`; types and values must be DuckDB's.
 */
describe('a query result as an Arrow IPC stream', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ threads: 2 });
  });
  afterAll(async () => {
    await engine.close();
  });

  const SQL = `SELECT * FROM (VALUES
    (1::TINYINT, 9007199254740993::BIGINT, 12345678901234567890123::HUGEINT, 12.34::DECIMAL(10,2), -1234567890123456789012345.678::DECIMAL(38,3),
     'x é', DATE '2024-01-02', TIMESTAMPTZ '2024-01-01 01:02:03.123456+00', TIMESTAMP '1969-12-31 23:59:59.999999', [1, NULL, 3],
     {'a': 1, 'b': 'y'}, MAP {'k': 1.5::DOUBLE}, INTERVAL 2 MONTH + INTERVAL 3 DAY + INTERVAL 5 SECOND, 'ab'::BLOB, true, 1.5::FLOAT, 'NaN'::DOUBLE,
     [[1], [2, 3]], TIME '01:02:03.5', 18446744073709551615::UBIGINT, DATE '1900-03-01'),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
  ) t(i1, i8, h, d, d38, s, dt, tz, ts, l, st, m, iv, bl, b, f4, f8, ll, tm, u8, old)`;

  it('maps every type faithfully: decimals as Decimal, TIMESTAMPTZ as Timestamp in UTC, lists as List, dates as Date', async () => {
    const { bytes, rows } = await engine.arrowIpc(SQL);
    const table = tableFromIPC(bytes);
    expect([rows, table.numRows]).toEqual([2, 2]);
    expect(Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]))).toEqual({
      i1: 'Int8',
      i8: 'Int64',
      h: 'Decimal[38e0]',
      d: 'Decimal[10e+2]',
      d38: 'Decimal[38e+3]',
      s: 'Utf8',
      dt: 'Date32<DAY>',
      tz: 'Timestamp<MICROSECOND, UTC>',
      ts: 'Timestamp<MICROSECOND>',
      l: 'List<Int32>',
      st: 'Struct<{a:Int32, b:Utf8}>',
      m: 'Map<{key:Utf8, value:Float64}>',
      iv: 'Interval<MONTH_DAY_NANO>',
      bl: 'Binary',
      b: 'Bool',
      f4: 'Float32',
      f8: 'Float64',
      ll: 'List<List<Int32>>',
      tm: 'Time64<MICROSECOND>',
      u8: 'Uint64',
      old: 'Date32<DAY>',
    });
  });

  it('holds the values DuckDB holds, exactly (integers, decimal digits, microseconds, days), and nulls', async () => {
    const table = tableFromIPC((await engine.arrowIpc(SQL)).bytes);
    const [want] = await engine.all(`SELECT
      CAST(i1 AS VARCHAR) AS i1, CAST(i8 AS VARCHAR) AS i8, CAST(h AS VARCHAR) AS h, CAST(d AS VARCHAR) AS d, CAST(d38 AS VARCHAR) AS d38, s,
      CAST(dt - DATE '1970-01-01' AS VARCHAR) AS dt, CAST(epoch_us(tz) AS VARCHAR) AS tz, CAST(epoch_us(ts) AS VARCHAR) AS ts,
      CAST(to_json(l) AS VARCHAR) AS l, CAST(to_json(st) AS VARCHAR) AS st, CAST(to_json(m) AS VARCHAR) AS m, hex(bl) AS bl, CAST(b AS VARCHAR) AS b,
      CAST(f4 AS VARCHAR) AS f4, CAST(to_json(ll) AS VARCHAR) AS ll, CAST(epoch_us(DATE '1970-01-01' + tm) AS VARCHAR) AS tm, CAST(u8 AS VARCHAR) AS u8,
      CAST(old - DATE '1970-01-01' AS VARCHAR) AS old, datepart('month', iv) AS iv_months, datepart('day', iv) AS iv_days
      FROM (${SQL}) LIMIT 1`);
    expect(arrowRow(table, 0)).toEqual({ ...want, f8: 'NaN', iv: `${String(want?.['iv_months'])}/${String(want?.['iv_days'])}/5000000000`, iv_months: undefined, iv_days: undefined });
    for (const field of table.schema.fields) expect(table.getChild(field.name)?.get(1), field.name).toBeNull();
  });

  it('refuses a 128-bit integer beyond the 38 digits of Decimal128, naming the column', async () => {
    const error = await engine.arrowIpc(`SELECT 170141183460469231731687303715884105727::HUGEINT AS big`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeloopError);
    expect((error as LakeloopError).message).toContain('column big holds 170141183460469231731687303715884105727');
  });

  it('writes an empty result with its schema', async () => {
    const table = tableFromIPC((await engine.arrowIpc(`SELECT 1.5::DECIMAL(4,1) AS d, [DATE '2024-01-01'] AS l WHERE false`)).bytes);
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => String(f.type))).toEqual(['Decimal[4e+1]', 'List<Date32<DAY>>']);
  });
});

/** One row of an Arrow table as text in the forms the DuckDB query above produces. */
function arrowRow(table: Table, row: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of table.schema.fields) {
    const column = table.getChild(field.name);
    const data = column?.data[0];
    const text = String(field.type);
    if (text.startsWith('Decimal')) out[field.name] = decimalText(data?.values as Uint32Array, row, (field.type as { scale: number }).scale);
    else if (text.startsWith('Date32') || text.startsWith('Timestamp') || text.startsWith('Time64')) out[field.name] = String((data?.values as Int32Array | BigInt64Array)[row]);
    else if (text === 'Binary') out[field.name] = Buffer.from(column?.get(row) as Uint8Array).toString('hex').toUpperCase();
    else if (text.startsWith('Interval')) {
      const words = data?.values as Int32Array;
      out[field.name] = `${words[row * 4]}/${words[row * 4 + 1]}/${new DataView(words.buffer, words.byteOffset).getBigInt64(row * 16 + 8, true)}`;
    } else if (text.startsWith('List') || text.startsWith('Struct') || text.startsWith('Map')) out[field.name] = JSON.stringify(plain(column?.get(row)));
    else out[field.name] = String(column?.get(row));
  }
  return out;
}

function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return plain((value as { toJSON(): unknown }).toJSON());
  if (Symbol.iterator in value) return [...(value as Iterable<unknown>)].map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

function decimalText(words: Uint32Array, row: number, scale: number): string {
  let bits = 0n;
  for (let k = 3; k >= 0; k--) bits = (bits << 32n) | BigInt(words[row * 4 + k] ?? 0);
  const value = BigInt.asIntN(128, bits);
  const digits = (value < 0n ? -value : value).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return value < 0n ? `-${text}` : text;
}
