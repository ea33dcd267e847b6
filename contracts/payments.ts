// The default project's payments, replicated from the payments database by Debezium
// (change events: op c/u/d/r with before/after images).
// In a project of your own, write `import { decimal, defineContract } from 'lakeloop'`.
import { z } from 'zod';
import { decimal } from '../src/contracts/decimal.js';
import { defineContract } from '../src/contracts/define-contract.js';

export default defineContract({
  source: 'payments',
  version: 2,
  owner: 'payments-team',
  description: 'Payment attempts for orders; a refund is an update to status "refunded".',
  schema: z.object({
    payment_id: z.string().min(1),
    order_id: z.string().regex(/^ord_[A-Za-z0-9]+$/),
    amount: decimal(18, 2).positive().describe('In `currency`, exact to the cent'),
    currency: z.enum(['EUR', 'USD', 'GBP', 'SEK', 'DKK', 'NOK', 'CHF', 'PLN']),
    method: z.enum(['card', 'paypal', 'klarna', 'bank_transfer', 'gift_card']),
    status: z.enum(['authorized', 'captured', 'failed', 'refunded']),
    paid_at: z.iso.datetime({ offset: true }),
  }),
  key: ['payment_id'],
  eventTime: 'paid_at',
  drift: 'strict',
  cdc: true,
});
