-- latest_results: the newest result per media_id (a reprocessed media counts once).
CREATE OR REPLACE VIEW latest_results AS
SELECT *
FROM media_results
QUALIFY row_number() OVER (PARTITION BY media_id, dt ORDER BY occurred_at DESC, "offset" DESC) = 1;
