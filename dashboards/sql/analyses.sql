-- analyses: one row per Kafka record (topic, partition, offset), however many files a replay wrote.
-- Reads raw_analyses, which Lake binds to lake/analyses/dt=*/ under the lake root.
-- dt and media_id are in the window key (they follow from the record) so filters on them
-- reach the scan: a lookup by media id opens one day folder.
CREATE OR REPLACE VIEW analyses AS
SELECT *
FROM raw_analyses
QUALIFY row_number() OVER (PARTITION BY "topic", "partition", "offset", dt, media_id) = 1;
