"""`render_evidence`: a real check on a generated clip, drawn and decoded back as a PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from processors.brand import check_media
from processors.brand.evidence import (
    LOGO_BGR,
    OUTPUT_WIDTH,
    SAFE_BGR,
    render_evidence,
    telling_time,
)
from processors.media import probe, sample_frames
from processors.media.limits import LimitSettings
from processors.synthetic import events as make
from schemas.events import BrandCheck
from schemas.profiles import BrandColour, BrandProfile

LIMITS = LimitSettings(decode_timeout_s=60)


@pytest.fixture(scope="module")
def checked(branded_clip: tuple[Path, Path]) -> tuple[Path, BrandCheck, BrandProfile]:
    clip, logo = branded_clip
    profile = make.profile(
        palette=[BrandColour(hex="#E4002B"), BrandColour(hex="#0033A0")],
        platforms=["instagram_reels"],
        logos=["brands/acme/logo.png"],
    )
    check = check_media(clip, make.uploaded(), profile, [logo.read_bytes()], LIMITS)
    assert check.status == "done" and check.logo is not None and check.logo.found
    return clip, check, profile


def test_evidence_draws_the_logo_box_safe_zones_and_swatches(
    checked: tuple[Path, BrandCheck, BrandProfile],
) -> None:
    clip, check, profile = checked
    info = probe(clip, LIMITS)
    frame = sample_frames(clip, info, 8, LIMITS)[0].image
    png = render_evidence(frame, check, profile)
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    img = np.asarray(decoded, np.uint8)
    assert img.shape[1] == OUTPUT_WIDTH and img.shape[0] == round(640 * OUTPUT_WIDTH / 360)
    assert check.logo is not None and check.logo.bbox is not None
    x, y, w, h = check.logo.bbox
    left, mid_y = round(x * img.shape[1]), round((y + h / 2) * img.shape[0])
    assert tuple(int(c) for c in img[mid_y, left]) == LOGO_BGR
    # Reels' top 14 % (under its UI) is darkened, and the safe area is outlined
    top = img[5, img.shape[1] // 2].astype(int)
    plain = cv2.resize(frame, (img.shape[1], img.shape[0]))[5, img.shape[1] // 2].astype(int)
    assert top.sum() < 0.7 * plain.sum()
    edge_y = round(0.14 * img.shape[0])
    outline = [
        tuple(int(c) for c in img[yy, img.shape[1] // 2]) for yy in range(edge_y - 2, edge_y + 3)
    ]
    assert SAFE_BGR in outline
    swatch = img[img.shape[0] - 2 * 28 - 4 + 12, 4 + 28 + 12]  # the second brand swatch
    assert tuple(int(c) for c in swatch) == (160, 51, 0)


def test_telling_time_prefers_a_violation_then_the_logo(
    checked: tuple[Path, BrandCheck, BrandProfile],
) -> None:
    _, check, _ = checked
    timed = [v.frame_s for v in check.violations if v.frame_s is not None]
    expected = timed[0] if timed else check.logo.first_seen_s if check.logo else None
    assert telling_time(check) == expected
    bare = check.model_copy(update={"violations": [], "logo": None})
    assert telling_time(bare) is None
