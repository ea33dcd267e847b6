/*
kind: full
owner: growth
# the counts; the rates are ratios, whose sums mean nothing
measures: [sessions, page_views, orders_placed, orders_paid, orders_shipped, orders_cancelled]
tests:
  - not_null: [day, sessions, page_views, orders_placed, orders_paid, orders_shipped]
  - unique: [day]
  - expression: 'orders_paid <= orders_placed AND orders_shipped <= orders_paid'
  - expression: 'payment_rate IS NULL OR payment_rate BETWEEN 0 AND 1'
  - { relationships: { column: day, to: silver.page_views, field: view_date }, severity: warn }
  - { row_count: { min: 1 }, severity: warn }
*/
-- The storefront funnel per UTC day: the sessions and page views of that day, the orders
-- placed that day (an order is placed at its first state change), and how many of those
-- orders were paid and shipped since, with the conversion rate of each step:
--   session_conversion = orders_placed / sessions
--   payment_rate       = orders_paid / orders_placed
--   shipping_rate      = orders_shipped / orders_paid
-- (NULL when the step before is 0). A `full` model: an order paid days later changes the
-- row of the day it was placed. A day with orders but no page views (the relationships
-- test warns) means the browser collector lost data.
WITH traffic AS (
  SELECT view_date AS day, count(DISTINCT session_id) AS sessions, count(*) AS page_views
  FROM silver.page_views
  GROUP BY view_date
),
orders AS (
  SELECT
    order_id,
    CAST(timezone('UTC', min(order_ts)) AS DATE) AS day,
    bool_or(status IN ('paid', 'shipped')) AS paid,
    bool_or(status = 'shipped') AS shipped,
    bool_or(status = 'cancelled') AS cancelled
  FROM silver.order_events
  GROUP BY order_id
),
placed AS (
  SELECT
    day,
    count(*) AS orders_placed,
    count(*) FILTER (WHERE paid) AS orders_paid,
    count(*) FILTER (WHERE shipped) AS orders_shipped,
    count(*) FILTER (WHERE cancelled) AS orders_cancelled
  FROM orders
  GROUP BY day
),
days AS (
  SELECT
    day,
    coalesce(traffic.sessions, 0) AS sessions,
    coalesce(traffic.page_views, 0) AS page_views,
    coalesce(placed.orders_placed, 0) AS orders_placed,
    coalesce(placed.orders_paid, 0) AS orders_paid,
    coalesce(placed.orders_shipped, 0) AS orders_shipped,
    coalesce(placed.orders_cancelled, 0) AS orders_cancelled
  FROM traffic
  FULL JOIN placed USING (day)
)
SELECT
  *,
  round(orders_placed / nullif(sessions, 0), 4) AS session_conversion,
  round(orders_paid / nullif(orders_placed, 0), 4) AS payment_rate,
  round(orders_shipped / nullif(orders_paid, 0), 4) AS shipping_rate
FROM days
