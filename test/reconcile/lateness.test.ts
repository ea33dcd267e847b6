import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observe/index.js';
import { StreamingLoop } from '../../src/server/index.js';
import type { ModelRunSummary } from '../../src/runner/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';
import { addDays, SalesLake, salesOn } from './sales-lake.js';

/**
 * Lateness is measured in event time: watermark at landing (the largest event time seen
 * before the row's batch) − the row's event time. Replayed May 2001 data whose late row is
 * 29 days 22 h 5 min behind the newest event must read as that late in the run's summary,
 * `status`, the reconcile report and the metrics — not as 25 years late (the wall clock).
 */
let dir: string;
let remove: () => Promise<void>;
let sales: SalesLake;
const FIRST = '2001-05-01';
/** The newest event of the month: 2001-05-31T06:05:00Z (salesOn's 6th sale); the late row is at 2001-05-01T08:00:00Z. */
const LATENESS_S = Math.round((Date.parse('2001-05-31T06:05:00Z') - Date.parse('2001-05-01T08:00:00Z')) / 1000);
const LATE: Sale = { id: 99_001, store: 'west', amount: 5, status: 'placed', ts: `${FIRST}T08:00:00Z` };

beforeAll(async () => {
  ({ dir, remove } = await tempDir('lateness'));
  sales = new SalesLake(await writeProject(join(dir, 'project'), SALES_PROJECT), join(dir, 'lake'), dir);
  const month: Sale[] = [];
  for (let d = 0; d < 31; d++) month.push(...salesOn(addDays(FIRST, d), 10_000 + d * 100, 6));
  await sales.ingest(month);
  await sales.run();
}, 120_000);

afterAll(async () => remove?.());

describe('lateness of replayed old data', () => {
  it('the run, status and the reconcile report measure it in event time', async () => {
    expect(LATENESS_S).toBe(29 * 86_400 + 22 * 3600 + 5 * 60);
    await sales.ingest([LATE]);
    const run = (await sales.run()).json<{ models: ModelRunSummary[] }>();
    expect(run.models.find((m) => m.model === 'silver.sales')?.lateness).toEqual({ [FIRST]: LATENESS_S });

    const status = (await sales.cli(['status', '--json'])).json<{ late: { model: string; maxLatenessSeconds?: number }[] }>();
    expect(status.late).toEqual([expect.objectContaining({ model: 'silver.sales', rows: 1, maxLatenessSeconds: LATENESS_S })]);
    expect((await sales.cli(['status'])).stdout).toContain('up to 29.9 days late');

    const result = await sales.cli(['reconcile', '--from', FIRST, '--to', addDays(FIRST, 29), '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = result.json<{ models: { model: string; partitions: { partition: string; lateRows: number; maxLatenessSeconds: number | null }[] }[] }>();
    const partition = report.models.find((m) => m.model === 'silver.sales')?.partitions.find((p) => p.partition === FIRST);
    expect(partition).toMatchObject({ lateRows: 1, maxLatenessSeconds: LATENESS_S });
  }, 120_000);

  it("serve's metrics report it in event time", async () => {
    const { engine, lake, models } = await openProjectLake(sales.project, sales.lake);
    const metrics = new Metrics({ processMetrics: false });
    const runs: ModelRunSummary[][] = [];
    const loop = new StreamingLoop({ lake, models, eventTimeColumns: { 'bronze.sales': 'ts' }, compaction: false, metrics, onRun: (s) => runs.push([...s]) });
    try {
      loop.nudge();
      const deadline = Date.now() + 30_000;
      while (runs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await sales.ingest([{ ...LATE, id: 99_002, ts: `${addDays(FIRST, 1)}T08:00:00Z` }]);
      loop.nudge();
      while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const silver = metrics.snapshot().models.find((m) => m.model === 'silver.sales');
      expect(silver?.deferredLate).toBe(1);
      expect(silver?.maxLatenessSeconds).toBe(LATENESS_S - 86_400);
      expect(await metrics.text()).toContain(`lakeloop_deferred_late_max_lateness_seconds{model="silver.sales"} ${LATENESS_S - 86_400}`);
    } finally {
      await loop.stop();
      await engine.close();
    }
  }, 60_000);
});
