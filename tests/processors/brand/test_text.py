"""Required text (real OCR on drawn frames and an encoded clip) and the logo's clear space."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from processors.brand import check_frames, check_media
from processors.brand.logo_check import CLEAR_SPACE_MAX_EDGES, ring_edge_density
from processors.brand.text import contains, pick_frames
from processors.media import Frame
from processors.media.limits import LimitSettings
from processors.synthetic import brand as synth
from processors.synthetic import samples
from processors.synthetic.events import image_info, profile, uploaded, video_info

LIMITS = LimitSettings(decode_timeout_s=60)
INFO = image_info(512, 512, container="png", size_bytes=50_000)


def frame(texts: list[tuple[str, tuple[int, int]]]) -> np.ndarray:
    img = np.full((512, 512, 3), (43, 0, 228), np.uint8)
    for text, org in texts:
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3, cv2.LINE_AA)
    return img


def test_matching_ignores_case_and_whitespace() -> None:
    assert contains("Summer  SALE #AD", "#ad")
    assert contains("# ad", "#ad")
    assert contains("paid\npartnership Sponsored", "sponsored")
    assert not contains("#adidas? no: #a d x", "sponsored")
    assert pick_frames(8) == [0, 4, 7] and pick_frames(2) == [0, 1]


def test_required_text_present_passes_the_text_check() -> None:
    img = frame([("Sponsored", (40, 80)), ("#AD", (380, 470))])
    parts = check_frames(
        [Frame(0.0, img)], INFO, profile(required_text=["#ad", "sponsored"]), [], []
    )
    assert parts.text is not None and parts.text.missing == []
    assert parts.text.frames_read == 1 and 0.01 < parts.text.coverage < 0.2
    assert parts.scores["text"] == 1.0
    assert not [v for v in parts.violations if v.code.startswith("text.")]


def test_missing_required_text_is_a_failing_violation_with_evidence() -> None:
    img = frame([("Summer sale", (40, 80))])
    parts = check_frames([Frame(0.0, img)], INFO, profile(required_text=["#ad"]), [], [])
    missing = [v for v in parts.violations if v.code == "text.required_missing"]
    assert len(missing) == 1 and missing[0].severity == "fail"
    assert missing[0].required == "#ad"
    assert isinstance(missing[0].measured, str) and "summer" in missing[0].measured.lower()
    assert parts.scores["text"] == 0.0 and parts.verdict != "pass"


def test_no_required_text_skips_the_ocr() -> None:
    parts = check_frames([Frame(0.0, frame([]))], INFO, profile(), [], [])
    assert parts.text is None and "text" not in parts.scores


def test_check_media_reads_the_disclosure_of_an_encoded_clip(tmp_path: Path) -> None:
    clip = samples.make_video(
        tmp_path / "ad.mp4", width=480, height=270, seconds=2, cuts=1, audio=False, text="#AD"
    )
    event = uploaded()
    ok = check_media(clip, event, profile(required_text=["#ad"]), [], LIMITS)
    assert ok.status == "done"
    assert "text.required_missing" not in {v.code for v in ok.violations}
    bad = check_media(clip, event, profile(required_text=["Sponsored"]), [], LIMITS)
    assert "text.required_missing" in {v.code for v in bad.violations}
    assert ok.text is not None and ok.text.missing == [] and ok.text.required == ["#ad"]
    assert bad.text is not None and bad.text.missing == ["Sponsored"]
    assert (bad.text.coverage or 0) > 0


def logo_frame(crowded: bool) -> tuple[np.ndarray, np.ndarray]:
    img = np.full((512, 512, 3), 245, np.uint8)
    badge = synth.badge_logo()
    synth.composite(img, badge, 60, 60, 120)
    if crowded:  # a caption right against the logo's right edge
        cv2.putText(img, "NEW", (186, 130), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2)
    return img, badge


@pytest.mark.parametrize("crowded", [False, True])
def test_clear_space_flags_content_next_to_the_logo(crowded: bool) -> None:
    img, badge = logo_frame(crowded)
    density = ring_edge_density(img, (60 / 512, 60 / 512, 120 / 512, 120 / 512), 25)
    assert (density > CLEAR_SPACE_MAX_EDGES) is crowded
    parts = check_frames([Frame(0.0, img)], INFO, profile(clear_space_pct=25), [badge], [])
    assert parts.logo.found
    codes = {v.code for v in parts.violations}
    assert ("logo.clear_space" in codes) is crowded
    if crowded:
        hit = next(v for v in parts.violations if v.code == "logo.clear_space")
        assert hit.severity == "warn" and hit.bbox is not None


def test_no_clear_space_rule_no_check() -> None:
    img, badge = logo_frame(crowded=True)
    parts = check_frames([Frame(0.0, img)], INFO, profile(), [badge], [])
    assert "logo.clear_space" not in {v.code for v in parts.violations}


@pytest.mark.parametrize(("y", "under_ui"), [(880, True), (420, False)])
def test_a_disclosure_under_the_platform_ui_fails_that_platform(y: int, under_ui: bool) -> None:
    img = np.full((910, 512, 3), (43, 0, 228), np.uint8)
    cv2.putText(img, "Sponsored", (150, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    vertical = video_info(codec="h264", seconds=10, size_bytes=5_000_000)
    parts = check_frames(
        [Frame(0.0, img)],
        vertical,
        profile(required_text=["sponsored"]),
        [],
        ["instagram_reels"],
    )
    assert parts.text is not None and parts.text.missing == []
    codes = {v.code for v in parts.violations}
    assert ("platform.instagram_reels.text_in_unsafe_zone" in codes) is under_ui
    assert parts.platforms["instagram_reels"].ok is not under_ui
