import { describe, expect, it } from 'vitest';
import type { RequestOutcome } from '../../../src/ingest/index.js';
import type { ModelRunSummary } from '../../../src/runner/index.js';
import { DecisionLog } from '../../../src/server/index.js';

/** The decision log tells each run, with the batches it read, in one sentence. */
const landing = (batchId: string, version: number, landed: number, quarantined = 0): RequestOutcome => ({
  source: 'orders', records: landed + quarantined, landed, quarantined, summarised: 0, duplicate: false, batchId, bronzeVersion: version, rejects: [],
});
const summary = (model: string, over: Partial<ModelRunSummary>): ModelRunSummary => ({
  model, kind: 'incremental_by_partition', skipped: false, mode: 'incremental', version: 1, upstream: {}, rowsIn: 0, rowsOut: 0,
  partitions: [], deferred: {}, rows: 0, files: 0, bytes: 0, seconds: 0.1, tests: [],
  cost: { filesRead: 0, bytesRead: 0, filesWritten: 0, bytesWritten: 0, cpuSeconds: 0, peakRssBytes: 0 }, ...over,
});

describe('DecisionLog', () => {
  it('tells a run with the batches it read, the partitions each model rewrote and the rows deferred to reconcile', () => {
    const log = new DecisionLog({ foldLandings: true, nowMs: () => 0 });
    log.recordLanding(landing('a', 11, 2000));
    log.recordLanding(landing('a', 11, 3000, 3));
    log.recordLanding(landing('b', 12, 10)); // committed after the run's snapshot: waits for the next run
    expect(log.waiting()).toEqual(['orders 2 batches (v11–v12): 5,010 landed, 3 quarantined']);
    const decision = log.recordRun([
      summary('silver.orders', { upstream: { 'bronze.orders': 11 }, rowsOut: 5000, partitions: ['2026-12-07'], deferred: { '2026-12-05': 4 } }),
      summary('gold.daily_revenue', { upstream: { 'silver.orders': 3 }, rowsOut: 12, partitions: ['2026-12-07'] }),
    ]);
    expect(decision).toMatchObject({ kind: 'run', trigger: 'auto' });
    expect(decision.text).toBe(
      'orders batch v11: 5,000 landed, 3 quarantined → silver.orders rewrote partition 2026-12-07 (5,000 rows); 4 rows for 2026-12-05 behind the horizon, deferred to reconcile → gold.daily_revenue rewrote partition 2026-12-07 (12 rows)',
    );
    expect(log.waiting()).toEqual(['orders batch v12: 10 landed, 0 quarantined']);
  });

  it('keeps the last 100, marks a step, and tells a run with nothing to do', async () => {
    const log = new DecisionLog({ foldLandings: true });
    for (let i = 0; i < 120; i += 1) log.recordControl(`c${i}`);
    expect(log.list()).toHaveLength(100);
    expect(log.list()[0]?.text).toBe('c20');
    const step = await log.asStep(async () => log.recordRun([summary('silver.orders', { skipped: true, upstream: { 'bronze.orders': 3 } })]));
    expect(step).toMatchObject({ kind: 'idle', trigger: 'step', text: 'new commits in bronze.orders (v3): nothing for the models to do (every model is up to date)' });
    expect(log.recordRun([summary('gold.x', { partitions: 'all', rowsOut: 7 })]).text).toBe('no new batch (a scheduled rerun) → gold.x rebuilt the whole table (7 rows)');
  });
});
