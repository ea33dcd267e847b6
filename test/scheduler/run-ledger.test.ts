import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { defineJob, listRuns, runKey, Scheduler, writeRun, type RunRecord } from '../../src/scheduler/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { createTestS3Store } from '../helpers/s3.js';

/** The run ledger is lake I/O through `ObjectStore`: the same suite runs on both stores. */
const STORES: ReadonlyArray<[string, () => Promise<{ store: ObjectStore; cleanup(): Promise<void> }>]> = [
  [
    'local',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'lakeloop-ledger-'));
      const store = await LocalObjectStore.create(join(dir, 'lake'));
      return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
  ['S3 (s3rver)', () => createTestS3Store({ prefix: 'lake' })],
];

function record(job: string, startedAt: string, id: string, status: RunRecord['status'] = 'succeeded'): RunRecord {
  return {
    id,
    job,
    kind: 'custom',
    trigger: 'schedule',
    status,
    scheduledFor: startedAt,
    startedAt,
    finishedAt: startedAt,
    seconds: 0,
    attempts: 1,
    reason: null,
    result: { rows: 1 },
    error: null,
    failedAttempts: [],
  };
}

describe.each(STORES)('run ledger on the %s store', (_name, open) => {
  let store: ObjectStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await open());
  });
  afterEach(async () => cleanup());

  it('keys records by job and start time, and lists them newest first, per job or across jobs', async () => {
    const runs = [
      record('nightly', '2026-11-01T02:00:00.000Z', 'aa01'),
      record('nightly', '2026-11-03T02:00:00.000Z', 'aa03'),
      record('nightly', '2026-11-02T02:00:00.000Z', 'aa02', 'failed'),
      record('compact', '2026-11-02T04:00:00.000Z', 'bb01'),
      record('nightly-extra', '2026-11-04T00:00:00.000Z', 'cc01'),
    ];
    for (const run of runs) await writeRun(store, run);
    expect(runKey(runs[0] as RunRecord)).toBe('_lakeloop/runs/nightly/20261101T020000.000Z-aa01.json');
    expect((await listRuns(store, { job: 'nightly' })).map((r) => r.id)).toEqual(['aa03', 'aa02', 'aa01']);
    expect((await listRuns(store, { job: 'nightly', limit: 1 }))[0]).toEqual(runs[1]);
    expect((await listRuns(store)).map((r) => r.id)).toEqual(['cc01', 'aa03', 'bb01', 'aa02', 'aa01']);
    expect(await listRuns(store, { job: 'never-ran' })).toEqual([]);
  });

  it('records a run as running when it starts and replaces it when it ends', async () => {
    const clock = new ManualClock(Date.parse('2026-11-02T02:00:00Z'));
    const seen: RunRecord[] = [];
    const job = defineJob({
      name: 'count',
      kind: 'custom',
      schedule: '0 2 * * *',
      run: async () => {
        seen.push(...(await listRuns(store, { job: 'count' })));
        clock.advance(2_500);
        return { rows: 42n, tables: ['gold.daily_revenue'] };
      },
    });
    const scheduler = new Scheduler({ jobs: [job], store, handlers: {}, clock });
    const done = await scheduler.fire('count', new Date('2026-11-02T02:00:00Z'));
    expect(seen).toEqual([expect.objectContaining({ id: done.id, status: 'running', finishedAt: null, seconds: null, attempts: 0 })]);
    expect(done).toMatchObject({ status: 'succeeded', trigger: 'schedule', scheduledFor: '2026-11-02T02:00:00.000Z', seconds: 2.5, attempts: 1 });
    expect(done.result).toEqual({ rows: 42, tables: ['gold.daily_revenue'] });
    expect(await listRuns(store, { job: 'count' })).toEqual([done]);
  });

  it('a record edited into something else is an error naming its key', async () => {
    await writeRun(store, record('nightly', '2026-11-01T02:00:00.000Z', 'aa01'));
    await store.put('_lakeloop/runs/nightly/20261102T020000.000Z-aa02.json', '{"job":"nightly"}');
    await expect(listRuns(store, { job: 'nightly' })).rejects.toThrow(
      /Failed to read run record _lakeloop\/runs\/nightly\/20261102T020000\.000Z-aa02\.json: /,
    );
  });
});
