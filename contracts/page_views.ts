// The default project's page views, posted by the storefront's browser collector.
// In a project of your own, write `import { defineContract } from 'lakeloop'`.
import { z } from 'zod';
import { defineContract } from '../src/contracts/define-contract.js';

export default defineContract({
  source: 'page_views',
  version: 1,
  owner: 'web-analytics',
  description: 'One record per page rendered in the storefront; anonymous visitors have no customer_id.',
  schema: z.object({
    view_id: z.uuid(),
    session_id: z.string().min(8).max(64),
    customer_id: z.string().nullish(),
    url: z.url({ protocol: /^https?$/ }),
    referrer: z.url().nullish(),
    device: z.enum(['desktop', 'mobile', 'tablet']),
    viewed_at: z.iso.datetime({ offset: true }),
  }),
  key: ['view_id'],
  eventTime: 'viewed_at',
  drift: 'evolve',
  batch: { maxRecords: 100_000, maxMs: 1_000 },
});
