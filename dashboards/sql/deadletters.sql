-- deadletters: one row per refused source message and stage (a replay refuses it again).
-- raw_deadletters keeps every entry for audits.
CREATE OR REPLACE VIEW deadletters AS
SELECT *
FROM raw_deadletters
QUALIFY row_number() OVER (
    PARTITION BY source_topic, source_partition, source_offset, stage, dt, media_id
    ORDER BY occurred_at, "topic", "partition", "offset"
) = 1;
