-- brand_checks: one row per Kafka record (topic, partition, offset), however many files a replay wrote.
-- Reads raw_brand_checks, which Lake binds to lake/brand_checks/dt=*/ under the lake root.
-- dt and media_id are in the window key (they follow from the record) so filters on them
-- reach the scan: a lookup by media id opens one day folder.
CREATE OR REPLACE VIEW brand_checks AS
SELECT *
FROM raw_brand_checks
QUALIFY row_number() OVER (PARTITION BY "topic", "partition", "offset", dt, media_id) = 1;
