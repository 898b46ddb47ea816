"""The worker's series exist from start-up, at zero, so that alerts see the first event."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from processors.synthetic import events as make
from schemas.events import INPUT_EVENT
from streams import metrics
from streams.codec import DECODE_ERRORS, DecodeError, decode


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
