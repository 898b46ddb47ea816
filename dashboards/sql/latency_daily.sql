-- latency_daily: upload-to-result latency per media day (latest result each), in milliseconds.
CREATE OR REPLACE VIEW latency_daily AS
SELECT
    dt AS day,
    count(latency_ms) AS n,
    quantile_cont(latency_ms, 0.5) AS p50_ms,
    quantile_cont(latency_ms, 0.95) AS p95_ms,
    max(latency_ms) AS max_ms
FROM media_results
GROUP BY dt;
