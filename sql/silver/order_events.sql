/*
kind: incremental_by_key
lateness: 2h
owner: checkout-team
partition_by: event_date
unique_key: [order_id, status, order_ts]
version_by: _ingested_at
tests:
  - not_null: [order_id, customer_id, status, order_ts, event_date]
  - unique: [order_id, status, order_ts]
  - accepted_values: { column: status, values: [placed, paid, shipped, cancelled] }
  - expression: 'amount >= 0'
*/
-- Every state change of every order, once: the order's history (placed → paid → shipped,
-- or cancelled), where silver.orders keeps only the latest state. A change re-delivered by
-- the checkout service (same order, status and order_ts) is kept once, the newest landing
-- winning. event_date is the UTC day of the change.
SELECT
  order_id,
  customer_id,
  status,
  amount,
  currency,
  country,
  item_count,
  channel,
  order_ts,
  CAST(timezone('UTC', order_ts) AS DATE) AS event_date,
  _ingested_at
FROM bronze.orders
QUALIFY row_number() OVER (PARTITION BY order_id, status, order_ts ORDER BY _ingested_at DESC, _source_offset DESC) = 1
