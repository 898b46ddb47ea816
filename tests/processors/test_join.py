"""The per-media join pairs halves in any order and hands back every message it answers."""

from __future__ import annotations

from processors.join import Joiner
from processors.synthetic import events as make
from schemas.events import BrandCheck, MediaAnalysis


def _halves(
    check_status: str = "done", analysis_status: str = "done"
) -> tuple[BrandCheck, MediaAnalysis]:
    check = make.brand_check(
        producer="t",
        source=make.source(accepted_at="2026-01-01T00:00:00Z"),
        status=check_status,
        verdict="pass" if check_status == "done" else None,
        score=0.9,
        error=None if check_status == "done" else "corrupt",
    )
    analysis = make.analysis(
        media_id=check.media_id,
        producer="t",
        source=check.source,
        status=analysis_status,
        error=None if analysis_status == "done" else "x",
    )
    return check, analysis


def test_result_once_both_halves_arrive_in_either_order() -> None:
    joiner: Joiner[int] = Joiner("w")
    check, analysis = _halves()
    assert joiner.add(analysis, 1) is None
    assert len(joiner) == 1
    joined = joiner.add(check, 2)
    assert joined is not None
    result, tokens = joined
    assert (result.status, result.verdict, result.media_id) == ("done", "pass", check.media_id)
    assert tokens == [1, 2]
    assert len(joiner) == 0


def test_replayed_half_keeps_all_tokens() -> None:
    joiner: Joiner[int] = Joiner("w")
    check, analysis = _halves()
    joiner.add(check, 1)
    joiner.add(check, 2)
    joined = joiner.add(analysis, 3)
    assert joined is not None and joined[1] == [1, 2, 3]


def test_failed_half_fails_the_result_with_its_error() -> None:
    joiner: Joiner[int] = Joiner("w")
    check, analysis = _halves(check_status="failed", analysis_status="failed")
    joiner.add(check, 1)
    joined = joiner.add(analysis, 2)
    assert joined is not None
    result = joined[0]
    assert result.status == "failed" and result.verdict is None
    assert result.error is not None and "corrupt" in result.error


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_half_without_its_other_half_expires_after_the_ttl_naming_what_is_missing() -> None:
    clock = Clock()
    joiner: Joiner[int] = Joiner("w", ttl_s=60, clock=clock)
    check, analysis = _halves()
    other_check, _ = _halves()
    assert joiner.add(check, 1) is None
    clock.now = 30
    assert joiner.add(other_check, 2) is None
    assert joiner.expire() == []
    clock.now = 61
    [expired] = joiner.expire()
    assert (expired.media_id, expired.missing, expired.tokens) == (check.media_id, "analysis", [1])
    assert expired.waited_s == 61
    assert len(joiner) == 1  # the younger slot stays
    assert joiner.add(analysis, 3) is None  # a late half starts a new slot, never a stale join
