-- compliance_daily: verdict counts and pass rate per brand and media day (latest result each).
-- pass_rate = pass / (pass + warn + fail); media whose processing failed count in error_count.
CREATE OR REPLACE VIEW compliance_daily AS
SELECT
    brand_id,
    dt AS day,
    count(*) FILTER (WHERE verdict = 'pass') AS pass_count,
    count(*) FILTER (WHERE verdict = 'warn') AS warn_count,
    count(*) FILTER (WHERE verdict = 'fail') AS fail_count,
    count(*) FILTER (WHERE status = 'failed') AS error_count,
    count(*) AS total,
    count(*) FILTER (WHERE verdict = 'pass')
        / nullif(count(*) FILTER (WHERE verdict IS NOT NULL), 0) AS pass_rate
FROM media_results
GROUP BY brand_id, dt;
