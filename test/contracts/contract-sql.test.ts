import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractSql, defineContract, type DriftPolicy } from '../../src/contracts/index.js';
import { ContractBench } from './contract-input.js';

const schema = z.object({
  order_id: z.string().regex(/^ord_\w+$/),
  status: z.enum(['placed', 'paid', 'shipped', 'cancelled']),
  amount: z.number().nonnegative(),
  qty: z.int().positive(),
  gift: z.boolean().optional(),
  note: z.string().max(10).nullish(),
  tags: z.array(z.string()).optional(),
  'unit price': z.number().optional(),
  'a"b/c.d~e': z.string().optional(),
  ship_date: z.iso.date().optional(),
  order_ts: z.iso.datetime({ offset: true }),
});

const contract = (drift: DriftPolicy) =>
  defineContract({ source: 'orders', version: 1, owner: 'checkout', schema, key: ['order_id'], eventTime: 'order_ts', drift });

const order = (fields: Record<string, unknown> = {}) => ({
  order_id: 'ord_1',
  status: 'paid',
  amount: 10.5,
  qty: 2,
  order_ts: '2024-05-01T10:00:00Z',
  ...fields,
});

let bench: ContractBench;
beforeAll(async () => {
  bench = await ContractBench.create();
});
afterAll(async () => bench.close());

describe('contractSql: the shape of the result', () => {
  it('returns the contract columns typed, event_date, _line, _raw, _rescued and the reject columns', async () => {
    const input = await bench.input([order()]);
    const columns = await bench.engine.describe(contractSql(contract('rescue'), input));
    expect(columns).toEqual([
      { name: 'order_id', type: 'VARCHAR' },
      { name: 'status', type: 'VARCHAR' },
      { name: 'amount', type: 'DOUBLE' },
      { name: 'qty', type: 'BIGINT' },
      { name: 'gift', type: 'BOOLEAN' },
      { name: 'note', type: 'VARCHAR' },
      { name: 'tags', type: 'JSON' },
      { name: 'unit price', type: 'DOUBLE' },
      { name: 'a"b/c.d~e', type: 'VARCHAR' },
      { name: 'ship_date', type: 'DATE' },
      { name: 'order_ts', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'event_date', type: 'DATE' },
      { name: '_line', type: 'BIGINT' },
      { name: '_raw', type: 'VARCHAR' },
      { name: '_rescued', type: 'JSON' },
      { name: '_reject_reason', type: 'VARCHAR' },
      { name: '_reject_field', type: 'VARCHAR' },
    ]);
    const strict = await bench.engine.describe(contractSql(contract('strict'), input));
    expect(strict.map((c) => c.name)).not.toContain('_rescued');
  });

  it('is one SELECT that parses each record once into a map of its fields', () => {
    const sql = contractSql(contract('rescue'), 'batch');
    expect(sql).toMatch(/^SELECT /);
    expect(sql.match(/CAST\(_json AS MAP\(VARCHAR, JSON\)\)/g)).toHaveLength(1);
    expect(sql).toContain(`map_extract_value(__ll_m, 'a"b/c.d~e')`);
  });
});

describe('contractSql: valid records', () => {
  it('types every field; timestamps with offsets become UTC; naive ones are read as UTC; event_date is the UTC date', async () => {
    const rows = await bench.check(contract('rescue'), [
      order({ order_ts: '2024-05-01T23:30:00-02:00', gift: true, note: null, tags: ['a', 'b'], 'unit price': 5.25, 'a"b/c.d~e': 'odd', ship_date: '2024-05-03' }),
      order({ order_id: 'ord_2', qty: 3.0, amount: 0, order_ts: '2024-05-01 22:15:00', note: 'héllo "x"' }),
    ]);
    expect(rows[0]).toEqual({
      order_id: 'ord_1',
      status: 'paid',
      amount: 10.5,
      qty: '2',
      gift: true,
      note: null,
      tags: '["a","b"]',
      'unit price': 5.25,
      'a"b/c.d~e': 'odd',
      ship_date: '2024-05-03',
      order_ts: '2024-05-02 01:30:00+00',
      event_date: '2024-05-02',
      _line: '1',
      _raw: expect.stringContaining('"order_ts":"2024-05-01T23:30:00-02:00"'),
      _rescued: null,
      _reject_reason: null,
      _reject_field: null,
    });
    expect(rows[1]).toMatchObject({ order_id: 'ord_2', qty: '3', amount: 0, note: 'héllo "x"', order_ts: '2024-05-01 22:15:00+00', event_date: '2024-05-01', _reject_reason: null });
  });
});

