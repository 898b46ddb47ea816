-- media_decisions: the gate's state per media: its latest decision (pending, approved or
-- rejected; by auto or human), as a downstream app keeping the latest record per key sees it.
CREATE OR REPLACE VIEW media_decisions AS
SELECT *
FROM decisions
QUALIFY row_number() OVER (PARTITION BY media_id, dt ORDER BY occurred_at DESC, "offset" DESC) = 1;
