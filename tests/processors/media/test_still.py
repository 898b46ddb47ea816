"""Stills read in the pool child agree with the limited ffmpeg path, and keep its limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.errors import MediaError, MediaLimitExceeded
from processors.media import probe, sample_frames
from processors.media.limits import LimitSettings
from processors.media.still import read_still
from processors.synthetic.samples import make_image, make_logo

LIMITS = LimitSettings()


@pytest.fixture(scope="module")
def stills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("stills")
    logo = make_logo(d / "logo.png")
    return {
        "jpg_big": make_image(d / "big.jpg", width=2160, height=2160, logo=logo),
        "jpg": make_image(d / "i.jpg", width=1080, height=1350, logo=logo),
        "png": make_image(d / "i.png", width=640, height=360, logo=logo, fmt="png"),
    }


@pytest.mark.parametrize("name", ["jpg_big", "jpg", "png"])
def test_a_still_reads_as_ffmpeg_reads_it(stills: dict[str, Path], name: str) -> None:
    got = read_still(stills[name], LIMITS, 512)
    assert got is not None
    info, frame = got
    assert info == probe(stills[name], LIMITS)
    (reference,) = sample_frames(stills[name], info, 8, LIMITS, width=512)
    assert frame.image.shape == reference.image.shape
    # a reduced JPEG decode and OpenCV's area scaling against ffmpeg's: the same picture
    diff = np.abs(frame.image.astype(np.int16) - reference.image.astype(np.int16))
    assert float(diff.mean()) < 3.0


def test_videos_and_unreadable_headers_are_left_to_ffmpeg(tmp_path: Path) -> None:
    odd = tmp_path / "odd.jpg"
    odd.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 40)  # a JPEG start with no frame header
    assert read_still(odd, LIMITS, 512) is None


def test_limits_hold_before_the_decoder_sees_the_bytes(stills: dict[str, Path]) -> None:
    with pytest.raises(MediaLimitExceeded, match=r"2160x2160"):
        read_still(stills["jpg_big"], LimitSettings(max_pixels=1_000_000), 512)
    with pytest.raises(MediaLimitExceeded, match=r"the limit is 1,000 bytes"):
        read_still(stills["jpg"], LimitSettings(max_upload_bytes=1000), 512)


def test_a_truncated_still_is_a_readable_error(stills: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.png"
    cut.write_bytes(stills["png"].read_bytes()[:200])
    with pytest.raises(MediaError, match="could not be decoded"):
        read_still(cut, LIMITS, 512)
