import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractSql, defineContract } from '../../src/contracts/index.js';
import { ContractBench } from './contract-input.js';

const payments = defineContract({
  source: 'payments',
  version: 1,
  owner: 'payments-team',
  schema: z.object({
    payment_id: z.string(),
    order_id: z.string(),
    amount: z.number().positive(),
    method: z.enum(['card', 'paypal', 'klarna']),
    paid_at: z.iso.datetime({ offset: true }),
  }),
  key: ['payment_id'],
  eventTime: 'paid_at',
  drift: 'strict',
  cdc: true,
});

const image = (fields: Record<string, unknown> = {}) => ({
  payment_id: 'pay_1',
  order_id: 'ord_1',
  amount: 25,
  method: 'card',
  paid_at: '2024-05-01T10:00:00Z',
  ...fields,
});

const TS = 1714600000000; // 2024-05-01T21:46:40Z
const event = (op: string, fields: Record<string, unknown> = {}) => ({
  op,
  before: op === 'c' || op === 'r' ? null : image(),
  after: op === 'd' ? null : image({ amount: 30 }),
  ts_ms: TS,
  source: { connector: 'postgresql', db: 'shop', lsn: 24023128, ts_ms: TS - 5 },
  ...fields,
});

let bench: ContractBench;
beforeAll(async () => {
  bench = await ContractBench.create();
});
afterAll(async () => bench.close());

const pickCdc = (row: Record<string, unknown>) => ({
  payment_id: row['payment_id'],
  amount: row['amount'],
  _op: row['_op'],
  _cdc_ts_ms: row['_cdc_ts_ms'],
  _source_position: row['_source_position'],
  event_date: row['event_date'],
  _reject_reason: row['_reject_reason'],
});

describe('contractSql for CDC contracts (Debezium envelopes)', () => {
  it('adds _op, _cdc_ts_ms and _source_position to the image columns', async () => {
    const columns = await bench.engine.describe(contractSql(payments, await bench.input([event('c')])));
    expect(columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'payment_id VARCHAR',
      'order_id VARCHAR',
      'amount DOUBLE',
      'method VARCHAR',
      'paid_at TIMESTAMP WITH TIME ZONE',
      'event_date DATE',
      '_op VARCHAR',
      '_cdc_ts_ms BIGINT',
      '_source_position VARCHAR',
      '_line BIGINT',
      '_raw VARCHAR',
      '_reject_reason VARCHAR',
      '_reject_field VARCHAR',
    ]);
  });

  it('flattens c/u/r to the after image and d to the before image', async () => {
    const rows = await bench.check(payments, [
      event('c'),
      event('u', { source: { connector: 'mysql', file: 'mysql-bin.000003', pos: 154 } }),
      event('d'),
      event('r', { source: { connector: 'mongodb', ord: 3 } }),
    ]);
    expect(rows.map(pickCdc)).toEqual([
      { payment_id: 'pay_1', amount: 30, _op: 'c', _cdc_ts_ms: String(TS), _source_position: '24023128', event_date: '2024-05-01', _reject_reason: null },
      { payment_id: 'pay_1', amount: 30, _op: 'u', _cdc_ts_ms: String(TS), _source_position: 'mysql-bin.000003:154', event_date: '2024-05-01', _reject_reason: null },
      { payment_id: 'pay_1', amount: 25, _op: 'd', _cdc_ts_ms: String(TS), _source_position: '24023128', event_date: '2024-05-01', _reject_reason: null },
      { payment_id: 'pay_1', amount: 30, _op: 'r', _cdc_ts_ms: String(TS), _source_position: '{"connector":"mongodb","ord":3}', event_date: '2024-05-01', _reject_reason: null },
    ]);
  });

  it('accepts the Kafka Connect JSON converter wrapping {schema, payload}', async () => {
    const rows = await bench.check(payments, [{ schema: { type: 'struct', optional: false }, payload: event('c') }, { schema: {}, payload: 'oops' }]);
    expect(rows.map((r) => [r['payment_id'], r['_op'], r['_reject_reason'], r['_reject_field']])).toEqual([
      ['pay_1', 'c', null, null],
      [null, null, 'payload is not a JSON object', 'payload'],
    ]);
  });

  it('a delete whose before image holds only the key is valid, filed under the date of ts_ms', async () => {
    const keyOnly = { payment_id: 'pay_9', order_id: null, amount: null, method: null, paid_at: null };
    const rows = await bench.check(payments, [
      event('d', { before: keyOnly, ts_ms: Date.UTC(2024, 4, 7, 12) }),
      event('d', { before: { payment_id: 'pay_9' }, ts_ms: null, source: { lsn: 7 } }),
      event('d', { before: { order_id: 'ord_1' } }),
    ]);
    expect(rows.map((r) => [r['payment_id'], r['_op'], r['event_date'], r['_reject_reason'], r['_reject_field']])).toEqual([
      ['pay_9', 'd', '2024-05-07', null, null],
      ['pay_9', 'd', null, 'delete without paid_at or ts_ms: no date to file it under', 'paid_at'],
      [null, 'd', '2024-05-01', 'missing required field', 'payment_id'],
    ]);
  });

  it('rejects envelopes with a bad op or a missing image, and images that break the contract', async () => {
    const { op: _op, ...noOp } = event('c');
    expect(
      await bench.reasons(payments, [
        event('t'),
        event('x', { op: 5 }),
        noOp,
        event('c', { after: null }),
        event('d', { before: null }),
        event('u', { after: 'pay_1' }),
        event('c', { after: image({ amount: 0 }) }),
        event('c', { after: image({ tip: 2 }) }),
        '{"op":"c","after":',
      ]),
    ).toEqual([
      ['invalid op "t" (expected c, u, d or r)', 'op'],
      ['invalid op "5" (expected c, u, d or r)', 'op'],
      ['missing op: not a Debezium change event', 'op'],
      ['missing after image for op "c"', 'after'],
      ['missing before image for op "d"', 'before'],
      ['after image is not a JSON object', 'after'],
      ['not above exclusive minimum 0', 'amount'],
      ['unknown field (drift policy strict)', 'tip'],
      ['invalid JSON', null],
    ]);
  });

  it("reads Debezium's epoch integers for date-times (ms, µs, ns by size)", async () => {
    const rows = await bench.check(payments, [
      event('c', { after: image({ paid_at: 1714557600123 }) }),
      event('c', { after: image({ paid_at: 1714557600123456 }) }),
      '{"op":"c","after":{"payment_id":"p","order_id":"o","amount":1,"method":"card","paid_at":1714557600123456789},"ts_ms":1}',
    ]);
    expect(rows.map((r) => [r['paid_at'], r['_reject_reason']])).toEqual([
      ['2024-05-01 10:00:00.123+00', null],
      ['2024-05-01 10:00:00.123456+00', null],
      ['2024-05-01 10:00:00.123456+00', null],
    ]);
  });
});
