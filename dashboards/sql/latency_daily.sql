-- latency_daily: upload-to-result latency per media day (latest result each), in milliseconds.
-- latency_daily_for(for_brands, for_platform): the same over some brands' media (a list) and/or
-- the media whose brand check targeted that platform; NULL keeps every media, which is the view
-- (see compliance_daily for why a macro). Percentiles of brands do not add up, so the brand
-- filter has to come before the aggregation too.
CREATE OR REPLACE MACRO latency_daily_for(for_brands, for_platform) AS TABLE
SELECT
    dt AS day,
    count(latency_ms) AS n,
    quantile_cont(latency_ms, 0.5) AS p50_ms,
    quantile_cont(latency_ms, 0.95) AS p95_ms,
    max(latency_ms) AS max_ms
FROM media_results
WHERE (for_brands IS NULL OR list_contains(for_brands, brand_id))
    AND (for_platform IS NULL OR list_contains(platforms, for_platform))
GROUP BY dt;

CREATE OR REPLACE VIEW latency_daily AS
SELECT * FROM latency_daily_for(NULL, NULL);
