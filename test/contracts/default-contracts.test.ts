import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContracts, type Contract } from '../../src/contracts/index.js';
import { ContractBench } from './contract-input.js';

/** The default project's contracts against the kind of feed they meet: good, late, malformed, drifting. */
const ROOT = new URL('../../', import.meta.url).pathname;

let bench: ContractBench;
let contracts: Map<string, Contract>;
beforeAll(async () => {
  bench = await ContractBench.create();
  contracts = await loadContracts(ROOT);
});
afterAll(async () => bench.close());

const get = (source: string): Contract => {
  const contract = contracts.get(source);
  if (contract === undefined) throw new Error(`no contract ${source}`);
  return contract;
};

describe('the default project contracts', () => {
  it('orders: typed, late events keep their own date, bad ones say why, new fields are rescued', async () => {
    const order = { order_id: 'ord_8f2k1', customer_id: 'cus_42', status: 'paid', amount: 59.9, currency: 'EUR', country: 'DE', item_count: 2, order_ts: '2024-05-01T21:30:00+02:00' };
    const rows = await bench.check(get('orders'), [
      order,
      { ...order, order_ts: '2024-04-28T09:00:00Z', coupon_code: null },
      { ...order, country: 'Germany' },
      { ...order, currency: 'eur' },
      { ...order, item_count: 0 },
      { ...order, gift_wrap: true },
    ]);
    expect(rows.map((r) => [r['order_ts'], r['event_date'], r['_reject_reason'], r['_reject_field'], r['_rescued']])).toEqual([
      ['2024-05-01 19:30:00+00', '2024-05-01', null, null, null],
      ['2024-04-28 09:00:00+00', '2024-04-28', null, null, null],
      ['2024-05-01 19:30:00+00', '2024-05-01', 'does not match pattern ^[A-Z]{2}$', 'country', null],
      ['2024-05-01 19:30:00+00', '2024-05-01', 'value not in [EUR, USD, GBP, SEK, DKK, NOK, CHF, PLN]', 'currency', null],
      ['2024-05-01 19:30:00+00', '2024-05-01', 'not above exclusive minimum 0', 'item_count', null],
      ['2024-05-01 19:30:00+00', '2024-05-01', null, null, '{"gift_wrap":true}'],
    ]);
  });

  it('page_views: anonymous views are valid; ids and URLs are checked', async () => {
    const view = { view_id: '0b6f3c1e-6d4e-4f7a-9a51-3c2a7e9d1f00', session_id: 'sess_12345678', url: 'https://shop.example/p/42', device: 'mobile', viewed_at: '2024-05-01T08:00:00.123Z' };
    expect(
      await bench.reasons(get('page_views'), [
        view,
        { ...view, customer_id: null, referrer: null },
        { ...view, view_id: 'not-a-uuid' },
        { ...view, url: 'shop.example/p/42' },
        { ...view, device: 'watch' },
      ]),
    ).toEqual([
      [null, null],
      [null, null],
      ['not a valid uuid', 'view_id'],
      ['not a valid uri', 'url'],
      ['value not in [desktop, mobile, tablet]', 'device'],
    ]);
  });

  it('payments: Debezium change events flatten to the image', async () => {
    const after = { payment_id: 'pay_1', order_id: 'ord_8f2k1', amount: 59.9, currency: 'EUR', method: 'card', status: 'captured', paid_at: '2024-05-01T19:31:00Z' };
    const rows = await bench.check(get('payments'), [
      { op: 'c', before: null, after, ts_ms: 1714591860000, source: { lsn: 100 } },
      { op: 'u', before: after, after: { ...after, status: 'refunded' }, ts_ms: 1714600000000, source: { lsn: 101 } },
    ]);
    expect(rows.map((r) => [r['_op'], r['status'], r['_source_position'], r['_reject_reason']])).toEqual([
      ['c', 'captured', '100', null],
      ['u', 'refunded', '101', null],
    ]);
  });
});