describe('contractSql: rejects with the first violation', () => {
  it('invalid JSON and JSON that is not an object', async () => {
    expect(await bench.reasons(contract('rescue'), ['{"order_id": "ord_1",', '[1, 2]', '"ord_1"', 'nul'])).toEqual([
      ['invalid JSON', null],
      ['not a JSON object', null],
      ['not a JSON object', null],
      ['invalid JSON', null],
    ]);
  });

  it('a missing or null required field; absent and null optional fields are fine', async () => {
    const { status: _status, ...noStatus } = order();
    expect(await bench.reasons(contract('rescue'), [noStatus, order({ amount: null }), order({ gift: null, note: null })])).toEqual([
      ['missing required field', 'status'],
      ['null in required field', 'amount'],
      [null, null],
    ]);
  });

  it('a value of the wrong JSON type, quoting what came', async () => {
    const long = 'x'.repeat(200);
    expect(
      await bench.reasons(contract('rescue'), [
        order({ amount: '12' }),
        order({ qty: 2.5 }),
        order({ qty: '2' }),
        order({ order_ts: 'yesterday' }),
        order({ order_ts: 1714557600000 }),
        order({ order_id: 42 }),
        order({ gift: 'yes' }),
        order({ tags: { a: 1 } }),
        order({ ship_date: '2024-5-3' }),
        order({ ship_date: '2024/05/03' }),
        order({ order_ts: 'infinity' }),
        order({ status: long }),
        order({ status: 'paid\\"' }),
      ]),
    ).toEqual([
      ['wrong type: expected DOUBLE, got "12"', 'amount'],
      ['wrong type: expected BIGINT, got 2.5', 'qty'],
      ['wrong type: expected BIGINT, got "2"', 'qty'],
      ['wrong type: expected TIMESTAMP WITH TIME ZONE, got "yesterday"', 'order_ts'],
      ['wrong type: expected TIMESTAMP WITH TIME ZONE, got 1714557600000', 'order_ts'],
      ['wrong type: expected VARCHAR, got 42', 'order_id'],
      ['wrong type: expected BOOLEAN, got "yes"', 'gift'],
      ['wrong type: expected JSON array, got {"a":1}', 'tags'],
      ['wrong type: expected DATE, got "2024-5-3"', 'ship_date'],
      ['wrong type: expected DATE, got "2024/05/03"', 'ship_date'],
      ['wrong type: expected TIMESTAMP WITH TIME ZONE, got "infinity"', 'order_ts'],
      ['value not in [placed, paid, shipped, cancelled]', 'status'],
      ['value not in [placed, paid, shipped, cancelled]', 'status'],
    ]);
  });

  it('never throws on hostile values: huge numbers, NaN, deep nesting', async () => {
    const rows = await bench.reasons(contract('rescue'), [
      '{"order_id":"ord_1","status":"paid","amount":1e400,"qty":2,"order_ts":"2024-05-01T10:00:00Z"}',
      '{"order_id":"ord_1","status":"paid","amount":NaN,"qty":2,"order_ts":"2024-05-01T10:00:00Z"}',
      '{"order_id":"ord_1","status":"paid","amount":1,"qty":18446744073709551616,"order_ts":"2024-05-01T10:00:00Z"}',
      order({ tags: [[[[[[[[[[1]]]]]]]]]] }),
    ]);
    expect(rows).toEqual([
      ['wrong type: expected DOUBLE, got 1e400', 'amount'],
      // DuckDB's JSON reader accepts NaN; the contract does not.
      ['wrong type: expected DOUBLE, got NaN', 'amount'],
      ['wrong type: expected BIGINT, got 18446744073709551616', 'qty'],
      [null, null],
    ]);
  });

  it('enum, minimum, exclusive minimum, maxLength and pattern checks', async () => {
    expect(
      await bench.reasons(contract('rescue'), [
        order({ status: 'lost' }),
        order({ amount: -0.01 }),
        order({ qty: 0 }),
        order({ note: 'far too long a note' }),
        order({ order_id: 'ORD-1' }),
      ]),
    ).toEqual([
      ['value not in [placed, paid, shipped, cancelled]', 'status'],
      ['below minimum 0', 'amount'],
      ['not above exclusive minimum 0', 'qty'],
      ['longer than maxLength 10', 'note'],
      ['does not match pattern ^ord_\\w+$', 'order_id'],
    ]);
  });

  it('reports the first violation in schema order, and a field given twice', async () => {
    expect(
      await bench.reasons(contract('rescue'), [
        order({ status: 'lost', amount: -1, order_ts: 'soon' }),
        '{"order_id":"ord_1","status":"paid","amount":1,"amount":2,"qty":2,"order_ts":"2024-05-01T10:00:00Z"}',
        '{"order_id":"ord_1","status":"paid","amount":1,"qty":2,"order_ts":"2024-05-01T10:00:00Z","x":1,"x":2}',
      ]),
    ).toEqual([
      ['value not in [placed, paid, shipped, cancelled]', 'status'],
      ['duplicate field', 'amount'],
      ['duplicate field', 'x'],
    ]);
  });
});

