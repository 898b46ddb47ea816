-- violation_counts: how often each violation code appears per brand and media day (n), and in
-- how many media (a media id has one day, so media adds up over days).
-- violation_counts_for(for_platform): the same over the media whose brand check targeted that
-- platform; NULL keeps every media, which is the view (see compliance_daily for why a macro).
CREATE OR REPLACE MACRO violation_counts_for(for_platform) AS TABLE
SELECT brand_id, day, code, count(*) AS n, count(DISTINCT media_id) AS media
FROM (
    SELECT brand_id, dt AS day, media_id, unnest(violation_codes) AS code
    FROM media_results
    WHERE for_platform IS NULL OR list_contains(platforms, for_platform)
)
GROUP BY brand_id, day, code;

CREATE OR REPLACE VIEW violation_counts AS
SELECT * FROM violation_counts_for(NULL);
