import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LakeloopError, ManualClock } from '../../src/core/index.js';
import { defineJob, jobSkipped, jobsStatus, listRuns, Scheduler, type JobHandler, type JobRunContext, type SchedulerLogEvent } from '../../src/scheduler/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';

const FIRE = new Date('2026-11-02T02:00:00Z');

let dir: string;
let store: LocalObjectStore;
let clock: ManualClock;
let logs: SchedulerLogEvent[];
let scheduler: Scheduler | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-scheduler-'));
  store = await LocalObjectStore.create(join(dir, 'lake'));
  clock = new ManualClock(FIRE.getTime());
  logs = [];
  scheduler = undefined;
});
afterEach(async () => {
  await scheduler?.stop({ graceMs: 100 });
  await rm(dir, { recursive: true, force: true });
});

function make(handlers: Partial<Record<'reconcile' | 'compact', JobHandler>>, ...jobs: Parameters<typeof defineJob>[0][]): Scheduler {
  scheduler = new Scheduler({
    jobs: jobs.map((j) => defineJob({ name: 'nightly', ...j })),
    store,
    handlers,
    clock,
    log: (event) => logs.push(event),
    random: () => 0.5,
  });
  return scheduler;
}

/** A promise and its resolver, to hold a job's work open until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('Scheduler', () => {
  it('a handler that returns jobSkipped ends the run skipped with its reason: not retried, not succeeded, logged as a warning', async () => {
    let calls = 0;
    const s = make(
      {
        reconcile: async () => {
          calls += 1;
          return jobSkipped('would scan 12 GiB, budgets.maxBytesScannedPerRun is 10 GiB', { hint: 'raise the budget' });
        },
      },
      { kind: 'reconcile', schedule: '0 2 * * *', retries: 3 },
    );
    const run = await s.fire('nightly', FIRE);
    expect(calls).toBe(1);
    expect(run).toMatchObject({ status: 'skipped', reason: 'would scan 12 GiB, budgets.maxBytesScannedPerRun is 10 GiB', error: null, attempts: 1, result: { status: 'skipped', hint: 'raise the budget' } });
    expect((await listRuns(store, { job: 'nightly' }))[0]).toMatchObject({ status: 'skipped', reason: 'would scan 12 GiB, budgets.maxBytesScannedPerRun is 10 GiB' });
    expect(logs.at(-1)).toEqual({ level: 'warn', job: 'nightly', message: 'job nightly skipped: would scan 12 GiB, budgets.maxBytesScannedPerRun is 10 GiB' });
    const [status] = await jobsStatus([defineJob({ name: 'nightly', kind: 'reconcile', schedule: '0 2 * * *' })], store);
    expect(status?.last).toMatchObject({ status: 'skipped', reason: 'would scan 12 GiB, budgets.maxBytesScannedPerRun is 10 GiB' });
  });

  it('a result that merely has a status field is still a success', async () => {
    const s = make({ reconcile: async () => ({ status: 'skipped' }) }, { kind: 'reconcile', schedule: '0 2 * * *' });
    expect((await s.fire('nightly', FIRE)).status).toBe('succeeded');
  });

  it('retries a failing job with exponential backoff and full jitter, then records it failed with attempts and errors', async () => {
    const attempts: number[] = [];
    const s = make(
      {
        reconcile: async (_job, { attempt }) => {
          attempts.push(attempt);
          throw new LakeloopError('STORAGE', `bronze unreachable (try ${attempt})`);
        },
      },
      { kind: 'reconcile', schedule: '0 2 * * *', retries: 3, backoff: { baseDelayMs: 1_000, maxDelayMs: 3_000 } },
    );
    const run = await s.fire('nightly', FIRE);
    expect(attempts).toEqual([1, 2, 3, 4]);
    // random() = 0.5 of the ceilings 1000, 2000, then 4000 capped at 3000
    expect(run.failedAttempts.map((f) => [f.attempt, f.delayMs, f.error.message])).toEqual([
      [1, 500, 'bronze unreachable (try 1)'],
      [2, 1_000, 'bronze unreachable (try 2)'],
      [3, 1_500, 'bronze unreachable (try 3)'],
    ]);
    expect(run).toMatchObject({ status: 'failed', attempts: 4, seconds: 3, error: { message: 'bronze unreachable (try 4)', code: 'STORAGE' } });
    expect(await listRuns(store, { job: 'nightly' })).toEqual([run]);
    expect(logs.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'job nightly attempt 1 failed (bronze unreachable (try 1)); retrying in 500 ms',
      'job nightly attempt 2 failed (bronze unreachable (try 2)); retrying in 1000 ms',
      'job nightly attempt 3 failed (bronze unreachable (try 3)); retrying in 1500 ms',
    ]);
  });

  it('succeeds on a retry and records the handler result with the attempts it took', async () => {
    const s = make(
      {
        compact: async (job, { attempt, params }) => {
          if (attempt === 1) throw new Error('socket hang up');
          return { files: 12, job: job.name, table: params['table'] };
        },
      },
      { kind: 'compact', schedule: '0 4 * * 0', params: { table: 'gold.daily_revenue' }, backoff: { baseDelayMs: 10 } },
    );
    const run = await s.runNow('nightly');
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'manual', attempts: 2, error: null, result: { files: 12, job: 'nightly', table: 'gold.daily_revenue' } });
    expect(run.failedAttempts).toEqual([{ attempt: 1, at: FIRE.toISOString(), delayMs: 5, error: { message: 'socket hang up', code: 'ERROR' } }]);
  });

  it('skips and records a fire while the same job is still running, and runs the next one', async () => {
    const hold = gate();
    const started = gate();
    const s = make({}, { kind: 'custom', schedule: '* * * * *', run: async () => (started.open(), await hold.promise, { done: true }) });
    const first = s.fire('nightly', FIRE);
    await started.promise;
    clock.advance(60_000);
    const skipped = await s.fire('nightly', new Date(FIRE.getTime() + 60_000));
    expect(skipped).toMatchObject({ status: 'skipped_overlap', trigger: 'schedule', attempts: 0, scheduledFor: '2026-11-02T02:01:00.000Z', seconds: 0 });
    expect((await listRuns(store, { job: 'nightly' })).map((r) => r.status)).toEqual(['skipped_overlap', 'running']);
    hold.open();
    expect(await first).toMatchObject({ status: 'succeeded', result: { done: true } });
    clock.advance(60_000);
    expect(await s.fire('nightly', new Date(FIRE.getTime() + 120_000))).toMatchObject({ status: 'succeeded' });
    expect((await listRuns(store, { job: 'nightly' })).map((r) => r.status)).toEqual(['succeeded', 'skipped_overlap', 'succeeded']);
  });

  it('aborts a run past its timeout through the signal and records timed_out, without retrying', async () => {
    let aborted: unknown;
    let calls = 0;
    const s = make(
      {
        reconcile: (_job, { signal }: JobRunContext) =>
          new Promise((_, reject) => {
            calls++;
            signal.addEventListener('abort', () => reject((aborted = signal.reason)));
          }),
      },
      { kind: 'reconcile', schedule: '0 2 * * *', timeoutMs: 50 },
    );
    const run = await s.runNow('nightly');
    expect(calls).toBe(1);
    expect(aborted).toBeInstanceOf(LakeloopError);
    expect(run).toMatchObject({ status: 'timed_out', attempts: 1, error: { code: 'JOB_TIMED_OUT', message: 'Job nightly timed out after 50 ms' } });
    expect((await listRuns(store, { job: 'nightly' }))[0]?.status).toBe('timed_out');
  });

  it('records the timeout even when the work ignores its signal, and counts the job as running until the work returns', async () => {
    const hold = gate();
    const s = make({}, { kind: 'custom', schedule: '0 2 * * *', timeoutMs: 30, run: async () => (await hold.promise, {}) });
    expect(await s.runNow('nightly')).toMatchObject({ status: 'timed_out' });
    expect(s.isRunning('nightly')).toBe(true);
    expect(await s.fire('nightly', FIRE)).toMatchObject({ status: 'skipped_overlap' });
    hold.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.isRunning('nightly')).toBe(false);
  });

  it('fails a job whose kind has no handler in this process at once, and says so', async () => {
    const s = make({}, { kind: 'reconcile', schedule: '0 2 * * *' });
    const run = await s.runNow('nightly');
    expect(run).toMatchObject({ status: 'failed', attempts: 1, failedAttempts: [], error: { code: 'NO_HANDLER' } });
    expect(run.error?.message).toBe('Job nightly: this process has no handler for "reconcile" jobs');
    await expect(s.runNow('weekly')).rejects.toThrow(/No job named weekly/);
  });

  it('start() fires enabled jobs on their cron schedule, nextRuns() gives the next fire times, stop() ends the ticks', async () => {
    scheduler = new Scheduler({
      jobs: [
        defineJob({ name: 'tick', kind: 'custom', schedule: '* * * * * *', run: async ({ trigger, scheduledFor }) => ({ trigger, scheduledFor }) }),
        defineJob({ name: 'off', kind: 'custom', schedule: '* * * * * *', enabled: false, run: async () => ({}) }),
        defineJob({ name: 'nightly', kind: 'reconcile', schedule: '0 2 * * *', timezone: 'Europe/Paris' }),
      ],
      store,
      handlers: { reconcile: async () => ({}) },
    });
    const before = Date.now();
    scheduler.start();
    const next = scheduler.nextRuns();
    expect(next['off']).toBeNull();
    expect(Date.parse(next['tick'] ?? '') - before).toBeLessThanOrEqual(1_000);
    // 02:00 in Paris is 00:00 or 01:00 UTC
    expect(next['nightly']).toMatch(/T0[01]:00:00\.000Z$/);
    let runs = await listRuns(store, { job: 'tick' });
    for (let waited = 0; runs.every((r) => r.status !== 'succeeded') && waited < 3_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      runs = await listRuns(store, { job: 'tick' });
    }
    const done = runs.find((r) => r.status === 'succeeded');
    expect(done).toMatchObject({ trigger: 'schedule', result: { trigger: 'schedule' } });
    expect(done?.scheduledFor.endsWith('.000Z')).toBe(true);
    await scheduler.stop();
    const count = (await listRuns(store, { job: 'tick' })).length;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await listRuns(store, { job: 'tick' })).length).toBe(count);
    expect(await listRuns(store, { job: 'off' })).toEqual([]);
  });

  it('stop() waits for a running job, then cancels one that outlives the grace period', async () => {
    const hold = gate();
    const started = gate();
    const s = make({}, { kind: 'custom', schedule: '0 2 * * *', run: async () => (started.open(), await hold.promise, { finished: true }) });
    const run = s.runNow('nightly');
    await started.promise;
    setTimeout(hold.open, 20);
    await s.stop({ graceMs: 2_000 });
    expect(await run).toMatchObject({ status: 'succeeded', result: { finished: true } });

    const stuck = make({}, { kind: 'custom', schedule: '0 2 * * *', run: () => new Promise(() => {}) });
    const cancelled = stuck.runNow('nightly');
    await stuck.stop({ graceMs: 20 });
    expect(await cancelled).toMatchObject({ status: 'failed', error: { code: 'SCHEDULER_STOPPED' } });
  });
});
