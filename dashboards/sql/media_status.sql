-- media_status: one row per media_id: its latest upload, its latest result, and a dead-letter
-- if one exists. status = the result's 'done'/'failed'; 'failed' when the media was
-- dead-lettered without a result; else 'processing'. decision is the publishing gate's latest
-- state (pending, approved, rejected; NULL before the gate saw a result or review).
-- Built as GROUP BY (media_id, dt) over a UNION ALL, so filters on media_id and dt reach every
-- table's scan (a lookup by id reads one day folder per table); a result whose upload row is
-- not in the lake yet still shows.
CREATE OR REPLACE VIEW media_status AS
WITH facts AS (
    SELECT media_id, dt, occurred_at,
           struct_pack(brand_id, occurred_at, source, producer, object_key, sha256, size_bytes,
                       content_type, media_kind, filename, platforms, prompt, gen_model,
                       gen_cost_usd, parent_media_id) AS up
    FROM uploads
    UNION ALL BY NAME
    SELECT media_id, dt, occurred_at,
           struct_pack(brand_id, occurred_at, accepted_at, source, status, verdict, score,
                       analysis_status, cost_usd, latency_ms, violation_codes, platforms_failed,
                       error, checks_version, analyzer, model, prompt_version) AS res
    FROM media_results
    UNION ALL BY NAME
    SELECT media_id, dt, occurred_at, struct_pack(occurred_at, stage, reason, error_type) AS dead
    FROM deadletters
    WHERE media_id IS NOT NULL
    UNION ALL BY NAME
    SELECT media_id, dt, occurred_at,
           struct_pack(occurred_at, state, decided_by := "by", platforms, reason, reviewer) AS gate
    FROM decisions
),
latest AS (
    SELECT media_id, dt,
           arg_max(up, occurred_at) FILTER (WHERE up IS NOT NULL) AS u,
           arg_max(res, occurred_at) FILTER (WHERE res IS NOT NULL) AS r,
           arg_max(dead, occurred_at) FILTER (WHERE dead IS NOT NULL) AS d,
           arg_max(gate, occurred_at) FILTER (WHERE gate IS NOT NULL) AS g
    FROM facts
    GROUP BY media_id, dt
)
SELECT
    media_id,
    dt,
    coalesce(u.brand_id, r.brand_id) AS brand_id,
    CASE
        WHEN r IS NOT NULL THEN r.status
        WHEN d IS NOT NULL THEN 'failed'
        ELSE 'processing'
    END AS status,
    r.verdict,
    r.score,
    coalesce(u.source, r.source) AS source,
    coalesce(u.occurred_at, r.accepted_at) AS accepted_at,
    coalesce(r.occurred_at, d.occurred_at) AS completed_at,
    r.latency_ms,
    u.producer,
    u.object_key,
    u.sha256,
    u.size_bytes,
    u.content_type,
    u.media_kind,
    u.filename,
    u.platforms,
    u.prompt,
    u.gen_model,
    u.gen_cost_usd,
    u.parent_media_id,
    r.analysis_status,
    r.cost_usd,
    r.violation_codes,
    r.platforms_failed,
    CASE WHEN r IS NULL THEN d.reason ELSE r.error END AS error,
    d.stage AS deadletter_stage,
    r.checks_version,
    r.analyzer,
    r.model,
    r.prompt_version,
    g.state AS decision,
    g.decided_by,
    g.platforms AS decided_platforms,
    g.reason AS decision_reason,
    g.reviewer,
    g.occurred_at AS decided_at
FROM latest;
