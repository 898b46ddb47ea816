-- media_reviews: the latest decision a person made per media (a later review replaces an
-- earlier one); media_id and dt lead the window key so a lookup by id opens one day folder.
CREATE OR REPLACE VIEW media_reviews AS
SELECT *
FROM reviews
QUALIFY row_number() OVER (PARTITION BY media_id, dt ORDER BY occurred_at DESC, "offset" DESC) = 1;
