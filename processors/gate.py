"""The publishing gate: from a media's results and reviews to its one final decision.

States, per media (the latest `MediaDecision` on `reelscope.media.decisions.v1` is the truth):

    (no record) --result--> pending | approved | rejected        by auto, from the brand policy
    pending     --resumed result--> approved | rejected | pending  by auto
    any         --review--> approved | rejected                   by human (a later review wins)
    human       --any result--> unchanged                         a person is never overruled

A result whose analysis is `deferred` is not final (a resumed result follows), so it leaves the
media `pending`. Replays are harmless: an input no newer than what the current state was made
from changes nothing (`decide` returns None), so a replayed stream re-emits nothing.
"""

from __future__ import annotations

from schemas.events import MediaResult
from schemas.profiles import Outcome, ReviewPolicy
from schemas.reviews import GateState, MediaDecision, Review


def outcome(result: MediaResult) -> Outcome:
    """What the policy judges: the verdict, or `failed` for a media without one."""
    if result.status == "failed" or result.verdict is None:
        return "failed"
    return result.verdict


def automatic(result: MediaResult, policy: ReviewPolicy) -> tuple[GateState, str]:
    """The state the machine alone gives a result, and why, in words for a reviewer."""
    if result.analysis.status == "deferred":
        return "pending", "the analysis is deferred: the decision waits for its resumed result"
    judged = outcome(result)
    if judged in policy.auto_approve:
        return "approved", f"auto-approved: the brand policy approves {judged!r} alone"
    if judged in policy.auto_reject:
        return "rejected", f"auto-rejected: the brand policy rejects {judged!r} alone"
    return "pending", f"waiting for a reviewer: the brand policy has {judged!r} reviewed"


def decide_result(
    previous: MediaDecision | None, result: MediaResult, policy: ReviewPolicy, producer: str
) -> MediaDecision | None:
    """The new state after a result, or None when it changes nothing."""
    if previous is not None and previous.by == "human":
        return None
    if previous is not None and previous.result_at is not None:
        if result.occurred_at <= previous.result_at:
            return None  # a replay, or the deferred first answer after its resumed one
    state, reason = automatic(result, policy)
    check = result.brand_check
    return MediaDecision(
        media_id=result.media_id,
        producer=producer,
        brand_id=result.source.brand_id,
        state=state,
        by="auto",
        reason=reason,
        verdict=result.verdict,
        checks_version=check.checks_version,
        result_event_id=result.event_id,
        result_at=result.occurred_at,
    )


def decide_review(
    previous: MediaDecision | None, review: Review, producer: str
) -> MediaDecision | None:
    """The new state after a person's review, or None for a replayed or older one."""
    if previous is not None and previous.reviewed_at is not None:
        if review.occurred_at <= previous.reviewed_at:
            return None
    return MediaDecision(
        media_id=review.media_id,
        producer=producer,
        brand_id=review.brand_id,
        state=review.decision,
        by="human",
        platforms=review.platforms,
        reason=review.reason,
        reviewer=review.reviewer,
        verdict=review.verdict,
        checks_version=review.checks_version,
        result_event_id=review.result_event_id,
        result_at=previous.result_at if previous else None,
        review_event_id=review.event_id,
        reviewed_at=review.occurred_at,
    )
