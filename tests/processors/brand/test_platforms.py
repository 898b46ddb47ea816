"""Platform fit against the spec table: shapes, sizes, lengths, sound, and the UI safe zones."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from processors.brand.platforms import (
    PLATFORM_SPECS,
    PLATFORM_SPECS_VERSION,
    UNSAFE_MAX_SHARE,
    fit,
    unsafe_share,
)
from processors.synthetic import events as make
from schemas.events import MediaInfo, Violation
from schemas.fields import Platform

image = make.image_info


def video(w: int, h: int, **changes: Any) -> MediaInfo:
    """An H.264 clip; `seconds`, `fps`, `mb` and `audio` as in `make.video_info`."""
    return make.video_info(w, h, codec="h264", **changes)


def codes(found: list[Violation]) -> set[str]:
    return {v.code for v in found}


def test_every_platform_has_a_spec_and_the_table_is_versioned() -> None:
    assert set(PLATFORM_SPECS) == set(get_args(Platform))
    assert PLATFORM_SPECS_VERSION.startswith("platform-specs/")


def test_vertical_fits_reels_but_not_landscape() -> None:
    ok, found = fit("instagram_reels", video(1080, 1920))
    assert ok.ok and ok.problems == [] and found == []
    bad, found = fit("instagram_reels", video(1920, 1080))
    assert not bad.ok
    assert "platform.instagram_reels.aspect_ratio" in codes(found)
    (aspect,) = [v for v in found if v.code.endswith(".aspect_ratio")]
    assert aspect.severity == "fail" and aspect.measured == pytest.approx(1920 / 1080, abs=1e-3)
    assert any(p.startswith("aspect_ratio:") for p in bad.problems)


def test_landscape_fits_youtube_and_vertical_only_warns() -> None:
    ok, found = fit("youtube", video(1920, 1080))
    assert ok.ok and found == []
    vertical, found = fit("youtube", video(1080, 1920))
    assert vertical.ok  # YouTube takes it, pillarboxed
    (warn,) = found
    assert warn.code == "platform.youtube.aspect_ratio_not_preferred" and warn.severity == "warn"


def test_aspect_tolerance_accepts_near_9_16() -> None:
    assert fit("tiktok", video(1080, 1916))[0].ok
    assert fit("tiktok", video(720, 1280))[0].problems == []


@pytest.mark.parametrize(
    ("platform", "info", "rule"),
    [
        ("instagram_reels", video(1080, 1920, seconds=200), "duration"),
        ("youtube_shorts", video(1080, 1920, seconds=181), "duration"),
        ("instagram_stories", video(1080, 1920, seconds=61), "duration"),
        ("tiktok", video(1080, 1920, mb=600), "file_size"),
        ("instagram_feed", image(1080, 1080, mb=31), "file_size"),
        ("tiktok", video(480, 854), "resolution"),
        ("youtube", image(1920, 1080), "media_kind"),
        ("linkedin", video(3000, 1000), "aspect_ratio"),
    ],
)
def test_hard_limits_fail(platform: Platform, info: MediaInfo, rule: str) -> None:
    result, found = fit(platform, info)
    assert not result.ok
    (violation,) = [v for v in found if v.code == f"platform.{platform}.{rule}"]
    assert violation.severity == "fail"
    assert violation.measured is not None and violation.required is not None


def test_silence_and_odd_frame_rates_only_warn() -> None:
    result, found = fit("tiktok", video(1080, 1920, fps=15, audio=False))
    assert result.ok
    assert codes(found) == {"platform.tiktok.audio", "platform.tiktok.fps"}
    assert all(v.severity == "warn" for v in found)
    assert fit("linkedin", video(1920, 1080, audio=False))[1] == []  # LinkedIn autoplays muted


def test_logo_under_reels_interface_is_flagged() -> None:
    top_corner = (0.05, 0.03, 0.15, 0.08)  # inside the top 14 %
    centre = (0.4, 0.4, 0.2, 0.1)
    result, found = fit("instagram_reels", video(1080, 1920), [(1.5, top_corner), (2.0, centre)])
    assert result.ok
    (unsafe,) = found
    assert unsafe.code == "platform.instagram_reels.logo_in_unsafe_zone"
    assert unsafe.frame_s == 1.5 and unsafe.bbox == list(top_corner)
    assert fit("instagram_reels", video(1080, 1920), [(2.0, centre)])[1] == []
    assert fit("youtube", video(1920, 1080), [(1.5, top_corner)])[1] == []  # no overlay


def test_unsafe_share_geometry() -> None:
    reels = PLATFORM_SPECS["instagram_reels"].safe
    assert unsafe_share(reels, (0.4, 0.4, 0.2, 0.1)) == 0.0
    assert unsafe_share(reels, (0.4, 0.9, 0.2, 0.1)) == pytest.approx(1.0)
    half = unsafe_share(reels, (0.4, 0.6, 0.2, 0.1))  # 0.6–0.7 straddles the 0.65 line
    assert half == pytest.approx(0.5, abs=1e-6)
    assert unsafe_share(reels, (0.4, 0.4, 0.2, 0.1)) <= UNSAFE_MAX_SHARE
