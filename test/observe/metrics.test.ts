import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import type { LandingCounts } from '../../src/ingest/index.js';
import { Metrics, RateWindow } from '../../src/observe/index.js';

/** The counters, their Prometheus text, rates over the window and the backlog alert, on a manual clock. */
const T0 = Date.parse('2026-05-01T12:00:00Z');

const landing = (source: string, landed: number, quarantined = 0, duplicates = 0): LandingCounts => ({
  source,
  received: landed + quarantined + duplicates,
  landed,
  quarantined,
  duplicates,
  files: 1,
  addedColumns: [],
});

/** The value of one sample line of the exposition, e.g. `lakeloop_records_landed_total{source="orders"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics', () => {
  it('exposes per-source counters with their values in Prometheus text', async () => {
    const metrics = new Metrics({ clock: new ManualClock(T0), processMetrics: false });
    metrics.recordLanding({ ...landing('orders', 98, 2), bytes: 5_000 });
    metrics.recordLanding({ ...landing('orders', 0, 0, 40), files: 0 });
    metrics.recordLanding(landing('page_views', 7));
    const text = await metrics.text();
    expect(sample(text, 'lakeloop_records_received_total{source="orders"}')).toBe(140);
    expect(sample(text, 'lakeloop_records_landed_total{source="orders"}')).toBe(98);
    expect(sample(text, 'lakeloop_records_quarantined_total{source="orders"}')).toBe(2);
    expect(sample(text, 'lakeloop_duplicates_skipped_total{source="orders"}')).toBe(40);
    // the skipped re-delivery committed nothing: one batch, not two
    expect(sample(text, 'lakeloop_batches_total{source="orders"}')).toBe(1);
    expect(sample(text, 'lakeloop_bytes_landed_total{source="orders"}')).toBe(5_000);
    expect(sample(text, 'lakeloop_records_landed_total{source="page_views"}')).toBe(7);
    expect(text).toContain('# TYPE lakeloop_records_landed_total counter');
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('exposes model runs, rows, deferred-late rows, run seconds, freshness and rows served', async () => {
    const metrics = new Metrics({ clock: new ManualClock(T0), processMetrics: false });
    metrics.recordModelRun({ model: 'silver.orders', status: 'success', rows: 120, deferredLate: 3, seconds: 0.3 });
    metrics.recordModelRun({ model: 'silver.orders', status: 'success', rows: 80, seconds: 1.5 });
    metrics.recordModelRun({ model: 'silver.orders', status: 'failed', rows: 999, seconds: 0.1 });
    metrics.observeFreshness('gold.daily_revenue', 2.5);
    metrics.recordServed(42);
    const text = await metrics.text();
    expect(sample(text, 'lakeloop_model_runs_total{model="silver.orders",status="success"}')).toBe(2);
    expect(sample(text, 'lakeloop_model_runs_total{model="silver.orders",status="failed"}')).toBe(1);
    // a failed run wrote nothing
    expect(sample(text, 'lakeloop_rows_transformed_total{model="silver.orders"}')).toBe(200);
    expect(sample(text, 'lakeloop_deferred_late_rows_total{model="silver.orders"}')).toBe(3);
    expect(sample(text, 'lakeloop_model_run_seconds_count{model="silver.orders"}')).toBe(3);
    expect(sample(text, 'lakeloop_model_run_seconds_sum{model="silver.orders"}')).toBeCloseTo(1.9);
    expect(sample(text, 'lakeloop_model_run_seconds_bucket{le="0.5",model="silver.orders"}')).toBe(2);
    expect(sample(text, 'lakeloop_freshness_seconds{model="gold.daily_revenue"}')).toBe(2.5);
    expect(sample(text, 'lakeloop_rows_served_total')).toBe(42);
    const model = metrics.snapshot().models.find((m) => m.model === 'silver.orders');
    expect(model).toMatchObject({ runs: { success: 2, failed: 1, skipped: 0 }, rowsTransformed: 200, deferredLate: 3, lastRun: { status: 'failed', rows: 999 } });
    expect(metrics.snapshot().models.find((m) => m.model === 'gold.daily_revenue')?.freshnessSeconds).toBe(2.5);
  });

  it('counts the bytes model runs read and wrote and their CPU seconds', async () => {
    const metrics = new Metrics({ clock: new ManualClock(T0), processMetrics: false });
    metrics.recordModelRun({ model: 'gold.daily', status: 'success', rows: 3, seconds: 0.2, cost: { bytesRead: 4096, bytesWritten: 512, cpuSeconds: 0.25 } });
    metrics.recordModelRun({ model: 'gold.daily', status: 'skipped', rows: 0, seconds: 0.01, cost: { bytesRead: 0, bytesWritten: 0, cpuSeconds: 0.01 } });
    metrics.recordModelRun({ model: 'gold.daily', status: 'failed', rows: 0, seconds: 0 });
    const text = await metrics.text();
    expect(sample(text, 'lakeloop_model_bytes_read_total{model="gold.daily"}')).toBe(4096);
    expect(sample(text, 'lakeloop_model_bytes_written_total{model="gold.daily"}')).toBe(512);
    expect(sample(text, 'lakeloop_model_cpu_seconds_total{model="gold.daily"}')).toBeCloseTo(0.26);
  });

  it('keeps its metrics on a private registry, with process metrics unless turned off', async () => {
    const a = new Metrics({ clock: new ManualClock(T0) });
    const b = new Metrics({ clock: new ManualClock(T0), processMetrics: false });
    a.recordLanding(landing('orders', 5));
    expect(await register.metrics()).not.toContain('lakeloop_');
    expect(sample(await b.text(), 'lakeloop_records_landed_total{source="orders"}')).toBeUndefined();
    expect(await a.text()).toContain('process_cpu_seconds_total');
    expect(await b.text()).not.toContain('process_cpu_seconds_total');
  });

  it('reports rates over the last minute, not since the start', () => {
    const clock = new ManualClock(T0);
    const metrics = new Metrics({ clock, processMetrics: false });
    for (let second = 0; second < 120; second++) {
      // 100/s for the first minute, then 10/s
      metrics.recordLanding(landing('orders', second < 60 ? 100 : 10));
      clock.advance(1_000);
    }
    const orders = metrics.snapshot().sources[0];
    expect(orders?.landed).toBe(60 * 100 + 60 * 10);
    expect(orders?.perSecond.landed).toBeGreaterThanOrEqual(10);
    expect(orders?.perSecond.landed).toBeLessThan(12);
    expect(metrics.snapshot().uptimeSeconds).toBe(120);
  });

  it('does not read the first burst as an infinite rate', () => {
    const clock = new ManualClock(T0);
    const window = new RateWindow(60_000, clock.nowMs());
    window.add(50, clock.nowMs());
    expect(window.perSecond(clock.nowMs())).toBe(50);
    clock.advance(5_000);
    expect(window.perSecond(clock.nowMs())).toBe(10);
    clock.advance(61_000);
    expect(window.perSecond(clock.nowMs())).toBe(0);
  });
});

describe('the backlog alert', () => {
  it('stays off while landing keeps up with ingest', () => {
    const clock = new ManualClock(T0);
    const metrics = new Metrics({ clock, processMetrics: false });
    for (let second = 0; second < 30; second++) {
      metrics.recordReceived('orders', 200);
      clock.advance(500);
      metrics.recordLanding(landing('orders', 199, 1), { receivedCounted: true });
      clock.advance(500);
    }
    const snapshot = metrics.snapshot();
    expect(snapshot.sources[0]).toMatchObject({ received: 6_000, landed: 5_970, quarantined: 30, pending: 0 });
    expect(snapshot.backlog).toEqual({ active: false, reasons: [] });
  });

  it('fires when landing falls behind ingest, naming the source', () => {
    const clock = new ManualClock(T0);
    const metrics = new Metrics({ clock, processMetrics: false, maxPendingSeconds: 10 });
    for (let second = 0; second < 30; second++) {
      metrics.recordReceived('orders', 200);
      // only a quarter lands: the rest piles up
      metrics.recordLanding(landing('orders', 50), { receivedCounted: true });
      clock.advance(1_000);
      if (second === 5) expect(metrics.snapshot().backlog.active).toBe(false);
    }
    const { backlog, sources } = metrics.snapshot();
    expect(sources[0]?.pending).toBe(30 * 150);
    expect(backlog.active).toBe(true);
    expect(backlog.reasons).toEqual([expect.stringMatching(/^orders: 4500 records waiting to land, more than 10 s of ingest/)]);
  });

  it('fires when records wait and nothing lands, and clears once they land', () => {
    const clock = new ManualClock(T0);
    const metrics = new Metrics({ clock, processMetrics: false, maxPendingSeconds: 10 });
    metrics.recordReceived('payments', 3);
    clock.advance(9_000);
    expect(metrics.snapshot().backlog.active).toBe(false);
    clock.advance(2_000);
    expect(metrics.snapshot().backlog.reasons).toEqual(['payments: 3 records waiting and nothing landed for 11 s']);
    metrics.recordLanding(landing('payments', 3), { receivedCounted: true });
    expect(metrics.snapshot().backlog.active).toBe(false);
    // records whose batch failed are not waiting any more: the producer re-sends them
    metrics.recordReceived('payments', 4);
    metrics.recordFailed('payments', 4);
    clock.advance(30_000);
    expect(metrics.snapshot().sources[0]).toMatchObject({ pending: 0, failed: 4 });
    expect(metrics.snapshot().backlog.active).toBe(false);
  });

  it('fires when records land but a model that ran before completes no run in the window', () => {
    const clock = new ManualClock(T0);
    const metrics = new Metrics({ clock, processMetrics: false });
    metrics.recordModelRun({ model: 'silver.orders', status: 'success', rows: 10, seconds: 0.2 });
    metrics.recordLanding(landing('orders', 10));
    clock.advance(30_000);
    expect(metrics.snapshot().backlog.active).toBe(false);
    clock.advance(40_000);
    // nothing landed in the last minute: no backlog, however old the last run
    expect(metrics.snapshot().backlog.active).toBe(false);
    metrics.recordModelRun({ model: 'silver.orders', status: 'failed', rows: 0, seconds: 0.2 });
    metrics.recordLanding(landing('orders', 500));
    const { backlog } = metrics.snapshot();
    expect(backlog.reasons).toEqual(['silver.orders: last completed a run 70 s ago while 500 records landed in the last 60 s']);
    metrics.recordModelRun({ model: 'silver.orders', status: 'success', rows: 500, seconds: 0.2 });
    expect(metrics.snapshot().backlog.active).toBe(false);
  });

  it('allows a model that runs every N by design (a full model on the streaming path) N more before firing', () => {
    const clock = new ManualClock(T0);
    const metrics = new Metrics({ clock, processMetrics: false });
    metrics.expectRunsEvery('gold.ltv', 120_000);
    metrics.recordModelRun({ model: 'gold.ltv', status: 'success', rows: 10, seconds: 0.2 });
    clock.advance(150_000);
    metrics.recordLanding(landing('orders', 500));
    expect(metrics.snapshot().backlog.active).toBe(false);
    clock.advance(40_000);
    metrics.recordLanding(landing('orders', 500));
    expect(metrics.snapshot().backlog.reasons).toEqual(['gold.ltv: last completed a run 190 s ago while 1000 records landed in the last 60 s']);
  });
});
