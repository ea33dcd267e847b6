import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineJob, jobsStatus, listRuns, Scheduler } from '../../src/scheduler/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { tempDir } from '../cli/cli-harness.js';

/** An on-demand job (no schedule fires it; serve's console reconcile) in `jobsStatus`, and who asked for a manual run in the ledger. */
let remove: () => Promise<void>;
let store: LocalObjectStore;
const onDemand = defineJob({ name: 'on-demand', kind: 'custom', schedule: '0 0 1 1 *', enabled: false, retries: 0, run: async () => ({ done: true }) });
const nightly = defineJob({ name: 'nightly', kind: 'custom', schedule: '0 2 * * *', run: async () => undefined });

beforeAll(async () => {
  let dir: string;
  ({ dir, remove } = await tempDir('job-status-on-demand'));
  store = await LocalObjectStore.create(dir);
});
afterAll(async () => remove());

describe('jobsStatus onDemand', () => {
  it('lists an on-demand job only once it ran, with no next fire time and who asked for the run', async () => {
    expect((await jobsStatus([nightly], store, { onDemand: [onDemand] })).map((j) => j.name)).toEqual(['nightly']);
    const scheduler = new Scheduler({ jobs: [nightly, onDemand], store, handlers: {} });
    const record = await scheduler.runNow('on-demand', undefined, { requestedBy: 'console' });
    await scheduler.runNow('nightly');
    await scheduler.stop();
    expect(record).toMatchObject({ status: 'succeeded', trigger: 'manual', requestedBy: 'console' });
    const [stored] = await listRuns(store, { job: 'on-demand', limit: 1 });
    expect(stored?.requestedBy).toBe('console');
    const jobs = await jobsStatus([nightly], store, { onDemand: [onDemand] });
    expect(jobs.map((j) => j.name)).toEqual(['nightly', 'on-demand']);
    expect(jobs[1]).toMatchObject({ onDemand: true, next: null, last: { status: 'succeeded', trigger: 'manual', requestedBy: 'console' } });
    // A run nobody named (a schedule's, or runNow without requestedBy) carries no requestedBy.
    expect(jobs[0]?.last).not.toHaveProperty('requestedBy');
    expect(jobs[0]).not.toHaveProperty('onDemand');
  });
});
