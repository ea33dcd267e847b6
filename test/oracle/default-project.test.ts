import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { SAMPLE_COUNTRY_CURRENCY } from '../../src/demo/index.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { copyProject } from '../fixtures/project-copy.js';
import { writeShopFeed, type ShopFeed, type ShopSource } from '../fixtures/shop-feed.js';
import { fileList, lakeRows, oracleRows, type Columns } from './oracle.js';

/**
 * The default project (contracts/, sql/, tests/) end to end on a realistic feed: ten days
 * of orders (state changes, re-sent and late events), payments from a Debezium change
 * feed (c/r/u/d), page views, and malformed records; ingested with the CLI into a temp copy
 * of the project and built by `lakeloop run`. Every gold table (and silver.payments, the
 * CDC flattening) must equal a hand-written DuckDB query over the distinct raw events —
 * computed from the NDJSON files with read_ndjson, never through lakeloop — row for row.
 * Money is DECIMAL on both sides and compared as exact text, to the cent.
 */
let dir: string;
let remove: () => Promise<void>;
let project: string;
let feed: ShopFeed;
let engine: Engine;

const SOURCES: readonly ShopSource[] = ['orders', 'payments', 'page_views'];

beforeAll(async () => {
  ({ dir, remove } = await tempDir('oracle-shop'));
  project = await copyProject(PROJECT_ROOT, join(dir, 'shop'));
  feed = await writeShopFeed(join(dir, 'feed'), { seed: 7 });
  engine = await Engine.create({ threads: 2 });
  for (const source of SOURCES) {
    let quarantined = 0;
    let landed = 0;
    for (const file of feed.files[source]) {
      const run = await cli(['ingest', source, '--file', file, '--json'], project);
      expect(run.code, run.stderr).toBe(0);
      const summary = run.json<{ landed: number; quarantined: number }>();
      landed += summary.landed;
      quarantined += summary.quarantined;
    }
    // Every valid line lands (duplicates too: silver removes them); every malformed one is quarantined.
    expect({ source, landed, quarantined }).toEqual({ source, landed: feed.counts[source].lines, quarantined: feed.counts[source].malformed });
  }
  const run = await cli(['run'], project);
  expect(run.code, run.stderr).toBe(0);
});

afterAll(async () => {
  await engine?.close();
  await remove();
});

/** The distinct raw events of each source, typed, as CTEs for the oracle queries. */
function raw(): string {
  return `
    orders_raw AS (
      SELECT DISTINCT order_id, customer_id, status, amount, currency, country, CAST(order_ts AS TIMESTAMPTZ) AS ts
      FROM read_ndjson(${fileList(feed.good.orders)}, columns = {
        order_id: 'VARCHAR', customer_id: 'VARCHAR', status: 'VARCHAR', amount: 'DECIMAL(18,2)', currency: 'VARCHAR',
        country: 'VARCHAR', item_count: 'BIGINT', channel: 'VARCHAR', coupon_code: 'VARCHAR', order_ts: 'VARCHAR'})
    ),
    latest_orders AS (
      SELECT * FROM orders_raw QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ts DESC) = 1
    ),
    placed AS (
      SELECT order_id, min(ts) AS placed_at FROM orders_raw GROUP BY order_id
    ),
    changes AS (
      SELECT DISTINCT op, CAST(CASE WHEN op = 'd' THEN before ELSE after END AS VARCHAR) AS image, ts_ms, CAST(source->>'lsn' AS BIGINT) AS lsn
      FROM read_ndjson(${fileList(feed.good.payments)}, columns = {op: 'VARCHAR', before: 'JSON', after: 'JSON', ts_ms: 'BIGINT', source: 'JSON'})
    ),
    current_payments AS (
      SELECT * FROM (
        SELECT image->>'payment_id' AS payment_id, image->>'order_id' AS order_id, CAST(image->>'amount' AS DECIMAL(18,2)) AS amount,
               image->>'currency' AS currency, image->>'method' AS method, image->>'status' AS status,
               CAST(image->>'paid_at' AS TIMESTAMPTZ) AS paid_at, op,
               row_number() OVER (PARTITION BY image->>'payment_id' ORDER BY ts_ms DESC, lsn DESC) AS newest
        FROM changes)
      WHERE newest = 1 AND op <> 'd'
    ),
    views AS (
      SELECT DISTINCT view_id, session_id, CAST(viewed_at AS TIMESTAMPTZ) AS ts
      FROM read_ndjson(${fileList(feed.good.page_views)}, columns = {
        view_id: 'VARCHAR', session_id: 'VARCHAR', customer_id: 'VARCHAR', url: 'VARCHAR', referrer: 'VARCHAR', device: 'VARCHAR', viewed_at: 'VARCHAR'})
    )`;
}

