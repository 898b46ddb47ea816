"""The gate's decisions in the lake: `media_status.decision`, the latest-per-media views, and
the review queue's newest-first query with its filters."""

from __future__ import annotations

from datetime import date, timedelta

from processors.gate import decide_result, decide_review
from processors.lake.query import Lake
from processors.lake.queue import QueueFilter, queue_sql
from processors.storage import LocalStore
from processors.synthetic import lake as syn
from schemas.profiles import ReviewPolicy
from schemas.reviews import Review
from tests.lake_writes import Sink

DAY = syn.day(2026, 3, 2)


def _queue(lake: Lake, **filters: object) -> list[str]:
    sql, params = queue_sql(QueueFilter(**filters), limit=10, offset=0)  # type: ignore[arg-type]
    return [r["media_id"] for r in lake.query(sql, params)]


def test_decisions_reach_media_status_and_the_latest_wins(store: LocalStore, sink: Sink) -> None:
    passed = syn.life(DAY, verdict="pass", counter=1)
    failed = syn.life(DAY + timedelta(minutes=1), verdict="fail", counter=2, violations=("x.y",))
    other = syn.life(DAY + timedelta(minutes=2), verdict="fail", brand_id="other", counter=3)
    for life in (passed, failed, other):
        sink.put(life.uploaded, life.brand_check, life.analysis, life.result)
    auto = [decide_result(None, life.result, ReviewPolicy(), "w") for life in (passed, failed)]
    review = Review(
        media_id=failed.result.media_id,
        producer="api",
        brand_id="acme",
        decision="rejected",
        reason="off palette",
        reviewer="lead",
        occurred_at=failed.result.occurred_at + timedelta(minutes=5),
    )
    human = decide_review(auto[1], review, "w")
    sink.put(*[d for d in (*auto, human) if d is not None], review)
    lake = Lake(store)

    rows = {r["media_id"]: r for r in lake.query("SELECT * FROM media_status")}
    got = {k: (r["decision"], r["decided_by"]) for k, r in rows.items()}
    assert got == {
        str(passed.result.media_id): ("approved", "auto"),
        str(failed.result.media_id): ("rejected", "human"),
        str(other.result.media_id): (None, None),
    }
    assert rows[str(failed.result.media_id)]["decision_reason"] == "off palette"
    assert len(lake.query("SELECT * FROM decisions")) == 3
    assert len(lake.query("SELECT * FROM media_decisions")) == 2
    assert lake.query("SELECT reviewer FROM media_reviews") == [{"reviewer": "lead"}]

    newest_first = [str(m.result.media_id) for m in (other, failed, passed)]
    assert _queue(lake) == newest_first
    assert _queue(lake, brands=["acme"]) == newest_first[1:]
    assert _queue(lake, verdict="fail", brands=["acme"]) == [newest_first[1]]
    assert _queue(lake, decision="none") == [newest_first[0]]
    assert _queue(lake, decision="approved") == [newest_first[2]]
    assert _queue(lake, platform="tiktok") == newest_first
    assert _queue(lake, platform="linkedin") == []
    assert _queue(lake, source="generated") == []
    assert _queue(lake, day_from=date(2026, 3, 3)) == []
    violations = lake.query(
        *queue_sql(QueueFilter(verdict="fail", brands=["acme"]), limit=1, offset=0)
    )
    assert violations[0]["violations"] == ["x.y"]
