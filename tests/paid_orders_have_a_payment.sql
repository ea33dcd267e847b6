/*
model: gold.customer_lifetime_value
severity: warn
description: revenue counts only orders someone paid for; a paid order without a captured payment is a lagging or lost payment event.
*/
-- Failing rows: orders whose latest status is paid or shipped that have no captured (or
-- since refunded) payment in silver.payments.
SELECT o.order_id, o.customer_id, o.status, o.amount, o.currency, o.order_ts
FROM silver.orders AS o
WHERE o.status IN ('paid', 'shipped')
  AND NOT EXISTS (
    SELECT 1
    FROM silver.payments AS p
    WHERE p.order_id = o.order_id AND p.status IN ('captured', 'refunded')
  )
