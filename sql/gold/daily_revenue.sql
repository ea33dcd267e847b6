/*
kind: incremental_by_partition
partition_by: order_date
lateness: 2h
owner: finance
tests:
  - not_null: [order_date, country, currency]
  - unique: [order_date, country, currency]
  - expression: 'revenue >= 0'
  - expression: 'orders > 0'
  - { row_count: { min: 1 }, severity: warn }
*/
-- Revenue and order count per UTC order day and shipping country, over orders that are
-- paid or shipped. Amounts are summed per currency: adding EUR to USD would be wrong.
-- Money stays exact: the sum of DECIMAL(18,2) amounts is a DECIMAL(38,2), to the cent.
-- tests/daily_revenue_reconciles.sql checks the totals against silver.orders.
SELECT
  order_date,
  country,
  currency,
  sum(amount) AS revenue,
  count(*) AS orders
FROM silver.orders
WHERE status IN ('paid', 'shipped')
GROUP BY order_date, country, currency
