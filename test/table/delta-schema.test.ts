import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeloopError } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { deltaTypeText, duckdbTypeOf, schemaFromDuckdbColumns } from '../../src/table/index.js';

/** DuckDB types ↔ Delta (Spark) types, as DuckDB itself describes them. */
describe('schema mapping between DuckDB and Delta', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ threads: 2 });
  });
  afterAll(async () => {
    await engine.close();
  });

  it('maps every supported DuckDB type, and back', async () => {
    const columns = await engine.describe(`SELECT
      true AS b, 1::TINYINT AS i1, 1::SMALLINT AS i2, 1::INTEGER AS i4, 1::BIGINT AS i8,
      1::UTINYINT AS u1, 1::USMALLINT AS u2, 1::UINTEGER AS u4, 1::UBIGINT AS u8, 1::HUGEINT AS h,
      1::FLOAT AS f4, 1::DOUBLE AS f8, 1.5::DECIMAL(10,2) AS d, 'x' AS s, gen_random_uuid() AS id, '{}'::JSON AS j,
      'x'::BLOB AS bin, DATE '2024-01-01' AS dt, TIMESTAMP '2024-01-01' AS ts, TIMESTAMPTZ '2024-01-01' AS tz,
      [1, 2] AS l, {'a b': 1, c: ['x']} AS st, MAP {'k': 1.5::DOUBLE} AS m, 'a'::ENUM('a', 'b') AS e`);
    const schema = schemaFromDuckdbColumns(columns);
    expect(Object.fromEntries(schema.fields.map((f) => [f.name, deltaTypeText(f.type)]))).toEqual({
      b: 'boolean',
      i1: 'byte',
      i2: 'short',
      i4: 'integer',
      i8: 'long',
      u1: 'short',
      u2: 'integer',
      u4: 'long',
      u8: 'decimal(20,0)',
      h: 'long',
      f4: 'float',
      f8: 'double',
      d: 'decimal(10,2)',
      s: 'string',
      id: 'string',
      j: 'string',
      bin: 'binary',
      dt: 'date',
      ts: 'timestamp',
      tz: 'timestamp',
      l: 'array<integer>',
      st: 'struct<a b:integer,c:array<string>>',
      m: 'map<string,double>',
      e: 'string',
    });
    expect(schema.fields.every((f) => f.nullable)).toBe(true);
    expect(schema.fields.map((f) => duckdbTypeOf(f.type))).toEqual([
      'BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DECIMAL(20,0)', 'BIGINT',
      'FLOAT', 'DOUBLE', 'DECIMAL(10,2)', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'BLOB', 'DATE', 'TIMESTAMPTZ', 'TIMESTAMPTZ',
      'INTEGER[]', 'STRUCT("a b" INTEGER, "c" VARCHAR[])', 'MAP(VARCHAR, DOUBLE)', 'VARCHAR',
    ]);
    // The reverse mapping is valid DuckDB SQL.
    for (const field of schema.fields) await engine.all(`SELECT CAST(NULL AS ${duckdbTypeOf(field.type)})`);
  });

  it('writes nested types as Spark StructType JSON', () => {
    const schema = schemaFromDuckdbColumns([{ name: 'x', type: 'STRUCT(a INTEGER[], "m" MAP(VARCHAR, BIGINT))' }]);
    expect(JSON.parse(JSON.stringify(schema))).toEqual({
      type: 'struct',
      fields: [
        {
          name: 'x',
          type: {
            type: 'struct',
            fields: [
              { name: 'a', type: { type: 'array', elementType: 'integer', containsNull: true }, nullable: true, metadata: {} },
              { name: 'm', type: { type: 'map', keyType: 'string', valueType: 'long', valueContainsNull: true }, nullable: true, metadata: {} },
            ],
          },
          nullable: true,
          metadata: {},
        },
      ],
    });
  });

  it('refuses types Delta cannot hold, naming the column', () => {
    for (const type of ['INTERVAL', 'TIME', 'BIT', 'UNION(a INTEGER, b VARCHAR)', 'TIME WITH TIME ZONE', 'VARINT']) {
      const error = (() => {
        try {
          schemaFromDuckdbColumns([{ name: 'bad_col', type }]);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, type).toBeInstanceOf(LakeloopError);
      expect((error as Error).message).toMatch(/^Column bad_col has DuckDB type .* which a Delta table cannot store$/);
    }
  });
});
