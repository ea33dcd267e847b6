/*
kind: incremental_by_key
partition_by: order_date
unique_key: [order_id]
version_by: order_ts, status_rank, _ingested_at
lateness: 2h
owner: checkout-team
tests:
  - not_null: [order_id, order_date]
  - unique: [order_id]
  - accepted_values: { column: status, values: [placed, paid, shipped, cancelled] }
  - { freshness: { column: order_ts, max_age: 2h }, severity: warn }
*/
-- The latest state of each order: bronze holds one record per state change (and
-- re-deliveries); the newest order_ts wins, then the later status in the order's life
-- (placed < paid < shipped < cancelled), then the newest landing (and its last record), so the winner never
-- depends on how the rows happen to be read. Timestamps are instants (TIMESTAMP WITH TIME
-- ZONE, stored in UTC) and order_date is the UTC calendar day of the latest state.
-- Incrementally, new order events merge by order_id with the same order (version_by).
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
  list_position(['placed', 'paid', 'shipped', 'cancelled'], status) AS status_rank,
  _ingested_at
FROM bronze.orders
QUALIFY row_number() OVER (
  PARTITION BY order_id
  ORDER BY order_ts DESC, list_position(['placed', 'paid', 'shipped', 'cancelled'], status) DESC, _ingested_at DESC, _batch_id DESC, _ingest_id DESC
) = 1
