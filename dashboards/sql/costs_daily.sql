-- costs_daily: analysis cost and tokens per brand, media day, analyzer and model (latest
-- analysis per media, so a replayed analysis is paid once). Unknown costs count as nothing.
CREATE OR REPLACE VIEW costs_daily AS
SELECT
    brand_id,
    dt AS day,
    analyzer,
    model,
    count(*) AS analyses,
    coalesce(sum(cost_usd), 0) AS cost_usd,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens
FROM analyses
GROUP BY brand_id, dt, analyzer, model;
