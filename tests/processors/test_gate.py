"""The gate's states: pending, approved, rejected; auto vs human; deferred; replays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from processors.gate import decide_result, decide_review
from processors.synthetic import events as make
from schemas.events import MediaResult
from schemas.profiles import ReviewPolicy
from schemas.reviews import Review

POLICY = ReviewPolicy()  # pass approves itself, everything else waits


def result(verdict: str = "pass", *, analysis: str = "done", **over: object) -> MediaResult:
    src = make.source(brand_id="acme")
    check = make.brand_check(source=src, verdict=verdict, score=0.9)
    half = make.analysis(media_id=check.media_id, source=src, status=analysis)
    return make.result(check, half, **over)


def review(r: MediaResult, decision: str = "approved", **over: object) -> Review:
    return Review.model_validate(
        {
            "media_id": r.media_id,
            "producer": "api",
            "brand_id": "acme",
            "decision": decision,
            "reviewer": "lead",
            "reason": "looks right" if decision == "approved" else "logo too small",
            "verdict": r.verdict,
            **over,
        }
    )


@pytest.mark.parametrize(
    ("verdict", "state"), [("pass", "approved"), ("warn", "pending"), ("fail", "pending")]
)
def test_the_policy_decides_what_needs_a_person(verdict: str, state: str) -> None:
    decision = decide_result(None, result(verdict), POLICY, "w")
    assert decision is not None
    assert (decision.state, decision.by) == (state, "auto")


def test_a_policy_may_reject_failed_media_alone() -> None:
    policy = ReviewPolicy(auto_approve=[], auto_reject=["failed", "fail"])
    failed = result("fail").model_copy(update={"status": "failed", "verdict": None})
    decision = decide_result(None, failed, policy, "w")
    assert decision is not None and decision.state == "rejected"
    passed = decide_result(None, result("pass"), policy, "w")
    assert passed is not None and passed.state == "pending"


def test_an_outcome_cannot_be_both_approved_and_rejected() -> None:
    with pytest.raises(ValueError, match="both"):
        ReviewPolicy(auto_approve=["pass"], auto_reject=["pass"])


def test_a_deferred_result_waits_for_its_resumed_one() -> None:
    first = result("pass", analysis="deferred")
    pending = decide_result(None, first, POLICY, "w")
    assert pending is not None and pending.state == "pending"
    resumed = first.model_copy(
        update={"analysis": result().analysis, "occurred_at": first.occurred_at + timedelta(1)}
    )
    final = decide_result(pending, resumed, POLICY, "w")
    assert final is not None and final.state == "approved"
    assert decide_result(final, first, POLICY, "w") is None  # the deferred one replayed


def test_a_human_decision_is_never_overwritten_by_an_automatic_one() -> None:
    first = result("warn", analysis="deferred")
    auto = decide_result(None, first, POLICY, "w")
    human = decide_review(auto, review(first, "rejected"), "w")
    assert human is not None and (human.state, human.by) == ("rejected", "human")
    assert human.reason == "logo too small"
    later = first.model_copy(update={"occurred_at": first.occurred_at + timedelta(1)})
    assert decide_result(human, later, POLICY, "w") is None


def test_a_later_review_wins_and_a_replayed_one_changes_nothing() -> None:
    r = result("warn")
    rejected = review(r, "rejected")
    first = decide_review(None, rejected, "w")
    approved = review(r, "approved", platforms=["instagram_feed"])
    second = decide_review(first, approved, "w")
    assert second is not None and second.state == "approved"
    assert second.platforms == ["instagram_feed"]
    assert decide_review(second, rejected, "w") is None
    assert decide_review(second, approved, "w") is None


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        review(result(), "rejected", reason="  ")