describe('contractSql: drift policies for fields the contract does not declare', () => {
  const drifting = [
    order({ coupon: 'SPRING', 'odd "key"': { nested: [1, null] }, maybe: null }),
    order({ order_id: 'ord_2' }),
  ];

  it('strict rejects the record, naming the first unknown field', async () => {
    expect(await bench.reasons(contract('strict'), drifting)).toEqual([
      ['unknown field (drift policy strict)', 'coupon'],
      [null, null],
    ]);
  });

  it('rescue keeps the record and puts the unknown fields in _rescued', async () => {
    const rows = await bench.check(contract('rescue'), drifting);
    expect(rows.map((r) => [r['_reject_reason'], r['_rescued'] === null ? null : JSON.parse(String(r['_rescued']))])).toEqual([
      [null, { coupon: 'SPRING', 'odd "key"': { nested: [1, null] }, maybe: null }],
      [null, null],
    ]);
  });

  it('evolve: unknownFieldsSql finds the new fields with a type, and contractSql then extracts them', async () => {
    const evolve = contract('evolve');
    const lines = [
      order({ coupon: 'SPRING', points: 10, ratio: 1, flag: true, extra: { a: 1 }, nothing: null, mixed: 1 }),
      order({ order_id: 'ord_2', points: 12, ratio: 1.5, flag: false, mixed: 'one', Status: 'dup-by-case', _line: 5 }),
    ];
    expect(await bench.unknownFields(evolve, lines)).toEqual([
      { name: 'coupon', type: 'VARCHAR', records: '1' },
      { name: 'extra', type: 'JSON', records: '1' },
      { name: 'flag', type: 'BOOLEAN', records: '2' },
      { name: 'mixed', type: 'JSON', records: '2' },
      { name: 'nothing', type: 'JSON', records: '1' },
      { name: 'points', type: 'BIGINT', records: '2' },
      { name: 'ratio', type: 'DOUBLE', records: '2' },
    ]);
    const extraColumns = [
      { name: 'coupon', type: 'VARCHAR' },
      { name: 'points', type: 'BIGINT' },
      { name: 'ratio', type: 'DOUBLE' },
      { name: 'flag', type: 'BOOLEAN' },
      { name: 'extra', type: 'JSON' },
    ] as const;
    const rows = await bench.check(evolve, lines, { extraColumns });
    expect(rows.map((r) => [r['coupon'], r['points'], r['ratio'], r['flag'], r['extra'], r['_reject_reason']])).toEqual([
      ['SPRING', '10', 1, true, '{"a":1}', null],
      [null, '12', 1.5, false, null, null],
    ]);
    // Fields not (yet) evolved, and names no column can take, are rescued, never dropped.
    expect(rows.map((r) => JSON.parse(String(r['_rescued'])))).toEqual([
      { nothing: null, mixed: 1 },
      { mixed: 'one', Status: 'dup-by-case', _line: 5 },
    ]);
    expect(await bench.unknownFields(evolve, lines, { extraColumns })).toEqual([
      { name: 'mixed', type: 'JSON', records: '2' },
      { name: 'nothing', type: 'JSON', records: '1' },
    ]);
  });

  it('an evolved column with a value of another type rejects the record', async () => {
    const rows = await bench.check(contract('evolve'), [order({ points: 'many' })], { extraColumns: [{ name: 'points', type: 'BIGINT' }] });
    expect([rows[0]?.['_reject_reason'], rows[0]?.['_reject_field']]).toEqual(['wrong type: expected BIGINT, got "many"', 'points']);
  });
});
