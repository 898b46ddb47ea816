-- decisions: the publishing gate's records (reelscope.media.decisions.v1), once each;
-- media_decisions keeps the latest per media, the one a downstream app publishes by.
CREATE OR REPLACE VIEW decisions AS
SELECT *
FROM raw_decisions
QUALIFY row_number() OVER (PARTITION BY event_id, dt ORDER BY "offset" DESC) = 1;
