/*
kind: full
owner: checkout-team
tests:
  - not_null: [order_id, order_date]
  - unique: [order_id]
  - accepted_values: { column: status, values: [placed, paid, shipped, cancelled] }
*/
-- The latest state of each order: bronze holds one record per state change (and
-- re-deliveries); the newest order_ts wins, then the newest landing. Timestamps are
-- instants (TIMESTAMP WITH TIME ZONE) and order_date is their UTC calendar day.
SELECT
  order_id,
  customer_id,
  status,
  amount,
  currency,
  country,
  item_count,
  channel,
  coupon_code,
  order_ts,
  CAST(timezone('UTC', order_ts) AS DATE) AS order_date,
  _ingested_at
FROM bronze.orders
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY order_ts DESC, _ingested_at DESC) = 1
