"""The worker's series exist from start-up, at zero, so that alerts see the first event."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from processors.analyzers.gemini.options import GeminiOptions
from processors.budget import BudgetLedger, Reservation
from processors.config import Settings
from processors.join import combine
from processors.pipeline import failed_analysis, failed_check
from processors.storage import open_store
from processors.synthetic import events as make
from schemas.events import INPUT_EVENT
from streams import metrics
from streams.codec import DECODE_ERRORS, DecodeError, decode

DAY = date(2026, 12, 3)


def test_every_dead_letter_kind_is_exported_at_zero_from_the_start() -> None:
    for stage, error_type in metrics.DEADLETTER_KINDS:
        labels = {"stage": stage, "error_type": error_type}
        value = REGISTRY.get_sample_value("reelscope_deadletters_total", labels)
        assert value is not None, f"no series for {labels}"


@pytest.mark.parametrize("value", [b"", b"{not json", b'{"schema": "reelscope.nothing/1"}'])
def test_malformed_input_dead_letters_with_a_kind_the_worker_exports(value: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(INPUT_EVENT, value)
    assert caught.value.error_type in DECODE_ERRORS
    assert ("intake", caught.value.error_type) in metrics.DEADLETTER_KINDS


def verdicts(brand: str, platform: str, verdict: str) -> float | None:
    labels = {"brand": brand, "platform": platform, "verdict": verdict}
    return REGISTRY.get_sample_value("reelscope_verdicts_total", labels)


def test_results_count_by_brand_platform_and_verdict_with_bounded_brands() -> None:
    """A brand label only for brands with a stored profile (the check carries its version):
    any other brand id a producer sends counts as `other`, so the series stay bounded."""
    from schemas.events import PlatformFit

    fit = PlatformFit(ok=True)
    known = make.brand_check(
        source=make.source(brand_id="metrics-acme"),
        brand_version=3,
        verdict="fail",
        platforms={"tiktok": fit},
    )
    unknown = make.brand_check(source=make.source(brand_id="made-up-brand"), verdict="pass")
    before = verdicts("metrics-acme", "tiktok", "fail")
    assert before is None  # this brand was never counted
    metrics.count_verdict(make.result(known, make.analysis(source=known.source)))
    metrics.count_verdict(make.result(unknown, make.analysis(source=unknown.source)))
    assert verdicts("metrics-acme", "tiktok", "fail") == 1
    assert verdicts("metrics-acme", "tiktok", "pass") == 0  # the pass rate exists at once
    assert verdicts("made-up-brand", "none", "pass") is None
    assert (verdicts("other", "none", "pass") or 0) >= 1


def budget(name: str, period: str, brand: str) -> float | None:
    return REGISTRY.get_sample_value(
        f"reelscope_budget_{name}_usd", {"period": period, "brand": brand}
    )


def test_budget_series_exist_at_zero_for_the_fleet_and_each_brand_with_a_limit() -> None:
    limits = GeminiOptions(daily_budget_usd=10.0, brand_monthly_budget_usd={"acme": 30.0})
    metrics.report_budget(limits, None, DAY)
    assert budget("spent", "daily", "") == budget("spent", "monthly", "acme") == 0.0
    assert budget("limit", "daily", "") == budget("remaining", "daily", "") == 10.0
    assert budget("limit", "monthly", "") == budget("limit", "daily", "acme") == math.inf
    assert budget("remaining", "monthly", "acme") == 30.0
    assert budget("spent", "daily", "zeta") is None, "a brand without a limit adds no series"


def test_budget_series_follow_the_fleet_ledger_and_never_go_below_zero() -> None:
    limits = GeminiOptions(daily_budget_usd=10.0, brand_daily_budget_usd={"acme": 5.0})
    ledger = BudgetLedger(open_store("memory://"), limits)
    booked = ledger.reserve(DAY, "acme", 4.0)
    assert isinstance(booked, Reservation)
    metrics.report_budget(limits, ledger.snapshot(DAY), DAY)
    assert budget("spent", "daily", "acme") == budget("spent", "monthly", "") == 4.0
    assert budget("remaining", "daily", "") == 6.0 and budget("remaining", "daily", "acme") == 1.0
    ledger.settle(booked, 7.0)  # the call cost more than its estimate and passed the limit
    metrics.report_budget(limits, ledger.snapshot(DAY), DAY)
    assert budget("spent", "daily", "acme") == 7.0 and budget("remaining", "daily", "acme") == 0.0
    ledger.reserve(DAY, "omega", 0.5)  # a brand on the default (here: no) limit spends too
    metrics.report_budget(limits, ledger.snapshot(DAY), DAY)
    assert budget("spent", "monthly", "omega") == 0.5
    assert budget("limit", "daily", "omega") == math.inf


def test_the_worker_app_exports_the_budget_from_start_up() -> None:
    from tests.streams.test_app import wired

    settings = Settings(gemini={"daily_budget_usd": 2.5})
    wired(settings=settings)
    assert budget("limit", "daily", "") == 2.5 and budget("spent", "daily", "") == 0.0


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_gemini_requests_are_exported_from_the_analyzers_counts_by_delta() -> None:
    model, reported = "model-under-test", dict[str, int]()
    metrics.report_gemini(model, {}, reported)
    for outcome in metrics.GEMINI_OUTCOMES:
        assert sample("reelscope_gemini_requests_total", model=model, outcome=outcome) == 0.0
    assert sample("reelscope_gemini_retries_total", model=model) == 0.0
    metrics.report_gemini(model, {"ok": 3, "rate_limited": 1, "retry": 1}, reported)
    metrics.report_gemini(model, {"ok": 5, "rate_limited": 1, "retry": 1}, reported)
    assert sample("reelscope_gemini_requests_total", model=model, outcome="ok") == 5.0
    assert sample("reelscope_gemini_requests_total", model=model, outcome="rate_limited") == 1.0
    assert sample("reelscope_gemini_retries_total", model=model) == 1.0


def test_results_are_timed_from_acceptance_by_kind() -> None:
    """An upload accepted 4 s before its result: 4 s in the series of its kind."""
    count, total = "reelscope_result_latency_seconds_count", "reelscope_result_latency_seconds_sum"
    assert sample(count, kind="video") is not None and sample(count, kind="image") is not None
    before = (sample(count, kind="unknown") or 0.0, sample(total, kind="unknown") or 0.0)
    event = make.uploaded(occurred_at=datetime.now(UTC) - timedelta(seconds=4))
    check = failed_check(event, "unreadable in this test", "tests")
    analysis = failed_analysis(event, "local", "unreadable in this test", Settings())
    metrics.time_result(combine(check, analysis, "tests"))
    assert sample(count, kind="unknown") == before[0] + 1
    assert 4.0 <= (sample(total, kind="unknown") or 0.0) - before[1] < 30.0
