-- reviews: every decision a person made on the review page, once each (a replayed flush
-- rewrites the same record). A reviewer may decide again: media_reviews keeps the latest.
CREATE OR REPLACE VIEW reviews AS
SELECT *
FROM raw_reviews
QUALIFY row_number() OVER (PARTITION BY event_id, dt ORDER BY "offset" DESC) = 1;
