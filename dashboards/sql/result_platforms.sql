-- result_platforms: one row per media result and target platform (the platforms its brand
-- check judged), for breakdowns by platform.
CREATE OR REPLACE VIEW result_platforms AS
SELECT media_id, dt, brand_id, unnest(platforms) AS platform
FROM media_results;
