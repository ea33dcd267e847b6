import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobs, Scheduler } from '../../src/scheduler/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';

/** `lakeloop status`: each job of jobs/ with its last run from the ledger and its next fire time. */
let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('status-jobs'));
  const job = (body: string): string => `import { defineJob } from ${LAKELOOP_ENTRY};\nexport default defineJob({ ${body} });\n`;
  await writeProject(dir, {
    'jobs/nightly-reconcile.ts': job("kind: 'reconcile', schedule: '0 2 * * *', params: { window: '7d' }"),
    'jobs/weekly-vacuum.ts': job("kind: 'vacuum', schedule: '0 3 * * 0', enabled: false"),
    'jobs/flaky.ts': job("kind: 'custom', schedule: '*/15 * * * *', retries: 1, backoff: { baseDelayMs: 1 }, run: async () => { throw new Error('upstream API returned 503'); }"),
  });
  const store = await LocalObjectStore.create(join(dir, 'lake'));
  const scheduler = new Scheduler({ jobs: await loadJobs(dir), store, handlers: { reconcile: async () => ({ partitions: 7, corrected: 1 }) } });
  await scheduler.runNow('nightly-reconcile');
  await scheduler.runNow('flaky');
  await scheduler.stop();
});
afterAll(async () => remove());

/** The next 02:00 UTC after `ms`, computed independently of node-cron. */
function nextTwoAm(ms: number): string {
  const day = new Date(ms);
  const candidate = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 2);
  return new Date(candidate > ms ? candidate : candidate + 86_400_000).toISOString();
}

describe('lakeloop status with jobs', () => {
  it('--json gives every job its schedule, next fire time and last run', async () => {
    const now = Date.now();
    const run = await cli(['status', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const { jobs } = run.json<{ jobs: Record<string, unknown>[] }>();
    expect(jobs).toEqual([
      {
        name: 'flaky',
        kind: 'custom',
        schedule: '*/15 * * * *',
        timezone: 'UTC',
        enabled: true,
        next: expect.stringMatching(/:(00|15|30|45):00\.000Z$/),
        last: expect.objectContaining({ status: 'failed', trigger: 'manual', attempts: 2, error: { message: 'upstream API returned 503', code: 'ERROR' } }),
      },
      {
        name: 'nightly-reconcile',
        kind: 'reconcile',
        schedule: '0 2 * * *',
        timezone: 'UTC',
        enabled: true,
        next: nextTwoAm(now),
        last: expect.objectContaining({ status: 'succeeded', trigger: 'manual', attempts: 1, error: null, seconds: expect.any(Number) }),
      },
      { name: 'weekly-vacuum', kind: 'vacuum', schedule: '0 3 * * 0', timezone: 'UTC', enabled: false, next: null, last: null },
    ]);
  });

  it('prints a jobs section with the last run, its error, and the next fire time', async () => {
    const run = await cli(['status'], dir);
    expect(run.code, run.stderr).toBe(0);
    const next = nextTwoAm(Date.now()).replace('.000Z', 'Z');
    expect(run.stdout).toMatch(/^jobs:\n {2}job +kind +schedule +next +last run +status +seconds +attempts$/m);
    expect(run.stdout).toMatch(new RegExp(`^ {2}nightly-reconcile +reconcile +0 2 \\* \\* \\* +${next} +\\d{4}-\\d\\d-\\d\\dT\\S+Z +succeeded +\\d+\\.\\d +1$`, 'm'));
    expect(run.stdout).toMatch(/^ {2}weekly-vacuum +vacuum +0 3 \* \* 0 +disabled +never +- +- +-$/m);
    expect(run.stdout).toContain('  flaky: failed: upstream API returned 503\n');
  });

  it('a lake root that does not exist is an error (exit 1), not an empty lake', async () => {
    const run = await cli(['status', '--json', '--lake', join(dir, 'no-lake-here')], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`error: No lake at ${join(dir, 'no-lake-here')}`);
    expect(run.stderr).toContain('hint: Run `lakeloop ingest`');
  });
});
