-- brand_checks: the latest brand check per media (a replay or reprocessing publishes it again).
-- At-least-once delivery means the same answer can reach the lake more than once, as the same
-- record rewritten by a replayed flush or as a new record; raw_brand_checks keeps them all for audits.
-- media_id and dt lead the window key so filters on them reach the scan: a lookup by media id
-- opens one day folder.
CREATE OR REPLACE VIEW brand_checks AS
SELECT *
FROM raw_brand_checks
QUALIFY row_number() OVER (PARTITION BY media_id, dt ORDER BY occurred_at DESC, "offset" DESC) = 1;
