-- result_platforms: one row per media result and target platform (the platforms its brand
-- check judged), so analytics can keep the media aimed at one platform. Files written before
-- the `platforms` column existed read it as NULL: their results fall back to the stored JSON.
CREATE OR REPLACE VIEW result_platforms AS
SELECT media_id, dt, brand_id, platform
FROM (
    SELECT media_id, dt, brand_id,
           unnest(coalesce(platforms, json_keys(payload, '$.brand_check.platforms'))) AS platform
    FROM media_results
);
