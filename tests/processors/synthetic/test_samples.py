"""The sample generators make what they promise: sizes, cuts, logo placement, corrupt bytes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from processors.errors import MediaError
from processors.media import probe, sample_frames, sniff
from processors.media.limits import LimitSettings
from processors.synthetic.samples import (
    cut_times,
    demo_set,
    hex_to_bgr,
    make_corrupt,
    make_image,
    make_logo,
    make_video,
)

LIMITS = LimitSettings()


def test_hex_to_bgr_reverses_channels_and_refuses_junk() -> None:
    assert hex_to_bgr("#E4002B") == (0x2B, 0x00, 0xE4)
    with pytest.raises(ValueError, match="#RRGGBB"):
        hex_to_bgr("#abc")


def test_logo_is_rgba_with_transparent_corners_and_features(tmp_path: Path) -> None:
    logo = cv2.imread(str(make_logo(tmp_path / "logo.png", size=120)), cv2.IMREAD_UNCHANGED)
    assert logo is not None
    assert logo.shape == (120, 120, 4)
    assert logo[0, 0, 3] == 0 and logo[60, 60, 3] == 255
    grey = cv2.cvtColor(logo[..., :3], cv2.COLOR_BGR2GRAY)
    keypoints = cv2.ORB.create().detect(grey, None)
    assert len(keypoints) >= 20


def test_cut_times_are_evenly_spread_on_frame_boundaries() -> None:
    assert cut_times(3, 2, 30) == [1.0, 2.0]
    assert cut_times(6, 0) == []
    assert cut_times(1, 2, 30) == [10 / 30, 20 / 30]


def test_video_has_requested_shape_audio_cuts_and_logo(tmp_path: Path) -> None:
    logo = make_logo(tmp_path / "logo.png")
    path = make_video(
        tmp_path / "v.mp4",
        width=320,
        height=568,
        seconds=2,
        fps=25,
        logo=logo,
        logo_pos=(0.6, 0.05),
        logo_scale=0.3,
        cuts=1,
        text="HELLO",
    )
    assert sniff(path) == ("video/mp4", "video")
    info = probe(path, LIMITS)
    assert (info.width, info.height, info.fps, info.has_audio) == (320, 568, 25.0, True)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert path.read_bytes()[:1024].find(b"moov") > 0  # +faststart: index before the data
    frames = sample_frames(path, info, 4, LIMITS, width=320)
    first = frames[0].image
    # logo occupies x 0.6..0.9 of the width, top; its white outline/letter shows there
    logo_box = first[int(0.05 * 568) : int(0.05 * 568) + 96, 192:288]
    assert (logo_box.min(axis=2) > 200).mean() > 0.05
    assert (first[5:40, 5:150].min(axis=2) > 200).mean() < 0.01  # no logo on the left


def test_scene_colours_follow_the_palette(tmp_path: Path) -> None:
    path = make_video(
        tmp_path / "v.mp4",
        width=320,
        height=240,
        seconds=2,
        cuts=1,
        audio=False,
        background=("#2E8B57", "#6A0DAD"),
    )
    info = probe(path, LIMITS)
    assert info.has_audio is False
    frames = sample_frames(path, info, 2, LIMITS, width=320)
    centre = [f.image[120, 20].astype(int) for f in frames]
    assert np.abs(centre[0] - hex_to_bgr("#2E8B57")).max() < 12
    assert np.abs(centre[-1] - hex_to_bgr("#6A0DAD")).max() < 12


def test_odd_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        make_video(tmp_path / "v.mp4", width=321, height=240, seconds=1)


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_image_formats(tmp_path: Path, fmt: str) -> None:
    path = make_image(tmp_path / f"i.{fmt}", width=300, height=200, fmt=fmt)  # type: ignore[arg-type]
    expected = "image/jpeg" if fmt == "jpg" else "image/png"
    assert sniff(path) == (expected, "image")
    decoded = cv2.imread(str(path))
    assert decoded is not None and decoded.shape == (200, 300, 3)


def test_corrupt_sniffs_as_mp4_but_does_not_decode(tmp_path: Path) -> None:
    path = make_corrupt(tmp_path / "c.mp4")
    assert sniff(path) == ("video/mp4", "video")
    with pytest.raises(MediaError):
        probe(path, LIMITS)


def test_demo_set(tmp_path: Path) -> None:
    demo = demo_set(tmp_path)
    assert set(demo) == {"logo", "on_brand_vertical", "off_brand_landscape", "image", "corrupt"}
    vertical = probe(demo["on_brand_vertical"], LIMITS)
    assert (vertical.width, vertical.height, vertical.duration_s) == (540, 960, 6.0)
    landscape = probe(demo["off_brand_landscape"], LIMITS)
    assert (landscape.width, landscape.height) == (960, 540)
    image = probe(demo["image"], LIMITS)
    assert (image.kind, image.width, image.height) == ("image", 1080, 1080)
