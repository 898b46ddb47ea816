"""Palette coverage, backdrop exclusion and dominant colours on drawn artwork (real OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from processors.brand import palette
from processors.brand.colour import ciede2000, hex_to_rgb, srgb_to_lab
from processors.brand.palette import OK_RATIO, artwork_mask, measure_frame, summarise
from processors.synthetic import brand as synth
from processors.synthetic.brand import Image
from schemas.events import PaletteCheck, Violation

BRAND = ("#E4002B", "#FFFFFF", "#111111", "#FFC72C")
OFF = ["#2E8B57", "#6A0DAD", "#1E90FF"]


def _judge(
    frames: list[Image], tolerance: float = 12.0
) -> tuple[PaletteCheck, list[Violation], float]:
    lut = palette.palette_lut(BRAND)
    measured = [measure_frame(f, float(i), lut, tolerance) for i, f in enumerate(frames)]
    return summarise(measured, lut, tolerance)


def _jpeg(frame: Image, q: int = 75) -> Image:
    return synth.degrade(frame, q)


def _near(hexes: list[str], target: str, within: float = 6.0) -> bool:
    lab = srgb_to_lab(np.array([hex_to_rgb(h) for h in hexes], np.float64))
    return bool(
        (ciede2000(lab, srgb_to_lab(np.array(hex_to_rgb(target), np.float64))) < within).any()
    )


def test_on_brand_artwork_passes() -> None:
    rng = np.random.default_rng(1)
    frames = [
        _jpeg(synth.artwork(512, 288, rng, list(BRAND), [], 0.0, "#E4002B")[0]) for _ in range(3)
    ]
    check, violations, score = _judge(frames)
    assert check.status == "ok"
    assert check.on_palette_ratio is not None and check.on_palette_ratio > 0.9
    assert not [v for v in violations if v.code == "palette.low_coverage"]
    assert score == 1.0
    assert check.dominant and check.dominant[0].nearest_brand_hex in BRAND
    assert all((d.delta_e or 0) < 12 for d in check.dominant if d.share > 0.1)


def test_off_brand_artwork_fails_and_names_the_colours() -> None:
    rng = np.random.default_rng(2)
    frames = [_jpeg(synth.artwork(512, 288, rng, OFF, [], 0.0, "#2E8B57")[0]) for _ in range(3)]
    check, violations, score = _judge(frames)
    assert check.on_palette_ratio is not None and check.on_palette_ratio < 0.1
    low = [v for v in violations if v.code == "palette.low_coverage"]
    assert len(low) == 1 and low[0].severity == "fail"
    assert low[0].measured == check.on_palette_ratio and low[0].required == OK_RATIO
    assert low[0].frame_s in (0.0, 1.0, 2.0)
    assert _near(check.off_palette, "#2E8B57")
    assert [v for v in violations if v.code == "palette.off_palette_colour"]
    assert score < 0.2


def test_mixed_artwork_warns() -> None:
    frame = np.zeros((288, 512, 3), np.uint8)
    frame[:, :280] = synth.bgr("#E4002B")
    frame[:, 280:] = synth.bgr("#2E8B57")
    check, violations, _ = _judge([frame])
    assert check.on_palette_ratio == pytest.approx(280 / 512, abs=0.03)
    (low,) = [v for v in violations if v.code == "palette.low_coverage"]
    assert low.severity == "warn"


def test_plain_neutral_backdrop_is_not_artwork() -> None:
    frame = np.full((288, 512, 3), 245, np.uint8)  # a light grey studio backdrop
    cv2.circle(frame, (256, 144), 90, synth.bgr("#E4002B"), -1, cv2.LINE_AA)
    mask = artwork_mask(frame)
    assert not mask[5, 5] and mask[144, 256]
    lut = palette.palette_lut(("#E4002B",))
    ratio = summarise([measure_frame(frame, 0.0, lut, 12.0)], lut, 12.0)[0].on_palette_ratio
    assert ratio is not None and ratio > 0.9


def test_coloured_background_counts_as_artwork() -> None:
    frame = np.full((288, 512, 3), synth.bgr("#2E8B57"), np.uint8)
    cv2.circle(frame, (256, 144), 60, synth.bgr("#E4002B"), -1, cv2.LINE_AA)
    assert artwork_mask(frame).all()
    check, _, _ = _judge([frame])
    assert check.on_palette_ratio is not None and check.on_palette_ratio < 0.2


def test_a_frame_of_only_backdrop_counts_every_pixel() -> None:
    white = np.full((288, 512, 3), 255, np.uint8)
    assert artwork_mask(white).all()
    check, _, _ = _judge([white])
    assert check.on_palette_ratio == pytest.approx(1.0)


def test_tolerance_decides_what_is_on_palette() -> None:
    near_red = np.full((100, 200, 3), synth.bgr("#D81030"), np.uint8)  # a few ΔE from #E4002B
    tight, _, _ = _judge([near_red], tolerance=1.0)
    loose, _, _ = _judge([near_red], tolerance=12.0)
    assert tight.on_palette_ratio == 0.0 and loose.on_palette_ratio == 1.0


def test_dominant_colours_are_deterministic() -> None:
    rng = np.random.default_rng(3)
    frame = _jpeg(synth.artwork(512, 288, rng, list(BRAND), OFF, 0.3, "#FFC72C")[0])
    first, _, _ = _judge([frame])
    second, _, _ = _judge([frame])
    assert first.dominant == second.dominant
    assert abs(sum(d.share for d in first.dominant) - 1.0) < 0.1
