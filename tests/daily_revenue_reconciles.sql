/*
model: gold.daily_revenue
severity: error
description: gold.daily_revenue holds exactly the paid and shipped orders of silver.orders, per day and currency.
*/
-- Failing rows: a (day, currency) whose revenue or order count in gold differs from the
-- paid and shipped orders of silver.orders (a row missing on either side fails too).
-- Amounts are DECIMAL: the sums must be equal to the cent, with no tolerance.
WITH gold AS (
  SELECT order_date, currency, sum(revenue) AS revenue, sum(orders) AS orders
  FROM gold.daily_revenue
  GROUP BY order_date, currency
),
silver AS (
  SELECT order_date, currency, sum(amount) AS revenue, count(*) AS orders
  FROM silver.orders
  WHERE status IN ('paid', 'shipped')
  GROUP BY order_date, currency
)
SELECT
  order_date,
  currency,
  gold.revenue AS gold_revenue,
  silver.revenue AS silver_revenue,
  gold.orders AS gold_orders,
  silver.orders AS silver_orders
FROM gold
FULL JOIN silver USING (order_date, currency)
WHERE gold.orders IS DISTINCT FROM silver.orders
   OR gold.revenue IS DISTINCT FROM silver.revenue
