import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractColumns, contractFastSql, contractJsonSchema, contractSql, decimal, defineContract } from '../../src/contracts/index.js';
import { quoteIdent } from '../../src/engine/index.js';
import { ContractBench } from './contract-input.js';

/** `decimal(p, s)`: a contract's way to say a number is exact (money), from the column type to the check of each value. */
const schema = z.object({
  id: z.string(),
  amount: decimal(18, 2).nonnegative().describe('In EUR'),
  fee: decimal(10, 3).nullish(),
  ts: z.iso.datetime({ offset: true }),
});
const contract = defineContract({ source: 'charges', version: 1, owner: 'billing', schema, key: ['id'], eventTime: 'ts' });
const charge = (fields: Record<string, unknown> = {}) => ({ id: 'c1', amount: 1111.16, ts: '2026-10-01T10:00:00Z', ...fields });

let bench: ContractBench;
beforeAll(async () => {
  bench = await ContractBench.create();
});
afterAll(async () => bench.close());

describe('decimal(p, s)', () => {
  it('maps to DECIMAL(p,s) columns, keeps the checks and the description, and tells producers the type', () => {
    const columns = contractColumns(schema);
    expect(columns.map((c) => [c.name, c.duckdbType, c.required])).toEqual([
      ['id', 'VARCHAR', true],
      ['amount', 'DECIMAL(18,2)', true],
      ['fee', 'DECIMAL(10,3)', false],
      ['ts', 'TIMESTAMP WITH TIME ZONE', true],
    ]);
    expect(columns[1]).toMatchObject({ checks: [{ kind: 'minimum', value: 0 }], description: 'In EUR' });
    const properties = contractJsonSchema(contract)['properties'] as Record<string, Record<string, unknown>>;
    expect(properties['amount']).toMatchObject({ type: 'number', minimum: 0, sqlType: 'DECIMAL(18,2)' });
  });

  it('is the same as .meta({ sqlType }) written by hand; any other sqlType is refused by name', () => {
    expect(contractColumns(z.object({ a: z.number().meta({ sqlType: 'decimal(9, 4)' }) }))[0]?.duckdbType).toBe('DECIMAL(9,4)');
    expect(() => contractColumns(z.object({ a: z.number().meta({ sqlType: 'DECIMAL(40,2)' }) }))).toThrow(/schema\.a: has sqlType "DECIMAL\(40,2\)"; lakeloop takes only DECIMAL\(p,s\)/);
    expect(() => contractColumns(z.object({ a: z.string().meta({ sqlType: 'DECIMAL(18,2)' }) }))).toThrow(/schema\.a: has sqlType/);
    expect(() => decimal(39, 2)).toThrow(RangeError);
    expect(() => decimal(4, 5)).toThrow(/scale must be an integer from 0 to the precision \(4\)/);
  });

  it('types values exactly; more decimals than the scale, text and NaN-like values are wrong types, not rounded', async () => {
    const rows = await bench.check(contract, [
      charge(),
      charge({ amount: 0.1, fee: 0.125 }),
      '{"id":"c3","amount":150e0,"ts":"2026-10-01T10:00:00Z"}',
      '{"id":"c4","amount":12.500,"ts":"2026-10-01T10:00:00Z"}',
      charge({ id: 'c5', amount: 12.345 }),
      charge({ id: 'c6', amount: '12.50' }),
      charge({ id: 'c7', amount: 0.1 + 0.2 }),
      charge({ id: 'c8', amount: 1e20 }),
      charge({ id: 'c9', fee: 0.1255 }),
      charge({ id: 'c10', amount: -0.01 }),
    ]);
    expect(rows.map((r) => [r['id'], r['amount'] === null ? null : String(r['amount']), r['fee'] === null ? null : String(r['fee']), r['_reject_reason'], r['_reject_field']])).toEqual([
      ['c1', '1111.16', null, null, null],
      ['c1', '0.10', '0.125', null, null],
      ['c3', '150.00', null, null, null],
      ['c4', '12.50', null, null, null],
      ['c5', null, null, 'wrong type: expected DECIMAL(18,2), got 12.345', 'amount'],
      ['c6', null, null, 'wrong type: expected DECIMAL(18,2), got "12.50"', 'amount'],
      ['c7', null, null, 'wrong type: expected DECIMAL(18,2), got 0.30000000000000004', 'amount'],
      ['c8', null, null, 'wrong type: expected DECIMAL(18,2), got 100000000000000000000', 'amount'],
      ['c9', '1111.16', null, 'wrong type: expected DECIMAL(10,3), got 0.1255', 'fee'],
      ['c10', '-0.01', null, 'below minimum 0', 'amount'],
    ]);
    const types = await bench.engine.describe(`SELECT amount, fee FROM (${contractSql(contract, await bench.input([charge()]))})`);
    expect(types.map((c) => c.type)).toEqual(['DECIMAL(18,2)', 'DECIMAL(10,3)']);
  });

  it('the fast path agrees: an exact value passes, one with too many decimals sends the batch to the full check', async () => {
    const fast = (amount: string): string => {
      const input = `(SELECT '"c1"'::JSON AS id, '${amount}'::JSON AS amount, NULL::JSON AS fee, '"2026-10-01T10:00:00Z"'::JSON AS ts)`;
      return `SELECT ${quoteIdent('amount')}::VARCHAR AS a FROM (${contractFastSql(contract, input)})`;
    };
    expect(await bench.engine.all(fast('1111.16'))).toEqual([{ a: '1111.16' }]);
    await expect(bench.engine.all(fast('12.345'))).rejects.toThrow(/needs the full contract check/);
  });
});
