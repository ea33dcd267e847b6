import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractColumns, type ContractColumn } from '../../src/contracts/index.js';

const pick = (columns: ContractColumn[]) =>
  Object.fromEntries(columns.map((c) => [c.name, { type: c.duckdbType, required: c.required, checks: c.checks }]));

describe('contractColumns (through zod JSON Schema export)', () => {
  it('maps JSON Schema types to DuckDB types', () => {
    const columns = contractColumns(
      z.object({
        id: z.string(),
        ts: z.iso.datetime({ offset: true }),
        day: z.iso.date(),
        n: z.int(),
        x: z.number(),
        ok: z.boolean(),
        tags: z.array(z.string()),
        meta: z.object({ a: z.string() }),
        anything: z.json(),
        unknown: z.unknown(),
      }),
    );
    expect(columns.map((c) => [c.name, c.duckdbType, c.jsonKind])).toEqual([
      ['id', 'VARCHAR', undefined],
      ['ts', 'TIMESTAMP WITH TIME ZONE', undefined],
      ['day', 'DATE', undefined],
      ['n', 'BIGINT', undefined],
      ['x', 'DOUBLE', undefined],
      ['ok', 'BOOLEAN', undefined],
      ['tags', 'JSON', 'array'],
      ['meta', 'JSON', 'object'],
      ['anything', 'JSON', 'any'],
      ['unknown', 'JSON', 'any'],
    ]);
  });

  it('optional, nullable, nullish and defaulted fields are not required', () => {
    const columns = pick(
      contractColumns(
        z.object({ a: z.string(), b: z.string().optional(), c: z.string().nullable(), d: z.string().nullish(), e: z.enum(['x', 'y']).nullable(), f: z.int().default(3) }),
      ),
    );
    expect(Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, v.required]))).toEqual({ a: true, b: false, c: false, d: false, e: false, f: false });
    expect(columns['e']).toEqual({ type: 'VARCHAR', required: false, checks: [{ kind: 'enum', values: ['x', 'y'] }] });
    expect(contractColumns(z.object({ f: z.int().default(3) }))[0]?.default).toBe(3);
  });

  it('turns JSON Schema keywords into checks', () => {
    const columns = pick(
      contractColumns(
        z.object({
          status: z.enum(['placed', 'paid']),
          kind: z.literal('order'),
          level: z.union([z.literal(1), z.literal(2)]),
          amount: z.number().nonnegative().lt(1000),
          qty: z.int().positive().max(99),
          price: z.number().multipleOf(0.01),
          code: z.string().min(2).max(8).regex(/^[A-Z]+$/),
          email: z.email(),
          items: z.array(z.int()).min(1).max(3),
        }),
      ),
    );
    expect(columns['status']?.checks).toEqual([{ kind: 'enum', values: ['placed', 'paid'] }]);
    expect(columns['kind']?.checks).toEqual([{ kind: 'enum', values: ['order'] }]);
    expect(columns['level']).toEqual({ type: 'BIGINT', required: true, checks: [{ kind: 'enum', values: [1, 2] }] });
    expect(columns['amount']?.checks).toEqual([
      { kind: 'minimum', value: 0 },
      { kind: 'exclusiveMaximum', value: 1000 },
    ]);
    expect(columns['qty']?.checks).toEqual([
      { kind: 'maximum', value: 99 },
      { kind: 'exclusiveMinimum', value: 0 },
    ]);
    expect(columns['price']?.checks).toEqual([{ kind: 'multipleOf', value: 0.01 }]);
    expect(columns['code']?.checks).toEqual([
      { kind: 'minLength', value: 2 },
      { kind: 'maxLength', value: 8 },
      { kind: 'pattern', pattern: '^[A-Z]+$', format: undefined },
    ]);
    expect(columns['email']?.checks).toEqual([{ kind: 'pattern', pattern: expect.any(String), format: 'email' }]);
    expect(columns['items']?.checks).toEqual([
      { kind: 'minItems', value: 1 },
      { kind: 'maxItems', value: 3 },
    ]);
  });

  it("leaves zod's own date-time pattern to DuckDB's cast, and says what it does not check", () => {
    const [ts, duration, meta] = contractColumns(z.object({ ts: z.iso.datetime(), duration: z.iso.duration(), meta: z.object({ a: z.int() }) }));
    expect(ts?.checks).toEqual([]);
    expect(duration?.unchecked).toEqual(["format duration (its pattern needs a regex feature DuckDB's RE2 lacks)"]);
    expect(meta?.unchecked).toEqual(["the object's content (stored as JSON, not checked in SQL)"]);
  });

  it('rewrites JavaScript named groups for RE2', () => {
    const [column] = contractColumns(z.object({ sku: z.string().regex(/^(?<family>[A-Z]{3})-\d+$/) }));
    expect(column?.checks).toEqual([{ kind: 'pattern', pattern: '^(?P<family>[A-Z]{3})-\\d+$', format: undefined }]);
  });

  it('names every field it cannot map', () => {
    expect(() => contractColumns(z.object({ a: z.union([z.string(), z.boolean()]), b: z.literal(['x', 1]), c: z.null() }))).toThrow(
      'schema.a: is a union of string and boolean; give it one type, or z.json() to keep any JSON value; ' +
        'schema.b: mixes literals of different types (string, integer); use literals of one type; ' +
        'schema.c: is always null; give it a type',
    );
    expect(() => contractColumns(z.object({ big: z.bigint(), when: z.date() }))).toThrow(
      /schema\.big: BigInt cannot be represented in JSON Schema.*schema\.when: Date cannot be represented/,
    );
  });
});
