/*
kind: incremental_by_key
lateness: 2h
owner: web-analytics
partition_by: view_date
unique_key: [view_id]
version_by: _ingested_at
tests:
  - not_null: [view_id, session_id, url, url_path, device, viewed_at, view_date]
  - unique: [view_id]
  - accepted_values: { column: device, values: [desktop, mobile, tablet] }
  - expression: "url_path LIKE '/%'"
*/
-- Page views, each once: the browser collector re-sends a view when it misses the
-- acknowledgement, so a view_id can land more than once; the newest landing wins. Keys are
-- conformed to silver.orders (a blank customer_id is an anonymous visitor: NULL), the URL's
-- path and the referrer's host are split out, and view_date is the UTC day of the view.
SELECT
  view_id,
  session_id,
  nullif(trim(customer_id), '') AS customer_id,
  url,
  coalesce(nullif(regexp_extract(url, '^[A-Za-z]+://[^/?#]+([^?#]*)', 1), ''), '/') AS url_path,
  referrer,
  nullif(lower(regexp_extract(referrer, '^[A-Za-z]+://([^/?#:]+)', 1)), '') AS referrer_host,
  device,
  viewed_at,
  CAST(timezone('UTC', viewed_at) AS DATE) AS view_date,
  _ingested_at
FROM bronze.page_views
QUALIFY row_number() OVER (PARTITION BY view_id ORDER BY _ingested_at DESC, _source_offset DESC) = 1
