/*
kind: full
owner: finance
tests:
  - not_null: [customer_id, currency, first_order_at, last_order_at, orders]
  - unique: [customer_id, currency]
  - relationships: { column: customer_id, to: silver.orders, field: customer_id }
  - expression: 'first_order_at <= last_order_at'
  - expression: 'paid_orders + cancelled_orders <= orders AND net_revenue <= revenue'
  - { row_count: { min: 1 }, severity: warn }
*/
-- What each customer is worth, per currency (amounts in different currencies are never
-- added): a customer who paid in EUR and in GBP has two rows. An order counts from its
-- placement (its first state change) with its latest state's amount and status:
--   orders           every order placed; paid_orders: paid or shipped; cancelled_orders
--   revenue          the amounts of the paid or shipped orders
--   refunded         what was refunded on those orders (payments in status refunded)
--   net_revenue      revenue - refunded
-- Money is exact (DECIMAL(38,2) sums of DECIMAL(18,2) amounts). There is no average
-- column: revenue / paid_orders is computed where it is read, so an average is never
-- summed or averaged again, and no rounded value poses as exact.
-- A `full` model: a customer's row depends on every order they ever placed.
WITH placed AS (
  SELECT order_id, min(order_ts) AS placed_at
  FROM silver.order_events
  GROUP BY order_id
),
refunds AS (
  SELECT order_id, currency, sum(amount) AS refunded
  FROM silver.payments
  WHERE status = 'refunded'
  GROUP BY order_id, currency
),
orders AS (
  SELECT
    o.customer_id,
    o.currency,
    o.status IN ('paid', 'shipped') AS paid,
    o.status = 'cancelled' AS cancelled,
    o.amount,
    coalesce(p.placed_at, o.order_ts) AS placed_at,
    coalesce(r.refunded, 0) AS refunded
  FROM silver.orders AS o
  LEFT JOIN placed AS p ON p.order_id = o.order_id
  LEFT JOIN refunds AS r ON r.order_id = o.order_id AND r.currency = o.currency
),
totals AS (
  SELECT
    customer_id,
    currency,
    min(placed_at) AS first_order_at,
    max(placed_at) AS last_order_at,
    count(*) AS orders,
    count(*) FILTER (WHERE paid) AS paid_orders,
    count(*) FILTER (WHERE cancelled) AS cancelled_orders,
    coalesce(sum(amount) FILTER (WHERE paid), 0) AS revenue,
    coalesce(sum(refunded) FILTER (WHERE paid), 0) AS refunded
  FROM orders
  GROUP BY customer_id, currency
)
SELECT
  customer_id,
  currency,
  first_order_at,
  last_order_at,
  CAST(timezone('UTC', first_order_at) AS DATE) AS first_order_date,
  orders,
  paid_orders,
  cancelled_orders,
  revenue,
  refunded,
  revenue - refunded AS net_revenue
FROM totals
