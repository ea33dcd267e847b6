/*
kind: incremental_by_key
lateness: 2h
owner: payments-team
partition_by: paid_date
unique_key: [payment_id]
version_by: changed_at, source_lsn, _ingested_at
delete_when: _op = 'd'
tests:
  - not_null: [payment_id, order_id, amount, currency, status, paid_at, paid_date]
  - unique: [payment_id]
  - accepted_values: { column: status, values: [authorized, captured, failed, refunded] }
  - expression: 'amount > 0'
  - { relationships: { column: order_id, to: silver.orders, field: order_id }, severity: warn }
*/
-- The current state of each payment, from the payments database's change feed (Debezium):
-- bronze holds every change (_op c = insert, r = snapshot read, u = update, d = delete; a
-- delete carries the row as it was). Per payment_id the last change wins, ordered by the
-- database's commit time (_cdc_ts_ms) and then its log position (the LSN, compared as a
-- number), then the newest landing; a payment whose last change is a delete is gone.
-- Re-delivered change events (Kafka is at-least-once) are the same change and collapse.
-- paid_date is the UTC day of paid_at. Deletes are kept here (the row carries _op) so the
-- merge sees them: delete_when removes the payment, also when the delete arrives later.
SELECT
  payment_id,
  order_id,
  amount,
  currency,
  method,
  status,
  paid_at,
  CAST(timezone('UTC', paid_at) AS DATE) AS paid_date,
  epoch_ms(_cdc_ts_ms)::TIMESTAMPTZ AS changed_at,
  TRY_CAST(_source_position AS HUGEINT) AS source_lsn,
  _op,
  _ingested_at
FROM bronze.payments
QUALIFY row_number() OVER (
  PARTITION BY payment_id
  ORDER BY _cdc_ts_ms DESC NULLS LAST, TRY_CAST(_source_position AS HUGEINT) DESC NULLS LAST, _source_position DESC, _ingested_at DESC
) = 1
