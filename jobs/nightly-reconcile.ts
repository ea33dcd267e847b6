// The default project's nightly job: recompute the last 7 days of every model from
// bronze at 02:00 UTC and publish the corrections (see `lakeloop reconcile`).
// In a project of your own, write `import { defineJob } from 'lakeloop'`.
import { defineJob } from '../src/index.js';

export default defineJob({
  kind: 'reconcile',
  schedule: '0 2 * * *',
  params: { window: '7d' },
});
