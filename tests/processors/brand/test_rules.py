"""Zone rules, the logo summary across frames, and the verdict rule."""

from __future__ import annotations

import pytest

from processors.brand import logo_check
from processors.brand.logo import LogoHit
from processors.brand.verdict import decide, platforms_score, weighted_score
from schemas.events import PlatformFit, Violation
from schemas.profiles import Thresholds


def hit(x: float, y: float, w: float = 0.1, h: float = 0.1, confidence: float = 0.8) -> LogoHit:
    return LogoHit(bbox=(x, y, w, h), confidence=confidence, logo=0, size=50.0)


@pytest.mark.parametrize(
    ("box", "zone"),
    [
        ((0.02, 0.02, 0.1, 0.1), "top_left"),
        ((0.85, 0.05, 0.1, 0.1), "top_right"),
        ((0.05, 0.85, 0.1, 0.1), "bottom_left"),
        ((0.88, 0.88, 0.1, 0.1), "bottom_right"),
        ((0.45, 0.05, 0.1, 0.1), "top"),
        ((0.45, 0.85, 0.1, 0.1), "bottom"),
        ((0.45, 0.45, 0.1, 0.1), "center"),
        ((0.02, 0.45, 0.1, 0.1), "middle_left"),
    ],
)
def test_zone_of_uses_the_box_centre(box: tuple[float, float, float, float], zone: str) -> None:
    assert logo_check.zone_of(box) == zone


def test_in_zone_rules() -> None:
    corner = (0.02, 0.02, 0.1, 0.1)
    assert logo_check.in_zone(corner, "top_left") and logo_check.in_zone(corner, "top")
    assert not logo_check.in_zone(corner, "top_right") and not logo_check.in_zone(corner, "center")
    assert logo_check.in_zone((0.45, 0.45, 0.1, 0.1), "any")
    assert logo_check.in_zone((0.45, 0.88, 0.1, 0.1), "bottom")
    assert not logo_check.in_zone((0.45, 0.45, 0.1, 0.1), "bottom")


def test_summary_reports_best_sighting_share_and_first_time() -> None:
    sightings = [
        (0.0, None),
        (2.0, hit(0.02, 0.02, confidence=0.7)),
        (4.0, hit(0.03, 0.02, 0.12, 0.12, confidence=0.9)),
        (6.0, None),
    ]
    check, violations, score = logo_check.summarise(sightings, ["top_left"], 1.0)
    assert check.found and check.status == "ok"
    assert check.confidence == 0.9 and check.bbox == [0.03, 0.02, 0.12, 0.12]
    assert check.area_pct == pytest.approx(1.44)
    assert check.first_seen_s == 2.0 and check.screen_share == 0.5
    assert check.in_allowed_zone is True
    assert violations == [] and score == 1.0


def test_missing_logo_is_a_failure() -> None:
    check, violations, score = logo_check.summarise([(0.0, None), (1.0, None)], ["any"], 1.0)
    assert check.found is False and check.screen_share == 0.0
    (missing,) = violations
    assert missing.code == "logo.missing" and missing.severity == "fail"
    assert score == 0.0


def test_small_and_misplaced_logo_warn_with_evidence() -> None:
    sightings = [(1.0, hit(0.02, 0.02, 0.05, 0.05)), (3.0, hit(0.85, 0.85, 0.05, 0.05))]
    check, violations, score = logo_check.summarise(sightings, ["top_left", "top_right"], 1.0)
    assert check.in_allowed_zone is False
    by_code = {v.code: v for v in violations}
    assert by_code["logo.too_small"].measured == pytest.approx(0.25)
    assert by_code["logo.too_small"].required == 1.0
    outside = by_code["logo.outside_zone"]
    assert outside.severity == "warn" and outside.frame_s == 3.0
    assert outside.bbox == [0.85, 0.85, 0.05, 0.05] and outside.measured == "bottom_right"
    assert score == pytest.approx(1 - 2 * logo_check.PENALTY)


def test_weighted_score_uses_profile_weights_over_defaults() -> None:
    scores = {"palette": 1.0, "logo": 0.0, "quality": 1.0}
    default = weighted_score(scores, {})
    assert default == pytest.approx((0.3 + 0.2) / (0.3 + 0.3 + 0.2))
    assert weighted_score(scores, {"logo": 0.0}) == 1.0  # weight 0 leaves the check out
    assert weighted_score(scores, {"logo": 3.0}) == pytest.approx(0.5 / 3.5)
    assert weighted_score({}, {}) is None


def test_platform_score() -> None:
    fits = {
        "a": PlatformFit(ok=True),
        "b": PlatformFit(ok=True, problems=["fps: 15"]),
        "c": PlatformFit(ok=False, problems=["aspect_ratio: …"]),
    }
    assert platforms_score(fits) == pytest.approx(0.5)
    assert platforms_score({}) is None


def fail_violation() -> Violation:
    return Violation(code="logo.missing", severity="fail", message="no logo")


def test_verdict_bands_and_caps() -> None:
    t = Thresholds(pass_at=0.8, warn_at=0.6)
    assert decide(0.85, t, []) == "pass"
    assert decide(0.8, t, []) == "pass"
    assert decide(0.7, t, []) == "warn"
    assert decide(0.59, t, []) == "fail"
    assert decide(0.95, t, [fail_violation()]) == "warn"  # a broken hard rule never passes
    assert decide(0.3, t, [fail_violation()]) == "fail"
    assert decide(0.95, t, [], failed_checks=1) == "warn"  # a check that could not run
    assert decide(None, t, []) is None