const utcDay = (ts: string): string => `CAST(${ts} AT TIME ZONE 'UTC' AS DATE)`;

describe('the default project on a realistic feed', () => {
  it('gold.daily_revenue equals the oracle: latest state per order, paid or shipped, per UTC day, country and currency', async () => {
    const columns: Columns = { order_date: 'text', country: 'text', currency: 'text', revenue: 'exact', orders: 'num' };
    const expected = await oracleRows(
      engine,
      `WITH ${raw()}
       SELECT ${utcDay('ts')} AS order_date, country, currency, sum(amount) AS revenue, count(*) AS orders
       FROM latest_orders WHERE status IN ('paid', 'shipped') GROUP BY ALL`,
      columns,
    );
    const actual = await lakeRows(project, 'gold.daily_revenue', columns);
    expect(actual.length).toBeGreaterThan(50);
    expect(new Set(actual.map((r) => r['currency'])).size).toBeGreaterThan(4);
    expect(actual).toEqual(expected);
  });

  it('gold.order_funnel equals the oracle: sessions and views per day, orders by the day they were placed, paid and shipped since', async () => {
    const columns: Columns = {
      day: 'text',
      sessions: 'num',
      page_views: 'num',
      orders_placed: 'num',
      orders_paid: 'num',
      orders_shipped: 'num',
      orders_cancelled: 'num',
      session_conversion: 'num',
      payment_rate: 'num',
      shipping_rate: 'num',
    };
    const expected = await oracleRows(
      engine,
      `WITH ${raw()},
       traffic AS (SELECT ${utcDay('ts')} AS day, count(DISTINCT session_id) AS sessions, count(*) AS page_views FROM views GROUP BY 1),
       per_order AS (
         SELECT order_id, ${utcDay('min(ts)')} AS day,
                count(*) FILTER (WHERE status IN ('paid', 'shipped')) > 0 AS paid,
                count(*) FILTER (WHERE status = 'shipped') > 0 AS shipped,
                count(*) FILTER (WHERE status = 'cancelled') > 0 AS cancelled
         FROM orders_raw GROUP BY order_id),
       cohort AS (
         SELECT day, count(*) AS placed, sum(paid::INT) AS paid, sum(shipped::INT) AS shipped, sum(cancelled::INT) AS cancelled
         FROM per_order GROUP BY day),
       joined AS (
         SELECT coalesce(t.day, c.day) AS day, coalesce(t.sessions, 0) AS sessions, coalesce(t.page_views, 0) AS page_views,
                coalesce(c.placed, 0) AS placed, coalesce(c.paid, 0) AS paid, coalesce(c.shipped, 0) AS shipped, coalesce(c.cancelled, 0) AS cancelled
         FROM traffic AS t FULL OUTER JOIN cohort AS c ON t.day = c.day)
       SELECT day, sessions, page_views, placed AS orders_placed, paid AS orders_paid, shipped AS orders_shipped, cancelled AS orders_cancelled,
              CASE WHEN sessions > 0 THEN round(placed / sessions, 4) END AS session_conversion,
              CASE WHEN placed > 0 THEN round(paid / placed, 4) END AS payment_rate,
              CASE WHEN paid > 0 THEN round(shipped / paid, 4) END AS shipping_rate
       FROM joined`,
      columns,
    );
    const actual = await lakeRows(project, 'gold.order_funnel', columns);
    expect(actual.map((r) => r['day'])).toEqual(Array.from({ length: 10 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`));
    expect(actual.every((r) => Number(r['orders_shipped']) > 0 && Number(r['orders_cancelled']) >= 0)).toBe(true);
    expect(actual).toEqual(expected);
  });

  it('gold.customer_lifetime_value equals the oracle: per customer and currency, with refunds from the payments change feed', async () => {
    const columns: Columns = {
      customer_id: 'text',
      currency: 'text',
      first_order_at: 'text',
      last_order_at: 'text',
      first_order_date: 'text',
      orders: 'num',
      paid_orders: 'num',
      cancelled_orders: 'num',
      revenue: 'exact',
      refunded: 'exact',
      net_revenue: 'exact',
    };
    const expected = await oracleRows(
      engine,
      `WITH ${raw()},
       refunds AS (SELECT order_id, currency, sum(amount) AS refunded FROM current_payments WHERE status = 'refunded' GROUP BY ALL),
       per_order AS (
         SELECT o.customer_id, o.currency, o.status, o.amount, p.placed_at, coalesce(r.refunded, 0) AS refunded
         FROM latest_orders AS o JOIN placed AS p USING (order_id)
         LEFT JOIN refunds AS r ON r.order_id = o.order_id AND r.currency = o.currency),
       per_customer AS (
         SELECT customer_id, currency, min(placed_at) AS first_order_at, max(placed_at) AS last_order_at, count(*) AS orders,
                count(*) FILTER (WHERE status IN ('paid', 'shipped')) AS paid_orders,
                count(*) FILTER (WHERE status = 'cancelled') AS cancelled_orders,
                coalesce(sum(amount) FILTER (WHERE status IN ('paid', 'shipped')), 0) AS revenue,
                coalesce(sum(refunded) FILTER (WHERE status IN ('paid', 'shipped')), 0) AS refunded
         FROM per_order GROUP BY customer_id, currency)
       SELECT *, ${utcDay('first_order_at')} AS first_order_date, revenue - refunded AS net_revenue
       FROM per_customer`,
      columns,
    );
    const actual = await lakeRows(project, 'gold.customer_lifetime_value', columns);
    expect(actual.length).toBeGreaterThan(100);
    expect(actual.some((r) => Number(r['refunded']) > 0)).toBe(true);
    const customers = actual.map((r) => r['customer_id']);
    expect(new Set(customers).size).toBeLessThan(customers.length); // someone bought in two currencies
    expect(actual).toEqual(expected);
  });

  it('silver.payments equals the oracle: the last change per payment by commit time and LSN, deletes gone', async () => {
    const columns: Columns = { payment_id: 'text', order_id: 'text', amount: 'exact', currency: 'text', method: 'text', status: 'text', paid_at: 'text', paid_date: 'text' };
    const expected = await oracleRows(engine, `WITH ${raw()} SELECT *, ${utcDay('paid_at')} AS paid_date FROM current_payments`, columns);
    const actual = await lakeRows(project, 'silver.payments', columns);
    const statuses = new Set(actual.map((r) => r['status']));
    expect([...statuses].sort()).toEqual(['authorized', 'captured', 'failed', 'refunded']);
    expect(actual).toEqual(expected);
  });

  it('money is DECIMAL from bronze to gold, exact to the cent', async () => {
    const run = await cli(
      [
        'query',
        `SELECT 'bronze.orders' AS t, typeof(amount) AS type, CAST(amount AS VARCHAR) AS v FROM bronze.orders
         UNION ALL SELECT 'silver.payments', typeof(amount), CAST(amount AS VARCHAR) FROM silver.payments
         UNION ALL SELECT 'gold.daily_revenue', typeof(revenue), CAST(revenue AS VARCHAR) FROM gold.daily_revenue
         UNION ALL SELECT 'gold.customer_lifetime_value', typeof(revenue), CAST(revenue AS VARCHAR) FROM gold.customer_lifetime_value
         UNION ALL SELECT 'gold.customer_lifetime_value', typeof(refunded), CAST(refunded AS VARCHAR) FROM gold.customer_lifetime_value
         UNION ALL SELECT 'gold.customer_lifetime_value', typeof(net_revenue), CAST(net_revenue AS VARCHAR) FROM gold.customer_lifetime_value`,
        '--format',
        'json',
      ],
      project,
    );
    expect(run.code, run.stderr).toBe(0);
    const rows = run.json<{ t: string; type: string; v: string }[]>();
    const types = Object.fromEntries(rows.map((r) => [r.t, r.type]));
    expect(types).toEqual({
      'bronze.orders': 'DECIMAL(18,2)',
      'silver.payments': 'DECIMAL(18,2)',
      'gold.daily_revenue': 'DECIMAL(38,2)',
      'gold.customer_lifetime_value': 'DECIMAL(38,2)',
    });
    expect(new Set(rows.map((r) => `${r.t} ${r.type}`)).size).toBe(4);
    expect(rows.filter((r) => !/^-?\d+\.\d{2}$/.test(r.v))).toEqual([]);
    // sums of many amounts: a DOUBLE sum would have shown binary noise in some of them
    expect(rows.filter((r) => r.t === 'gold.daily_revenue').length).toBeGreaterThan(50);
  });

  it('each country is charged in its own currency, and every gold row holds one currency', async () => {
    const sent = await engine.all(
      `SELECT DISTINCT country, currency FROM read_ndjson(${fileList(feed.good.orders)}, columns = {country: 'VARCHAR', currency: 'VARCHAR'}) ORDER BY ALL`,
    );
    expect(sent.length).toBeGreaterThan(5);
    for (const r of sent) expect(r['currency'], String(r['country'])).toBe(SAMPLE_COUNTRY_CURRENCY[String(r['country'])]);
    const gold = await lakeRows(project, `(SELECT country, string_agg(DISTINCT currency, ',') AS currencies FROM gold.daily_revenue GROUP BY country)`, { country: 'text', currencies: 'text' });
    expect(gold.length).toBeGreaterThan(5);
    for (const r of gold) expect(r['currencies'], String(r['country'])).toBe(SAMPLE_COUNTRY_CURRENCY[String(r['country'])]);
  });

  it('lakeloop test: every error test passes; the stale feed, the orphan payment and the unpaid order are warnings', async () => {
    const run = await cli(['test', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    const report = run.json<{ tests: { model: string; test: string; status: string; sample: Record<string, unknown>[] }[]; passed: number; failed: number; warned: number }>();
    expect(report.failed).toBe(0);
    const warned = report.tests.filter((t) => t.status === 'warn');
    expect(warned.map((t) => `${t.model} ${t.test}`).sort()).toEqual([
      'gold.customer_lifetime_value sql(tests/paid_orders_have_a_payment.sql)',
      'silver.orders freshness(order_ts, max_age 2h)',
      'silver.payments relationships(order_id -> silver.orders.order_id)',
    ]);
    const sample = (test: string): Record<string, unknown>[] => warned.find((t) => t.test === test)?.sample ?? [];
    expect(sample('sql(tests/paid_orders_have_a_payment.sql)')).toEqual([expect.objectContaining({ order_id: feed.unpaidOrder })]);
    expect(sample('relationships(order_id -> silver.orders.order_id)')).toEqual([expect.objectContaining({ payment_id: feed.orphanPayment })]);
    expect(report.tests).toContainEqual(expect.objectContaining({ model: 'gold.daily_revenue', test: 'sql(tests/daily_revenue_reconciles.sql)', status: 'pass' }));
    expect(new Set(report.tests.map((t) => t.model))).toEqual(
      new Set(['silver.orders', 'silver.order_events', 'silver.payments', 'silver.page_views', 'gold.daily_revenue', 'gold.order_funnel', 'gold.customer_lifetime_value']),
    );
  });

  it('the reconcile report sums only measures: no ids, LSNs, ranks or averages; measures: overrides the default', async () => {
    const run = await cli(['reconcile', '--from', '2026-10-01', '--to', '2026-10-10', '--dry-run', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    const report = run.json<{ models: { model: string; partitions: { sumDeltas: Record<string, number> }[] }[] }>();
    const measured = Object.fromEntries(report.models.map((m) => [m.model, [...new Set(m.partitions.flatMap((p) => Object.keys(p.sumDeltas)))].sort()]));
    expect(measured).toEqual({
      'silver.orders': ['amount', 'item_count'],
      'silver.order_events': ['amount', 'item_count'],
      'silver.payments': ['amount'],
      'silver.page_views': [],
      'gold.daily_revenue': ['orders', 'revenue'],
      // measures: in the header (the rates are left out)
      'gold.order_funnel': ['orders_cancelled', 'orders_paid', 'orders_placed', 'orders_shipped', 'page_views', 'sessions'],
      'gold.customer_lifetime_value': ['cancelled_orders', 'net_revenue', 'orders', 'paid_orders', 'refunded', 'revenue'],
    });
    for (const m of report.models) expect(m.partitions.length, m.model).toBeGreaterThan(0);
  });

  it('lakeloop lineage shows every model with what it reads', async () => {
    const run = await cli(['lineage'], project);
    expect(run.code, run.stderr).toBe(0);
    const edges = run.stdout.trim().split('\n');
    expect(edges).toEqual(
      expect.arrayContaining([
        'source:payments -> bronze.payments',
        'bronze.payments -> silver.payments',
        'bronze.page_views -> silver.page_views',
        'bronze.orders -> silver.order_events',
        'silver.order_events -> gold.order_funnel',
        'silver.page_views -> gold.order_funnel',
        'silver.orders -> gold.customer_lifetime_value',
        'silver.payments -> gold.customer_lifetime_value',
        'silver.orders -> gold.daily_revenue',
      ]),
    );
  });
});
