// The default project's orders, as the checkout service emits them.
// In a project of your own, write `import { decimal, defineContract } from 'lakeloop'`.
import { z } from 'zod';
import { decimal } from '../src/contracts/decimal.js';
import { defineContract } from '../src/contracts/define-contract.js';

export default defineContract({
  source: 'orders',
  version: 2,
  owner: 'checkout-team',
  description: 'One record per order state change (placed, paid, shipped, cancelled); the latest per order_id wins in silver.',
  schema: z.object({
    order_id: z.string().regex(/^ord_[A-Za-z0-9]+$/).describe('Order id, e.g. ord_8f2k1'),
    customer_id: z.string().min(1),
    status: z.enum(['placed', 'paid', 'shipped', 'cancelled']),
    amount: decimal(18, 2).nonnegative().describe('Order total in `currency`, taxes included'),
    currency: z.enum(['EUR', 'USD', 'GBP', 'SEK', 'DKK', 'NOK', 'CHF', 'PLN']),
    country: z.string().regex(/^[A-Z]{2}$/).describe('ISO 3166-1 alpha-2 shipping country'),
    item_count: z.int().positive(),
    channel: z.enum(['web', 'ios', 'android', 'pos']).optional(),
    coupon_code: z.string().max(32).nullish(),
    order_ts: z.iso.datetime({ offset: true }).describe('When the order reached this status'),
  }),
  key: ['order_id'],
  eventTime: 'order_ts',
  drift: 'rescue',
  batch: { maxRecords: 50_000, maxBytes: 16 * 1024 * 1024, maxMs: 2_000 },
});
