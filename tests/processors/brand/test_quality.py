"""Quality measures on drawn frames: sharp vs blurred, dark, black frames, flat graphics."""

from __future__ import annotations

import cv2
import numpy as np

from processors.brand import quality
from processors.synthetic import brand as synth
from processors.synthetic.brand import Image


def _frames(images: list[Image]) -> list[quality.FrameQuality]:
    return [quality.measure_frame(img, float(i)) for i, img in enumerate(images)]


def _busy(seed: int) -> Image:
    return synth.degrade(synth.background("clutter", 512, 288, np.random.default_rng(seed)), 85)


def test_sharp_frames_pass_and_blurred_frames_are_flagged() -> None:
    sharp = [_busy(s) for s in range(3)]
    check, violations, score = quality.summarise(_frames(sharp))
    assert check.sharpness is not None and check.sharpness > quality.BLURRY_BELOW
    assert violations == [] and score == 1.0
    soft = [np.asarray(cv2.GaussianBlur(f, (0, 0), 2.0), np.uint8) for f in sharp]
    check, violations, score = quality.summarise(_frames(soft))
    assert check.sharpness is not None and check.sharpness < quality.BLURRY_BELOW
    assert [v.code for v in violations] == ["quality.blurry"]
    assert violations[0].severity == "warn" and violations[0].frame_s in (0.0, 1.0, 2.0)
    assert score == 1.0 - quality.PENALTY


def test_flat_graphics_are_not_called_blurry() -> None:
    frame = np.full((288, 512, 3), (43, 0, 228), np.uint8)
    cv2.rectangle(frame, (100, 80), (300, 200), (255, 255, 255), -1)
    check, violations, _ = quality.summarise(_frames([frame]))
    assert "quality.blurry" not in {v.code for v in violations}
    plain = quality.summarise(_frames([np.full((288, 512, 3), 128, np.uint8)]))[0]
    assert plain.sharpness is None  # nothing to judge sharpness by


def test_dark_and_bright_pictures() -> None:
    dark = [
        np.clip(f.astype(np.int16) // 8, 0, 255).astype(np.uint8) + 20 for f in [_busy(1), _busy(2)]
    ]
    check, violations, _ = quality.summarise(_frames(dark))
    assert check.brightness is not None and check.brightness < quality.TOO_DARK_BELOW
    assert "quality.too_dark" in {v.code for v in violations}
    bright = [np.full((288, 512, 3), 250, np.uint8)]
    check, violations, _ = quality.summarise(_frames(bright))
    assert {"quality.too_bright", "quality.low_contrast"} <= {v.code for v in violations}
    assert check.clipped_highlights == 1.0


def test_black_frames_are_counted_and_ignored_for_exposure() -> None:
    black = np.zeros((288, 512, 3), np.uint8)
    frames = [black, black, _busy(3), _busy(4)]
    check, violations, _ = quality.summarise(_frames(frames))
    assert check.black_frame_ratio == 0.5
    assert check.clipped_shadows is not None and check.clipped_shadows > 0.4
    (flag,) = [v for v in violations if v.code == "quality.black_frames"]
    assert flag.severity == "warn" and flag.frame_s == 0.0 and flag.measured == 0.5
    assert "quality.too_dark" not in {v.code for v in violations}
    one_black = quality.summarise(_frames([black, _busy(5), _busy(6), _busy(7), _busy(8)]))[1]
    assert "quality.black_frames" not in {v.code for v in one_black}  # a fade is fine


def test_an_all_black_image_is_flagged_once() -> None:
    check, violations, _ = quality.summarise(_frames([np.zeros((100, 100, 3), np.uint8)]))
    assert check.black_frame_ratio == 1.0
    assert "quality.black_frames" in {v.code for v in violations}
    assert "quality.too_dark" not in {v.code for v in violations}


def test_a_frozen_video_is_flagged_and_a_moving_one_is_not() -> None:
    still = _busy(7)
    noisy = [
        np.asarray(cv2.imdecode(cv2.imencode(".jpg", still, [cv2.IMWRITE_JPEG_QUALITY, q])[1], 1))
        for q in (90, 80, 70, 85)
    ]  # the same picture, recompressed: only codec noise changes
    check, violations, _ = quality.summarise(_frames(noisy))
    assert check.frozen_frame_ratio == 1.0
    assert "quality.frozen" in [v.code for v in violations]
    moving = [_busy(s) for s in range(4)]
    check, violations, _ = quality.summarise(_frames(moving))
    assert check.frozen_frame_ratio == 0.0
    assert "quality.frozen" not in [v.code for v in violations]
    single, _, _ = quality.summarise(_frames([still]))
    assert single.frozen_frame_ratio is None
