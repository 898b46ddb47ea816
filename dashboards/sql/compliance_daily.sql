-- compliance_daily: verdict counts and pass rate per brand and media day (latest result each).
-- pass_rate = pass / (pass + warn + fail); media whose processing failed count in error_count.
-- compliance_daily_for(for_platform): the same over the media whose brand check targeted that
-- platform (one it judged); NULL keeps every media, and the view is just that. A media targets
-- several platforms, so a platform column would count it more than once: the filter has to act
-- before the counts, and the macro keeps it in this one query for the view and the API.
-- Macro parameters are named apart from the columns: a column of the same name would win.
CREATE OR REPLACE MACRO compliance_daily_for(for_platform) AS TABLE
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
WHERE for_platform IS NULL OR list_contains(platforms, for_platform)
GROUP BY brand_id, dt;

CREATE OR REPLACE VIEW compliance_daily AS
SELECT * FROM compliance_daily_for(NULL);
