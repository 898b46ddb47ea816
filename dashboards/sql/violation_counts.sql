-- violation_counts: how often each violation code appears per brand and media day.
CREATE OR REPLACE VIEW violation_counts AS
SELECT brand_id, day, code, count(*) AS n
FROM (
    SELECT brand_id, dt AS day, unnest(violation_codes) AS code
    FROM media_results
)
GROUP BY brand_id, day, code;
